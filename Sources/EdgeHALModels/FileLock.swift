#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An advisory `flock` on a file, so that two processes sharing a models directory (two test
/// runs, a test run and the CLI) never assemble the same model at once. The kernel drops the lock
/// when its holder exits, so a killed download never leaves the directory locked.
enum FileLock {
    /// Runs `body` holding an exclusive lock on `path` (created when missing); `onWait` runs once
    /// first when another process holds it.
    static func holding<T>(_ path: String, onWait: () -> Void, _ body: () throws -> T) throws -> T {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ModelStoreError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }  // closing the descriptor releases the lock
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EAGAIN else { throw ModelStoreError("cannot lock \(path): \(String(cString: strerror(errno)))") }
            onWait()
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw ModelStoreError("cannot lock \(path): \(String(cString: strerror(errno)))") }
            }
        }
        return try body()
    }
}
