import EdgeHAL

/// A graph with its input data: what one conformance case runs on every backend.
public struct CaseGraph: Sendable {
    public var graph: Graph
    public var inputs: [TensorID: [UInt8]]
    public var output: TensorID
    /// Bytes past the 256-byte boundary every input of an op case starts at (0: on it). Kernels must not
    /// assume aligned inputs: a plugin or an embedding program may hand in any element-aligned offset.
    public var inputMisalignment = 0
}

/// One row of the op × type × shape table that drives correctness and performance.
public struct ConformanceCase: Sendable {
    public enum Check: String, Sendable, Codable {
        /// One op on the device alone, in guarded buffers: NMSE, guard bytes, inputs untouched, repeatability.
        case op
        /// The unfused pattern, fused for the device, against the unfused graph on the reference.
        case fusion
        /// A whole graph on the device alone (no fallback) against the reference.
        case graph
    }

    public var op: String
    public var type: String
    public var shape: String
    public var threshold: Double
    public var check: Check
    /// Multiply-adds (or element operations) per run, for GFLOPS in performance reports.
    public var flops: Double
    /// Bytes of weights read per run, for GB/s in performance reports.
    public var weightBytes: Double
    public let make: @Sendable (inout SeededRandom) throws -> CaseGraph

    public var id: String { "\(op)/\(type)/\(shape)" }
}

/// Declares a single-op case whose inputs are all supplied data.
struct OpCaseBuilder {
    var builder = GraphBuilder()
    var data: [TensorID: [UInt8]] = [:]

    mutating func input(_ name: String, _ type: DType, _ shape: Shape, _ bytes: [UInt8]) -> TensorID {
        let t = builder.input(name, type, shape)
        data[t] = bytes
        return t
    }

    mutating func floats(_ name: String, _ shape: Shape, _ values: [Float]) -> TensorID {
        input(name, .f32, shape, TestData.bytes(of: values))
    }

    mutating func ints(_ name: String, _ values: [Int32]) -> TensorID {
        input(name, .i32, Shape(values.count), TestData.bytes(of: values))
    }

    mutating func weight(_ name: String, _ type: DType, _ shape: Shape, _ bytes: [UInt8]) throws -> TensorID {
        try builder.weight(name, type, shape, data: HostData(bytes))
    }

    mutating func finish(_ out: TensorID) -> CaseGraph {
        builder.output(out)
        return CaseGraph(graph: builder.graph, inputs: data, output: out)
    }
}
