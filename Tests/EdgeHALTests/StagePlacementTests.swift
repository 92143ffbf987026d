import EdgeHAL
import EdgeHALReference
import Testing

/// Whole stages pinned to devices (a model split by layers): every node of a pinned stage runs on
/// its device, only tensors crossing between stages are copied, and results match one device alone.
struct StagePlacementTests {
    /// Three stages of x → mul_mat → rms_norm; stage s uses weights w_s.
    func stages(_ count: Int) throws -> (Graph, TensorID, TensorID) {
        var b = GraphBuilder()
        var x = b.input("x", .f32, Shape(64, 2))
        let input = x
        for s in 0..<count {
            b.stage = s
            let w = try b.weight("w\(s)", .f32, Shape(64, 64), data: HostData(floats: (0..<4096).map { Float(($0 + s) % 11) / 11 - 0.5 }))
            x = try b.rmsNorm(try b.mulMat(w, x), eps: 1e-5)
        }
        b.output(x)
        return (b.graph, input, x)
    }

    @Test func pinnedStagesRunWhereTheyArePinnedAndCopyOnlyAtSplits() throws {
        let (graph, x, y) = try stages(3)
        #expect(graph.nodes.map(\.stage) == [0, 0, 1, 1, 2, 2])
        let input = (0..<128).map { Float($0 % 9) - 4 }
        let alone = try Executable(graph: graph, devices: [ReferenceDevice()])
        try alone.setInput(x, input)
        try alone.run()
        // Stage 1 on the second device, 0 and 2 on the first: two copies of the [64, 2] hidden state.
        let first = ReferenceDevice(), second = ReferenceDevice()
        let split = try Executable(graph: graph, devices: [first, second], options: ExecutionOptions(stageDevices: [0: 0, 1: 1, 2: 0]))
        try split.setInput(x, input)
        try split.run()
        #expect(split.report.partitions.map(\.ops) == [["mul_mat", "rms_norm"], ["mul_mat", "rms_norm"], ["mul_mat", "rms_norm"]])
        #expect(split.report.transfers == 2 && split.report.transferBytes == 2 * 128 * 4)
        #expect(split.report.crossings.count == 2)
        #expect(try split.read(y) == alone.read(y))
        // Unpinned, everything runs on the first device.
        let unpinned = try Executable(graph: graph, devices: [first, second])
        #expect(unpinned.report.partitions.count == 1 && unpinned.report.transfers == 0)
    }

    /// A pinned device that lacks an op gives it to the first device of the list that has it.
    @Test func aPinnedDeviceWithoutAnOpFallsBack() throws {
        let (graph, x, y) = try stages(2)
        let accelerator = MulMatOnlyDevice(), host = ReferenceDevice()
        let exe = try Executable(graph: graph, devices: [host, accelerator], options: ExecutionOptions(stageDevices: [1: 1]))
        #expect(exe.report.partitions.map(\.ops) == [["mul_mat", "rms_norm"], ["mul_mat"], ["rms_norm"]])
        #expect(exe.report.partitions.map(\.device).map { $0.hasPrefix("matmul-only") } == [false, true, false])
        try exe.setInput(x, (0..<128).map { Float($0 % 5) })
        try exe.run()
        #expect(try exe.read(y).count == 128)
    }

    @Test func aStagePinnedToAMissingDeviceIsAnError() throws {
        let (graph, _, _) = try stages(1)
        #expect(throws: EdgeHALError.self) {
            _ = try Executable(graph: graph, devices: [ReferenceDevice()], options: ExecutionOptions(stageDevices: [0: 1]))
        }
    }
}
