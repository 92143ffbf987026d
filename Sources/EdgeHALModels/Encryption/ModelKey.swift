import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func posixRead(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { read(fd, p, n) }

/// A model key file: 256 bits as 64 hex digits (what `edgehal keygen` writes) or 32 raw bytes,
/// owned by the user and readable by no one else — a key others can read protects nothing.
public enum ModelKey {
    public static let environmentVariable = "EDGEHAL_MODEL_KEY_FILE"

    /// Reads and checks the key file.
    public static func read(_ path: String) throws -> SymmetricKey {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw EncryptionError("cannot open the key file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { throw EncryptionError("the key file \(path) is not a regular file") }
        guard st.st_uid == getuid() else {
            throw EncryptionError("the key file \(path) belongs to uid \(st.st_uid), not to you (uid \(getuid())): refused")
        }
        guard st.st_mode & 0o077 == 0 else {
            throw EncryptionError("the key file \(path) can be read or written by others (mode \(String(st.st_mode & 0o777, radix: 8))): chmod 600 it; refused")
        }
        var bytes = [UInt8](repeating: 0, count: 130)
        let n = bytes.withUnsafeMutableBytes { posixRead(fd, $0.baseAddress!, $0.count) }
        guard n >= 0 else { throw EncryptionError("cannot read the key file \(path)") }
        defer { bytes.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) } }
        if n == 32 { return SymmetricKey(data: bytes[..<32]) }
        let text = bytes[..<n].filter { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 }
        guard text.count == 64, let key = hex(text) else {
            throw EncryptionError("the key file \(path) holds no key: expected 64 hex digits (edgehal keygen) or 32 raw bytes")
        }
        return SymmetricKey(data: key)
    }

    /// Writes a new random 256-bit key as 64 hex digits to `path`, created with mode 0600; an existing
    /// file is never overwritten.
    public static func generate(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw EncryptionError("cannot create the key file \(path): \(String(cString: strerror(errno)))") }
        let text = Array(SymmetricKey(size: .bits256).withUnsafeBytes { raw in
            raw.hexString + "\n"
        }.utf8)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.count, synced else {
            unlink(path)
            throw EncryptionError("cannot write the key file \(path)")
        }
    }

    static func hex<S: Collection>(_ digits: S) -> [UInt8]? where S.Element == UInt8 {
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        let d = Array(digits)
        var out: [UInt8] = []
        for i in stride(from: 0, to: d.count, by: 2) {
            guard let hi = value(d[i]), let lo = value(d[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
}

public struct EncryptionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ message: String) { description = message }
}
