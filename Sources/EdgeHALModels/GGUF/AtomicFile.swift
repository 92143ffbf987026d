#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// How EdgeHAL writes a file it must never leave half-written (GGUF models, encrypted models,
/// decrypted ones): into `path + ".tmp"` through `body`, synced, then renamed over `path`. On any
/// failure, the body's own included, the temporary file is removed and `path` is untouched.
enum AtomicFile {
    /// `body` receives a function that appends bytes to the file.
    static func write(_ path: String, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let tmp = path + ".tmp"
        let fd = posixOpen(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GGUFError("cannot create \(tmp): \(errnoText())") }
        var closed = false
        do {
            try body { raw in
                var done = 0
                while done < raw.count {
                    let n = posixWrite(fd, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw GGUFError("cannot write \(tmp): \(errnoText())")
                    }
                    done += n
                }
            }
            guard fsync(fd) == 0 else { throw GGUFError("cannot sync \(tmp): \(errnoText())") }
            closed = true
            guard close(fd) == 0 else { throw GGUFError("cannot close \(tmp): \(errnoText())") }
            guard rename(tmp, path) == 0 else { throw GGUFError("cannot rename \(tmp) to \(path): \(errnoText())") }
        } catch {
            if !closed { close(fd) }
            unlink(tmp)
            throw error
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
