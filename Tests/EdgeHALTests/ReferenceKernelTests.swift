import Foundation
import Testing
import EdgeHAL
import EdgeHALReference

/// Small hand-computed cases pinning the reference kernels to ggml's semantics.
@Suite struct ReferenceKernelTests {
    // MARK: - Helpers

    struct Input {
        var bytes: [UInt8]
        var desc: TensorDesc
    }

    static func f32(_ values: [Float], _ shape: Shape) -> Input {
        precondition(values.count == shape.count)
        return Input(bytes: values.withUnsafeBytes { Array($0) }, desc: TensorDesc(.f32, shape))
    }

    static func i32(_ values: [Int32], _ shape: Shape) -> Input {
        Input(bytes: values.withUnsafeBytes { Array($0) }, desc: TensorDesc(.i32, shape))
    }

    /// F16 values given by their IEEE half bit patterns.
    static func f16(_ bits: [UInt16], _ shape: Shape) -> Input {
        Input(bytes: bits.withUnsafeBytes { Array($0) }, desc: TensorDesc(.f16, shape))
    }

    /// One q8_0 block: f16 scale bits followed by 32 int8 quants.
    static func q8_0Block(scaleBits: UInt16, _ quants: [Int8]) -> [UInt8] {
        precondition(quants.count == 32)
        return [UInt8(scaleBits & 0xFF), UInt8(scaleBits >> 8)] + quants.map { UInt8(bitPattern: $0) }
    }

    /// Runs `op` on copies of the inputs and returns the output's bytes.
    static func runBytes(_ op: Op, _ inputs: [Input]) throws -> (bytes: [UInt8], desc: TensorDesc) {
        let outDesc = try op.outputDesc(for: inputs.map(\.desc))
        let buffers = inputs.map { input -> UnsafeMutableRawPointer in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(input.bytes.count, 1), alignment: 64)
            input.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        var out = [UInt8](repeating: 0xAB, count: outDesc.byteCount)  // garbage: every byte must be written
        out.withUnsafeMutableBytes { o in
            ReferenceKernels.run(op, inputs: zip(buffers, inputs).map { (UnsafeRawPointer($0.0), $0.1.desc) },
                                 output: o.baseAddress!, outputDesc: outDesc)
        }
        return (out, outDesc)
    }

    static func run(_ op: Op, _ inputs: Input...) throws -> [Float] {
        let (bytes, desc) = try runBytes(op, inputs)
        #expect(desc.type == .f32)
        return bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    static func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double = 1e-6,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(actual.count == expected.count, sourceLocation: sourceLocation)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            #expect(abs(Double(a) - e) <= tolerance * max(1, abs(e)), "element \(i): \(a) vs \(e)",
                    sourceLocation: sourceLocation)
        }
    }

    // MARK: - mulMat

    @Test func mulMatQ8_0() throws {
        // a: K=32, M=2. Row 0: d=0.5, q_k = k-16. Row 1: d=0.25, q_k = k%5 - 2.
        let row0 = Self.q8_0Block(scaleBits: 0x3800, (0..<32).map { Int8($0 - 16) })
        let row1 = Self.q8_0Block(scaleBits: 0x3400, (0..<32).map { Int8($0 % 5 - 2) })
        let a = Input(bytes: row0 + row1, desc: TensorDesc(.q8_0, Shape(32, 2)))
        // b: N=3 columns: all ones; k; 2 for k<16 else 0.
        let b = Self.f32((0..<32).map { _ in 1 } + (0..<32).map { Float($0) } + (0..<32).map { $0 < 16 ? 2 : 0 },
                         Shape(32, 3))
        let out = try Self.run(.mulMat, a, b)
        // Output [M=2, N=3]: out[m + 2n].
        Self.expectClose(out, [-8, -0.75, 1240, -7.75, -136, -1])
    }

    @Test func mulMatF16() throws {
        // a rows: [1, 2, -1.5], [0.5, -1, 3]; b columns: [1, 1, 1], [2, 0, 1].
        let a = Self.f16([0x3C00, 0x4000, 0xBE00, 0x3800, 0xBC00, 0x4200], Shape(3, 2))
        let b = Self.f32([1, 1, 1, 2, 0, 1], Shape(3, 2))
        Self.expectClose(try Self.run(.mulMat, a, b), [1.5, 2.5, 0.5, 4])
    }

    @Test func mulMatBroadcastsWeightsOverHeads() throws {
        // a: 2 heads of a 1×2 matrix, head 0 picks b[0], head 1 picks b[1]. b: 4 heads.
        let a = Self.f32([1, 0, 0, 1], Shape(2, 1, 2))
        let b = Self.f32([10, 20, 11, 21, 12, 22, 13, 23], Shape(2, 1, 4))
        // heads 0, 1 use a head 0; heads 2, 3 use a head 1 (not i2 % 2).
        Self.expectClose(try Self.run(.mulMat, a, b), [10, 11, 22, 23])
    }

    // MARK: - getRows

    @Test func getRowsDequantizesAndGuardsIds() throws {
        // table f16 [K=2, R=3]: rows [1, 2], [0.5, -1], [3, -1.5].
        let table = Self.f16([0x3C00, 0x4000, 0x3800, 0xBC00, 0x4200, 0xBE00], Shape(2, 3))
        let out = try Self.run(.getRows, table, Self.i32([2, 0, 3, -1, 1], Shape(5)))
        Self.expectClose(Array(out[0..<4]), [3, -1.5, 1, 2])
        #expect(out[4..<8].allSatisfy { $0.isNaN })
        Self.expectClose(Array(out[8..<10]), [0.5, -1])
    }

    // MARK: - Elementwise

    @Test func addBroadcastsOverDims0And2() throws {
        let a = Self.f32((0..<12).map(Float.init), Shape(3, 2, 2))
        let b = Self.f32([100, 200, 300, 1000, 2000, 3000], Shape(3, 1, 2))
        let expected = (0..<12).map { i -> Double in
            let (i0, i2) = (i % 3, i / 6)
            return Double(i) + [100, 200, 300, 1000, 2000, 3000][i0 + 3 * i2]
        }
        Self.expectClose(try Self.run(.add, a, b), expected)
    }

    @Test func mulBroadcastsRows() throws {
        let a = Self.f32((0..<12).map(Float.init), Shape(3, 2, 2))
        let b = Self.f32([2, -1], Shape(1, 2))
        let expected = (0..<12).map { (i: Int) -> Double in
            let factor: Double = (i / 3) % 2 == 0 ? 2 : -1
            return Double(i) * factor
        }
        Self.expectClose(try Self.run(.mul, a, b), expected)
    }

    @Test func unaryActivations() throws {
        let x = Self.f32([1, -2, 0, 5, -100], Shape(5))
        Self.expectClose(try Self.run(.silu, x),
                         [0.7310585786300049, -0.2384058440442351, 0, 4.966535745378576, -3.720075976020836e-42])
        let g = Self.f32([1, -1, 2, -3, 0.5], Shape(5))
        Self.expectClose(try Self.run(.gelu, g), [0.8411919906082768, -0.15880800939172324, 1.954597694087775,
                                                  -0.0036373920817729943, 0.34571400982514394])
        Self.expectClose(try Self.run(.scale(-0.5), x), [-0.5, 1, 0, -2.5, 50])
        let up = Self.f32([3, 0.5, 7, 2, 1], Shape(5))
        Self.expectClose(try Self.run(.swiglu, x, up),
                         [3 * 0.7310585786300049, 0.5 * -0.2384058440442351, 0, 2 * 4.966535745378576, 0])
    }

    @Test func rmsNormUsesMeanSquareAndEps() throws {
        // Row 1 is tiny: eps dominates half the denominator.
        let x = Self.f32([1, 2, 3, 4, 0.001, 0, 0, 0], Shape(4, 2))
        let d0 = (7.5 + 1e-6).squareRoot(), d1 = (0.25e-6 + 1e-6).squareRoot()
        let expected = [1 / d0, 2 / d0, 3 / d0, 4 / d0, 0.001 / d1, 0, 0, 0]
        Self.expectClose(try Self.run(.rmsNorm(eps: 1e-6), x), expected, tolerance: 2e-6)
        let w: [Double] = [1, 2, 0.5, -1]
        Self.expectClose(try Self.run(.rmsNormMul(eps: 1e-6), x, Self.f32(w.map(Float.init), Shape(4))),
                         expected.enumerated().map { $0.element * w[$0.offset % 4] }, tolerance: 2e-6)
    }

    // MARK: - softmax

    @Test func softmaxWithScaleAndMask() throws {
        let inf = Float.infinity
        // x [3, 3, 2]: rows 0…2, slice 1 repeats slice 0 (mask broadcasts over dim 2).
        let rows: [Float] = [1, 5, 2, 0, 2, 4, 1, 1, 1]
        let x = Self.f32(rows + rows, Shape(3, 3, 2))
        // mask [3, 4]: row i1 applies to x row i1; row 2 masks everything; row 3 is unused.
        let mask = Self.f32([0, -inf, 0, 0, 0, -1, -inf, -inf, -inf, 9, 9, 9], Shape(3, 4))
        let out = try Self.run(.softmax(scale: 0.5), x, mask)
        // row 0: [0.5, -inf, 1]; row 1: [0, 1, 1]; row 2: fully masked → zeros.
        let e = M_E
        let r0 = [1 / (1 + sqrt(e)), 0, sqrt(e) / (1 + sqrt(e))]
        let r1 = [1 / (1 + 2 * e), e / (1 + 2 * e), e / (1 + 2 * e)]
        let expected = r0 + r1 + [0, 0, 0]
        Self.expectClose(out, expected + expected)
    }

    // MARK: - rope

    /// Expected rope of one head in Double: pairs (first, second) at angle θ_i = p·base^(−2i/nDims).
    static func ropeExpected(_ x: [Double], position: Double, nDims: Int, neox: Bool) -> [Double] {
        var y = x
        for i in 0..<nDims / 2 {
            let theta = position * pow(10000, -Double(2 * i) / Double(nDims))
            let (a, b) = neox ? (i, i + nDims / 2) : (2 * i, 2 * i + 1)
            y[a] = x[a] * cos(theta) - x[b] * sin(theta)
            y[b] = x[a] * sin(theta) + x[b] * cos(theta)
        }
        return y
    }

    @Test func ropeNormalAndNeox() throws {
        // Two heads of 6 dims, nDims = 4 (dims 4, 5 pass through), tokens at positions 1 and 123457
        // (θ = 1234.57 there: Float angle math would be off by ~6e-5 rad).
        let head: [Double] = [1, 2, 3, 4, 5, 6], head2: [Double] = [-1, 0.5, 2, -3, 7, 8]
        let x = Self.f32((head + head2 + head + head2).map(Float.init), Shape(6, 2, 2))
        let positions = Self.i32([1, 123_457], Shape(2))
        for neox in [false, true] {
            let out = try Self.run(.rope(RopeParams(mode: neox ? .neox : .normal, nDims: 4)), x, positions)
            var expected: [Double] = []
            for p in [1.0, 123_457] {
                for h in [head, head2] { expected += Self.ropeExpected(h, position: p, nDims: 4, neox: neox) }
            }
            Self.expectClose(out, expected, tolerance: 1e-6)
        }
        // Hand values for the normal mode at position 1: θ = 1 and 0.01.
        let normal = try Self.run(.rope(RopeParams(mode: .normal, nDims: 4)), x, positions)
        Self.expectClose(Array(normal[0..<6]), [cos(1) - 2 * sin(1), sin(1) + 2 * cos(1),
                                                3 * cos(0.01) - 4 * sin(0.01), 3 * sin(0.01) + 4 * cos(0.01), 5, 6])
        let neox = try Self.run(.rope(RopeParams(mode: .neox, nDims: 4)), x, positions)
        Self.expectClose(Array(neox[0..<6]), [cos(1) - 3 * sin(1), 2 * cos(0.01) - 4 * sin(0.01),
                                              sin(1) + 3 * cos(1), 2 * sin(0.01) + 4 * cos(0.01), 5, 6])
        // freqScale scales the position linearly.
        let scaled = try Self.run(.rope(RopeParams(mode: .normal, nDims: 4, freqScale: 0.5)), x, positions)
        Self.expectClose(Array(scaled[12..<18]), Self.ropeExpected(head, position: 61_728.5, nDims: 4, neox: false))
    }

    // MARK: - convert, permute

    @Test func convertRoundsToF16() throws {
        let (bytes, desc) = try Self.runBytes(.convert(.f16), [Self.f32([1, 0.1, 65504, -2], Shape(4))])
        #expect(desc.type == .f16)
        let bits = bytes.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) }
        #expect(bits == [0x3C00, 0x2E66, 0x7BFF, 0xC000])
        let back = try Self.run(.convert(.f32), Self.f16(bits, Shape(4)))
        #expect(back == [1, 0.0999755859375, 65504, -2])
    }

    @Test func permuteMovesAxes() throws {
        // Value = i0 + 10·i1 + 100·i2 for an input [2, 3, 4].
        var values: [Float] = []
        for i2 in 0..<4 { for i1 in 0..<3 { for i0 in 0..<2 { values.append(Float(i0 + 10 * i1 + 100 * i2)) } } }
        let x = Self.f32(values, Shape(2, 3, 4))
        func check(_ axes: (Int, Int, Int, Int), outShape: [Int], _ source: (Int, Int, Int) -> (Int, Int, Int)) throws {
            let (bytes, desc) = try Self.runBytes(.permute(axes.0, axes.1, axes.2, axes.3), [x])
            #expect(desc.shape == Shape(outShape))
            let out = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            var expected: [Float] = []
            for o2 in 0..<outShape[2] { for o1 in 0..<outShape[1] { for o0 in 0..<outShape[0] {
                let (i0, i1, i2) = source(o0, o1, o2)
                expected.append(Float(i0 + 10 * i1 + 100 * i2))
            } } }
            #expect(out == expected, "permute \(axes)")
        }
        try check((1, 0, 2, 3), outShape: [3, 2, 4]) { ($1, $0, $2) }
        try check((0, 2, 1, 3), outShape: [2, 4, 3]) { ($0, $2, $1) }
        // Not an involution: input axis 0 → output axis 1, 1 → 2, 2 → 0.
        try check((1, 2, 0, 3), outShape: [4, 2, 3]) { ($1, $2, $0) }
        // f16 elements move as 2-byte values.
        let (h, _) = try Self.runBytes(.permute(1, 0, 2, 3), [Self.f16([1, 2, 3, 4, 5, 6], Shape(3, 2))])
        #expect(h.withUnsafeBytes { Array($0.bindMemory(to: UInt16.self)) } == [1, 4, 2, 5, 3, 6])
    }

    // MARK: - attention

    @Test func attentionGQAReadsGroupedKVHead() throws {
        // KV length 1: softmax is 1, so out[:, t, h] = v[:, 0, h / 2]. v in f16: head 0 [1, 2], head 1 [3, -1].
        let q = Self.f32((0..<16).map { Float($0) * 0.1 }, Shape(2, 2, 4))
        let k = Self.f32([1, -1, 0.5, 2], Shape(2, 1, 2))
        let v = Self.f16([0x3C00, 0x4000, 0x4200, 0xBC00], Shape(2, 1, 2))
        let out = try Self.run(.attention(scale: 1), q, k, v)
        Self.expectClose(out, [1, 2, 1, 2, 1, 2, 1, 2, 3, -1, 3, -1, 3, -1, 3, -1])
    }

    @Test func attentionMatchesUnfusedComposition() throws {
        let (d, t, h, kv, hkv) = (4, 3, 4, 5, 2)
        func values(_ n: Int, _ seed: Int) -> [Float] { (0..<n).map { Float(sin(Double($0 * 7 + seed)) * 1.5) } }
        let q = Self.f32(values(d * t * h, 1), Shape(d, t, h))
        let k = Self.f32(values(d * kv * hkv, 2), Shape(d, kv, hkv))
        let v = Self.f32(values(d * kv * hkv, 3), Shape(d, kv, hkv))
        // Causal-ish mask [KV, T+1]; row 2 is fully masked.
        let masked = -Float.infinity
        let mask = Self.f32([0, 0, 0, masked, masked, 0, 0, 0, 0, masked, masked, masked, masked, masked, masked, 0, 0, 0, 0, 0],
                            Shape(kv, t + 1))
        let scale: Float = 0.5
        let fused = try Self.run(.attention(scale: scale), q, k, v, mask)
        // Unfused: kq = k·q [KV, T, H]; softmax(kq·scale + mask); vᵀ [KV, D, Hkv]; out = vᵀ·p [D, T, H].
        let kq = try Self.run(.mulMat, k, q)
        let p = try Self.run(.softmax(scale: scale), Self.f32(kq, Shape(kv, t, h)), mask)
        let vT = try Self.run(.permute(1, 0, 2, 3), v)
        let unfused = try Self.run(.mulMat, Self.f32(vT, Shape(kv, d, hkv)), Self.f32(p, Shape(kv, t, h)))
        Self.expectClose(fused, unfused.map(Double.init), tolerance: 1e-5)
        // The fully masked query row (t = 2) is zero in every head.
        for head in 0..<h { #expect(fused[(head * t + 2) * d..<(head * t + 3) * d].allSatisfy { $0 == 0 }) }
        #expect(fused.contains { $0 != 0 })
    }
}
