import ArgumentParser
import EdgeHAL
import EdgeHALBuiltins
import EdgeHALConformance
import EdgeHALPlugins
import Foundation

/// `conformance run|perf|model|list`: one program per job, sharing ``CaseOptions``.
struct Conformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check a backend against the reference on every op × type × shape case (and time it).",
        subcommands: [Run.self, ModelCase.self, Perf.self, ListCases.self],
        defaultSubcommand: Run.self)
}

/// What every subcommand takes: the device, the cases, the data and the output form.
struct CaseOptions: ParsableArguments {
    @Option(help: "Backend to test: name or name:device (default: what EDGEHAL_BACKEND selects, else auto); perf: a list a,b.")
    var backend: String?
    @Option(help: "Only cases of this op (e.g. mul_mat, attention, transformer_block); repeatable.")
    var op: [String] = []
    @Option(help: "Only cases of this type (e.g. q4_0, f32, fused); repeatable.")
    var type: [String] = []
    @Option(help: "Load a backend plugin (absolute path, optionally #sha256=HEX) and test it (unless --backend names another); repeatable.")
    var plugin: [String] = []
    @Option(help: "Seed for the case data.")
    var seed: UInt64 = 2026
    @Option(help: "Timed runs per case; the median is reported.")
    var runs = 1
    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    /// The cases of `table` that --op and --type keep.
    func filter(_ table: [ConformanceCase]) -> [ConformanceCase] {
        table.filter { (op.isEmpty || op.contains($0.op)) && (type.isEmpty || type.contains($0.type)) }
    }

    func registry() -> BackendRegistry { BuiltinBackends.registry(plugins: plugin) }

    /// The device --backend (or the first --plugin, or EDGEHAL_BACKEND, or auto) selects, and the
    /// selection's further devices (then the host CPU): where a split model case puts its other layers.
    /// Exits with a message when nothing is selected.
    func selection(_ registry: BackendRegistry) -> (choice: DeviceChoice, rest: [DeviceChoice]) {
        let probed = registry.probeAll()
        var backend = self.backend
        if backend == nil, let file = plugin.first {
            // The plugin named first: tested by its backend name once loaded, or refused with the reason.
            let path = PluginLoader.split(file).0
            guard let entry = probed.first(where: { $0.status.plugin?.path == path }) else { fail("plugin \(file) was not loaded") }
            guard entry.status.available else { fail("plugin \(path) refused: \(entry.status.reason ?? "unavailable")") }
            backend = entry.name
        }
        do {
            let chosen = try Selection.resolve(backend ?? Selection.environmentValue, probed: probed)
            guard let first = chosen.first else { throw EdgeHALError.selection("nothing selected") }
            return (first, Array(Selection.withFallback(chosen, probed: probed).dropFirst()))
        } catch {
            fail("\(error)")
        }
    }

    /// Opens `choice`, or exits saying why not.
    func open(_ choice: DeviceChoice, in registry: BackendRegistry) -> any Device {
        do { return try registry.open(choice) } catch { fail("\(error)") }
    }

    /// The profiles of the devices that kept one (`EDGEHAL_*_PROFILE`), on standard error.
    func printProfiles(_ devices: [any Device]) {
        let report = DeviceProfile.report(of: devices)
        if !report.isEmpty { FileHandle.standardError.write(Data((report + "\n").utf8)) }
    }

    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("conformance: \(message)\n".utf8))
        Conformance.exit(withError: ExitCode(2))
    }

    func printJSON(_ value: some Encodable, snakeCase: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

struct ListCases: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the cases (those --op and --type keep).")
    @OptionGroup var options: CaseOptions

    func run() throws {
        let cases = options.filter(CaseTable.all)
        for c in cases { print("\(c.op.padded(18)) \(c.type.padded(8)) \(c.shape)  [\(c.check.rawValue), NMSE ≤ \(c.threshold)]") }
        print("\(cases.count) cases")
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

Conformance.main()
