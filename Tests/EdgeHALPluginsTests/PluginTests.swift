import EdgeHAL
import EdgeHALConformance
import EdgeHALCPU
@testable import EdgeHALPlugins
import Foundation
import EdgeHALTestSupport
import Testing

/// The plugin ABI end to end: both templates are built here the way a vendor builds them (cc for the
/// C one, swiftc for the Swift one, outside SwiftPM), loaded through EDGEHAL_PLUGIN_PATH's loader and
/// run through the whole conformance table; a planted kernel bug fails it and names the op; every
/// unsafe or broken file is refused with its reason; a model runs with the plugin first and the CPU
/// as fallback.
@Suite(.serialized)
struct PluginTests {
    static let root = Shell.root
    /// A private directory (mode 0700): plugins in world-writable places are refused by design.
    static let directory: String = {
        var template = Array("/tmp/edgehal-plugins-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template))
    }()

    @discardableResult
    static func sh(_ arguments: [String]) throws -> String {
        let (status, output) = try Shell.run(arguments)
        guard status == 0 else { throw EdgeHALError.backend("\(arguments.joined(separator: " ")) failed: \(output)") }
        return output
    }

    /// The C template compiled with `defines` (e.g. the planted bug) into the private directory.
    static func cPlugin(_ name: String, _ defines: [String] = []) throws -> String {
        let out = "\(directory)/\(name).so"
        try sh(["cc", "-shared", "-fPIC", "-O2"] + defines + ["-I", root.path + "/Sources/EdgeHALPluginABI/include",
               "-I", root.path + "/Examples/CPlugin/include", root.path + "/Examples/CPlugin/plugin.c", "-o", out, "-lm"])
        return out
    }

    static let cTemplate = Result { try cPlugin("libctemplate") }
    static let swiftTemplate = Result { () throws -> String in
        let out = "\(directory)/libswifttemplate.so"
        try sh(["swiftc", "-emit-library", "-O", "-module-name", "TemplatePlugin", "-I", root.path + "/Sources/EdgeHALPluginABI/include",
                root.path + "/Examples/TemplatePlugin/TemplatePlugin.swift", "-o", out])
        return out
    }

    static func device(_ path: String) throws -> any Device {
        let backend = PluginLoader.load(path, pin: nil)
        guard let plugin = backend as? PluginBackend else { throw EdgeHALError.backend("\(path) refused: \(backend.probe().reason ?? "")") }
        return try plugin.makeDevice(index: 0)
    }

    /// Ops each template implements; the rest of the table must come back unsupported, never failed.
    static let templateOps: Set<String> = ["add", "mul", "scale", "silu", "rms_norm", "rms_norm_mul", "get_rows", "mul_mat"]

    @Test("a template plugin passes the table on its ops", arguments: ["c", "swift"])
    func templateConforms(_ language: String) throws {
        let path = try (language == "c" ? Self.cTemplate : Self.swiftTemplate).get()
        let report = ConformanceRunner().run(CaseTable.all, on: try Self.device(path))
        for r in report.results where r.status == .fail { Issue.record("\(language) template: \(r.op) \(r.type) \(r.shape): \(r.detail ?? "")") }
        #expect(report.failed == 0)
        // And the graph cases built of those ops alone, which the template runs unfused: a norm read by mul_mats,
        // and silu(gate)·up.
        #expect(Set(report.results.filter { $0.status == .pass }.map(\.op)) == Self.templateOps.union(["rms_norm_mul_mat", "mul_mat_glu"]))
        #expect(report.unsupported > 0 && report.passed >= 50)
    }

    @Test func plantedBugFailsAndNamesTheOp() throws {
        let path = try Self.cPlugin("libbuggy", ["-DEDGEHAL_TEMPLATE_BUG=1"])
        let report = ConformanceRunner().run(CaseTable.all, on: try Self.device(path))
        #expect(report.failed > 0)
        #expect(Set(report.results.filter { $0.status == .fail }.map(\.op)) == ["rms_norm", "rms_norm_mul", "rms_norm_mul_mat", "mul_mat_glu"])
    }

    @Test func unsafeOrBrokenFilesAreRefusedWithAReason() throws {
        let good = try Self.cTemplate.get()
        func refusal(_ entry: String) -> String? {
            let b = PluginLoader.backends([entry]).first
            return b is RefusedPlugin ? b?.probe().reason : nil
        }
        let abi2 = try Self.cPlugin("libabi2", ["-DEDGEHAL_TEMPLATE_ABI_MAJOR=2"])
        #expect(refusal(abi2)?.contains("ABI 2.") == true)

        let text = "\(Self.directory)/libtext.so"
        try "not a library".write(toFile: text, atomically: true, encoding: .utf8)
        #expect(refusal(text)?.contains("not a loadable shared library") == true)

        #expect(refusal("relative/libx.so")?.contains("relative path") == true)

        let open = "\(Self.directory)/libopen.so"
        try? FileManager.default.removeItem(atPath: open)
        try FileManager.default.copyItem(atPath: good, toPath: open)
        chmod(open, 0o666)
        #expect(refusal(open)?.contains("writable by every user") == true)

        #expect(refusal(good + "#sha256=" + String(repeating: "0", count: 64))?.contains("SHA-256 mismatch") == true)
        let hash = try #require(PluginLoader.sha256(of: good))
        #expect(refusal(good + "#sha256=" + hash) == nil, "the right pin loads")

        let noEntry = "\(Self.directory)/libnoentry.so"
        let source = "\(Self.directory)/noentry.c"
        try "int edgehal_something_else(void) { return 1; }\n".write(toFile: source, atomically: true, encoding: .utf8)
        try Self.sh(["cc", "-shared", "-fPIC", source, "-o", noEntry])
        #expect(refusal(noEntry)?.contains("no edgehal_plugin_entry") == true)
    }

    /// What is loaded is what was checked: a file replaced under the path, or written in place, between
    /// the hash and dlopen is refused; left alone, the same file loads.
    @Test func aPluginChangedBetweenCheckAndLoadIsRefused() throws {
        let good = try Self.cTemplate.get()
        let path = "\(Self.directory)/libswapped.so", other = "\(Self.directory)/libother.so"
        func fresh() throws {
            for p in [path, other] { try? FileManager.default.removeItem(atPath: p) }
            try FileManager.default.copyItem(atPath: good, toPath: path)
            try FileManager.default.copyItem(atPath: try Self.cPlugin("libbuggy", ["-DEDGEHAL_TEMPLATE_BUG=1"]), toPath: other)
        }
        defer { PluginLoader.afterCheck = nil }
        func reason() -> String? {
            let b = PluginLoader.load(path, pin: nil)
            return b is RefusedPlugin ? b.probe().reason ?? "" : nil
        }

        try fresh()
        PluginLoader.afterCheck = { p in _ = rename(other, p) }
        #expect(reason()?.contains("was replaced between its check and its load") == true)

        try fresh()
        PluginLoader.afterCheck = { p in
            let fd = open(p, O_WRONLY | O_APPEND)
            _ = write(fd, "x", 1)
            close(fd)
        }
        #expect(reason()?.contains("was modified between its check and its load") == true)

        try fresh()
        PluginLoader.afterCheck = nil
        #expect(reason() == nil, "an untouched plugin loads")
    }

    /// The plugin first, the CPU as fallback: the executor splits the tiny model between them and the
    /// logits match the CPU's alone.
    @Test func modelRunsWithFallback() throws {
        let plugin = try Self.device(try Self.cTemplate.get())
        let cpu = CPUDevice(threads: 2)
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(64, 3))
        let w = try b.weight("w", .f32, Shape(64), data: HostData(TestDataBytes.floats((0..<64).map { 1 + Float($0) / 64 })))
        let q = try b.weight("q", .q4_0, Shape(64, 32), data: HostData(Quant.quantize(.q4_0, (0..<2048).map { sin(Float($0)) })))
        let h = try b.mul(try b.rmsNorm(x, eps: 1e-5), w)
        let y = try b.add(try b.silu(try b.mulMat(q, h)), try b.scale(try b.mulMat(q, h), 0.5))
        b.output(y)
        let input = (0..<192).map { cos(Float($0) * 0.37) }
        func run(_ devices: [any Device]) throws -> (values: [Float], report: ExecutionReport) {
            let exe = try Executable(graph: b.graph, devices: devices)
            try exe.setInput(x, input)
            try exe.run()
            return (try exe.read(y), exe.report)
        }
        let mixed = try run([plugin, cpu]), alone = try run([cpu])
        let backends: Set<String> = Set(mixed.report.partitions.map { p in String(p.device.prefix { $0 != ":" }) })
        #expect(backends == ["ctemplate", "cpu"])
        #expect(mixed.report.fusedOps == 1, "rms_norm·w fused for the plugin")
        #expect(ConformanceRunner.nmse(mixed.values, alone.values) < 1e-10)
    }
}

/// f32 values as bytes, for weights built in tests.
enum TestDataBytes {
    static func floats(_ v: [Float]) -> [UInt8] { v.withUnsafeBytes { Array($0) } }
}
