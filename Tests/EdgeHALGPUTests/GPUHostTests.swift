import EdgeHAL
import EdgeHALGPU
import Foundation
import Testing

/// The host skeleton both GPU backends share.
struct GPUHostTests {
    /// A cache file is the magic, the payload's SHA-256, the payload: truncated, altered or foreign
    /// files read as absent, so the kernel is built again rather than trusted.
    @Test func damagedCacheFilesAreRebuiltNotTrusted() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("edgehal-kernel-cache-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let payload = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let file = try #require(KernelCacheFile(kind: "test", identity: ["source", "-O2", "device"], magic: "EdgeHAL-T1", folder: folder))
        #expect(file.path.hasPrefix(folder + "/test/") && file.path.hasSuffix(".bin"))
        #expect(file.read() == nil)
        file.write(payload)
        #expect(file.read() == payload)

        let good = try #require(CacheFolder.read(file.path))
        var flipped = good
        flipped[flipped.count - 1] ^= 1
        for damaged in [flipped, Array(good.prefix(40)), payload, Array("EdgeHAL-T2".utf8) + good.dropFirst(10)] {
            CacheFolder.write(damaged, to: file.path)
            #expect(file.read() == nil)
        }
        // Another magic (another kind of file) does not read this one.
        file.write(payload)
        let other = try #require(KernelCacheFile(kind: "test", identity: ["source", "-O2", "device"], magic: "EdgeHAL-XX", folder: folder))
        #expect(other.path == file.path && other.read() == nil)
    }

    /// Whatever the payload depends on names the file: a changed source, option or driver never meets it.
    @Test func theIdentityNamesTheFile() throws {
        let a = try #require(KernelCacheFile(kind: "k", identity: ["src", "opt"], magic: "M", folder: "/x"))
        let b = try #require(KernelCacheFile(kind: "k", identity: ["src", "opt2"], magic: "M", folder: "/x"))
        let c = try #require(KernelCacheFile(kind: "k", identity: ["srco", "pt"], magic: "M", folder: "/x"))
        #expect(a.path != b.path && a.path != c.path)
        #expect(KernelCacheFile(kind: "k", identity: ["src"], magic: "M", folder: nil) == nil)
    }

    @Test func aMissingLoaderIsAnErrorThatSaysWhy() {
        do {
            _ = try RuntimeLibrary("libedgehal-no-such-loader.so.1", missing: "the loader is not installed", unloads: true)
            Issue.record("opened a library that does not exist")
        } catch {
            #expect("\(error)".contains("libedgehal-no-such-loader.so.1 could not be opened (the loader is not installed)"))
        }
    }

    @Test func aMissingEntryPointIsAnError() throws {
        let libc = try RuntimeLibrary("libc.so.6", missing: "no C library", unloads: false)
        let strlen = try libc.function("strlen", as: (@convention(c) (UnsafePointer<CChar>) -> Int).self)
        #expect("edge".withCString { strlen($0) } == 4)
        #expect(throws: EdgeHALError.self) { try libc.function("edgehal_no_such_symbol", as: (@convention(c) () -> Void).self) }
    }

    @Test func permuteStridesPlaceEachSourceAxis() {
        // A [2,3,4,5] tensor permuted by (1,0,2,3): source axis 0 lands at output axis 1 (stride 3),
        // axis 1 at output axis 0 (stride 1); the output is [3,2,4,5].
        #expect(GPUOpArguments.permuteStrides([1, 0, 2, 3], output: Shape([3, 2, 4, 5])) == [3, 1, 6, 24])
        #expect(GPUOpArguments.permuteStrides([0, 1, 2, 3], output: Shape([2, 3, 4, 5])) == [1, 2, 6, 24])
        #expect(GPUOpArguments.permuteStrides([0, 2, 1, 3], output: Shape([4, 6, 5, 1])) == [1, 24, 4, 120])
    }

    @Test func binaryCodesAndRopeFactor() {
        #expect([Op.add, .mul, .swiglu, .geglu].map(GPUOpArguments.binaryCode) == [0, 1, 2, 3])
        let p = RopeParams(mode: .normal, nDims: 64, freqBase: 10_000)
        #expect(abs(GPUOpArguments.ropeLog2BaseOverDims(p) - Float(log2(10_000.0) / 64)) < 1e-7)
    }

    /// Flash-decoding's split (both APIs' attention_wg): every key in exactly one chunk of whole tiles, at most
    /// 256 chunks (attention_merge's weights), no split below 4 tiles of keys or with enough rows, and a
    /// decode step over a long cache spread to about 256 workgroups.
    @Test func attentionSplitCoversEveryKeyOnce() {
        for rows in [1, 7, 32, 100, 255, 256, 4096] {
            for keys in [1, 127, 128, 129, 300, 1000, 4100, 32768, 131072] {
                let (splits, chunk) = KernelFamily.attentionSplit(rows: rows, keys: keys, tile: 128)
                #expect(chunk % 128 == 0 && chunk > 0)
                #expect((splits - 1) * chunk < keys && keys <= splits * chunk, "rows \(rows) keys \(keys): \(splits) × \(chunk)")
                #expect(splits <= 256)
                if keys <= 3 * 128 || rows >= 256 { #expect(splits == 1) }
            }
        }
        #expect(KernelFamily.attentionSplit(rows: 32, keys: 4096, tile: 128) == (8, 512))
        // A larger target (EDGEHAL_ATTENTION_SPLIT) never passes the merge kernels' 256 parts.
        #expect(KernelFamily.attentionSplit(rows: 1, keys: 1 << 20, tile: 128, target: 100_000).splits <= 256)
        #expect(KernelFamily.attentionSplit(rows: 32, keys: 193, tile: 128) == (1, 256))   // a 1B model's decode at depth 128
        #expect(KernelFamily.attentionSplit(rows: 8, keys: 600, tile: 128) == (5, 128))
    }

    /// The prefill attention tile (both APIs' attention_tile): for every head size the kernels take, BR ≤ 16 tokens
    /// with BR·⌈D/4⌉ ≤ 512 (four output vec4s an invocation of 128) and shared arrays within the limit given; none
    /// for fewer than 4 tokens, nor where its workgroups are too few for a long cache (the row kernel splits it).
    @Test func attentionQueryTileFitsTheKernels() throws {
        for d in stride(from: 4, through: 256, by: 4) {
            for shared in [16 << 10, 32 << 10, 48 << 10] {
                let tile = try #require(KernelFamily.attentionQueryTile(d: d, tokens: 512, heads: 32, keys: 512, sharedMemory: shared))
                let d4 = (d + 3) / 4
                #expect(tile.rows >= 4 && tile.rows <= 16 && tile.rows * d4 <= 512 && tile.keys >= 8 && tile.keys <= 64)
                #expect(16 * (tile.rows * d4 + tile.keys * (d4 + 1)) + 4 * (tile.rows * tile.keys + 3 * tile.rows + 1) <= shared, "d \(d)")
            }
        }
        #expect(KernelFamily.attentionQueryTile(d: 64, tokens: 128, heads: 9, keys: 256, sharedMemory: 32 << 10)! == (16, 64))
        #expect(KernelFamily.attentionQueryTile(d: 128, tokens: 512, heads: 32, keys: 640, sharedMemory: 32 << 10)! == (16, 32))
        #expect(KernelFamily.attentionQueryTile(d: 256, tokens: 512, heads: 4, keys: 512, sharedMemory: 32 << 10)! == (8, 16))
        #expect(KernelFamily.attentionQueryTile(d: 64, tokens: 3, heads: 32, keys: 100, sharedMemory: 32 << 10) == nil)
        // 4 tokens of 4 heads over 3000 keys: 4 workgroups; the row kernel's split spreads them over 256.
        #expect(KernelFamily.attentionQueryTile(d: 64, tokens: 4, heads: 4, keys: 3000, sharedMemory: 32 << 10) == nil)
    }
}
