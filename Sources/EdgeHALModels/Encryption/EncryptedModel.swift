import Crypto
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// EdgeHAL's encrypted model file (`.ehm`): a GGUF file sealed with AES-256-GCM in independently
/// authenticated chunks, so a model is decrypted straight into memory as it loads, and any change
/// to the file is found and named.
///
/// Layout: a 40-byte header — "EHM1", version 1, chunk size, plain size, chunk count (u32, u32, u64,
/// u64, little-endian), a random 12-byte file nonce — then a 16-byte key check (the GCM tag of an
/// empty message over the header), then each chunk's ciphertext and 16-byte tag. Chunk i's nonce is
/// the file nonce with i xor-ed into its last 8 bytes; its associated data is the header, i and
/// whether it is the last chunk. So a wrong key fails the key check; a flipped bit, two chunks
/// swapped, a chunk from another file (another nonce and header) or a dropped last chunk fail that
/// chunk's tag; a cut or extended file fails the size the header promises — each before any
/// plaintext is used.
public enum EncryptedModel {
    static let magic: [UInt8] = Array("EHM1".utf8)
    static let headerBytes = 40, tagBytes = 16
    public static let defaultChunkSize = 1 << 20

    struct Header {
        var chunkSize: Int
        var plainSize: Int
        var nonce: [UInt8]
        var chunkCount: Int { max(1, (plainSize + chunkSize - 1) / chunkSize) }

        var bytes: [UInt8] {
            var out = magic
            func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
            put(UInt32(1)); put(UInt32(chunkSize)); put(UInt64(plainSize)); put(UInt64(chunkCount))
            return out + nonce
        }

        init(chunkSize: Int, plainSize: Int, nonce: [UInt8]) {
            (self.chunkSize, self.plainSize, self.nonce) = (chunkSize, plainSize, nonce)
        }

        init(parsing raw: UnsafeRawBufferPointer, path: String) throws {
            guard raw.count >= headerBytes + tagBytes, Array(raw[0..<4]) == magic else {
                throw EncryptionError("\(path) is not an EdgeHAL encrypted model (no EHM1 header)")
            }
            func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self)) }
            guard get(4, UInt32.self) == 1 else { throw EncryptionError("\(path): encrypted-model version \(get(4, UInt32.self)) is not one this EdgeHAL reads") }
            let chunk = Int(get(8, UInt32.self)), plain = get(12, UInt64.self), count = get(20, UInt64.self)
            guard chunk >= 4096, chunk <= 1 << 28, plain <= 1 << 50 else { throw EncryptionError("\(path): its header is damaged (chunk size \(chunk), size \(plain))") }
            self.init(chunkSize: chunk, plainSize: Int(plain), nonce: Array(raw[28..<40]))
            guard UInt64(chunkCount) == count else { throw EncryptionError("\(path): its header is damaged (\(count) chunks for \(plain) bytes)") }
        }

        var fileSize: Int { headerBytes + tagBytes + plainSize + chunkCount * tagBytes }

        func chunkNonce(_ i: UInt64) throws -> AES.GCM.Nonce {
            var n = nonce
            withUnsafeBytes(of: i.bigEndian) { for (j, b) in $0.enumerated() { n[4 + j] ^= b } }
            return try AES.GCM.Nonce(data: n)
        }

        func associatedData(_ i: Int) -> [UInt8] {
            var out = bytes
            withUnsafeBytes(of: UInt64(i).littleEndian) { out += $0 }
            return out + [i == chunkCount - 1 ? 1 : 0]
        }

        /// The key check: a tag over the header alone, under a nonce no chunk uses.
        func keyCheck(_ key: SymmetricKey) throws -> [UInt8] {
            Array(try AES.GCM.seal([UInt8](), using: key, nonce: chunkNonce(.max), authenticating: bytes + Array("key check".utf8)).tag)
        }
    }

    /// Whether the file at `path` starts like an encrypted model.
    public static func isEncrypted(_ path: String) -> Bool {
        guard let f = fopen(path, "rb") else { return false }
        defer { fclose(f) }
        var head = [UInt8](repeating: 0, count: 4)
        return fread(&head, 1, 4, f) == 4 && head == magic
    }

    // MARK: encrypt

    /// Encrypts the file at `input` into `output` (written beside, then renamed: never half-written).
    public static func encrypt(_ input: String, to output: String, key: SymmetricKey, chunkSize: Int = defaultChunkSize) throws {
        let mapped = try GGUFRegion(mapping: input)
        try withExtendedLifetime(mapped) { try encrypt(mapped.bytes, to: output, key: key, chunkSize: chunkSize) }
    }

    private static func encrypt(_ plain: UnsafeRawBufferPointer, to output: String, key: SymmetricKey, chunkSize: Int) throws {
        var nonce = [UInt8](repeating: 0, count: 12)
        var rng = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = UInt8.random(in: 0...255, using: &rng) }
        let header = Header(chunkSize: chunkSize, plainSize: plain.count, nonce: nonce)
        try AtomicFile.write(output) { put in
            try header.bytes.withUnsafeBytes(put)
            try header.keyCheck(key).withUnsafeBytes(put)
            for i in 0..<header.chunkCount {
                let lo = i * chunkSize, hi = min(lo + chunkSize, plain.count)
                let box = try AES.GCM.seal(UnsafeRawBufferPointer(rebasing: plain[lo..<hi]), using: key,
                                           nonce: header.chunkNonce(UInt64(i)), authenticating: header.associatedData(i))
                try box.ciphertext.withUnsafeBytes(put)
                try box.tag.withUnsafeBytes(put)
            }
        }
    }

    // MARK: decrypt

    /// Authenticates and decrypts every chunk of `path` in order, handing each plaintext chunk to
    /// `body` with its offset; throws naming the first chunk that fails.
    static func decryptChunks(_ path: String, key: SymmetricKey, _ body: (Int, Data) throws -> Void) throws {
        let file = try GGUFRegion(mapping: path)
        try withExtendedLifetime(file) { try decryptChunks(file.bytes, path: path, key: key, body) }
    }

    /// The header, once the key check passes and the file has the size it promises.
    private static func validated(_ raw: UnsafeRawBufferPointer, path: String, key: SymmetricKey) throws -> Header {
        let header = try Header(parsing: raw, path: path)
        guard Array(raw[headerBytes..<(headerBytes + tagBytes)]) == (try header.keyCheck(key)) else {
            throw EncryptionError("\(path): wrong key, or its header was altered (the key check fails)")
        }
        guard raw.count == header.fileSize else {
            throw EncryptionError("\(path): \(raw.count < header.fileSize ? "truncated" : "extended"): its header promises \(header.fileSize) bytes, the file holds \(raw.count)")
        }
        return header
    }

    private static func decryptChunks(_ raw: UnsafeRawBufferPointer, path: String, key: SymmetricKey, _ body: (Int, Data) throws -> Void) throws {
        let header = try validated(raw, path: path, key: key)
        for i in 0..<header.chunkCount { try body(i * header.chunkSize, try openChunk(i, raw, header, path: path, key: key)) }
    }

    /// Chunk i's plaintext, or the error naming it.
    private static func openChunk(_ i: Int, _ raw: UnsafeRawBufferPointer, _ header: Header, path: String, key: SymmetricKey) throws -> Data {
        let at = headerBytes + tagBytes + i * (header.chunkSize + tagBytes)
        let n = min(header.chunkSize, header.plainSize - i * header.chunkSize)
        let box = try AES.GCM.SealedBox(nonce: header.chunkNonce(UInt64(i)),
                                        ciphertext: UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]),
                                        tag: UnsafeRawBufferPointer(rebasing: raw[(at + n)..<(at + n + tagBytes)]))
        guard let plain = try? AES.GCM.open(box, using: key, authenticating: header.associatedData(i)) else {
            throw EncryptionError("\(path): chunk \(i) of \(header.chunkCount) fails authentication: the file was altered (a changed byte, chunks swapped or taken from another file)")
        }
        return plain
    }

    /// Decrypts `input` into the plain file `output`: every chunk is authenticated first, so a
    /// damaged file writes nothing.
    public static func decrypt(_ input: String, to output: String, key: SymmetricKey) throws {
        try decryptChunks(input, key: key) { _, _ in }
        try AtomicFile.write(output) { put in try decryptChunks(input, key: key) { _, plain in try plain.withUnsafeBytes(put) } }
    }

    /// The decrypted model, in anonymous memory (never on disk), read-only once filled and kept out
    /// of core dumps; weights are then used in place as from a mapped file.
    public static func open(_ path: String, keyFile: String) throws -> GGUFFile {
        let key = try ModelKey.read(keyFile)
        let mapped = try GGUFRegion(mapping: path)
        return try withExtendedLifetime(mapped) {
            let raw = mapped.bytes
            let header = try validated(raw, path: path, key: key)
            return try GGUFFile.open(anonymous: header.plainSize, name: path) { region in
                // Chunks are independent: decrypted on every core (the load's cost is this loop).
                nonisolated(unsafe) let (source, target) = (raw, region)
                let failures = Mutex<[Int: any Error]>([:])
                DispatchQueue.concurrentPerform(iterations: header.chunkCount) { i in
                    do {
                        let plain = try openChunk(i, source, header, path: path, key: key)
                        plain.withUnsafeBytes { target.baseAddress!.advanced(by: i * header.chunkSize).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    } catch {
                        failures.withLock { $0[i] = error }
                    }
                }
                if let first = failures.withLock({ $0.min { $0.key < $1.key } }) { throw first.value }
            }
        }
    }
}
