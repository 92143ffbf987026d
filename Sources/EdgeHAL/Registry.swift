#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every backend this process knows: the built-ins and any plugins, registered once at start-up.
public struct BackendRegistry: Sendable {
    public private(set) var backends: [any Backend] = []

    public init(_ backends: [any Backend] = []) {
        for b in backends { try? register(b) }
    }

    /// Adds a backend; a second backend with a taken name is refused.
    public mutating func register(_ new: any Backend) throws {
        guard backend(named: new.name) == nil else {
            throw EdgeHALError.selection("a backend named '\(new.name)' is already registered")
        }
        backends.append(new)
    }

    public func backend(named name: String) -> (any Backend)? {
        backends.first { $0.name == name.lowercased() }
    }

    /// Probes every backend once, in registration order.
    public func probeAll() -> [ProbedBackend] {
        backends.map { ProbedBackend(backend: $0, status: $0.probe()) }
    }
}

public struct ProbedBackend: Sendable {
    public var backend: any Backend
    public var status: BackendStatus
    public var name: String { backend.name }
}

/// One device of one backend, as chosen by ``Selection``.
public struct DeviceChoice: Sendable, Hashable, CustomStringConvertible {
    public var backend: String
    public var index: Int
    public var info: DeviceInfo
    public var description: String { "\(backend):\(index) (\(info.name))" }
}

/// Turns `EDGEHAL_BACKEND` into an ordered list of devices.
///
/// Grammar: `auto` (the default), a backend name, `name:deviceIndex`, or a comma-separated
/// priority list of these. Names that are unknown or unavailable are errors that list every
/// backend with its status — never a silent substitute.
public enum Selection {
    public static let environmentVariable = "EDGEHAL_BACKEND"

    /// The variable's value, or nil when unset or empty.
    public static var environmentValue: String? {
        guard let s = EdgeHALEnvironment.value(environmentVariable)?.trimmingSpaces else { return nil }
        return s.isEmpty ? nil : s
    }

    /// Higher ranks first: accelerators, then the native CPU, then emulated devices, then the reference oracle.
    public static func rank(_ info: DeviceInfo) -> Int {
        if info.isReference { return 0 }
        switch info.kind {
        case .gpu: return 4
        case .integrated: return 3
        case .cpu: return 2
        case .emulated: return 1
        }
    }

    /// Every available device ordered best first (stable among equals).
    public static func ranked(_ probed: [ProbedBackend]) -> [DeviceChoice] {
        let all = probed.filter(\.status.available).flatMap { p in
            p.status.devices.enumerated().map { DeviceChoice(backend: p.name, index: $0.offset, info: $0.element) }
        }
        return all.enumerated().sorted { a, b in
            let ka = (rank(a.element.info), a.element.info.computeUnits ?? 0), kb = (rank(b.element.info), b.element.info.computeUnits ?? 0)
            return ka != kb ? ka > kb : a.offset < b.offset
        }.map(\.element)
    }

    /// Devices reached through more than one API (the same uuid), best-ranked first in each group.
    public static func samePhysicalDevice(_ probed: [ProbedBackend]) -> [[DeviceChoice]] {
        let order = ranked(probed)
        var groups: [String: [DeviceChoice]] = [:]
        for c in order { if let u = c.info.uuid { groups[u, default: []].append(c) } }
        return groups.values.filter { $0.count > 1 }.sorted { order.firstIndex(of: $0[0])! < order.firstIndex(of: $1[0])! }
    }

    /// What `auto` picks: with predictions (``Workload/predict(_:)`` of each device's calibration), the
    /// device predicted fastest — within 2 % of it, the better-ranked; devices without a prediction
    /// only when none has one, then by rank.
    public static func autoChoice(_ probed: [ProbedBackend], predicted: [DeviceChoice: Prediction] = [:]) -> DeviceChoice? {
        let order = ranked(probed)
        let timed = order.filter { predicted[$0] != nil }
        guard let fastest = timed.map({ predicted[$0]!.seconds }).min() else { return order.first }
        return timed.first { predicted[$0]!.seconds <= fastest * 1.02 }
    }

    /// Why `auto` picks what it picks; a physical device counts once, whatever number of APIs reach
    /// it. With predictions, the figures behind the choice.
    public static func autoExplanation(_ probed: [ProbedBackend], predicted: [DeviceChoice: Prediction] = [:], workload: Workload? = nil) -> String {
        guard let best = autoChoice(probed, predicted: predicted) else { return "no backend is available" }
        if let time = predicted[best] {
            let others = ranked(probed).filter { $0 != best }.map { c in
                "\(c.backend):\(c.index) " + (predicted[c].map(\.summary) ?? (c.info.isReference ? "not timed (the reference oracle)" : "not calibrated"))
                    + (c.info.uuid != nil && c.info.uuid == best.info.uuid ? " (the same device)" : "")
            }
            return "auto picks \(best): predicted fastest for \(workload?.name ?? "the work"), \(time.summary)"
                + (others.isEmpty ? "" : "; " + others.joined(separator: "; "))
        }
        var seen = Set<String>()
        let order = ranked(probed).filter { c in c.info.uuid.map { seen.insert($0).inserted } ?? true }
        let kind = best.info.isReference ? "the reference oracle (nothing faster is available)" : "a \(best.info.kind.rawValue) device"
        let others = order.filter { $0 != best }.map(\.description)
        return "auto picks \(best): \(kind); without calibrations the ranking is accelerators > native CPU > emulated devices > reference"
            + (others.isEmpty ? "" : ", ahead of \(others.joined(separator: ", "))")
    }

    /// Resolves a selection string (nil means `auto`) to devices in priority order; `auto` uses the
    /// predictions where given (``autoChoice(_:predicted:)``).
    public static func resolve(_ spec: String?, probed: [ProbedBackend], predicted: [DeviceChoice: Prediction] = [:]) throws -> [DeviceChoice] {
        let spec = spec ?? "auto"
        var result: [DeviceChoice] = []
        for raw in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(raw).trimmingSpaces.lowercased()
            if item == "auto" {
                guard let best = autoChoice(probed, predicted: predicted) else { throw selectionError("no backend is available", probed) }
                result.append(best)
                continue
            }
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard !item.isEmpty, parts.count <= 2, let entry = probed.first(where: { $0.name == String(parts[0]) }) else {
                throw selectionError("unknown backend '\(item)' in \(environmentVariable)=\(spec)", probed)
            }
            guard entry.status.available else {
                throw selectionError("backend '\(entry.name)' is unavailable: \(entry.status.reason ?? "no reason given")", probed)
            }
            var index = 0
            if parts.count == 2 {
                guard let i = Int(parts[1]), i >= 0, i < entry.status.devices.count else {
                    throw selectionError("backend '\(entry.name)' has no device '\(parts[1])' (it has \(entry.status.devices.count))", probed)
                }
                index = i
            }
            guard index < entry.status.devices.count else { throw selectionError("backend '\(entry.name)' reports no device", probed) }
            result.append(DeviceChoice(backend: entry.name, index: index, info: entry.status.devices[index]))
        }
        var seen = Set<DeviceChoice>()
        return result.filter { seen.insert($0).inserted }
    }

    /// The devices to give an ``Executable``: the selection followed by the best host CPU device
    /// as fallback for ops the selection does not support.
    public static func withFallback(_ chosen: [DeviceChoice], probed: [ProbedBackend]) -> [DeviceChoice] {
        let hostDevices = ranked(probed).filter { $0.info.kind == .cpu }
        guard let fallback = hostDevices.first, !chosen.contains(fallback) else { return chosen }
        return chosen + [fallback]
    }

    /// A table of every backend and its status, for error messages.
    public static func statusTable(_ probed: [ProbedBackend]) -> String {
        probed.map { p in
            let state = p.status.available ? "available (\(p.status.devices.count) device\(p.status.devices.count == 1 ? "" : "s"))" : "unavailable"
            let why = p.status.reason.map { ": \($0)" } ?? ""
            return "  \(p.name.padding(12)) \(state)\(why)"
        }.joined(separator: "\n")
    }

    static func selectionError(_ message: String, _ probed: [ProbedBackend]) -> EdgeHALError {
        .selection("\(message)\nValid backends (\(probed.map(\.name).joined(separator: ", ")), or auto; name:index picks a device):\n\(statusTable(probed))")
    }
}

extension BackendRegistry {
    /// Opens the device a choice names.
    public func open(_ choice: DeviceChoice) throws -> any Device {
        guard let b = backend(named: choice.backend) else { throw EdgeHALError.selection("unknown backend '\(choice.backend)'") }
        return try b.makeDevice(index: choice.index)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }

    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
