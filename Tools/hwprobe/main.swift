import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import Foundation

struct HWProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hwprobe",
        abstract: "List every EdgeHAL backend and its devices, say why unavailable ones are, and which one is selected.")

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false
    @Option(help: "Load a backend plugin: an absolute path, optionally with #sha256=HEX; repeatable (adds to EDGEHAL_PLUGIN_PATH).")
    var plugin: [String] = []
    @Option(help: ArgumentHelp("Only list the devices of these kinds (gpu, integrated, cpu, emulated; comma-separated) as backend:index, one per line: for scripts.", valueName: "kinds"))
    var list: String?

    func run() throws {
        BuiltinBackends.addPlugins(plugin)
        let probed = BuiltinBackends.registry().probeAll()
        if let list {
            let kinds = Set(list.split(separator: ",").map(String.init))
            for p in probed where p.status.available {
                for (i, d) in p.status.devices.enumerated() where kinds.contains(d.kind.rawValue) { print("\(p.name):\(i)") }
            }
            return
        }
        let env = Selection.environmentValue
        var selected: [DeviceChoice] = []
        var selectionError: String?
        do { selected = try Selection.resolve(env, probed: probed) } catch { selectionError = "\(error)" }
        let why = env == nil || env == "auto" ? Selection.autoExplanation(probed) : "\(Selection.environmentVariable)=\(env!)"

        if json {
            let report = Report(
                selected: selected.first.map { "\($0.backend):\($0.index)" },
                selection: selected.map(\.description), reason: selectionError ?? why,
                environment: env,
                host: .init(cpu: HostCPU.modelName, cores: HostCPU.cores, memoryBytes: HostCPU.memoryBytes,
                            simdFeatures: HostCPU.simdFeatures, buildFeatures: HostCPU.buildFeatures),
                backends: probed.map { p in
                    .init(name: p.name, available: p.status.available,
                          reason: p.status.reason ?? (p.status.available ? "available" : "unavailable"), plugin: p.status.plugin,
                          devices: p.status.devices.map {
                              .init(name: $0.name, kind: $0.kind.rawValue, memoryBytes: $0.memoryBytes,
                                    computeUnits: $0.computeUnits, uuid: $0.uuid, features: $0.features, reference: $0.isReference,
                                    rank: Selection.rank($0))
                          })
                },
                physicalDevices: Selection.samePhysicalDevice(probed).map { $0.map { "\($0.backend):\($0.index)" } })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("Host: \(HostCPU.modelName), \(HostCPU.cores) cores, \(HostCPU.memoryBytes >> 20) MiB")
            print("  CPU SIMD features: \(HostCPU.simdFeatures.joined(separator: " "))")
            print("  build targets: \(HostCPU.buildFeatures.joined(separator: " "))")
            print("")
            for p in probed {
                print("\(p.name): \(p.status.available ? "available" : "UNAVAILABLE")\(p.status.reason.map { " — \($0)" } ?? "")")
                for (i, d) in p.status.devices.enumerated() {
                    let mem = d.memoryBytes.map { ", \($0 >> 20) MiB" } ?? ""
                    print("  [\(i)] \(d.name) — \(d.kind.rawValue), \(d.computeUnits.map(String.init) ?? "unknown") compute units\(mem); \(d.features.joined(separator: " "))"
                          + (d.uuid.map { " uuid=\($0)" } ?? ""))
                }
            }
            for group in Selection.samePhysicalDevice(probed) {
                print("one physical device: \(group.map { "\($0.backend):\($0.index)" }.joined(separator: " = ")) (uuid \(group[0].info.uuid ?? ""))")
            }
            print("")
            if let e = selectionError { print("selection error: \(e)") }
            else { print("selected: \(selected.map(\.description).joined(separator: ", ")) — \(why)") }
        }
        if selectionError != nil { throw ExitCode(2) }
    }
}

struct Report: Encodable {
    struct Host: Encodable {
        var cpu: String, cores: Int, memoryBytes: UInt64, simdFeatures: [String], buildFeatures: [String]
    }
    struct DeviceEntry: Encodable {
        var name: String, kind: String, memoryBytes: UInt64?, computeUnits: Int?, uuid: String?, features: [String], reference: Bool, rank: Int
    }
    struct BackendEntry: Encodable {
        var name: String, available: Bool, reason: String
        /// For plugins: the file, its SHA-256 and version.
        var plugin: PluginOrigin?
        var devices: [DeviceEntry]
    }
    var selected: String?
    var selection: [String]
    var reason: String
    var environment: String?
    var host: Host
    var backends: [BackendEntry]
    /// Devices that are one card reached through several APIs (the same uuid), as backend:index.
    var physicalDevices: [[String]]
}

HWProbe.main()
