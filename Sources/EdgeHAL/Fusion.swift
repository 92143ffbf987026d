/// Rewrites op patterns into fused ops, only where the target supports the fused op.
///
/// Patterns (each intermediate must have exactly one consumer and not be a graph output):
/// - `rms_norm(x) · w` → `rms_norm_mul(x, w)`
/// - `silu(g) · u` (either operand order) → `swiglu(g, u)`; `gelu(g) · u` → `geglu(g, u)`
/// - `mul_mat(permute(v, 1,0,2,3), softmax(mul_mat(k, q), mask))` → `attention(q, k, v, mask)`
/// - `mul_mat(a, b) + r` (either operand order, r of the product's shape) → `mul_mat_add(a, b, r)`
/// - `set_rows(dst, rope(x, positions), ids)` (the rope's output reshaped) → `rope_set_rows(dst, x, positions, ids)`
/// - `swiglu(g, u)` / `geglu(g, u)` of `g = mul_mat(gate, x)` and `u = mul_mat(up, x)` (weights of one type and
///   shape) → `mul_mat_glu(gate, x, up)` (``gluProducts``), or the glu alone where the device lacks that
/// - `rope(y, positions)`, `set_rows(dst, rope(y, positions), ids)` and `set_rows(dst, y, ids)` of a private 2-D product
///   `y = mul_mat(a, x)` viewed as heads → `mul_mat_rows(a, x, …)` (``headProduct``): a decode step's q, k and v
/// - `rms_norm_mul(x, w)` read only by mul_mats, mul_mat_glus and mul_mat_rows, as their activations (a layer's q, k, v or its
///   feed-forward) → each of them `rms_norm_mul_mat(a, x, w)`, `mul_mat_glu(gate, x, w, up)` or `mul_mat_rows(a, x, w, …)`,
///   the norm gone
///   (``foldNorms``)
public enum Fusion {
    /// Fuses wherever `supports` accepts the fused op (one target device).
    public static func apply(to graph: Graph, supports: (OpSignature) -> Bool) -> Graph {
        apply(to: graph, placement: { supports($0) ? 0 : nil })
    }

    /// Fuses for a priority list of devices: `placement` gives the index of the first device running a
    /// signature. A pattern is fused unless every op it replaces would run ahead of the fused op in the
    /// list: a plugin with rms_norm and mul but no rms_norm_mul keeps both, while attention — whose
    /// softmax a plugin lacks anyway — becomes the fallback's fused op instead of composed mat-muls.
    public static func apply(to graph: Graph, placement: (OpSignature) -> Int?) -> Graph {
        apply(to: graph, rank: { signature, _ in placement(signature) })
    }

    /// As ``apply(to:placement:)`` where the order of devices depends on the node's stage: `rank` gives
    /// the position, in that stage's order, of the first device running a signature.
    public static func apply(to graph: Graph, rank placement: (OpSignature, Int?) -> Int?) -> Graph {
        var uses = [Int](repeating: 0, count: graph.tensors.count)
        for node in graph.nodes { for i in node.inputs { uses[graph.storage(of: i).index] += 1 } }
        for o in graph.outputs { uses[graph.storage(of: o).index] += 1 }

        var nodes = graph.nodes
        var dead = Set<Int>()
        // The producing node of an intermediate that only this pattern reads.
        func privateProducer(_ t: TensorID) -> Int? {
            guard case .node(let n) = graph[t].source, uses[t.index] == 1, !dead.contains(n) else { return nil }
            return n
        }

        for (index, node) in graph.nodes.enumerated() {
            var candidate: (op: Op, inputs: [TensorID], absorbed: [Int])?
            // A projection's product with its rope and cache write (mul_mat_rows), tried before `candidate`.
            var projection: (op: Op, inputs: [TensorID], absorbed: [Int])?
            switch node.op {
            case .add:
                for (first, other) in [(0, 1), (1, 0)] where candidate == nil {
                    guard let p = privateProducer(node.inputs[first]), case .mulMat = nodes[p].op else { continue }
                    candidate = (.mulMatAdd, nodes[p].inputs + [node.inputs[other]], [p])
                }
            case .mul:
                for (first, other) in [(0, 1), (1, 0)] where candidate == nil {
                    guard let p = privateProducer(node.inputs[first]) else { continue }
                    let prev = nodes[p]
                    switch prev.op {
                    case .rmsNorm(let eps) where first == 0 && graph[node.inputs[1]].desc.shape.count == graph[node.output].desc.shape[0]:
                        candidate = (.rmsNormMul(eps: eps), [prev.inputs[0], node.inputs[other]], [p])
                    case .silu where graph[node.inputs[other]].desc.shape == graph[prev.inputs[0]].desc.shape:
                        candidate = (.swiglu, [prev.inputs[0], node.inputs[other]], [p])
                    case .gelu where graph[node.inputs[other]].desc.shape == graph[prev.inputs[0]].desc.shape:
                        candidate = (.geglu, [prev.inputs[0], node.inputs[other]], [p])
                    default: break
                    }
                }
            case .setRows:
                // Through reshapes (every view is one: the same bytes in the same order), a decode step's k or v.
                guard let p = privateProducer(graph.storage(of: node.inputs[1])) else { break }
                if case .rope(let params) = nodes[p].op {
                    candidate = (.ropeSetRows(params), [node.inputs[0]] + nodes[p].inputs + [node.inputs[2]], [p])
                }
                projection = headProduct(at: p, into: node, graph, nodes, privateProducer)
            case .rope:
                projection = headProduct(at: index, into: nil, graph, nodes, privateProducer)
            case .mulMat:
                guard let pv = privateProducer(node.inputs[0]), case .permute(1, 0, 2, 3) = nodes[pv].op,
                      let ps = privateProducer(node.inputs[1]), case .softmax(let scale) = nodes[ps].op,
                      let pk = privateProducer(nodes[ps].inputs[0]), case .mulMat = nodes[pk].op
                else { break }
                let (k, q, v) = (nodes[pk].inputs[0], nodes[pk].inputs[1], nodes[pv].inputs[0])
                let mask = Array(nodes[ps].inputs.dropFirst())
                candidate = (.attention(scale: scale), [q, k, v] + mask, [pv, ps, pk])
            case .swiglu, .geglu:
                candidate = (node.op, node.inputs, [])
            default:
                break
            }
            // A glu of two products of the same activations goes further, into one mat-vec for both (or stays a glu).
            let glu = candidate.flatMap { gluProducts($0, stage: node.stage, graph, nodes, privateProducer) }
            for c in [projection, glu, candidate].compactMap({ $0 }) {
                guard c.op != node.op else { break }   // a glu already in the graph: nothing to replace it with
                let inputs = c.inputs.map { graph[$0].desc }
                guard let out = try? c.op.outputDesc(for: inputs), out == graph[node.output].desc,
                      let fusedAt = placement(OpSignature(op: c.op, inputs: inputs, output: out), node.stage) else { continue }
                let replaced = ([index] + c.absorbed).map { placement(graph.signature(of: graph.nodes[$0]), graph.nodes[$0].stage) ?? Int.max }
                guard fusedAt <= replaced.max()! else { continue }
                nodes[index] = Graph.Node(op: c.op, inputs: c.inputs, output: node.output, stage: node.stage)
                dead.formUnion(c.absorbed)
                break
            }
        }

        foldNorms(graph, &nodes, &dead, placement)
        guard !dead.isEmpty else { return graph }
        var fused = graph
        fused.setNodes(nodes.enumerated().filter { !dead.contains($0.offset) }.map(\.element))
        return fused
    }

    /// `swiglu(g, u)` or `geglu(g, u)` (as fused above, or in the graph) whose g and u are private products of
    /// the same activations by weights of one type and shape, in the glu's stage → `mul_mat_glu(gate, x, up)`,
    /// absorbing both products.
    static func gluProducts(_ c: (op: Op, inputs: [TensorID], absorbed: [Int]), stage: Int?, _ graph: Graph, _ nodes: [Graph.Node],
                            _ privateProducer: (TensorID) -> Int?) -> (op: Op, inputs: [TensorID], absorbed: [Int])? {
        let activation: MatGLU.Activation
        switch c.op {
        case .swiglu: activation = .silu
        case .geglu: activation = .gelu
        default: return nil
        }
        guard let pg = privateProducer(c.inputs[0]), let pu = privateProducer(c.inputs[1]), pg != pu,
              case .mulMat = nodes[pg].op, case .mulMat = nodes[pu].op else { return nil }
        let (gate, up) = (nodes[pg], nodes[pu])
        guard SharedInputGrouping.sharesActivations(gate, up, in: graph), graph[gate.inputs[0]].desc == graph[up.inputs[0]].desc,
              gate.stage == stage, up.stage == stage else { return nil }   // never across a layer split's stages
        return (.mulMatGLU(MatGLU(activation)), [gate.inputs[0], gate.inputs[1], up.inputs[0]], c.absorbed + [pg, pu])
    }

    /// A decode step's projection to heads: `rope(y, positions)` (with `into` nil) of a private 2-D product `y = mul_mat(a, x)`
    /// viewed as [headDim, heads, N] at node `at` → `mul_mat_rows(a, x, positions)` (q); `set_rows(dst, y, ids)` (`into`)
    /// of such a product or of a mul_mat_rows fused so (k, roped first) → `mul_mat_rows(a, x, [positions,] ids, dst)`
    /// (v, k). The product in the stage of the node it replaces, never across a layer split's stages; 2-D (the fused op's
    /// shape rules, checked by the caller).
    static func headProduct(at: Int, into setRows: Graph.Node?, _ graph: Graph, _ nodes: [Graph.Node],
                            _ privateProducer: (TensorID) -> Int?) -> (op: Op, inputs: [TensorID], absorbed: [Int])? {
        let node = nodes[at]
        if let setRows {   // k or v into the cache: its rows are dst's
            guard node.stage == setRows.stage else { return nil }
            let headDim = graph[setRows.inputs[0]].desc.shape[0]
            if case .mulMatRows(var p) = node.op, !p.setRows, p.headDim == headDim {
                p.setRows = true
                return (.mulMatRows(p), node.inputs + [setRows.inputs[2], setRows.inputs[0]], [at])
            }
            guard case .mulMat = node.op else { return nil }
            return (.mulMatRows(MatRows(headDim: headDim, setRows: true)), [node.inputs[0], node.inputs[1], setRows.inputs[2], setRows.inputs[0]], [at])
        }
        // q: rope must see the product as [headDim, M / headDim, N], its positions per column.
        guard case .rope(let params) = node.op, let p = privateProducer(graph.storage(of: node.inputs[0])),
              case .mulMat = nodes[p].op, nodes[p].stage == node.stage else { return nil }
        let (m, n) = (graph[nodes[p].inputs[0]].desc.shape[1], graph[nodes[p].inputs[1]].desc.shape[1])
        let view = graph[node.inputs[0]].desc.shape
        guard view[0] > 0, m % view[0] == 0, view == Shape(view[0], m / view[0], n) else { return nil }
        return (.mulMatRows(MatRows(headDim: view[0], rope: params, setRows: false)), [nodes[p].inputs[0], nodes[p].inputs[1], node.inputs[1]], [p])
    }

    /// `rms_norm_mul(x, w)` whose every reader is a mul_mat, or a norm-less mul_mat_glu or mul_mat_rows, taking it as
    /// activations (and not a graph output) becomes part of each reader: `rms_norm_mul_mat(a, x, w)`,
    /// `mul_mat_glu(gate, x, w, up)`, `mul_mat_rows(a, x, w, …)`.
    /// Unlike the patterns above the norm has several readers (a layer's q, k and v), so all of them must take the
    /// fused op, each where the rule above allows it, or the norm stays.
    static func foldNorms(_ graph: Graph, _ nodes: inout [Graph.Node], _ dead: inout Set<Int>, _ placement: (OpSignature, Int?) -> Int?) {
        var readers: [Int: [Int]] = [:]   // storage index → live nodes reading it
        for (i, node) in nodes.enumerated() where !dead.contains(i) {
            for t in Set(node.inputs.map { graph.storage(of: $0).index }) { readers[t, default: []].append(i) }
        }
        let outputs = Set(graph.outputs.map { graph.storage(of: $0).index })
        for (index, norm) in nodes.enumerated() where !dead.contains(index) {
            guard case .rmsNormMul(let eps) = norm.op else { continue }
            let storage = graph.storage(of: norm.output).index
            guard !outputs.contains(storage), let users = readers[storage], !users.isEmpty else { continue }
            let normAt = placement(graph.signature(of: norm), norm.stage) ?? Int.max
            var rewritten: [(Int, Graph.Node)] = []
            readers: for u in users {
                let user = nodes[u]
                let op: Op, inputs: [TensorID]
                switch user.op {
                case .mulMat:
                    (op, inputs) = (.rmsNormMulMat(eps: eps), [user.inputs[0], norm.inputs[0], norm.inputs[1]])
                case .mulMatGLU(let p) where p.normEps == nil:
                    (op, inputs) = (.mulMatGLU(MatGLU(p.activation, normEps: eps)), [user.inputs[0], norm.inputs[0], norm.inputs[1], user.inputs[2]])
                case .mulMatRows(var p) where p.normEps == nil:
                    p.normEps = eps
                    (op, inputs) = (.mulMatRows(p), [user.inputs[0], norm.inputs[0], norm.inputs[1]] + user.inputs.dropFirst(2))
                default:
                    break readers
                }
                // The norm is the activations, and only them (never a weight as well).
                guard user.inputs[1] == norm.output, user.inputs.indices.allSatisfy({ $0 == 1 || user.inputs[$0] != norm.output }) else { break }
                let descs = inputs.map { graph[$0].desc }
                guard let out = try? op.outputDesc(for: descs), out == graph[user.output].desc,
                      let fusedAt = placement(OpSignature(op: op, inputs: descs, output: out), user.stage),
                      fusedAt <= max(normAt, placement(graph.signature(of: user), user.stage) ?? Int.max) else { break }
                rewritten.append((u, Graph.Node(op: op, inputs: inputs, output: user.output, stage: user.stage)))
            }
            guard rewritten.count == users.count else { continue }
            for (u, node) in rewritten { nodes[u] = node }
            dead.insert(index)
        }
    }
}
