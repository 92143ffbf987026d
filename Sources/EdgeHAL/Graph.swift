/// Immutable bytes that outlive a graph: weights from a file mapping or an array.
public final class HostData: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let release: (@Sendable () -> Void)?

    /// Copies `array`.
    public init(_ array: [UInt8]) {
        nonisolated(unsafe) let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(array.count, 1), alignment: 64)
        array.withUnsafeBytes { p.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(rebasing: p[0..<array.count])
        release = { p.deallocate() }
    }

    public convenience init(floats: [Float]) {
        self.init(floats.withUnsafeBytes { Array($0) })
    }

    /// Wraps memory owned elsewhere (e.g. an mmapped file); `release` runs when this object dies.
    public init(wrapping bytes: UnsafeRawBufferPointer, release: (@Sendable () -> Void)? = nil) {
        self.bytes = bytes
        self.release = release
    }

    deinit { release?() }
}

/// Names a tensor of one graph.
public struct TensorID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let index: Int
    public static func < (a: TensorID, b: TensorID) -> Bool { a.index < b.index }
    public var description: String { "%\(index)" }
}

/// A backend-neutral graph of contiguous tensors and ops, in execution (topological) order.
public struct Graph: Sendable {
    public enum Source: Sendable {
        /// Supplied for each run.
        case input
        /// Constant data, uploaded once per device.
        case weight(HostData)
        /// Persistent device memory that keeps its contents across runs (a KV cache), zeroed when
        /// created and updated in place by ops such as `setRows`. Named so graphs can share it.
        case state
        /// Produced by `nodes[index]`.
        case node(Int)
        /// Same bytes as another tensor, read with a different shape (a reshape).
        case view(of: TensorID)
    }

    public struct Tensor: Sendable {
        public var desc: TensorDesc
        public var name: String
        public var source: Source
    }

    public struct Node: Sendable {
        public var op: Op
        public var inputs: [TensorID]
        public var output: TensorID
        /// The part of a model this node belongs to (a decoder layer, say), for placement that puts
        /// whole parts on one device (``ExecutionOptions/stageDevices``); nil for no particular part.
        public var stage: Int? = nil
    }

    public internal(set) var tensors: [Tensor] = []
    public internal(set) var nodes: [Node] = []
    public internal(set) var outputs: [TensorID] = []

    public init() {}

    public subscript(_ id: TensorID) -> Tensor { tensors[id.index] }

    /// Follows reshapes and in-place updates to the tensor that owns the bytes.
    public func storage(of id: TensorID) -> TensorID {
        var id = id
        while true {
            switch tensors[id.index].source {
            case .view(let base): id = base
            case .node(let n) where nodes[n].op.inPlaceInput != nil: id = nodes[n].inputs[nodes[n].op.inPlaceInput!]
            default: return id
            }
        }
    }

    public var inputs: [TensorID] {
        tensors.indices.filter { if case .input = tensors[$0].source { return true } else { return false } }
            .map { TensorID(index: $0) }
    }

    public func signature(of node: Node) -> OpSignature {
        OpSignature(op: node.op, inputs: node.inputs.map { tensors[$0.index].desc }, output: tensors[node.output.index].desc)
    }

    mutating func add(_ desc: TensorDesc, _ name: String, _ source: Source) -> TensorID {
        tensors.append(Tensor(desc: desc, name: name, source: source))
        return TensorID(index: tensors.count - 1)
    }

    mutating func setNodes(_ newNodes: [Node]) {
        nodes = newNodes
        for (i, n) in nodes.enumerated() { tensors[n.output.index].source = .node(i) }
    }
}

/// Builds a ``Graph`` one op at a time, validating shapes as it goes.
public struct GraphBuilder: Sendable {
    public private(set) var graph = Graph()
    /// The stage given to every node appended from now on (``Graph/Node/stage``).
    public var stage: Int?

    public init() {}

    public mutating func input(_ name: String, _ type: DType, _ shape: Shape) -> TensorID {
        graph.add(TensorDesc(type, shape), name, .input)
    }

    public mutating func weight(_ name: String, _ type: DType, _ shape: Shape, data: HostData) throws -> TensorID {
        let desc = TensorDesc(type, shape)
        guard shape[0] % type.blockSize == 0 else {
            throw EdgeHALError.invalidGraph("weight \(name): ne0 \(shape[0]) is not a whole number of \(type) blocks")
        }
        guard data.bytes.count == desc.byteCount else {
            throw EdgeHALError.invalidGraph("weight \(name) \(desc) needs \(desc.byteCount) bytes, got \(data.bytes.count)")
        }
        return graph.add(desc, name, .weight(data))
    }

    /// Persistent memory kept across runs (and shared by graphs run with the same ``ResidentTensors``).
    public mutating func state(_ name: String, _ type: DType, _ shape: Shape) throws -> TensorID {
        guard !graph.tensors.contains(where: { if case .state = $0.source { return $0.name == name } else { return false } }) else {
            throw EdgeHALError.invalidGraph("a state named \(name) already exists")
        }
        return graph.add(TensorDesc(type, shape), name, .state)
    }

    /// Appends `op` applied to `inputs` and returns its output.
    @discardableResult
    public mutating func apply(_ op: Op, _ inputs: [TensorID], name: String? = nil) throws -> TensorID {
        for i in inputs where i.index >= graph.tensors.count {
            throw EdgeHALError.invalidGraph("\(op.name): \(i) is not a tensor of this graph")
        }
        if let target = op.inPlaceInput {
            guard case .state = graph[graph.storage(of: inputs[target])].source else {
                throw EdgeHALError.invalidGraph("\(op.name) updates memory in place: its input \(target) must be a state tensor")
            }
        }
        let desc = try op.outputDesc(for: inputs.map { graph[$0].desc })
        let out = graph.add(desc, name ?? "\(op.name)#\(graph.nodes.count)", .node(graph.nodes.count))
        graph.nodes.append(Graph.Node(op: op, inputs: inputs, output: out, stage: stage))
        return out
    }

    /// The same bytes read with another shape of equal element count.
    public mutating func reshape(_ t: TensorID, _ shape: Shape) throws -> TensorID {
        let desc = graph[t].desc
        guard shape.count == desc.shape.count, shape[0] % desc.type.blockSize == 0 else {
            throw EdgeHALError.invalidGraph("cannot reshape \(desc) to [\(shape)]")
        }
        return graph.add(TensorDesc(desc.type, shape), graph[t].name + ".view", .view(of: t))
    }

    /// Marks `t` as a result the caller reads after each run.
    public mutating func output(_ t: TensorID) {
        if !graph.outputs.contains(t) { graph.outputs.append(t) }
    }

    // Conveniences for the common ops.
    public mutating func mulMat(_ a: TensorID, _ b: TensorID) throws -> TensorID { try apply(.mulMat, [a, b]) }
    public mutating func getRows(_ table: TensorID, _ ids: TensorID) throws -> TensorID { try apply(.getRows, [table, ids]) }
    public mutating func add(_ a: TensorID, _ b: TensorID) throws -> TensorID { try apply(.add, [a, b]) }
    public mutating func mul(_ a: TensorID, _ b: TensorID) throws -> TensorID { try apply(.mul, [a, b]) }
    public mutating func scale(_ a: TensorID, _ s: Float) throws -> TensorID { try apply(.scale(s), [a]) }
    public mutating func rmsNorm(_ a: TensorID, eps: Float) throws -> TensorID { try apply(.rmsNorm(eps: eps), [a]) }
    public mutating func silu(_ a: TensorID) throws -> TensorID { try apply(.silu, [a]) }
    public mutating func gelu(_ a: TensorID) throws -> TensorID { try apply(.gelu, [a]) }
    public mutating func rope(_ x: TensorID, positions: TensorID, _ p: RopeParams) throws -> TensorID {
        try apply(.rope(p), [x, positions])
    }
    public mutating func softmax(_ x: TensorID, mask: TensorID? = nil, scale: Float = 1) throws -> TensorID {
        try apply(.softmax(scale: scale), [x] + (mask.map { [$0] } ?? []))
    }
    /// Writes src's rows into the state `dst` at rows `ids`; returns dst as updated.
    public mutating func setRows(_ dst: TensorID, _ src: TensorID, ids: TensorID) throws -> TensorID {
        try apply(.setRows, [dst, src, ids])
    }
    /// A permutation that moves only dimensions of size 1 leaves every byte where it was — a decode step's
    /// [hd, heads, 1] → [hd, 1, heads] — so it is a view, not a copy: four dispatches a layer fewer on a
    /// GPU (a 1B decode is about 340 dispatches, each a few µs on an H200, whatever it copies).
    public mutating func permute(_ x: TensorID, _ a0: Int, _ a1: Int, _ a2: Int, _ a3: Int) throws -> TensorID {
        let op = Op.permute(a0, a1, a2, a3), desc = graph[x].desc, axes = [a0, a1, a2, a3]
        let moved = (0..<4).filter { desc.shape[$0] > 1 }
        if zip(moved, moved.dropFirst()).allSatisfy({ axes[$0] < axes[$1] }), let out = try? op.outputDesc(for: [desc]) {
            return try reshape(x, out.shape)
        }
        return try apply(op, [x])
    }

    /// Attention as ggml composes it (Q·Kᵀ, scaled masked softmax, ·V): the fusion pass
    /// turns this into one `attention` op on backends that support it.
    public mutating func attention(q: TensorID, k: TensorID, v: TensorID, mask: TensorID?, scale: Float) throws -> TensorID {
        let scores = try mulMat(k, q)
        let probs = try softmax(scores, mask: mask, scale: scale)
        // Always a node (never the view above, even with one key or one dim): the fusion pass matches it.
        let vt = try apply(.permute(1, 0, 2, 3), [v])
        return try mulMat(vt, probs)
    }
}
