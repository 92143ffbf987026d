import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checking a model file against its catalogue entry.
///
/// Hashing 250 MB on every start would cost seconds, so a hash that matched is recorded in a
/// sidecar, `<file>.verified`, together with the file's size, mtime (ns) and inode. The sidecar is
/// trusted only while all three still describe the file: any write to it — one flipped byte, a
/// copy over it — changes the mtime or the inode, and the next use hashes it again.
extension ModelStore {
    /// How `verify` established that a file is intact.
    public enum Verification: Sendable, Equatable {
        /// The sidecar still describes the file; no byte was read.
        case sidecar
        /// The file was hashed (and the sidecar rewritten).
        case hashed
    }

    /// Verifies the model file at `path` against `entry`; a corrupt file is deleted, with its
    /// sidecar, so the next run downloads it afresh instead of failing the same way forever.
    @discardableResult
    public static func verify(path: String, entry: CatalogueEntry, log: (String) -> Void = { _ in }) throws -> Verification {
        guard let identity = FileIdentity(path: path) else {
            throw ModelStoreError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if Sidecar.read(for: path)?.vouches(for: identity, entry) == true { return .sidecar }
        guard identity.size == entry.byteCount else {
            Sidecar.discard(modelAt: path)
            throw ModelStoreError("\(entry.name): \(path) is corrupt (\(identity.size) bytes, expected \(entry.byteCount)): "
                                  + "deleted; run again to download it afresh")
        }
        log("verifying \(path) (sha256 of \(identity.size >> 20) MiB)…")
        let actual = try sha256(path: path)
        guard actual == entry.sha256 else {
            Sidecar.discard(modelAt: path)
            throw ModelStoreError("\(entry.name): \(path) is corrupt (sha256 \(actual), expected \(entry.sha256)): "
                                  + "deleted; run again to download it afresh")
        }
        // The identity from before hashing: a write during the hash leaves a sidecar that no longer matches.
        Sidecar(sha256: actual, identity).write(for: path)
        return .hashed
    }

    /// The lower-case hex SHA-256 (swift-crypto) of a file, streamed in 4 MiB reads.
    public static func sha256(path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ModelStoreError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw ModelStoreError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        return hasher.finalize().hexString
    }
}

/// What identifies one version of a file without reading it.
struct FileIdentity: Equatable {
    var size: Int
    var mtimeNanoseconds: Int64
    var inode: UInt64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        #if canImport(Darwin)
        let mtime = info.st_mtimespec
        #else
        let mtime = info.st_mtim
        #endif
        size = Int(info.st_size)
        mtimeNanoseconds = Int64(mtime.tv_sec) * 1_000_000_000 + Int64(mtime.tv_nsec)
        inode = UInt64(info.st_ino)
    }
}

/// `<model>.verified`: the hash that matched, and the identity of the file it matched.
struct Sidecar: Codable, Equatable {
    var sha256: String
    var size: Int
    var mtimeNanoseconds: Int64
    var inode: UInt64

    init(sha256: String, _ identity: FileIdentity) {
        self.sha256 = sha256
        size = identity.size
        mtimeNanoseconds = identity.mtimeNanoseconds
        inode = identity.inode
    }

    static func path(for model: String) -> String { model + ".verified" }

    static func read(for model: String) -> Sidecar? {
        guard let data = FileManager.default.contents(atPath: path(for: model)) else { return nil }
        return try? JSONDecoder().decode(Sidecar.self, from: data)
    }

    /// Whether the file at `model` is verified without reading it; false when it is missing.
    static func vouches(for model: String, _ entry: CatalogueEntry) -> Bool {
        guard let identity = FileIdentity(path: model) else { return false }
        return read(for: model)?.vouches(for: identity, entry) == true
    }

    func vouches(for identity: FileIdentity, _ entry: CatalogueEntry) -> Bool {
        sha256 == entry.sha256 && size == entry.byteCount
            && size == identity.size && mtimeNanoseconds == identity.mtimeNanoseconds && inode == identity.inode
    }

    /// Best effort: without a sidecar (a read-only directory, say) the file is only hashed again next time.
    func write(for model: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self) else { return }
        try? data.write(to: URL(fileURLWithPath: Sidecar.path(for: model)), options: .atomic)
    }

    /// Deletes a model file and its sidecar.
    static func discard(modelAt model: String) {
        unlink(model)
        unlink(path(for: model))
    }
}
