import EdgeHAL
@testable import EdgeHALCPU
import Testing

/// SharedInputGrouping and the CPU backend's MatMulGroup: mul_mats over one activation tensor are
/// brought together, marked as a group, and run as one job with results identical to one by one.
@Suite struct MatMulGroupTests {
    /// x → rms_norm → q (q4_1, rope in between as in a layer), k (q5_0), v (q8_0), gate/up (q4_0, K-quant).
    static func graph(tokens n: Int) throws -> (Graph, [TensorID], TensorID) {
        var rng = SeededRandom(seed: 7)
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(256, n))
        func weight(_ name: String, _ type: DType, rows: Int) throws -> TensorID {
            try b.weight(name, type, Shape(256, rows), data: HostData(MatMulKernelTests.weights(type, k: 256, rows: rows, rng: &rng)))
        }
        let h = try b.rmsNorm(x, eps: 1e-5)
        let q = try b.scale(try b.mulMat(try weight("q", .q4_1, rows: 256), h), 0.5)   // an op between the members
        let k = try b.mulMat(try weight("k", .q5_0, rows: 64), h)
        let v = try b.mulMat(try weight("v", .q8_0, rows: 64), h)
        let gate = try b.mulMat(try weight("gate", .q4_K, rows: 96), h)
        let up = try b.mulMat(try weight("up", .q4_0, rows: 96), h)
        let outs = [q, k, v, gate, up]
        for o in outs { b.output(o) }
        return (b.graph, outs, x)
    }

    @Test("the core moves the five mul_mats together and marks one group")
    func grouping() throws {
        let (g, _, _) = try Self.graph(tokens: 1)
        let grouped = SharedInputGrouping.apply(to: g)
        let ops = grouped.nodes.map(\.op.name)
        #expect(ops == ["rms_norm", "mul_mat", "mul_mat", "mul_mat", "mul_mat", "mul_mat", "scale"])
        #expect(SharedInputGrouping.groups(grouped.nodes, in: grouped) == [1..<6])
        // In the source order the scale splits q from the other four.
        #expect(SharedInputGrouping.groups(g.nodes, in: g) == [3..<7])
    }

    @Test("grouped and one-by-one runs give identical bits", arguments: [1, 5])
    func identical(tokens: Int) throws {
        let (g, outs, x) = try Self.graph(tokens: tokens)
        var rng = SeededRandom(seed: 11)
        let input = rng.normal(count: 256 * tokens)
        func run(group: Bool) throws -> [[Float]] {
            let exe = try Executable(graph: g, devices: [CPUDevice(threads: 2)], options: ExecutionOptions(group: group))
            try exe.setInput(x, input)
            try exe.run()
            return try outs.map { try exe.read($0) }
        }
        let grouped = try run(group: true), single = try run(group: false)
        for (a, b) in zip(grouped, single) { #expect(a == b) }
    }
}
