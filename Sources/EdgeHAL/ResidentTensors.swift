/// Device memory that outlives one ``Executable``: weights uploaded once per device, and named
/// state tensors (KV caches) that keep their contents across runs. Graphs built with one instance
/// — a prefill graph and a decode graph, say — share both.
public final class ResidentTensors: @unchecked Sendable {
    private struct WeightKey: Hashable { var data: ObjectIdentifier; var device: ObjectIdentifier }
    private struct StateKey: Hashable { var name: String; var device: ObjectIdentifier }
    private var weights: [WeightKey: any DeviceBuffer] = [:]
    private var states: [StateKey: (desc: TensorDesc, buffer: any DeviceBuffer)] = [:]
    /// Keeps the data and devices the keys identify alive.
    private var owners: [AnyObject] = []

    public init() {}

    public private(set) var weightBytes = 0
    public private(set) var stateBytes = 0

    func weight(_ data: HostData, on device: any Device) throws -> any DeviceBuffer {
        let key = WeightKey(data: ObjectIdentifier(data), device: ObjectIdentifier(device))
        if let b = weights[key] { return b }
        let b = try device.makeWeightBuffer(data)
        weights[key] = b
        owners += [data, device]
        weightBytes += data.bytes.count
        return b
    }

    func state(_ name: String, _ desc: TensorDesc, on device: any Device) throws -> any DeviceBuffer {
        let key = StateKey(name: name, device: ObjectIdentifier(device))
        if let s = states[key] {
            guard s.desc == desc else {
                throw EdgeHALError.invalidGraph("state \(name) is \(s.desc) here but \(desc) in this graph")
            }
            return s.buffer
        }
        let b = try device.makeBuffer(byteCount: desc.byteCount)
        try zero(b)
        states[key] = (desc, b)
        owners.append(device)
        stateBytes += desc.byteCount
        return b
    }

    /// Zeroes every state (a new conversation).
    public func resetStates() throws {
        for s in states.values { try zero(s.buffer) }
    }

    private func zero(_ b: any DeviceBuffer) throws {
        let zeros = [UInt8](repeating: 0, count: b.byteCount)
        try zeros.withUnsafeBytes { try b.write($0, at: 0) }
    }
}
