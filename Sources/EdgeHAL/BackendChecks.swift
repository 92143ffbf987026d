/// Checks every backend makes the same way — built-in or plugin, CPU or GPU — written once.

extension DeviceBuffer {
    /// Throws ``EdgeHALError/outOfBounds(_:)`` unless bytes `offset..<offset + count` lie in the buffer.
    public func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount - count else {
            throw EdgeHALError.outOfBounds("bytes \(offset)..<\(offset + count) outside a \(Self.self) of \(byteCount) bytes")
        }
    }
}

extension BufferSlice {
    /// The slice's buffer as backend type `B`, when `owns` says it is the device's own; a tensor bound
    /// to another device's buffer (or another backend's) is an error, never a reinterpretation.
    public func buffer<B: DeviceBuffer>(as type: B.Type, of backend: String, _ owns: (B) -> Bool) throws -> B {
        guard let b = buffer as? B, owns(b) else {
            throw EdgeHALError.backend("\(backend): a tensor is in a buffer of another device")
        }
        return b
    }
}

extension Device {
    /// Throws ``EdgeHALError/unsupported(_:)`` for the first node of `partition` this device does not
    /// support: the executor places only supported ops, so this guards against a caller's mistake.
    public func requireSupport(_ partition: Partition) throws {
        for node in partition.nodes where !supports(node.signature) {
            throw EdgeHALError.unsupported("\(backendName): \(node.signature)")
        }
    }
}
