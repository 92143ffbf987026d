/// EdgeHAL's release, part of every cache key whose contents depend on the kernels.
public enum EdgeHALVersion {
    public static let current = "0.9.0"
}

/// Calibrations kept in EdgeHAL's cache folder (`calibration/`), one small text file per device,
/// keyed by backend, device, driver and build (the device's features name its driver, and for the
/// CPU backend its worker count and vector ISA) and EdgeHAL's version. Each file repeats its key and
/// ends with a checksum of its lines: a damaged file, or one written for another device or release,
/// is measured again and replaced, never trusted.
public struct CalibrationStore: Sendable {
    /// nil: nothing is read or written (no cache folder).
    public let folder: String?

    public init(folder: String? = CacheFolder.path.map { $0 + "/calibration" }) {
        self.folder = folder
    }

    /// What a calibration of this device is valid for.
    public static func key(backend: String, info: DeviceInfo) -> String {
        let parts = [backend, info.name, info.uuid ?? "-", info.features.joined(separator: " "), "edgehal \(EdgeHALVersion.current) \(build)"]
        return parts.joined(separator: " | ").map { $0.isNewline ? " " : $0 }.reduce(into: "") { $0.append($1) }
    }

    /// Debug and release builds of one version run at very different speeds.
    static var build: String {
        #if DEBUG
        return "debug"
        #else
        return "release"
        #endif
    }

    public func path(for key: String) -> String? {
        folder.map { $0 + "/" + Self.hex(Self.fnv1a(key)) + ".txt" }
    }

    /// The stored calibration for `key`, or nil when there is none or it is damaged or foreign.
    public func load(key: String) -> DeviceCalibration? {
        guard let path = path(for: key), let bytes = CacheFolder.read(path) else { return nil }
        return Self.decode(String(decoding: bytes, as: UTF8.self), key: key)
    }

    public func save(_ calibration: DeviceCalibration, key: String) {
        guard let path = path(for: key) else { return }
        CacheFolder.write(Array(Self.encode(calibration, key: key).utf8), to: path)
    }

    /// The stored calibration, completed by measuring what it lacks (`types` not yet measured), or a
    /// new measurement when there is none, it cannot be trusted, or `remeasure` asks; stored whenever
    /// something was measured. `measure` gets what is kept (nil: measure everything) and the types.
    public func calibration(key: String, types: [DType] = [.q8_0], remeasure: Bool = false,
                            measure: (DeviceCalibration?, [DType]) throws -> DeviceCalibration) throws -> (calibration: DeviceCalibration, fresh: Bool) {
        let stored = remeasure ? nil : load(key: key)
        if let stored, types.allSatisfy({ stored.matVecGBps[$0.rawValue] != nil || stored.unsupportedTypes.contains($0.rawValue) }) {
            return (stored, false)
        }
        let measured = try measure(stored, types)
        save(measured, key: key)
        return (measured, true)
    }

    static let header = "edgehal-calibration 2"

    static func lines(_ c: DeviceCalibration) -> [String] {
        ["run_seconds \(c.runSeconds)", "op_seconds \(c.opSeconds)", "small_gbps \(c.smallGBps)", "large_gbps \(c.largeGBps)",
         "small_bytes \(c.smallBytes)", "type_bytes \(c.typeBytes)", "large_bytes \(c.largeBytes)", "measured_seconds \(c.measuredSeconds)"]
            + c.matVecGBps.sorted { $0.key < $1.key }.map { "matvec_gbps \($0.key) \($0.value)" }
            + c.prefillGFLOPS.sorted { $0.key < $1.key }.map { "prefill_gflops \($0.key) \($0.value)" }
            + c.unsupportedTypes.sorted().map { "unsupported \($0) -" }
    }

    public static func encode(_ c: DeviceCalibration, key: String) -> String {
        let body = ([header, "key " + key] + lines(c)).joined(separator: "\n") + "\n"
        return body + "check " + hex(fnv1a(body)) + "\n"
    }

    /// Parses a file's text; nil unless the header, key, checksum and every figure are right.
    public static func decode(_ text: String, key: String) -> DeviceCalibration? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let last = lines.popLast(), last.hasPrefix("check "),
              String(last.dropFirst(6)) == hex(fnv1a(lines.joined(separator: "\n") + "\n")) else { return nil }
        guard lines.count >= 2, lines[0] == header, lines[1] == "key " + key else { return nil }
        var values: [String: Double] = [:], matVec: [String: Double] = [:], gflops: [String: Double] = [:], unsupported: [String] = []
        for line in lines.dropFirst(2) {
            let f = line.split(separator: " ").map(String.init)
            switch (f.count, f.first) {
            case (2, let name?): guard let v = Double(f[1]) else { return nil }; values[name] = v
            case (3, "matvec_gbps"): guard let v = Double(f[2]), DType(rawValue: f[1]) != nil else { return nil }; matVec[f[1]] = v
            case (3, "prefill_gflops"): guard let v = Double(f[2]), DType(rawValue: f[1]) != nil else { return nil }; gflops[f[1]] = v
            case (3, "unsupported"): guard DType(rawValue: f[1]) != nil, f[2] == "-" else { return nil }; unsupported.append(f[1])
            default: return nil
            }
        }
        func bytes(_ name: String) -> Int? { values[name].flatMap { $0 >= 0 && $0 < 1e15 ? Int($0) : nil } }
        guard let run = values["run_seconds"], let op = values["op_seconds"], let small = values["small_gbps"], let large = values["large_gbps"],
              let sb = bytes("small_bytes"), let tb = bytes("type_bytes"), let lb = bytes("large_bytes"), let took = values["measured_seconds"]
        else { return nil }
        var c = DeviceCalibration(runSeconds: run, opSeconds: op, matVecGBps: matVec, prefillGFLOPS: gflops, smallGBps: small,
                                  largeGBps: large, smallBytes: sb, typeBytes: tb, largeBytes: lb, measuredSeconds: took)
        c.unsupportedTypes = unsupported
        return c.isPlausible ? c : nil
    }

    /// FNV-1a, 64 bits: enough to tell a torn or edited file (this is not a defence against forgery:
    /// a forged calibration only changes which device runs, and every device gives correct results).
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func hex(_ v: UInt64) -> String { withUnsafeBytes(of: v.bigEndian) { $0.hexString } }
}
