import EdgeHAL
import EdgeHALConformance
import EdgeHALReference
import Testing

/// A backend with one deliberate bug: the suite must fail, and name the op.
final class FaultyDevice: Device {
    enum Fault: String, CaseIterable, Sendable {
        /// Q4_0 weights read with high and low nibbles swapped.
        case swappedNibbles
        /// The mask read one key to the left: each query sees one future key (< instead of ≤).
        case maskOffByOne
        /// Rope rotating the other mode's pairs (adjacent ⇄ half-split).
        case ropeWrongPairs
    }

    let fault: Fault
    let base = ReferenceDevice()
    var backendName: String { "faulty-\(fault.rawValue)" }
    var info: DeviceInfo { base.info }

    init(_ fault: Fault) { self.fault = fault }

    func supports(_ signature: OpSignature) -> Bool { base.supports(signature) }
    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { HostBuffer(byteCount: byteCount) }

    func compile(_ partition: Partition) throws -> any Program {
        HostProgram(partition, try partition.nodes.map { node in
            let (ins, out) = try node.hostAddresses(device: backendName)
            let inputs = Array(zip(ins, node.inputs.map(\.desc)))
            nonisolated(unsafe) let output = out
            let outDesc = node.output.desc
            var op = node.op
            var rewrite: (index: Int, transform: @Sendable ([UInt8], TensorDesc) -> [UInt8])?
            switch (fault, node.op) {
            case (.swappedNibbles, .mulMat), (.swappedNibbles, .getRows):
                if inputs[0].1.type == .q4_0 { rewrite = (0, Self.swapNibbles) }
            case (.maskOffByOne, .softmax) where inputs.count == 2: rewrite = (1, Self.shiftMask)
            case (.maskOffByOne, .attention) where inputs.count == 4: rewrite = (3, Self.shiftMask)
            case (.ropeWrongPairs, .rope(var p)):
                p.mode = p.mode == .normal ? .neox : .normal
                op = .rope(p)
            default: break
            }
            let finalOp = op
            guard let (index, transform) = rewrite else {
                nonisolated(unsafe) let frozen = inputs
                return { ReferenceKernels.run(finalOp, inputs: frozen, output: output, outputDesc: outDesc) }
            }
            nonisolated(unsafe) let pointer = inputs[index].0
            let desc = inputs[index].1
            nonisolated(unsafe) let frozen = inputs
            return {
                let original = Array(UnsafeRawBufferPointer(start: pointer, count: desc.byteCount))
                let changed = transform(original, desc)
                changed.withUnsafeBytes { raw in
                    var patched = frozen
                    patched[index] = (raw.baseAddress!, desc)
                    ReferenceKernels.run(finalOp, inputs: patched, output: output, outputDesc: outDesc)
                }
            }
        })
    }

    static let swapNibbles: @Sendable ([UInt8], TensorDesc) -> [UInt8] = { bytes, _ in
        var b = bytes
        for block in stride(from: 0, to: b.count, by: 18) {
            for i in (block + 2)..<(block + 18) { b[i] = (b[i] << 4) | (b[i] >> 4) }
        }
        return b
    }

    static let shiftMask: @Sendable ([UInt8], TensorDesc) -> [UInt8] = { bytes, desc in
        var m = TestData.floats(bytes, as: .f32)
        let kv = desc.shape[0]
        for row in 0..<desc.shape[1] {
            for j in stride(from: kv - 1, to: 0, by: -1) { m[row * kv + j] = m[row * kv + j - 1] }
        }
        return TestData.bytes(of: m)
    }
}

struct FaultInjectionTests {
    static let expected: [FaultyDevice.Fault: (named: String, allowed: Set<String>)] = [
        .swappedNibbles: ("mul_mat", ["mul_mat", "get_rows", "transformer_block"]),
        .maskOffByOne: ("attention", ["softmax", "attention", "transformer_block"]),
        .ropeWrongPairs: ("rope", ["rope", "transformer_block"]),
    ]

    @Test("a planted bug fails the suite and names the op", arguments: FaultyDevice.Fault.allCases)
    func plantedBugIsCaught(_ fault: FaultyDevice.Fault) {
        let (named, allowed) = Self.expected[fault]!
        let report = ConformanceRunner().run(CaseTable.all, on: FaultyDevice(fault))
        let failedOps = Set(report.results.filter { $0.status == .fail }.map(\.op))
        #expect(report.failed > 0)
        #expect(failedOps.contains(named), "\(fault) should fail \(named); failed: \(failedOps)")
        #expect(failedOps.isSubset(of: allowed), "\(fault) failed unrelated ops: \(failedOps.subtracting(allowed))")
        #expect(report.unsupported == 0)
    }
}
