/// What a device is, as far as scheduling and `auto` selection care.
public enum DeviceKind: String, Sendable, Codable {
    /// A discrete GPU or other dedicated accelerator.
    case gpu
    /// A GPU sharing memory with the host.
    case integrated
    /// The host CPU driven natively.
    case cpu
    /// An accelerator API implemented in software on the CPU (lavapipe, PoCL's CPU device).
    case emulated
}

/// A device's probed capabilities.
public struct DeviceInfo: Sendable, Codable, Hashable {
    public var name: String
    public var kind: DeviceKind
    /// Device-visible memory in bytes, when the driver reports it.
    public var memoryBytes: UInt64?
    /// Cores, multiprocessors or worker threads; nil when the driver does not tell.
    public var computeUnits: Int?
    /// Capability flags such as "fp16", "int8-dot", "avx2", "subgroup-size=32".
    public var features: [String]
    /// True for an oracle written for obviousness: `auto` ranks it below every other device.
    public var isReference: Bool
    /// The physical device's identity where the API exposes one (Vulkan's deviceUUID, OpenCL's
    /// cl_khr_device_uuid, which match for one card): one GPU reached through two APIs is one device.
    public var uuid: String?

    public init(name: String, kind: DeviceKind, memoryBytes: UInt64? = nil, computeUnits: Int?,
                features: [String] = [], isReference: Bool = false, uuid: String? = nil) {
        self.name = name
        self.kind = kind
        self.memoryBytes = memoryBytes
        self.computeUnits = computeUnits
        self.features = features
        self.isReference = isReference
        self.uuid = uuid
    }

    /// 16 bytes as the usual 8-4-4-4-12 hex form; nil when all zero (a driver with nothing to say).
    public static func uuidString(_ bytes: [UInt8]) -> String? {
        guard bytes.count == 16, bytes.contains(where: { $0 != 0 }) else { return nil }
        return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { bytes[$0].hexString }.joined(separator: "-")
    }
}

/// The shared library a plugin backend was loaded from (or refused from).
public struct PluginOrigin: Sendable, Codable, Hashable {
    public var path: String
    /// SHA-256 of the file as loaded, hex; nil when the file could not be read.
    public var sha256: String?
    public var version: String?

    public init(path: String, sha256: String? = nil, version: String? = nil) {
        self.path = path
        self.sha256 = sha256
        self.version = version
    }
}

/// The outcome of probing a backend: whether it can run here, why not, and its devices.
public struct BackendStatus: Sendable {
    public var available: Bool
    /// Why the backend is unavailable (library not found, no platform, no device…), or a note.
    public var reason: String?
    public var devices: [DeviceInfo]
    /// Set for plugins: the file, its hash and version.
    public var plugin: PluginOrigin?

    public init(available: Bool, reason: String? = nil, devices: [DeviceInfo] = [], plugin: PluginOrigin? = nil) {
        self.available = available
        self.reason = reason
        self.devices = devices
        self.plugin = plugin
    }

    public static func unavailable(_ reason: String) -> BackendStatus {
        BackendStatus(available: false, reason: reason)
    }
}

/// A pluggable compute backend: the entry type of a folder under `Backends/`, or of a plugin.
///
/// A backend only probes and opens devices; graph logic, fusion, fallback and
/// scheduling live in the core.
public protocol Backend: Sendable {
    /// Lower-case name used by `EDGEHAL_BACKEND`, e.g. "cpu", "vulkan".
    var name: String { get }
    /// Looks at the machine. Must not crash or throw when drivers are missing.
    func probe() -> BackendStatus
    /// Opens the device `index` of `probe().devices`.
    func makeDevice(index: Int) throws -> any Device
}

/// An opened device: buffers, capability queries and compilation of graph partitions.
public protocol Device: AnyObject, Sendable {
    var backendName: String { get }
    var info: DeviceInfo { get }
    /// Whether this device runs `signature` exactly (no silent approximation beyond its documented tolerance).
    func supports(_ signature: OpSignature) -> Bool
    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer
    /// Turns a partition whose tensors are already bound to this device's buffers into a runnable program.
    func compile(_ partition: Partition) throws -> any Program
    /// Makes constant data (weights) resident. The default copies it into a new buffer;
    /// devices that compute on host memory wrap it in place instead.
    func makeWeightBuffer(_ data: HostData) throws -> any DeviceBuffer
    /// What the device measured about its kernels, when it profiles (nil otherwise).
    var profile: DeviceProfile? { get }
    /// Steps an intermediate's arena bytes stay held after its last read (``BufferPlan``'s hold): 0 (the default)
    /// for a device that runs a partition's nodes one after another; one that runs independent nodes together
    /// (Vulkan, between barriers) asks for more, so the next nodes' outputs never land on what an earlier one may
    /// still be reading — a write-after-read that would cost a barrier between independent nodes.
    var arenaHold: Int { get }
}

extension Device {
    public var profile: DeviceProfile? { nil }
    public var arenaHold: Int { 0 }

    public func makeWeightBuffer(_ data: HostData) throws -> any DeviceBuffer {
        let buffer = try makeBuffer(byteCount: data.bytes.count)
        try buffer.write(data.bytes, at: 0)
        return buffer
    }
}

/// Device memory. Offsets and counts are in bytes.
public protocol DeviceBuffer: AnyObject, Sendable {
    var byteCount: Int { get }
    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws
    func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws
}

/// A compiled partition, run as many times as wanted over the buffers it was compiled for.
public protocol Program: Sendable {
    func run() throws
}

/// An op together with the types and shapes it is applied to: what `supports` decides on.
public struct OpSignature: Hashable, Sendable, CustomStringConvertible {
    public var op: Op
    public var inputs: [TensorDesc]
    public var output: TensorDesc

    public init(op: Op, inputs: [TensorDesc], output: TensorDesc) {
        self.op = op
        self.inputs = inputs
        self.output = output
    }

    public var description: String {
        "\(op.name)(\(inputs.map(\.description).joined(separator: ", "))) -> \(output)"
    }
}

/// Where a tensor lives on a device.
public struct BufferSlice: Sendable {
    public var buffer: any DeviceBuffer
    public var offset: Int
    public var desc: TensorDesc

    public init(buffer: any DeviceBuffer, offset: Int, desc: TensorDesc) {
        self.buffer = buffer
        self.offset = offset
        self.desc = desc
    }
}

/// One op of a partition, with its tensors bound to buffers.
public struct PartitionNode: Sendable {
    public var op: Op
    public var inputs: [BufferSlice]
    public var output: BufferSlice

    public init(op: Op, inputs: [BufferSlice], output: BufferSlice) {
        self.op = op
        self.inputs = inputs
        self.output = output
    }

    public var signature: OpSignature {
        OpSignature(op: op, inputs: inputs.map(\.desc), output: output.desc)
    }
}

/// A run of consecutive graph nodes placed on one device, in execution order.
public struct Partition: Sendable {
    public var nodes: [PartitionNode]
    /// Runs of consecutive mul_mats over the same activations (``SharedInputGrouping``): a backend
    /// may run each as one job over the stacked rows of its weights, or run the nodes one by one.
    public var groups: [Range<Int>]
    public init(nodes: [PartitionNode], groups: [Range<Int>] = []) {
        self.nodes = nodes
        self.groups = groups
    }
}
