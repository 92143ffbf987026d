import EdgeHAL
import EdgeHALReference
import Foundation
import Testing
@testable import EdgeHALModels

/// Models encrypted at rest: the decrypted model runs exactly as the plain one, and every kind of
/// tampering is one clear error, with nothing decrypted written anywhere.
@Suite(.serialized)
struct EncryptedModelTests {
    static let directory: String = {
        var template = Array("/tmp/edgehal-ehm-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template))
    }()
    static let plain = "\(directory)/tiny.gguf", sealed = "\(directory)/tiny.ehm", key = "\(directory)/key"
    /// 4 KiB chunks, so the tiny model has many (the default is 1 MiB).
    static let prepared: Result<Void, any Error> = Result {
        try TinyModel.write(to: plain)
        try ModelKey.generate(key)
        try EncryptedModel.encrypt(plain, to: sealed, key: try ModelKey.read(key), chunkSize: 4096)
    }

    func bytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }
    func write(_ b: [UInt8], _ path: String) throws { try Data(b).write(to: URL(fileURLWithPath: path)) }

    /// The error opening `contents` as an encrypted model gives (nil: it opened).
    func openError(_ contents: [UInt8], keyFile: String = key) throws -> String? {
        let path = "\(Self.directory)/case.ehm"
        try write(contents, path)
        do {
            _ = try LanguageModel(path: path, keyFile: keyFile)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func runsExactlyAsThePlainFileAndDecryptsToItsBytes() throws {
        try Self.prepared.get()
        #expect(EncryptedModel.isEncrypted(Self.sealed) && !EncryptedModel.isEncrypted(Self.plain))
        func greedy(_ model: LanguageModel) throws -> [Int32] {
            let session = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 32)
            return try session.greedy(model.tokenizer.encode("the"), 8, tokenizer: model.tokenizer)
        }
        #expect(try greedy(LanguageModel(path: Self.sealed, keyFile: Self.key)) == greedy(LanguageModel(path: Self.plain)))
        let restored = "\(Self.directory)/restored.gguf"
        try EncryptedModel.decrypt(Self.sealed, to: restored, key: try ModelKey.read(Self.key))
        #expect(try bytes(restored) == bytes(Self.plain))
        #expect(throws: EncryptionError.self) { try LanguageModel(path: Self.sealed) }   // no key: says so
    }

    @Test func tamperingIsFoundAndNamed() throws {
        try Self.prepared.get()
        let good = try bytes(Self.sealed)
        let start = EncryptedModel.headerBytes + EncryptedModel.tagBytes, stride = 4096 + EncryptedModel.tagBytes
        #expect(good.count > start + 4 * stride)

        var flipped = good
        flipped[start + 2 * stride + 100] ^= 0x01
        #expect(try openError(flipped)?.contains("chunk 2 of") == true)

        #expect(try openError(Array(good.dropLast(7)))?.contains("truncated") == true)
        #expect(try openError(Array(good.dropLast(stride + 300)))?.contains("truncated") == true)
        #expect(try openError(good + [0])?.contains("extended") == true)

        var swapped = good
        swapped.replaceSubrange((start + stride)..<(start + 2 * stride), with: good[(start + 2 * stride)..<(start + 3 * stride)])
        swapped.replaceSubrange((start + 2 * stride)..<(start + 3 * stride), with: good[(start + stride)..<(start + 2 * stride)])
        #expect(try openError(swapped)?.contains("chunk 1 of") == true)

        // A chunk spliced in from another encryption of the same file (another random nonce).
        let other = "\(Self.directory)/other.ehm"
        try EncryptedModel.encrypt(Self.plain, to: other, key: try ModelKey.read(Self.key), chunkSize: 4096)
        var spliced = good
        spliced.replaceSubrange((start + stride)..<(start + 2 * stride), with: try bytes(other)[(start + stride)..<(start + 2 * stride)])
        #expect(try openError(spliced)?.contains("chunk 1 of") == true)

        var header = good
        header[12] ^= 0x10   // the plain size
        #expect(try openError(header) != nil)

        let wrong = "\(Self.directory)/wrong.key"
        try? FileManager.default.removeItem(atPath: wrong)
        try ModelKey.generate(wrong)
        #expect(try openError(good, keyFile: wrong)?.contains("wrong key") == true)

        chmod(Self.key, 0o644)
        defer { chmod(Self.key, 0o600) }
        #expect(try openError(good)?.contains("chmod 600") == true)
    }

    @Test func aDamagedFileDecryptsToNothing() throws {
        try Self.prepared.get()
        var damaged = try bytes(Self.sealed)
        damaged[damaged.count - 20] ^= 0x80   // the last chunk: earlier chunks would decrypt fine
        let input = "\(Self.directory)/damaged.ehm", output = "\(Self.directory)/never.gguf"
        try write(damaged, input)
        #expect(throws: EncryptionError.self) { try EncryptedModel.decrypt(input, to: output, key: try ModelKey.read(Self.key)) }
        #expect(!FileManager.default.fileExists(atPath: output) && !FileManager.default.fileExists(atPath: output + ".tmp"))
    }

    /// 1 000 randomly damaged files (flipped bits, cuts, insertions, overwritten runs): each is refused
    /// with an error, none opens and none crashes.
    @Test func fuzzedFilesAreRefused() throws {
        try Self.prepared.get()
        let good = try bytes(Self.sealed)
        var rng = SeededRandom(seed: 2026)
        var opened = 0
        for i in 0..<1000 {
            var b = good
            switch i % 4 {
            case 0: b[rng.int(below: b.count)] ^= UInt8(1 << rng.int(below: 8))
            case 1: b = Array(b.prefix(rng.int(below: b.count)))
            case 2: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.int(below: b.count))
            default:
                let at = rng.int(below: b.count), n = min(1 + rng.int(below: 64), b.count - at)
                for j in at..<(at + n) { b[j] = UInt8(truncatingIfNeeded: rng.next()) }
                if b == good { continue }
            }
            if try openError(b) == nil { opened += 1 }
        }
        #expect(opened == 0)
    }

    @Test func keygenWritesAPrivateKeyAndNeverOverwrites() throws {
        let path = "\(Self.directory)/fresh.key"
        try? FileManager.default.removeItem(atPath: path)
        try ModelKey.generate(path)
        var st = stat()
        stat(path, &st)
        #expect(st.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.count == 65 && text.hasSuffix("\n"))
        #expect(throws: EncryptionError.self) { try ModelKey.generate(path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }
}
