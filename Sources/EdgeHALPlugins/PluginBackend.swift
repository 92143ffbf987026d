import EdgeHAL
import EdgeHALPluginABI

/// A loaded plugin library: its function table, where it came from, and the handle that keeps it mapped.
final class PluginLibrary: @unchecked Sendable {
    let table: UnsafePointer<eh_plugin>
    let path: String
    let sha256: String
    private let handle: UnsafeMutableRawPointer

    init(table: UnsafePointer<eh_plugin>, path: String, sha256: String, handle: UnsafeMutableRawPointer) {
        self.table = table
        self.path = path
        self.sha256 = sha256
        self.handle = handle
    }
    // Never dlclose: Swift metadata and C function pointers of the plugin may outlive any one wrapper.

    var t: eh_plugin { table.pointee }

    /// Runs a plugin call that reports failure through eh_error, turning it into a Swift error.
    func call(_ what: String, _ body: (UnsafeMutablePointer<eh_error>) -> eh_status) throws {
        var error = eh_error()
        let status = body(&error)
        guard status == EH_OK else {
            let message = PluginEncoding.string(error.message)
            let kind = status == EH_UNSUPPORTED ? "unsupported" : status == EH_OUT_OF_MEMORY ? "out of memory" : "failed"
            throw EdgeHALError.backend("plugin \(String(cString: t.name!)): \(what) \(kind)\(message.isEmpty ? "" : ": \(message)")")
        }
    }
}

/// A plugin seen through EdgeHAL's Backend protocol.
public struct PluginBackend: Backend {
    let library: PluginLibrary
    public let name: String
    public var path: String { library.path }
    public var sha256: String { library.sha256 }
    public var version: String { String(cString: library.t.version!) }

    init(library: PluginLibrary) {
        self.library = library
        name = String(cString: library.t.name!).lowercased()
    }

    public func probe() -> BackendStatus {
        var infos = [eh_device_info](repeating: eh_device_info(), count: 16)
        var count: UInt32 = 0
        do {
            try infos.withUnsafeMutableBufferPointer { p in
                try library.call("probe") { library.t.probe!(p.baseAddress, UInt32(p.count), &count, $0) }
            }
        } catch {
            return BackendStatus(available: false, reason: "\(error)", plugin: pluginOrigin)
        }
        let devices = infos.prefix(Int(min(count, 16))).map { i in
            DeviceInfo(name: PluginEncoding.string(i.name), kind: PluginEncoding.kind(i.kind),
                       memoryBytes: i.memory_bytes > 0 ? i.memory_bytes : nil, computeUnits: i.compute_units > 0 ? Int(i.compute_units) : nil,
                       features: PluginEncoding.string(i.features).split(separator: " ").map(String.init))
        }
        guard !devices.isEmpty else { return BackendStatus(available: false, reason: "the plugin reports no device", plugin: pluginOrigin) }
        return BackendStatus(available: true, reason: "plugin \(path), version \(version), sha256 \(sha256)", devices: devices,
                             plugin: pluginOrigin)
    }

    public var pluginOrigin: PluginOrigin { PluginOrigin(path: path, sha256: sha256, version: version) }

    public func makeDevice(index: Int) throws -> any Device {
        let info = probe()
        guard info.available, index >= 0, index < info.devices.count else {
            throw EdgeHALError.selection("\(name): no device \(index)\(info.reason.map { " (\($0))" } ?? "")")
        }
        var handle: eh_device?
        try library.call("device_open(\(index))") { library.t.device_open!(UInt32(index), &handle, $0) }
        guard let handle else { throw EdgeHALError.backend("plugin \(name): device_open returned no device") }
        return PluginDevice(library: library, handle: handle, backendName: name, info: info.devices[index])
    }
}

final class PluginDevice: Device, @unchecked Sendable {
    let library: PluginLibrary
    let handle: eh_device
    let backendName: String
    let info: DeviceInfo

    init(library: PluginLibrary, handle: eh_device, backendName: String, info: DeviceInfo) {
        self.library = library
        self.handle = handle
        self.backendName = backendName
        self.info = info
    }

    deinit { library.t.device_close!(handle) }

    func supports(_ signature: OpSignature) -> Bool {
        guard signature.isWellFormed else { return false }
        return withNode(signature.op, inputs: signature.inputs.map { PluginEncoding.tensor($0) },
                        output: PluginEncoding.tensor(signature.output)) { library.t.supports!(handle, $0) } == 1
    }

    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer {
        var buffer: eh_buffer?
        try library.call("buffer_create(\(byteCount) bytes)") { library.t.buffer_create!(handle, UInt64(byteCount), &buffer, $0) }
        guard let buffer else { throw EdgeHALError.backend("plugin \(backendName): buffer_create returned no buffer") }
        return PluginBuffer(device: self, handle: buffer, byteCount: byteCount)
    }

    func compile(_ partition: Partition) throws -> any Program {
        func tensor(_ s: BufferSlice) throws -> eh_tensor {
            let b = try s.buffer(as: PluginBuffer.self, of: backendName) { $0.device === self }
            return PluginEncoding.tensor(s.desc, buffer: b.handle, offset: s.offset)
        }
        let inputs = try partition.nodes.map { try $0.inputs.map(tensor) }
        let outputs = try partition.nodes.map { try tensor($0.output) }
        try requireSupport(partition)
        var program: eh_program?
        // The inputs arrays must stay put while the plugin reads the nodes: pin them all, then call.
        func pinned(_ i: Int, _ nodes: [eh_node]) throws {
            if i == inputs.count {
                try nodes.withUnsafeBufferPointer { n in
                    try library.call("program_compile") { library.t.program_compile!(handle, n.baseAddress, UInt32(n.count), &program, $0) }
                }
                return
            }
            try inputs[i].withUnsafeBufferPointer { ins in
                let node = eh_node(op: PluginEncoding.op(partition.nodes[i].op), input_count: UInt32(ins.count),
                                   inputs: ins.baseAddress, output: outputs[i])
                try pinned(i + 1, nodes + [node])
            }
        }
        try pinned(0, [])
        guard let program else { throw EdgeHALError.backend("plugin \(backendName): program_compile returned no program") }
        return PluginProgram(device: self, handle: program, partition: partition)
    }
}

final class PluginBuffer: DeviceBuffer, @unchecked Sendable {
    let device: PluginDevice
    let handle: eh_buffer
    let byteCount: Int

    init(device: PluginDevice, handle: eh_buffer, byteCount: Int) {
        self.device = device
        self.handle = handle
        self.byteCount = byteCount
    }

    deinit { device.library.t.buffer_free!(device.handle, handle) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        try device.library.call("buffer_write") {
            device.library.t.buffer_write!(device.handle, handle, UInt64(offset), bytes.baseAddress, UInt64(bytes.count), $0)
        }
    }

    func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        try device.library.call("buffer_read") {
            device.library.t.buffer_read!(device.handle, handle, UInt64(offset), bytes.baseAddress, UInt64(bytes.count), $0)
        }
    }
}

final class PluginProgram: Program, @unchecked Sendable {
    let device: PluginDevice
    let handle: eh_program
    /// Keeps the buffers the plugin's program refers to alive.
    let partition: Partition

    init(device: PluginDevice, handle: eh_program, partition: Partition) {
        self.device = device
        self.handle = handle
        self.partition = partition
    }

    deinit { device.library.t.program_free!(device.handle, handle) }

    func run() throws {
        try device.library.call("program_run") { device.library.t.program_run!(device.handle, handle, $0) }
    }
}
