import Testing
import EdgeHAL
@testable import EdgeHALModels

/// Malformed variants of a small valid file must each parse consistently or throw `GGUFError`;
/// a crash, trap or hang fails the whole test process.
@Suite struct GGUFFuzzTests {
    typealias RNG = SeededRandom

    /// Keys of every shape (strings, string array, numeric arrays, a nested array), three tensors.
    static let base: [UInt8] = {
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("general.alignment", .uint32(64))
        w.set("llama.context_length", .uint32(2048))
        w.set("llama.rope.freq_base", .float32(10000))
        w.set("tokenizer.ggml.add_bos_token", .bool(true))
        w.set("tokenizer.ggml.tokens", .array(.string, [.string("<s>"), .string("</s>"), .string("Ġa"), .string("")]))
        w.set("tokenizer.ggml.scores", .array(.float32, [.float32(0), .float32(-1), .float32(-2), .float32(-3)]))
        w.set("tokenizer.ggml.token_type", .array(.int32, [.int32(3), .int32(3), .int32(1), .int32(1)]))
        w.set("nested", .array(.array, [.array(.uint64, [.uint64(1)]), .array(.string, [.string("x")])]))
        w.set("general.size", .uint64(12345))
        try! w.addTensor(name: "token_embd.weight", type: .q8_0, shape: Shape(32, 2),
                         bytes: (0..<68).map { UInt8($0) })
        try! w.addTensor(name: "output_norm.weight", type: .f32, shape: Shape(4, 2),
                         bytes: (0..<32).map { UInt8($0 &* 3) })
        try! w.addTensor(name: "blk.0.attn_q.weight", type: .f16, shape: Shape(6),
                         bytes: (0..<12).map { UInt8($0 &* 5) })
        return try! w.serialize()
    }()

    /// End of the header, metadata and tensor infos (the data section's start).
    static let headerEnd: Int = try! GGUFFile(bytes: base).dataOffset

    struct Tally {
        var parsed = 0
        var refused = 0
        var total: Int { parsed + refused }
    }

    /// Parses `bytes`; on success every tensor must lie inside the buffer, aligned and disjoint.
    static func check(_ bytes: [UInt8], _ label: @autoclosure () -> String, _ tally: inout Tally) {
        let file: GGUFFile
        do {
            file = try GGUFFile(bytes: bytes)
        } catch is GGUFError {
            tally.refused += 1
            return
        } catch {
            Issue.record("\(label()): threw a non-GGUFError \(error)")
            return
        }
        tally.parsed += 1
        var ranges: [Range<Int>] = []
        for t in file.tensors {
            let start = file.dataOffset + t.offset
            guard t.byteCount > 0, start >= 0, start + t.byteCount <= bytes.count,
                  t.offset % file.alignment == 0, t.byteCount == t.desc.byteCount else {
                Issue.record("\(label()): tensor \(t.name) at \(start) (\(t.byteCount) bytes) escapes \(bytes.count) bytes")
                return
            }
            if file.data(for: t).bytes.count != t.byteCount { Issue.record("\(label()): data(for: \(t.name)) has the wrong size") }
            ranges.append(start..<start + t.byteCount)
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.overlaps(b) {
            Issue.record("\(label()): tensor data \(a) overlaps \(b)")
        }
        if file.metadataKeys.count != file.metadata.count { Issue.record("\(label()): key list and dictionary disagree") }
    }

    @Test func baseFileIsValid() throws {
        let f = try GGUFFile(bytes: Self.base)
        #expect(f.tensors.count == 3)
        #expect(f.metadataKeys.count == 10)
        #expect(f.alignment == 64)
        #expect(Self.headerEnd > 200 && Self.headerEnd < Self.base.count)
    }

    @Test func truncations() {
        var tally = Tally()
        let base = Self.base
        // Every length through the header, then a sample through the data section.
        for n in 0...Self.headerEnd { Self.check(Array(base[..<n]), "truncated to \(n)", &tally) }
        for n in stride(from: Self.headerEnd + 1, to: base.count, by: 3) {
            Self.check(Array(base[..<n]), "truncated to \(n)", &tally)
        }
        #expect(tally.total > Self.headerEnd)
        // A file parses exactly when it still holds the last tensor's bytes (trailing padding is optional).
        let f = try! GGUFFile(bytes: base)
        let dataEnd = f.tensors.map { f.dataOffset + $0.offset + $0.byteCount }.max()!
        #expect(parseError(Array(base[..<(dataEnd - 1)])) != nil)
        #expect(parseError(Array(base[..<dataEnd])) == nil)
        let parsedLengths = (0...base.count).filter { parseError(Array(base[..<$0])) == nil }
        #expect(parsedLengths == Array(dataEnd...base.count))
    }

    static let wideValues: [UInt64] = [
        0, 1, 2, 0xFF, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max,
        UInt64(base.count), UInt64(base.count - 1), UInt64(base.count + 1),
    ]
    static let narrowValues: [UInt32] = [0, 1, 4, 5, 9, 12, 13, 30, 0x7FFF_FFFF, 0xFFFF_FFFF]

    @Test func fieldOverwrites() {
        var tally = Tally()
        let base = Self.base
        // Every 8-byte and 4-byte window of the header region, so every length, count, type tag,
        // dimension and offset field (and everything straddling them) gets boundary values.
        for at in 0...(Self.headerEnd - 8) {
            for v in Self.wideValues {
                var b = base
                withUnsafeBytes(of: v.littleEndian) { b.replaceSubrange(at..<at + 8, with: $0) }
                Self.check(b, "u64 \(v) at \(at)", &tally)
            }
        }
        for at in 0...(Self.headerEnd - 4) {
            for v in Self.narrowValues {
                var b = base
                withUnsafeBytes(of: v.littleEndian) { b.replaceSubrange(at..<at + 4, with: $0) }
                Self.check(b, "u32 \(v) at \(at)", &tally)
            }
        }
        #expect(tally.refused > 0 && tally.parsed > 0)
        #expect(tally.total > 4000)
    }

    @Test func randomByteFlips() {
        var tally = Tally()
        var rng = RNG(seed: 0x6767_5546)
        let base = Self.base
        for i in 0..<2500 {
            var b = base
            let flips = 1 + rng.below(8)
            for _ in 0..<flips {
                // Mostly in the header, sometimes anywhere.
                let at = rng.below(10) < 8 ? rng.below(Self.headerEnd) : rng.below(b.count)
                if rng.below(2) == 0 { b[at] ^= 1 << UInt8(rng.below(8)) } else { b[at] = rng.byte() }
            }
            Self.check(b, "flip variant \(i)", &tally)
        }
        #expect(tally.refused > 0)
        #expect(tally.total == 2500)
    }

    @Test func insertionsAndDeletions() {
        var tally = Tally()
        var rng = RNG(seed: 0xD_E1E7E)
        let base = Self.base
        for i in 0..<1500 {
            var b = base
            let at = rng.below(Self.headerEnd)
            let n = 1 + rng.below(16)
            if i % 2 == 0 {
                b.insert(contentsOf: (0..<n).map { _ in rng.byte() }, at: at)
            } else {
                b.removeSubrange(at..<min(at + n, b.count))
            }
            Self.check(b, "\(i % 2 == 0 ? "insert" : "delete") \(n) at \(at)", &tally)
        }
        #expect(tally.refused > 0)
        #expect(tally.total == 1500)
    }

    @Test func atLeastFiveThousandVariants() {
        // truncations + 8-byte and 4-byte overwrites + flips + insert/delete
        let truncations = Self.headerEnd + 1 + (Self.base.count - Self.headerEnd - 1 + 2) / 3
        let overwrites = (Self.headerEnd - 7) * Self.wideValues.count + (Self.headerEnd - 3) * Self.narrowValues.count
        #expect(truncations + overwrites + 2500 + 1500 >= 5000)
    }
}

extension SeededRandom {
    mutating func below(_ n: Int) -> Int { int(below: n) }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}
