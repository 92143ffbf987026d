/// Device memory that is plain host memory: what CPU backends allocate.
public final class HostBuffer: DeviceBuffer, @unchecked Sendable {
    /// 64-byte aligned so vector code may use aligned loads.
    public let base: UnsafeMutableRawPointer
    public let byteCount: Int

    public init(byteCount: Int) {
        self.byteCount = byteCount
        base = .allocate(byteCount: max(byteCount, 1), alignment: 64)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 1))
    }

    deinit { base.deallocate() }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        if let src = bytes.baseAddress { (base + offset).copyMemory(from: src, byteCount: bytes.count) }
    }

    public func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        if let dst = bytes.baseAddress { dst.copyMemory(from: base + offset, byteCount: bytes.count) }
    }

    private func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount - count else {
            throw EdgeHALError.outOfBounds("bytes \(offset)..<\(offset + count) outside a buffer of \(byteCount) bytes")
        }
    }
}

extension BufferSlice {
    /// The slice's address when its buffer is host memory; nil for device-resident buffers.
    public var hostAddress: UnsafeMutableRawPointer? {
        (buffer as? HostBuffer).map { $0.base + offset }
    }
}
