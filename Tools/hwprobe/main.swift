import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALCPU
import EdgeHALModels
import Foundation

struct HWProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hwprobe",
        abstract: "List every EdgeHAL backend and its devices, say why unavailable ones are, and which one is selected.")

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false
    @Option(help: "Load a backend plugin: an absolute path, optionally with #sha256=HEX; repeatable (with those of EDGEHAL_PLUGIN_PATH).")
    var plugin: [String] = []
    @Option(help: ArgumentHelp("Only list the devices of these kinds (gpu, integrated, cpu, emulated; comma-separated) as backend:index, one per line: for scripts.", valueName: "kinds"))
    var list: String?
    @Flag(help: "Measure every device again (its calibration: run latency, mat-vec bandwidth, prefill GFLOPS), replacing the stored figures.")
    var calibrate = false
    @Option(help: ArgumentHelp("Predict for this model (a catalogue name or GGUF path) instead of a nominal 135M-parameter 8-bit one.", valueName: "name|path"))
    var model: String?

    func run() throws {
        let registry = BuiltinBackends.registry(plugins: plugin)
        let probed = registry.probeAll()
        if let list {
            let kinds = Set(list.split(separator: ",").map(String.init))
            for p in probed where p.status.available {
                for (i, d) in p.status.devices.enumerated() where kinds.contains(d.kind.rawValue) { print("\(p.name):\(i)") }
            }
            return
        }
        let env = Selection.environmentValue
        let workload = try model.map { spec in
            let path = try ModelStore.resolve(spec) { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
            return Workload(model: try LanguageModel(path: path))
        } ?? Workload.nominal
        // Calibrations are stored in the cache folder: the first hwprobe (or auto run) measures, ≤ 2 s a device.
        let calibrated = registry.calibrations(probed, types: workload.types, remeasure: calibrate)
        let predicted = Selection.predictions(calibrated, for: workload)
        var selected: [DeviceChoice] = []
        var selectionError: String?
        do { selected = try Selection.resolve(env, probed: probed, predicted: predicted) } catch { selectionError = "\(error)" }
        let why = Selection.usesAuto(env) ? Selection.autoExplanation(probed, predicted: predicted, workload: workload)
                                          : "\(Selection.environmentVariable)=\(env!)"
        func calibration(_ backend: String, _ index: Int) -> CalibratedDevice? {
            calibrated.first { $0.choice.backend == backend && $0.choice.index == index }
        }

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
                          devices: p.status.devices.enumerated().map { i, d in
                              let c = calibration(p.name, i)
                              return .init(name: d.name, kind: d.kind.rawValue, memoryBytes: d.memoryBytes,
                                           computeUnits: d.computeUnits, uuid: d.uuid, features: d.features, reference: d.isReference,
                                           rank: Selection.rank(d), calibration: c?.calibration, calibrationNote: c?.reason,
                                           prediction: c.flatMap { predicted[$0.choice] })
                          })
                },
                physicalDevices: Selection.samePhysicalDevice(probed).map { $0.map { "\($0.backend):\($0.index)" } },
                workload: workload.name)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.keyEncodingStrategy = .convertToSnakeCase
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print("Host: \(HostCPU.modelName), \(HostCPU.cores) cores, \(HostCPU.memoryBytes >> 20) MiB")
            print("  CPU SIMD features: \(HostCPU.simdFeatures.joined(separator: " "))")
            print("  build targets: \(HostCPU.buildFeatures.joined(separator: " "))")
            if !CPUFeatureCheck.build.isEmpty { print("  build CPU extensions: \(CPUFeatureCheck.build.joined(separator: " "))") }
            if let warning = HostCPU.untunedBuildWarning { print("  warning: \(warning)") }
            let missing = CPUFeatureCheck.missing
            if !missing.isEmpty {
                print("  warning: this build uses \(missing.joined(separator: ", ")), which this CPU lacks (EDGEHAL_SKIP_CPU_CHECK=1 "
                      + "let it start): the CPU backend will stop on an illegal instruction")
            }
            print("")
            for p in probed {
                print("\(p.name): \(p.status.available ? "available" : "UNAVAILABLE")\(p.status.reason.map { " — \($0)" } ?? "")")
                for (i, d) in p.status.devices.enumerated() {
                    let mem = d.memoryBytes.map { ", \($0 >> 20) MiB" } ?? ""
                    print("  [\(i)] \(d.name) — \(d.kind.rawValue), \(d.computeUnits.map(String.init) ?? "unknown") compute units\(mem); \(d.features.joined(separator: " "))"
                          + (d.uuid.map { " uuid=\($0)" } ?? ""))
                    if let c = calibration(p.name, i) {
                        if let figures = c.calibration {
                            print("      calibration\(c.fresh ? " (measured now)" : ""): \(figures.summary)")
                            print("      predicted: \(predicted[c.choice]?.summary ?? "-")")
                        } else if let reason = c.reason {
                            print("      calibration: none — \(reason)")
                        }
                    }
                }
            }
            for group in Selection.samePhysicalDevice(probed) {
                print("one physical device: \(group.map { "\($0.backend):\($0.index)" }.joined(separator: " = ")) (uuid \(group[0].info.uuid ?? ""))")
            }
            print("")
            print("predictions for \(workload.name)")
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
        /// The stored (or just measured) calibration, the reason there is none, and the prediction for the workload.
        var calibration: DeviceCalibration?
        var calibrationNote: String?
        var prediction: Prediction?
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
    /// What the predictions are for.
    var workload: String
}

HWProbe.main()
