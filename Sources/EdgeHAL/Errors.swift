/// Every failure EdgeHAL reports: values with a message for the user, never a crash.
public enum EdgeHALError: Error, Equatable, CustomStringConvertible {
    case invalidGraph(String)
    case unsupported(String)
    case outOfBounds(String)
    case selection(String)
    case backend(String)
    case io(String)

    public var description: String {
        switch self {
        case .invalidGraph(let m): return "invalid graph: \(m)"
        case .unsupported(let m): return "unsupported: \(m)"
        case .outOfBounds(let m): return "out of bounds: \(m)"
        case .selection(let m): return m
        case .backend(let m): return "backend error: \(m)"
        case .io(let m): return m
        }
    }
}

extension EdgeHALError {
    /// Runs a device's `compile` or `run`, turning an error of the backend's own type (which a
    /// caller cannot name: `VulkanError`, `OpenCLError`, a plugin's) into ``backend(_:)`` naming
    /// the device and the ops of the partition. EdgeHAL's own errors pass through unchanged.
    static func naming<T>(_ device: any Device, _ stage: String, _ ops: [String], _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EdgeHALError { throw e } catch {
            let distinct = ops.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            let shown = distinct.prefix(6).joined(separator: ", ") + (distinct.count > 6 ? ", …" : "")
            throw EdgeHALError.backend("\(device.backendName) (\(device.info.name)) failed \(stage) \(ops.count) op\(ops.count == 1 ? "" : "s") (\(shown)): \(error)")
        }
    }
}
