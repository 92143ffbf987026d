import Synchronization

/// Device memory that outlives one ``Executable``: weights uploaded once per device, and named
/// state tensors (KV caches) that keep their contents across runs. Graphs built with one instance
/// — a prefill graph and a decode graph, say — share both. Safe to share between threads: its tables
/// and counters are behind one lock (uploads happen under it, once per weight and device).
public final class ResidentTensors: Sendable {
    private struct WeightKey: Hashable { var data: ObjectIdentifier; var device: ObjectIdentifier }
    private struct StateKey: Hashable { var name: String; var device: ObjectIdentifier }
    private struct Tables {
        var weights: [WeightKey: any DeviceBuffer] = [:]
        var states: [StateKey: (desc: TensorDesc, buffer: any DeviceBuffer)] = [:]
        /// Keeps the data and devices the keys identify alive.
        var owners: [AnyObject] = []
        var weightBytes = 0
        var stateBytes = 0
    }
    private let tables = Mutex(Tables())

    public init() {}

    public var weightBytes: Int { tables.withLock { $0.weightBytes } }
    public var stateBytes: Int { tables.withLock { $0.stateBytes } }

    func weight(_ data: HostData, on device: any Device) throws -> any DeviceBuffer {
        let key = WeightKey(data: ObjectIdentifier(data), device: ObjectIdentifier(device))
        return try tables.withLock { t in
            if let b = t.weights[key] { return b }
            let b = try device.makeWeightBuffer(data)
            t.weights[key] = b
            t.owners += [data, device]
            t.weightBytes += data.bytes.count
            return b
        }
    }

    func state(_ name: String, _ desc: TensorDesc, on device: any Device) throws -> any DeviceBuffer {
        let key = StateKey(name: name, device: ObjectIdentifier(device))
        return try tables.withLock { t in
            if let s = t.states[key] {
                guard s.desc == desc else {
                    throw EdgeHALError.invalidGraph("state \(name) is \(s.desc) here but \(desc) in this graph")
                }
                return s.buffer
            }
            let b = try device.makeBuffer(byteCount: desc.byteCount)
            try Self.zero(b)
            t.states[key] = (desc, b)
            t.owners.append(device)
            t.stateBytes += desc.byteCount
            return b
        }
    }

    /// Zeroes every state (a new conversation).
    public func resetStates() throws {
        let buffers = tables.withLock { t in t.states.values.map(\.buffer) }
        for b in buffers { try Self.zero(b) }
    }

    private static func zero(_ b: any DeviceBuffer) throws {
        let zeros = [UInt8](repeating: 0, count: b.byteCount)
        try zeros.withUnsafeBytes { try b.write($0, at: 0) }
    }
}
