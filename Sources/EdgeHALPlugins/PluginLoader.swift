import Crypto
import EdgeHAL
import EdgeHALPluginABI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds, checks and loads backend plugins.
///
/// Loading is deliberate: only absolute paths (never the working directory); a file or directory
/// that other users can write, or that another non-root user owns, is refused; every file's SHA-256
/// is computed before anything of it runs, and an entry may pin it (`/path/libx.so#sha256=HEX`).
/// A plugin that fails any check — or is not a shared library, lacks the entry symbol, speaks
/// another ABI major version — becomes an unavailable backend saying why; nothing here crashes.
public enum PluginLoader {
    public static let environmentVariable = "EDGEHAL_PLUGIN_PATH"

    /// The entries of `EDGEHAL_PLUGIN_PATH` (colon-separated files or directories).
    public static var environmentEntries: [String] {
        guard let raw = EdgeHALEnvironment.value(environmentVariable) else { return [] }
        return raw.split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// Every plugin the entries name, as backends: a directory contributes each `*.so` / `*.dylib` in it.
    public static func backends(_ entries: [String]) -> [any Backend] {
        entries.flatMap { entry -> [any Backend] in
            let (path, pin) = split(entry)
            if path.hasPrefix("/"), isDirectory(path) {
                if let refusal = unsafeLocation(path, what: "plugin directory") { return [RefusedPlugin(path: path, reason: refusal)] }
                return libraries(in: path).map { load(path + "/" + $0, pin: nil) }
            }
            return [load(path, pin: pin)]
        }
    }

    /// Loads one plugin file, or explains why not.
    public static func load(_ path: String, pin: String?) -> any Backend {
        guard path.hasPrefix("/") else {
            return RefusedPlugin(path: path, reason: "'\(path)' is a relative path: plugins load from absolute paths only, never from the working directory")
        }
        // One open file from here on: its checks, its hash and what dlopen maps are the same file,
        // so a file swapped in under the path after the check is never loaded unchecked.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return RefusedPlugin(path: path, reason: "cannot read \(path): \(String(cString: strerror(errno)))") }
        // Once dlopen has mapped it, the descriptor stays open for good (plugins are never unloaded):
        // the library is known by the name /proc/self/fd/N, which must not come to name another file.
        var mapped = false
        defer { if !mapped { close(fd) } }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return RefusedPlugin(path: path, reason: "cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else { return RefusedPlugin(path: path, reason: "\(path) is not a regular file") }
        if let refusal = unsafeOwnership(info, path, what: "plugin file") { return RefusedPlugin(path: path, reason: refusal) }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "/"
        if let refusal = unsafeLocation(directory.isEmpty ? "/" : directory, what: "plugin's directory") {
            return RefusedPlugin(path: path, reason: refusal)
        }
        guard let hash = sha256(fd: fd) else { return RefusedPlugin(path: path, reason: "cannot read \(path) to hash it") }
        if let pin, pin.lowercased() != hash {
            return RefusedPlugin(path: path, sha256: hash,
                                 reason: "SHA-256 mismatch: the entry pins \(pin.lowercased()) but \(path) hashes to \(hash); not loaded")
        }
        afterCheck?(path)
        if let change = changed(fd, since: info, path: path) { return RefusedPlugin(path: path, sha256: hash, reason: change) }
        guard let handle = dlopen(loadPath(fd, path), RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            return RefusedPlugin(path: path, sha256: hash, reason: "not a loadable shared library: \(why)")
        }
        mapped = true
        if let change = changed(fd, since: info, path: path) {
            dlclose(handle)
            return RefusedPlugin(path: path, sha256: hash, reason: change)
        }
        guard let symbol = dlsym(handle, "edgehal_plugin_entry") else {
            dlclose(handle)
            return RefusedPlugin(path: path, sha256: hash, reason: "no edgehal_plugin_entry symbol: not an EdgeHAL plugin")
        }
        let entry = unsafeBitCast(symbol, to: eh_plugin_entry_fn.self)
        guard let table = entry() else {
            return RefusedPlugin(path: path, sha256: hash, reason: "edgehal_plugin_entry returned no function table")
        }
        let major = UInt32(EDGEHAL_PLUGIN_ABI_MAJOR)
        guard table.pointee.abi_major == major else {
            return RefusedPlugin(path: path, sha256: hash,
                                 reason: "built for plugin ABI \(table.pointee.abi_major).\(table.pointee.abi_minor); this EdgeHAL speaks ABI \(major).\(EDGEHAL_PLUGIN_ABI_MINOR): rebuild it against edgehal_plugin.h")
        }
        let t = table.pointee
        let missing = [t.probe == nil, t.device_open == nil, t.device_close == nil, t.supports == nil, t.buffer_create == nil,
                       t.buffer_free == nil, t.buffer_write == nil, t.buffer_read == nil, t.program_compile == nil,
                       t.program_run == nil, t.program_free == nil, t.name == nil, t.version == nil].contains(true)
        guard !missing else { return RefusedPlugin(path: path, sha256: hash, reason: "its function table has empty entries") }
        let name = String(cString: t.name!)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name == name.lowercased() else {
            return RefusedPlugin(path: path, sha256: hash, reason: "its name '\(name)' is not a lower-case identifier")
        }
        return PluginBackend(library: PluginLibrary(table: table, path: path, sha256: hash, handle: handle))
    }

    /// Test hook: runs between hashing a plugin and loading it (a test swaps the file here).
    nonisolated(unsafe) static var afterCheck: ((String) -> Void)?

    /// What dlopen opens: the checked open file itself where the system names descriptors as paths
    /// (Linux's /proc/self/fd), else the path (then `changed` is the only guard).
    static func loadPath(_ fd: Int32, _ path: String) -> String {
        #if os(Linux)
        let proc = "/proc/self/fd/\(fd)"
        if access(proc, R_OK) == 0 { return proc }
        #endif
        return path
    }

    /// Why the checked file can no longer be trusted: the path names another file now (replaced), or
    /// the file itself was written since it was checked (size, modification or change time moved).
    static func changed(_ fd: Int32, since checked: stat, path: String) -> String? {
        var now = stat(), named = stat()
        guard fstat(fd, &now) == 0 else { return "cannot stat \(path) again: refused" }
        if stat(path, &named) != 0 || named.st_dev != checked.st_dev || named.st_ino != checked.st_ino {
            return "\(path) was replaced between its check and its load: refused (load it again to check the new file)"
        }
        if now.st_size != checked.st_size || now.st_mtim.tv_sec != checked.st_mtim.tv_sec || now.st_mtim.tv_nsec != checked.st_mtim.tv_nsec
            || now.st_ctim.tv_sec != checked.st_ctim.tv_sec || now.st_ctim.tv_nsec != checked.st_ctim.tv_nsec {
            return "\(path) was modified between its check and its load: refused"
        }
        return nil
    }

    /// `/path#sha256=HEX` → (path, HEX).
    public static func split(_ entry: String) -> (String, String?) {
        let marker = "#sha256="
        guard let i = entry.indices.first(where: { entry[$0...].hasPrefix(marker) }) else { return (entry, nil) }
        return (String(entry[..<i]), String(entry[entry.index(i, offsetBy: marker.count)...]))
    }

    /// Why a path must not be trusted: writable by other users, or owned by another non-root user.
    static func unsafeLocation(_ path: String, what: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot stat the \(what) \(path)" }
        return unsafeOwnership(info, path, what: what)
    }

    static func unsafeOwnership(_ info: stat, _ path: String, what: String) -> String? {
        if info.st_mode & S_IWOTH != 0 {
            return "the \(what) \(path) is writable by every user (mode \(String(info.st_mode & 0o7777, radix: 8))): anyone could replace the code it runs; refused"
        }
        if info.st_uid != 0 && info.st_uid != getuid() {
            return "the \(what) \(path) belongs to another user (uid \(info.st_uid)); refused"
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    static func libraries(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name.hasSuffix(".so") || name.hasSuffix(".dylib") { names.append(name) }
        }
        return names.sorted()
    }

    /// The file's SHA-256 (swift-crypto), streamed in 1 MiB reads.
    public static func sha256(of path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return sha256(fd: fd)
    }

    /// SHA-256 of an open file's whole contents (positional reads: the descriptor's offset is untouched).
    static func sha256(fd: Int32) -> String? {
        var hasher = SHA256()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if n < 0 { if errno == EINTR { continue } else { return nil } }
            if n == 0 { break }
            chunk.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            offset += off_t(n)
        }
        return hasher.finalize().hexString
    }
}

/// A plugin that was not loaded: listed as an unavailable backend with the reason.
public struct RefusedPlugin: Backend {
    public let name: String
    public let path: String
    public let sha256: String?
    public let reason: String

    public init(path: String, sha256: String? = nil, reason: String) {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        name = "plugin:" + file
        self.path = path
        self.sha256 = sha256
        self.reason = reason
    }

    public func probe() -> BackendStatus {
        BackendStatus(available: false, reason: reason, plugin: PluginOrigin(path: path, sha256: sha256))
    }

    public func makeDevice(index: Int) throws -> any Device {
        throw EdgeHALError.selection("\(name): \(reason)")
    }
}
