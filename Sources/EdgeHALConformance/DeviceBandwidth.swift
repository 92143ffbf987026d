import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A device's own memory bandwidth, measured through the backend like any op: `scale(1)` over a
/// buffer far larger than any cache is a device-to-device copy (each float read once and written
/// once), so "% of bandwidth" for a GPU is against the GPU's memory, not the host's. Any backend,
/// a plugin's included, can be measured this way; one that lacks `scale` is not measured (nil).
public enum DeviceBandwidth {
    /// Bytes moved per second (read + write), best of `passes` timed runs after one warm-up.
    public static func measure(_ device: any Device, megabytes: Int = 256, passes: Int = 5) throws -> Double? {
        let count = megabytes << 18
        let desc = TensorDesc(.f32, Shape(count))
        let op = Op.scale(1)
        guard device.supports(OpSignature(op: op, inputs: [desc], output: desc)) else { return nil }
        let input = BufferSlice(buffer: try device.makeBuffer(byteCount: desc.byteCount), offset: 0, desc: desc)
        let output = BufferSlice(buffer: try device.makeBuffer(byteCount: desc.byteCount), offset: 0, desc: desc)
        let ones = [Float](repeating: 1, count: 1 << 20)
        try ones.withUnsafeBytes { raw in
            for start in stride(from: 0, to: count, by: ones.count) { try input.buffer.write(raw, at: start * 4) }
        }
        let program = try device.compile(Partition(nodes: [PartitionNode(op: op, inputs: [input], output: output)]))
        try program.run()
        var best = Double.infinity
        for _ in 0..<passes {
            let start = now()
            try program.run()
            best = min(best, now() - start)
        }
        // The copy must have happened (a device that skips the work would report any speed).
        var last = [Float](repeating: 0, count: 1024)
        try last.withUnsafeMutableBytes { try output.buffer.read(into: $0, at: desc.byteCount - 4096) }
        guard last.allSatisfy({ $0 == 1 }) else {
            throw EdgeHALError.backend("\(device.backendName): the bandwidth probe's scale(1) did not copy its input")
        }
        return Double(2 * desc.byteCount) / best
    }

    static func now() -> Double { MonotonicClock.seconds() }
}
