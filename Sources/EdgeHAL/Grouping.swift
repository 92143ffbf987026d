/// Mat-muls that read the same activations, brought together so a backend can run them as one job.
///
/// A layer's q, k and v projections (and its gate and up projections) multiply different weights
/// by the same normed activations. Run one by one, each pays a dispatch — a worker-pool wake and
/// barrier on the CPU, a kernel launch elsewhere — and re-quantizes the same activations, for
/// mat-vecs that take a few microseconds each in decode. The core moves every later mul_mat over
/// the same activation tensor up to just after the first, and each ``Partition`` lists such runs in
/// ``Partition/groups``; a backend may run a group as one job over its stacked rows, or ignore it
/// and run the nodes in order, which gives the same results.
public enum SharedInputGrouping {
    /// Reorders `graph` so mul_mats over one activation tensor are consecutive. A node moves up only
    /// when its weights are available there (constant, an input, or produced earlier) and nothing
    /// between the two positions updates either operand in place.
    public static func apply(to graph: Graph) -> Graph {
        let nodes = graph.nodes
        var moved = Set<Int>()
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        // Where each storage is last written in place (set_rows into a state), by node index.
        var inPlaceWrites: [Int: [Int]] = [:]
        for (i, n) in nodes.enumerated() where n.op.inPlaceInput != nil {
            inPlaceWrites[graph.storage(of: n.output).index, default: []].append(i)
        }
        func producedBefore(_ t: TensorID, _ i: Int) -> Bool {
            switch graph[graph.storage(of: t)].source {
            case .node(let p): return p < i
            default: return true
            }
        }
        func writtenBetween(_ t: TensorID, _ lo: Int, _ hi: Int) -> Bool {
            inPlaceWrites[graph.storage(of: t).index]?.contains { $0 > lo && $0 < hi } ?? false
        }
        for (i, node) in nodes.enumerated() where !moved.contains(i) {
            order.append(i)
            guard case .mulMat = node.op else { continue }
            for j in (i + 1)..<nodes.count where !moved.contains(j) {
                let other = nodes[j]
                guard sharesActivations(node, other, in: graph), producedBefore(other.inputs[0], i),
                      !writtenBetween(other.inputs[0], i, j), !writtenBetween(node.inputs[1], i, j)
                else { continue }
                order.append(j)
                moved.insert(j)
            }
        }
        guard order != Array(nodes.indices) else { return graph }
        var out = graph
        out.setNodes(order.map { nodes[$0] })
        return out
    }

    /// Runs (≥ 2 long) of consecutive mul_mats in `nodes` over the same activation tensor.
    public static func groups(_ nodes: [Graph.Node], in graph: Graph) -> [Range<Int>] {
        guard !nodes.isEmpty else { return [] }
        var out: [Range<Int>] = []
        var start = 0
        for i in 1...nodes.count {
            if i < nodes.count, sharesActivations(nodes[start], nodes[i], in: graph) { continue }
            if i - start >= 2 { out.append(start..<i) }
            start = i
        }
        return out
    }

    /// Both are mul_mats reading the same activation bytes with the same shape.
    static func sharesActivations(_ a: Graph.Node, _ b: Graph.Node, in graph: Graph) -> Bool {
        guard case .mulMat = a.op, case .mulMat = b.op else { return false }
        return graph.storage(of: a.inputs[1]) == graph.storage(of: b.inputs[1]) && graph[a.inputs[1]].desc == graph[b.inputs[1]].desc
    }
}
