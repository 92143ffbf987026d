import EdgeHAL
@testable import EdgeHALCPU
import EdgeHALReference
import Testing

/// Rope nodes of one program share a cos/sin table per parameter set (``RopeTables``). The table
/// must follow the positions of each run: the conformance table runs a program twice with the same
/// inputs, so a table kept from a previous run, or shared across parameter sets, shows only here.
@Suite struct RopeTablesTests {
    static let headDim = 64, tokens = 6

    /// q (4 heads) and k (1 head) under the same parameters, plus a third node with another base.
    static func graph() throws -> (Graph, TensorID, TensorID, TensorID, [TensorID]) {
        var b = GraphBuilder()
        let q = b.input("q", .f32, Shape(headDim, 4, tokens))
        let k = b.input("k", .f32, Shape(headDim, 1, tokens))
        let pos = b.input("pos", .i32, Shape(tokens))
        let local = RopeParams(mode: .neox, nDims: headDim, freqBase: 10000)
        let global = RopeParams(mode: .neox, nDims: headDim, freqBase: 1e6)
        let outs = [try b.rope(q, positions: pos, local), try b.rope(k, positions: pos, local), try b.rope(q, positions: pos, global)]
        for o in outs { b.output(o) }
        return (b.graph, q, k, pos, outs)
    }

    @Test("each run's positions, each parameter set its own table", arguments: [1, 2])
    func followsPositions(threads: Int) throws {
        let (g, q, k, pos, outs) = try Self.graph()
        var rng = SeededRandom(seed: 3)
        let qv = rng.normal(count: Self.headDim * 4 * Self.tokens), kv = rng.normal(count: Self.headDim * Self.tokens)
        let cpu = try Executable(graph: g, devices: [CPUDevice(threads: threads)])
        let reference = try Executable(graph: g, devices: [ReferenceDevice()])
        for positions: [Int32] in [[0, 1, 2, 3, 4, 5], [7, 8, 9, 10, 11, 12], [7, 8, 9, 10, 11, 12], [30000, 3, 9, 1, 0, 2]] {
            for exe in [cpu, reference] {
                try exe.setInput(q, qv)
                try exe.setInput(k, kv)
                try exe.setInput(pos, positions)
                try exe.run()
            }
            for o in outs {
                let a = try cpu.read(o), r = try reference.read(o)
                let worst = zip(a, r).map { abs($0 - $1) }.max() ?? 0
                #expect(worst < 1e-5, "positions \(positions): max difference \(worst)")
            }
        }
    }
}
