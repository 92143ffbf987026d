import EdgeHAL
@testable import EdgeHALCPU
import EdgeHALReference
import Foundation
import Testing

/// MatMulKernel against the Double reference for every weight type, and the activation quantizers
/// against the scalar q8_0 reference.
@Suite struct MatMulKernelTests {
    // MARK: - Data

    /// The core's SplitMix64, so failures reproduce.
    typealias Rng = SeededRandom

    /// `rows` rows of `k` values of `type`: quantized normal data, or random valid K-quant blocks.
    static func weights(_ type: DType, k: Int, rows: Int, rng: inout Rng) -> [UInt8] {
        let count = k * rows
        switch type {
        case .f32: return rng.normal(count: count).withUnsafeBytes { Array($0) }
        case _ where type.canQuantize: return Quant.quantize(type, rng.normal(count: count))
        default:
            var out = (0..<(count / type.blockSize * type.blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let offsets: [Int] = switch type {
            case .q2_K: [80, 82]
            case .q3_K: [108]
            case .q6_K: [208]
            default: [0, 2]
            }
            let magnitude: Float = type == .q6_K ? 1.0 / 1024 : 1.0 / 256
            for b in 0..<(count / type.blockSize) {
                for off in offsets {
                    let bits = Float16(magnitude * (0.25 + Float(rng.unit()))).bitPattern
                    out[b * type.blockBytes + off] = UInt8(bits & 0xFF)
                    out[b * type.blockBytes + off + 1] = UInt8(bits >> 8)
                }
            }
            return out
        }
    }

    static func nmse(_ y: [Float], _ ref: [Float]) -> Double {
        var num = 0.0, den = 0.0
        for (a, b) in zip(y, ref) {
            num += (Double(a) - Double(b)) * (Double(a) - Double(b))
            den += Double(b) * Double(b)
        }
        return den == 0 ? num : num / den
    }

    /// Runs MatMulKernel and the reference (rounding activations for quantized weights) on the same
    /// data; returns the NMSE.
    static func compare(_ type: DType, k: Int, m: Int, n: Int, a2: Int = 1, b2: Int = 1, threads: Int, seed: UInt64,
                        kernels: CPUKernelSet = .portable) -> Double {
        var rng = Rng(seed: seed)
        let aDesc = TensorDesc(type, Shape(k, m, a2)), bDesc = TensorDesc(.f32, Shape(k, n, b2))
        let oDesc = TensorDesc(.f32, Shape(m, n, b2))
        let w = weights(type, k: k, rows: m * a2, rng: &rng)
        let x = rng.normal(count: k * n * b2)
        var out = [Float](repeating: .nan, count: m * n * b2), ref = out
        let pool = WorkerPool(threads: threads)
        let kernel = MatMulKernel(weights: aDesc, activations: bDesc, output: oDesc, threads: threads, kernels: kernels)
        w.withUnsafeBytes { wp in
            x.withUnsafeBytes { xp in
                out.withUnsafeMutableBytes { op in
                    // Twice: the second run must not depend on leftovers of the first.
                    kernel.run(a: wp.baseAddress!, b: xp.baseAddress!, out: op.baseAddress!, pool: pool)
                    kernel.run(a: wp.baseAddress!, b: xp.baseAddress!, out: op.baseAddress!, pool: pool)
                }
                ref.withUnsafeMutableBytes { rp in
                    ReferenceKernels.run(.mulMat, inputs: [(wp.baseAddress!, aDesc), (xp.baseAddress!, bDesc)],
                                         output: rp.baseAddress!, outputDesc: oDesc, roundingActivations: type.isQuantized)
                }
            }
        }
        return nmse(out, ref)
    }

    static let types: [DType] = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// Quantized types are compared with the reference rounding activations as the kernels do (8-bit
    /// codes, a scale per 32 values), which they must reproduce up to float accumulation order; a
    /// fixed bound against float activations (2e-4) was met by chance or missed by chance on 33 outputs.
    static func bound(_ type: DType) -> Double { type.isQuantized ? 1e-10 : 1e-6 }

    // MARK: - mul_mat against the reference

    struct Case: CustomStringConvertible, Sendable {
        var k, m, n, a2, b2: Int
        var description: String { "k=\(k) m=\(m) n=\(n)" + (a2 != b2 ? " heads=\(a2)/\(b2)" : "") }
    }

    /// Odd M, mat-vec, tile remainders (N = 5, 17), long K, an odd number of 32-blocks, head broadcast.
    static func cases(_ type: DType) -> [Case] {
        var c = [
            Case(k: 256, m: 67, n: 1, a2: 1, b2: 1), Case(k: 256, m: 13, n: 17, a2: 1, b2: 1),
            Case(k: 4352, m: 33, n: 1, a2: 1, b2: 1), Case(k: 4352, m: 9, n: 5, a2: 1, b2: 1),
            Case(k: 512, m: 16, n: 3, a2: 2, b2: 8), Case(k: 768, m: 7, n: 2, a2: 1, b2: 1),
        ]
        if type.blockSize <= 32 {
            c += [Case(k: 32, m: 5, n: 1, a2: 1, b2: 1), Case(k: 32, m: 11, n: 5, a2: 1, b2: 1),
                  Case(k: 96, m: 7, n: 17, a2: 1, b2: 1), Case(k: 4352, m: 3, n: 9, a2: 1, b2: 1)]
        }
        if type.blockSize == 1 { c += [Case(k: 13, m: 5, n: 6, a2: 1, b2: 1), Case(k: 67, m: 9, n: 1, a2: 2, b2: 4)] }
        return c
    }

    /// Every kernel set the build has (``CPUKernelSet``), each at 1 and 3 workers.
    @Test(arguments: types, CPUKernelSet.built)
    func matchesReference(_ type: DType, _ kernels: CPUKernelSet) {
        for threads in [1, 3] {
            for (i, c) in Self.cases(type).enumerated() {
                let e = Self.compare(type, k: c.k, m: c.m, n: c.n, a2: c.a2, b2: c.b2, threads: threads, seed: UInt64(i + 1), kernels: kernels)
                #expect(e <= Self.bound(type), "\(type) (\(kernels)) \(c) threads=\(threads): NMSE \(e)")
            }
        }
    }

    /// A larger prefill that crosses column panels (more columns than fit one panel at this K).
    @Test(arguments: [DType.q4_0, .q4_1, .q4_K, .q6_K, .f16], CPUKernelSet.built)
    func manyColumns(_ type: DType, _ kernels: CPUKernelSet) {
        let e = Self.compare(type, k: 4096, m: 6, n: 70, threads: 2, seed: 99, kernels: kernels)
        #expect(e <= Self.bound(type), "\(type) (\(kernels)): NMSE \(e)")
    }

    /// Largest codes against full-range activation codes (±127): the Int16 partial sums must not wrap
    /// (nor saturate: vpmaddubsw adds its pairs with saturation).
    @Test(arguments: types.filter(\.isQuantized), CPUKernelSet.built)
    func extremeCodesDoNotOverflow(_ type: DType, _ kernels: CPUKernelSet) {
        let k = 512, m = 3
        let blocks = k * m / type.blockSize
        var w = [UInt8](repeating: 0xFF, count: blocks * type.blockBytes)
        // fp16 scale fields (d, and dmin / m where present); q6_K's int8 scales at their largest.
        let scaleFields: [Int] = switch type {
        case .q4_0, .q5_0, .q8_0: [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: [0, 2]
        case .q2_K: [80, 82]
        case .q3_K: [108]
        default: [208]
        }
        for b in 0..<blocks {
            let base = b * type.blockBytes
            for f in scaleFields {
                let bits = Float16(0.01).bitPattern
                w[base + f] = UInt8(bits & 0xFF)
                w[base + f + 1] = UInt8(bits >> 8)
            }
            if type == .q8_0 { for j in 2..<34 { w[base + j] = 0x80 } }   // every code −128
            if type == .q6_K { for j in 192..<208 { w[base + j] = 0x7F } }
        }
        // 2 columns for the per-column tiles, 24 for the interleaved groups (16 + 8) of the avx2 prefill.
        for n in [2, 24] {
            let aDesc = TensorDesc(type, Shape(k, m)), bDesc = TensorDesc(.f32, Shape(k, n)), oDesc = TensorDesc(.f32, Shape(m, n))
            // Even columns all +1 (codes +127), odd ones alternating ±3 (codes ±127).
            let x = (0..<n).flatMap { j in (0..<k).map { i in j % 2 == 0 ? Float(1) : (i % 2 == 0 ? Float(3) : -3) } }
            var out = [Float](repeating: .nan, count: m * n), ref = out
            let pool = WorkerPool(threads: 2)
            let kernel = MatMulKernel(weights: aDesc, activations: bDesc, output: oDesc, threads: 2, kernels: kernels)
            w.withUnsafeBytes { wp in
                x.withUnsafeBytes { xp in
                    out.withUnsafeMutableBytes { kernel.run(a: wp.baseAddress!, b: xp.baseAddress!, out: $0.baseAddress!, pool: pool) }
                    ref.withUnsafeMutableBytes {
                        ReferenceKernels.run(.mulMat, inputs: [(wp.baseAddress!, aDesc), (xp.baseAddress!, bDesc)],
                                             output: $0.baseAddress!, outputDesc: oDesc)
                    }
                }
            }
            let e = Self.nmse(out, ref)
            #expect(e <= 1e-6, "\(type) (\(kernels)) n=\(n): NMSE \(e), out \(out), ref \(ref)")
        }
    }

    @Test func dotMatchesScalarSum() {
        var rng = Rng(seed: 5)
        for k in [0, 1, 7, 8, 15, 16, 17, 64, 67] {
            let x = rng.normal(count: k), y = rng.normal(count: k)
            var ref = 0.0
            for i in 0..<k { ref += Double(x[i]) * Double(y[i]) }
            let d = MatMulKernel.dot(x, y, k)
            #expect(abs(Double(d) - ref) <= 1e-5 * max(1, abs(ref)), "k=\(k)")
        }
    }

    // MARK: - Activation quantization

    /// Activation rows covering normal data, tiny and huge magnitudes, zero blocks, exact .5 ties
    /// (a block whose largest magnitude is 127 has scale 1) and one-hot blocks.
    static func activationRows() -> [[Float]] {
        var rng = Rng(seed: 42)
        var rows = [rng.normal(count: 512), rng.normal(count: 512).map { $0 * 1e-3 }, rng.normal(count: 512).map { $0 * 1e4 }]
        var special = [Float](repeating: 0, count: 256)
        for j in 0..<32 { special[32 + j] = Float(j) - 15.5 }          // ties at ±0.5 after scaling
        special[63] = 127
        for j in 0..<32 { special[64 + j] = (Float(j % 7) - 3) * 2.5 } // ties at ±2.5, ±7.5
        special[95] = -127
        special[96 + 5] = 3                                             // one-hot
        for j in 0..<32 { special[128 + j] = Float(j) / 3 }             // ramp
        for j in 0..<32 { special[160 + j] = j % 2 == 0 ? 1 : -1 }      // alternating
        rows.append(special + rng.normal(count: 256))
        return rows
    }

    /// Q8_0 blocks assembled from the kernel's codes and scales: fp16(d) then 32 int8 codes.
    static func q8_0Bytes(codes: [Int16], scales: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for b in 0..<scales.count {
            let bits = Float16(scales[b]).bitPattern
            out += [UInt8(bits & 0xFF), UInt8(bits >> 8)]
            out += codes[(32 * b)..<(32 * b + 32)].map { UInt8(bitPattern: Int8($0)) }
        }
        return out
    }

    @Test(arguments: [ActivationLayout.natural32, .pairs32, .pairBytes64, .bytes256])
    func blockQuantizerMatchesReferenceQ8_0(_ layout: ActivationLayout) {
        for x in Self.activationRows() {
            for k in [x.count, x.count - 32] {   // an odd number of blocks too
                let row = Array(x[0..<k])
                let (codes, scales) = ActivationQuant.naturalCodes(row, layout: layout)
                #expect(Self.q8_0Bytes(codes: codes, scales: scales) == Quant.quantize(.q8_0, row), "\(layout) k=\(k)")
            }
        }
    }

    /// The K layout's codes and scales: the q8_0 arithmetic, one scale per 32 values (not Q8_K's 256).
    @Test func kLayoutQuantizerMatchesReferenceQ8_0() {
        for x in Self.activationRows() {
            let (codes, scales) = ActivationQuant.naturalCodes(x, layout: .evenOdd256)
            #expect(scales.count == x.count / 32)
            #expect(Self.q8_0Bytes(codes: codes, scales: scales) == Quant.quantize(.q8_0, x))
        }
    }

    /// The K layouts' run scales and scaled per-16 and per-32 code sums (d_r·Σq).
    @Test(arguments: [ActivationLayout.evenOdd256, .bytes256])
    func kLayoutScaledSumsMatchCodes(_ layout: ActivationLayout) {
        let x = Self.activationRows()[0]
        let codes = UnsafeMutableRawPointer.allocate(byteCount: x.count * 2, alignment: 64)
        let meta = UnsafeMutableRawPointer.allocate(byteCount: x.count / 256 * layout.metaBytes, alignment: 64)
        defer { codes.deallocate(); meta.deallocate() }
        x.withUnsafeBufferPointer { ActivationQuant.quantizeRow($0.baseAddress!, k: x.count, layout: layout, codes: codes, meta: meta) }
        let (natural, scales) = ActivationQuant.naturalCodes(x, layout: layout)
        func sum(_ from: Int, _ count: Int) -> Float { Float(natural[from..<(from + count)].reduce(Int32(0)) { $0 + Int32($1) }) }
        for b in 0..<(x.count / 256) {
            let m = meta + b * layout.metaBytes
            for r in 0..<8 {
                let d = scales[8 * b + r], base = 256 * b + 32 * r
                #expect(m.load(fromByteOffset: 4 * r, as: Float.self) == d)
                #expect(m.load(fromByteOffset: 32 + 4 * r, as: Float.self) == d * (sum(base, 16) + sum(base + 16, 16)))
                #expect(m.load(fromByteOffset: 64 + 8 * r, as: Float.self) == d * sum(base, 16))
                #expect(m.load(fromByteOffset: 68 + 8 * r, as: Float.self) == d * sum(base + 16, 16))
            }
        }
    }

    /// The interleaved layouts: column `lane` of a group holds, interleaved, exactly the codes and metadata
    /// bytes256 gives that column alone (codes 4 at a time, 32 bytes a step; d, Σ32, Σ16 lo and hi per run),
    /// for as many runs as the layout's columns have (bytes256Cols8 pads to 256 values, pairBytes64Cols8 to 64).
    @Test(arguments: [ActivationLayout.bytes256Cols8, .pairBytes64Cols8])
    func cols8GroupInterleavesBytes256Columns(_ layout: ActivationLayout) {
        let rows = Self.activationRows()
        let k = rows[0].count - 32, padded = ActivationLayout.bytes256.paddedLength(k)   // a padded last super-block too
        let runs = layout.groupRuns(k)
        let codes = UnsafeMutableRawPointer.allocate(byteCount: 8 * padded, alignment: 64)
        let meta = UnsafeMutableRawPointer.allocate(byteCount: 8 * padded / 2, alignment: 64)
        let one = UnsafeMutableRawPointer.allocate(byteCount: padded, alignment: 64)
        let oneMeta = UnsafeMutableRawPointer.allocate(byteCount: padded / 2, alignment: 64)
        defer { codes.deallocate(); meta.deallocate(); one.deallocate(); oneMeta.deallocate() }
        codes.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 8 * padded)
        meta.initializeMemory(as: UInt8.self, repeating: 0xAA, count: 8 * padded / 2)
        for lane in 0..<8 {
            let x = Array(rows[lane % rows.count][0..<k].map { $0 * Float(lane + 1) })
            x.withUnsafeBufferPointer { ActivationQuant.quantizeInGroup($0.baseAddress!, k: k, lane: lane, layout: layout, codes: codes, meta: meta) }
        }
        for lane in 0..<8 {
            let x = Array(rows[lane % rows.count][0..<k].map { $0 * Float(lane + 1) })
            x.withUnsafeBufferPointer { ActivationQuant.quantizeRow($0.baseAddress!, k: k, layout: .bytes256, codes: one, meta: oneMeta) }
            for v in 0..<(32 * runs) {
                let r = v / 32, step = (v % 32) / 4
                #expect(codes.load(fromByteOffset: 256 * r + 32 * step + 4 * lane + v % 4, as: Int8.self)
                        == one.load(fromByteOffset: v, as: Int8.self), "lane \(lane) value \(v)")
            }
            for r in 0..<runs {
                let m = oneMeta + (r / 8) * 128, j = r % 8, g = meta + 128 * r + 4 * lane
                #expect(g.load(as: Float.self) == m.load(fromByteOffset: 4 * j, as: Float.self), "lane \(lane) run \(r) d")
                #expect(g.load(fromByteOffset: 32, as: Float.self) == m.load(fromByteOffset: 32 + 4 * j, as: Float.self))
                #expect(g.load(fromByteOffset: 64, as: Float.self) == m.load(fromByteOffset: 64 + 8 * j, as: Float.self))
                #expect(g.load(fromByteOffset: 96, as: Float.self) == m.load(fromByteOffset: 68 + 8 * j, as: Float.self))
            }
        }
    }
}
