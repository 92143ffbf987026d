import EdgeHAL
import EdgeHALConformance
import EdgeHALReference
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A backend with one deliberate bug: the suite must fail, and name the op. Each fault is one a
/// kernel author makes, and most hide from a table without the right shape or values (the gap
/// classes of conformance strength: tails, odd blocks, 4-D broadcast, parallel sizes, extreme
/// magnitudes, systematic gain).
final class FaultyDevice: Device {
    enum Fault: String, CaseIterable, Sendable {
        /// Q4_0 weights read with high and low nibbles swapped.
        case swappedNibbles
        /// The mask read one key to the left: each query sees one future key (< instead of ≤).
        case maskOffByOne
        /// Rope rotating the other mode's pairs (adjacent ⇄ half-split).
        case ropeWrongPairs
        /// Float mul_mat drops the K % 8 values past its last 8-wide step (a missing scalar tail).
        case floatTailDropped
        /// Quantized mat-vec with an odd block count drops the last block (the row-pair path's leftover).
        case oddLastBlockDropped
        /// add, mul and mul_mat read dim 3 of the broadcast operand as if it were always 0.
        case broadcastIgnoresDim3
        /// rms_norm as x / (√mean(x²) + ε): invisible unless mean(x²) is near ε.
        case epsilonOutsideRoot
        /// Softmax as exp(v) / Σ exp(v) in Float, without subtracting the maximum.
        case softmaxWithoutMax
        /// Quantized mul_mat 0.8 % too large (an activation scale off by one part in 127).
        case activationGain
        /// Elementwise ops on parallel sizes (≥ 2^15 elements) leave the elements past the last
        /// whole 64-element chunk at zero (a split that drops the remainder).
        case parallelRemainderDropped
        /// Weights whose f16 block scales are subnormal read as zero (a device flushing f16 denormals,
        /// or a bit-trick conversion without its subnormal branch).
        case subnormalScalesFlushed
        /// f32 → f16 conversion (convert, set_rows into an f16 cache) rounding ties away from zero.
        case f16TiesAwayFromZero
        /// Softmax and attention rows whose every key is masked come out NaN instead of zeros.
        case maskedRowNaN
    }

    let fault: Fault
    let base = ReferenceDevice()
    var backendName: String { "faulty-\(fault.rawValue)" }
    var info: DeviceInfo { base.info }

    init(_ fault: Fault) { self.fault = fault }

    func supports(_ signature: OpSignature) -> Bool { base.supports(signature) }
    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { HostBuffer(byteCount: byteCount) }

    typealias Transform = @Sendable ([UInt8], TensorDesc) -> [UInt8]
    /// Rewrites the output in place, given the inputs.
    typealias OutputFault = @Sendable (_ inputs: [(UnsafeRawPointer, TensorDesc)], _ out: UnsafeMutableRawPointer, _ desc: TensorDesc) -> Void

    func compile(_ partition: Partition) throws -> any Program {
        HostProgram(partition, try partition.nodes.map { node in
            let (ins, out) = try node.hostAddresses(device: backendName)
            let inputs = Array(zip(ins, node.inputs.map(\.desc)))
            let descs = inputs.map(\.1)
            nonisolated(unsafe) let output = out
            let outDesc = node.output.desc
            var op = node.op
            var rewrite: [(index: Int, transform: Transform)] = []
            var after: OutputFault?
            switch (fault, node.op) {
            case (.swappedNibbles, .mulMat), (.swappedNibbles, .getRows):
                if descs[0].type == .q4_0 { rewrite = [(0, Self.swapNibbles)] }
            case (.maskOffByOne, .softmax) where inputs.count == 2: rewrite = [(1, Self.shiftMask)]
            case (.maskOffByOne, .attention) where inputs.count == 4: rewrite = [(3, Self.shiftMask)]
            case (.ropeWrongPairs, .rope(var p)):
                p.mode = p.mode == .normal ? .neox : .normal
                op = .rope(p)
            case (.floatTailDropped, .mulMat) where !descs[0].type.isQuantized && descs[0].shape[0] % 8 != 0:
                rewrite = [(0, Self.dropTail)]
            case (.oddLastBlockDropped, .mulMat)
                where descs[0].type.isQuantized && descs[1].shape[1] == 1 && (descs[0].shape[0] / descs[0].type.blockSize) % 2 == 1:
                rewrite = [(0, Self.dropLastBlock)]
            case (.broadcastIgnoresDim3, .add), (.broadcastIgnoresDim3, .mul):
                if descs[1].shape[3] > 1 { rewrite = [(1, Self.repeatDim3Slice0)] }
            case (.broadcastIgnoresDim3, .mulMat):
                if descs[0].shape[3] > 1 { rewrite = [(0, Self.repeatDim3Slice0)] }
            case (.epsilonOutsideRoot, .rmsNorm(let eps)), (.epsilonOutsideRoot, .rmsNormMul(let eps)):
                after = Self.epsilonOutsideRoot(eps)
            case (.softmaxWithoutMax, .softmax(let scale)):
                after = Self.softmaxWithoutMax(scale)
            case (.activationGain, .mulMat) where descs[0].type.isQuantized:
                after = { _, out, desc in
                    let y = out.assumingMemoryBound(to: Float.self)
                    for i in 0..<desc.shape.count { y[i] *= 1.008 }
                }
            case (.parallelRemainderDropped, .add), (.parallelRemainderDropped, .mul), (.parallelRemainderDropped, .scale),
                 (.parallelRemainderDropped, .silu), (.parallelRemainderDropped, .gelu), (.parallelRemainderDropped, .swiglu):
                if outDesc.shape.count >= 1 << 15 {
                    after = { _, out, desc in
                        let y = out.assumingMemoryBound(to: Float.self), n = desc.shape.count
                        for i in (n / 64 * 64)..<n { y[i] = 0 }
                    }
                }
            case (.subnormalScalesFlushed, .mulMat) where !descs[0].type.f16ScaleOffsets.isEmpty:
                rewrite = [(0, Self.flushSubnormalScales)]
            case (.f16TiesAwayFromZero, .convert(.f16)), (.f16TiesAwayFromZero, .setRows) where outDesc.type == .f16:
                after = Self.tiesAwayFromZero
            case (.maskedRowNaN, .softmax) where descs.count == 2, (.maskedRowNaN, .attention) where descs.count == 4:
                after = Self.nanInHiddenRows(mask: descs[descs.count - 1])
            default: break
            }
            let finalOp = op, finalAfter = after
            nonisolated(unsafe) let frozen = inputs
            let patches = rewrite
            return {
                // Patched copies of the rewritten inputs, alive for the kernel call.
                let copies = patches.map { p in p.transform(Array(UnsafeRawBufferPointer(start: frozen[p.index].0, count: frozen[p.index].1.byteCount)), frozen[p.index].1) }
                var patched = frozen
                func call(_ i: Int) {
                    guard i < patches.count else {
                        ReferenceKernels.run(finalOp, inputs: patched, output: output, outputDesc: outDesc)
                        finalAfter?(patched, output, outDesc)
                        return
                    }
                    copies[i].withUnsafeBytes { raw in
                        patched[patches[i].index] = (raw.baseAddress!, frozen[patches[i].index].1)
                        call(i + 1)
                    }
                }
                call(0)
            }
        })
    }

    static let swapNibbles: Transform = { bytes, _ in
        var b = bytes
        for block in stride(from: 0, to: b.count, by: 18) {
            for i in (block + 2)..<(block + 18) { b[i] = (b[i] << 4) | (b[i] >> 4) }
        }
        return b
    }

    static let shiftMask: Transform = { bytes, desc in
        var m = TestData.floats(bytes, as: .f32)
        let kv = desc.shape[0]
        for row in 0..<desc.shape[1] {
            for j in stride(from: kv - 1, to: 0, by: -1) { m[row * kv + j] = m[row * kv + j - 1] }
        }
        return TestData.bytes(of: m)
    }

    /// Zeroes the last K % 8 values of every float row.
    static let dropTail: Transform = { bytes, desc in
        var b = bytes
        let size = desc.type == .f16 ? 2 : 4, k = desc.shape[0], tail = k % 8
        for row in 0..<desc.shape.rows {
            let end = (row + 1) * k * size
            for i in (end - tail * size)..<end { b[i] = 0 }
        }
        return b
    }

    /// Zeroes the last block of every row (a zero scale: the block contributes nothing).
    static let dropLastBlock: Transform = { bytes, desc in
        var b = bytes
        let rowBytes = desc.rowBytes, blockBytes = desc.type.blockBytes
        for row in 0..<desc.shape.rows {
            let end = (row + 1) * rowBytes
            for i in (end - blockBytes)..<end { b[i] = 0 }
        }
        return b
    }

    /// Copies slice 0 of dim 3 over every other slice.
    static let repeatDim3Slice0: Transform = { bytes, desc in
        var b = bytes
        let slice = bytes.count / desc.shape[3]
        for s in 1..<desc.shape[3] { b.replaceSubrange((s * slice)..<((s + 1) * slice), with: bytes[0..<slice]) }
        return b
    }

    /// Sets every subnormal f16 scale field to (signed) zero.
    static let flushSubnormalScales: Transform = { bytes, desc in
        var b = bytes
        let offsets = desc.type.f16ScaleOffsets, blockBytes = desc.type.blockBytes
        for block in stride(from: 0, to: b.count, by: blockBytes) {
            for off in offsets where b[block + off + 1] & 0x7C == 0 { b[block + off] = 0; b[block + off + 1] &= 0x80 }
        }
        return b
    }

    /// Rewrites each f16 output converted from an f32 that sits exactly between two f16 values with
    /// the neighbour of larger magnitude (round to nearest, ties away from zero).
    static let tiesAwayFromZero: OutputFault = { inputs, out, desc in
        let y = out.assumingMemoryBound(to: Float16.self)
        func away(_ x: Float) -> Float16 {
            let h = Float16(x)
            guard h.isFinite, Float(h) != x else { return h }
            let other = Float(h) < x ? h.nextUp : h.nextDown
            guard Float(h) - x == x - Float(other) || x - Float(h) == Float(other) - x else { return h }
            return other.magnitude > h.magnitude ? other : h
        }
        let src = inputs.count == 1 ? inputs[0].0 : inputs[1].0   // convert: x; set_rows: dst, src, ids
        let x = src.assumingMemoryBound(to: Float.self)
        if inputs.count == 1 {
            for i in 0..<desc.shape.count { y[i] = away(x[i]) }
        } else {
            let k = desc.shape[0], rows = desc.shape.rows, ids = inputs[2].0.assumingMemoryBound(to: Int32.self)
            for j in 0..<inputs[2].1.shape.count where ids[j] >= 0 && Int(ids[j]) < rows {
                for i in 0..<k { y[Int(ids[j]) * k + i] = away(x[j * k + i]) }
            }
        }
    }

    /// Softmax [kv, rows…] and attention [d, t, h…] outputs: NaN wherever the mask row hides every key.
    static func nanInHiddenRows(mask: TensorDesc) -> OutputFault {
        { inputs, out, desc in
            let m = inputs[inputs.count - 1].0.assumingMemoryBound(to: Float.self), y = out.assumingMemoryBound(to: Float.self)
            let kv = mask.shape[0], maskRows = mask.shape[1]
            let isSoftmax = inputs.count == 2
            let width = isSoftmax ? kv : desc.shape[0]     // values per output row
            let tokens = isSoftmax ? maskRows : desc.shape[1]
            for row in 0..<(desc.shape.count / width) {
                let t = row % tokens % maskRows
                if (0..<kv).allSatisfy({ m[t * kv + $0] == -.infinity }) {
                    for i in 0..<width { y[row * width + i] = .nan }
                }
            }
        }
    }

    static func epsilonOutsideRoot(_ eps: Float) -> OutputFault {
        { inputs, out, desc in
            let x = inputs[0].0.assumingMemoryBound(to: Float.self), y = out.assumingMemoryBound(to: Float.self)
            let n = desc.shape[0]
            for row in 0..<desc.shape.rows {
                var ms = 0.0
                for i in 0..<n { ms += Double(x[row * n + i]) * Double(x[row * n + i]) }
                ms /= Double(n)
                let factor = Float((ms + Double(eps)).squareRoot() / (ms.squareRoot() + Double(eps)))
                for i in 0..<n { y[row * n + i] *= factor }
            }
        }
    }

    static func softmaxWithoutMax(_ scale: Float) -> OutputFault {
        { inputs, out, desc in
            let x = inputs[0].0.assumingMemoryBound(to: Float.self), y = out.assumingMemoryBound(to: Float.self)
            let mask = inputs.count > 1 ? inputs[1].0.assumingMemoryBound(to: Float.self) : nil
            let n = desc.shape[0], ne1 = desc.shape[1]
            for row in 0..<desc.shape.rows {
                var sum: Float = 0
                for i in 0..<n {
                    let e = expf(x[row * n + i] * scale + (mask?[(row % ne1) * n + i] ?? 0))
                    y[row * n + i] = e
                    sum += e
                }
                for i in 0..<n { y[row * n + i] /= sum }
            }
        }
    }
}

struct FaultInjectionTests {
    /// The graph cases of fused ops fail with the plain ops they are built of (rms_norm_mul_mat: rms_norm, mul
    /// and mul_mat; mul_mat_glu: those and silu, gelu; rope_set_rows: rope and set_rows; mul_mat_rows: rms_norm, mul,
    /// mul_mat, rope, set_rows and, in its layer case, attention).
    static let expected: [FaultyDevice.Fault: (named: String, allowed: Set<String>)] = [
        .swappedNibbles: ("mul_mat", ["mul_mat", "get_rows", "transformer_block", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .maskOffByOne: ("attention", ["softmax", "attention", "transformer_block", "mul_mat_rows"]),
        .ropeWrongPairs: ("rope", ["rope", "rope_set_rows", "transformer_block", "mul_mat_rows"]),
        .floatTailDropped: ("mul_mat", ["mul_mat", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .oddLastBlockDropped: ("mul_mat", ["mul_mat", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .broadcastIgnoresDim3: ("add", ["add", "mul", "mul_mat", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .epsilonOutsideRoot: ("rms_norm", ["rms_norm", "rms_norm_mul", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .softmaxWithoutMax: ("softmax", ["softmax"]),
        .activationGain: ("mul_mat", ["mul_mat", "mul_mat_group", "transformer_block", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .parallelRemainderDropped: ("scale", ["add", "mul", "scale", "silu", "gelu", "swiglu", "geglu", "mul_mat_glu", "mul_mat_rows"]),
        .subnormalScalesFlushed: ("mul_mat", ["mul_mat", "mul_mat_group", "transformer_block", "rms_norm_mul_mat", "mul_mat_glu", "mul_mat_rows"]),
        .f16TiesAwayFromZero: ("convert", ["convert", "set_rows", "rope_set_rows", "attention", "mul_mat_rows"]),
        .maskedRowNaN: ("softmax", ["softmax", "attention", "mul_mat_rows"]),
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

    /// The gain error alone (+0.8 %, inside the old fixed 2e-4 NMSE bound): for every quantized
    /// weight type at least half the mul_mat cases must catch it, by the derived NMSE bound or the
    /// gain band (measured: 54–62 % of the K-quant cases, 80–90 % for the 32-value types). Small outputs, and K-quant cases whose random blocks carry large
    /// minimums (the rounding error of Σx then acts as a gain), cannot tell 0.8 % from a correct
    /// kernel's error; the others can.
    @Test func gainErrorIsCaughtForEveryQuantizedType() {
        let cases = CaseTable.all.filter { $0.op == "mul_mat" && !["f32", "f16"].contains($0.type) }
        let report = ConformanceRunner().run(cases, on: FaultyDevice(.activationGain))
        for type in Set(cases.map(\.type)) {
            let results = report.results.filter { $0.type == type }
            let caught = results.filter { $0.status == .fail }.count
            #expect(caught * 2 >= results.count, "\(type): the gain error caught by only \(caught) of \(results.count) cases")
        }
    }
}
