/// Device memory that is plain host memory: what CPU backends allocate.
public final class HostBuffer: DeviceBuffer, @unchecked Sendable {
    /// 64-byte aligned so vector code may use aligned loads.
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int
    /// Set when the memory belongs to someone else (weights used in place); nil when this buffer owns it.
    private let owner: HostData?

    public init(byteCount: Int) {
        self.byteCount = byteCount
        base = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
        owner = nil
    }

    /// Uses `data` in place, without a copy. Kernels must treat it as read-only.
    public init(wrapping data: HostData) {
        byteCount = data.bytes.count
        base = UnsafeMutableRawPointer(mutating: data.bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!)
        owner = data
    }

    deinit { if owner == nil { base.deallocate() } }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        if let src = bytes.baseAddress { (base + offset).copyMemory(from: src, byteCount: bytes.count) }
    }

    public func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        if let dst = bytes.baseAddress { dst.copyMemory(from: base + offset, byteCount: bytes.count) }
    }
}

extension BufferSlice {
    /// The slice's address when its buffer is host memory; nil for device-resident buffers.
    public var hostAddress: UnsafeMutableRawPointer? {
        (buffer as? HostBuffer).map { $0.base + offset }
    }
}

/// A program for host-memory devices: the partition's kernels as closures, run in order.
/// It keeps the partition (and so its buffers) alive, since the kernels hold raw addresses into them.
public struct HostProgram: Program {
    public let partition: Partition
    public let kernels: [@Sendable () -> Void]
    public init(_ partition: Partition, _ kernels: [@Sendable () -> Void]) {
        self.partition = partition
        self.kernels = kernels
    }
    public func run() throws { for k in kernels { k() } }
}

extension PartitionNode {
    /// Host addresses of the node's inputs and output; throws when a tensor is not in host memory.
    public func hostAddresses(device: String) throws -> (inputs: [UnsafeRawPointer], output: UnsafeMutableRawPointer) {
        guard let out = output.hostAddress else {
            throw EdgeHALError.backend("\(device) computes on host memory; \(op.name)'s output is in a foreign buffer")
        }
        let ins = try inputs.map { slice -> UnsafeRawPointer in
            guard let p = slice.hostAddress else {
                throw EdgeHALError.backend("\(device) computes on host memory; an input of \(op.name) is in a foreign buffer")
            }
            return UnsafeRawPointer(p)
        }
        return (ins, out)
    }
}
