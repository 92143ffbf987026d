import EdgeHAL
import Foundation

#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Android)
import Android
#elseif canImport(ucrt)
import ucrt
#endif

/// The scalar reference implementation of every `Op`: the oracle other backends are compared with.
///
/// Written for obviousness and accuracy rather than speed: weights are dequantized to `Float`,
/// every reduction (dot products, sums of squares, softmax sums) and every transcendental
/// (exp, tanh, rope angles) is computed in `Double`, and each output value is rounded to
/// `Float` once. Semantics are ggml's (see `Op` for the input conventions).
public enum ReferenceKernels {
    /// Computes `op` over contiguous host tensors. Shapes were already validated by the caller.
    ///
    /// With `roundingActivations`, quantized mul_mat first rounds each activation row to 8-bit blocks
    /// (``roundTo8Bit(_:block:)``), emulating the fast engines' integer path exactly up to float
    /// rounding; the conformance runner derives its quantized bounds from that emulation. Blocks are
    /// 32 values, and `kQuantBlock` for K-quant weights: 32 as the CPU backend rounds, 256 as ggml's Q8_K.
    public static func run(_ op: Op, inputs: [(UnsafeRawPointer, TensorDesc)], output: UnsafeMutableRawPointer,
                           outputDesc: TensorDesc, roundingActivations: Bool = false, kQuantBlock: Int = 32) {
        let x = inputs.map { InputTensor(base: $0.0, desc: $0.1) }
        let y = OutputTensor(base: output, desc: outputDesc)
        // The product of weights `a` (input 0's unless given) with `b` into `out` (the output's unless given), its
        // activations rounded to 8-bit blocks as asked.
        func product(_ b: InputTensor, _ a: InputTensor? = nil, _ out: OutputTensor? = nil) {
            let a = a ?? x[0]
            let block = a.desc.type.blockSize == 256 ? kQuantBlock : 32
            mulMat(a, b, out ?? y, roundActivationsTo: roundingActivations && a.desc.type.isQuantized ? block : nil)
        }
        // rms_norm(x)·w rounded to f32 in a buffer of its own, passed to `body`: the unfused norm's output.
        func normed<R>(_ x: InputTensor, _ w: InputTensor, eps: Float, _ body: (InputTensor) -> R) -> R {
            var normed = [Float](repeating: 0, count: x.desc.shape.count)
            return normed.withUnsafeMutableBytes { n in
                rmsNorm(x, weight: w, eps: eps, OutputTensor(base: n.baseAddress!, desc: x.desc))
                return body(InputTensor(base: UnsafeRawPointer(n.baseAddress!), desc: x.desc))
            }
        }
        switch op {
        case .mulMat, .mulMatAdd:
            product(x[1])
            // The product, already rounded to f32, plus r: the same Float addition as the unfused add.
            if case .mulMatAdd = op {
                for i in 0..<y.desc.shape.count { y.setF32(i, y.base.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) + x[2].f32(i)) }
            }
        case .rmsNormMulMat(let eps):
            // The normed activations, then the product: the unfused pair.
            normed(x[1], x[2], eps: eps) { product($0) }
        case .mulMatGLU(let p):
            // Both products rounded to f32 in buffers of their own, then the glu: the unfused ops.
            let count = y.desc.shape.count
            var gate = [Float](repeating: 0, count: count), up = gate
            gate.withUnsafeMutableBytes { g in
                up.withUnsafeMutableBytes { u in
                    let (gOut, uOut) = (OutputTensor(base: g.baseAddress!, desc: y.desc), OutputTensor(base: u.baseAddress!, desc: y.desc))
                    func products(_ b: InputTensor) { product(b, x[0], gOut); product(b, x[x.count - 1], uOut) }
                    if let eps = p.normEps { normed(x[1], x[2], eps: eps, products) } else { products(x[1]) }
                }
            }
            for i in 0..<count {
                let g = Double(gate[i])
                y.setF32(i, Float((p.activation == .silu ? silu(g) : gelu(g)) * Double(up[i])))
            }
        case .mulMatRows(let p):
            // The product (normed activations first) rounded to f32 in a buffer of its own, then the rest (``heads``).
            let desc = TensorDesc(.f32, Shape(p.headDim, x[0].desc.shape[1] / p.headDim, x[1].desc.shape[1]))
            var values = [Float](repeating: 0, count: desc.shape.count)
            values.withUnsafeMutableBytes { v in
                let out = OutputTensor(base: v.baseAddress!, desc: desc)
                if let eps = p.normEps, let w = p.normInput { normed(x[1], x[w], eps: eps) { product($0, x[0], out) } } else { product(x[1], x[0], out) }
            }
            values.withUnsafeBytes { heads(p, InputTensor(base: $0.baseAddress!, desc: desc), x, y) }
        case .getRows: getRows(x[0], x[1], y)
        case .add: binary(x[0], x[1], y, +)
        case .mul: binary(x[0], x[1], y, *)
        case .scale(let s): unary(x[0], y) { $0 * s }
        case .silu: unary(x[0], y) { Float(silu(Double($0))) }
        case .gelu: unary(x[0], y) { Float(gelu(Double($0))) }
        case .rmsNorm(let eps): rmsNorm(x[0], weight: nil, eps: eps, y)
        case .rmsNormMul(let eps): rmsNorm(x[0], weight: x[1], eps: eps, y)
        case .softmax(let scale): softmax(x[0], mask: x.count > 1 ? x[1] : nil, scale: scale, y)
        case .rope(let params): rope(x[0], positions: x[1], params, y)
        case .convert: convert(x[0], y)
        case .permute(let a0, let a1, let a2, let a3): permute(x[0], axes: [a0, a1, a2, a3], y)
        case .swiglu:
            let (gate, up) = (x[0], x[1])
            for i in 0..<y.desc.shape.count {
                y.setF32(i, Float(silu(Double(gate.f32(i))) * Double(up.f32(i))))
            }
        case .geglu:
            let (gate, up) = (x[0], x[1])
            for i in 0..<y.desc.shape.count {
                y.setF32(i, Float(gelu(Double(gate.f32(i))) * Double(up.f32(i))))
            }
        case .setRows:
            // The output is the destination itself (in place): only the addressed rows change.
            setRows(x[1], ids: x[2], y)
        case .ropeSetRows(let params):
            // The roped rows in a buffer of their own, then into dst (in place): the unfused pair.
            var roped = [Float](repeating: 0, count: x[1].desc.shape.count)
            roped.withUnsafeMutableBytes { r in
                rope(x[1], positions: x[2], params, OutputTensor(base: r.baseAddress!, desc: x[1].desc))
                let rows = TensorDesc(.f32, Shape(x[1].desc.shape[0], x[1].desc.shape.rows))
                setRows(InputTensor(base: UnsafeRawPointer(r.baseAddress!), desc: rows), ids: x[3], y)
            }
        case .attention(let scale):
            attention(q: x[0], k: x[1], v: x[2], mask: x.count > 3 ? x[3] : nil, scale: scale, y)
        }
    }

    /// mul_mat_rows after its product `y` [headDim, heads, N]: the roped heads rounded to f32, then either the output
    /// or set_rows into dst (the output, in place) — the unfused ops.
    private static func heads(_ p: MatRows, _ y: InputTensor, _ x: [InputTensor], _ out: OutputTensor) {
        var roped = [Float](repeating: 0, count: y.desc.shape.count)
        roped.withUnsafeMutableBytes { r in
            var rows = y
            if let params = p.rope, let at = p.positionsInput {
                rope(y, positions: x[at], params, OutputTensor(base: r.baseAddress!, desc: y.desc))
                rows = InputTensor(base: UnsafeRawPointer(r.baseAddress!), desc: y.desc)
            }
            if let ids = p.idsInput {
                setRows(InputTensor(base: rows.base, desc: TensorDesc(.f32, Shape(p.headDim, y.desc.shape.rows))), ids: x[ids], out)
            } else {
                out.base.copyMemory(from: rows.base, byteCount: y.desc.byteCount)
            }
        }
    }

    // MARK: - Scalar functions

    /// silu(x) = x / (1 + e^-x).
    static func silu(_ x: Double) -> Double { x / (1 + exp(-x)) }

    /// gelu, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    static func gelu(_ x: Double) -> Double {
        let sqrt2OverPi = 0.797_884_560_802_865_4  // √(2/π)
        return 0.5 * x * (1 + tanh(sqrt2OverPi * (x + 0.044715 * x * x * x)))
    }

    // MARK: - Ops

    /// out[m, n, i2, i3] = Σ_k a[k, m, i2 / (B2/A2), i3 / (B3/A3)] · b[k, n, i2, i3].
    /// Values rounded as an 8-bit activation quantizer does (ggml's q8_0 idea): per block of
    /// `block` values, d = amax/127 and x ≈ d·round(x/d), ties away from zero. The CPU backend's codes
    /// are bit-identical to these.
    public static func roundTo8Bit(_ x: inout [Float], block: Int) {
        for start in stride(from: 0, to: x.count, by: block) {
            let end = min(x.count, start + block)
            let amax = x[start..<end].reduce(Float(0)) { max($0, abs($1)) }
            let d = amax / 127
            let id: Float = d == 0 ? 0 : 1 / d
            for i in start..<end { x[i] = (x[i] * id).rounded(.toNearestOrAwayFromZero) * d }
        }
    }

    static func mulMat(_ a: InputTensor, _ b: InputTensor, _ out: OutputTensor, roundActivationsTo block: Int? = nil) {
        let (k, m) = (a.ne(0), a.ne(1))
        let (n, b2, b3) = (b.ne(1), b.ne(2), b.ne(3))
        let r2 = b2 / a.ne(2), r3 = b3 / a.ne(3)  // ggml: i02 = i12 / (ne12 / ne02)
        var bRows = [Float](repeating: 0, count: k * n)
        for i3 in 0..<b3 {
            for i2 in 0..<b2 {
                for j in 0..<n { b.loadRow(j, i2, i3, into: &bRows, at: j * k) }
                if let block { roundTo8Bit(&bRows, block: block) }
                let columns = bRows
                parallel(m) { rows in
                    var aRow = [Float](repeating: 0, count: k)
                    for i in rows {
                        a.loadRow(i, i2 / r2, i3 / r3, into: &aRow, at: 0)
                        for j in 0..<n {
                            var sum = 0.0
                            for kk in 0..<k { sum += Double(aRow[kk]) * Double(columns[j * k + kk]) }
                            out.setF32(((i3 * b2 + i2) * n + j) * m + i, Float(sum))
                        }
                    }
                }
            }
        }
    }

    /// Runs `body` over 0..<count split into contiguous ranges, one per core. Every output element
    /// is still computed by the same obvious loop, so results do not depend on the split; it only
    /// keeps the oracle usable on real models (Gemma 3's 262 144-row output, perplexity runs).
    static func parallel(_ count: Int, _ body: @escaping (Range<Int>) -> Void) {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / 16))
        nonisolated(unsafe) let body = body
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            body((count * p / parts)..<(count * (p + 1) / parts))
        }
    }

    /// out[:, n] = table[:, ids[n]] dequantized; an id outside [0, R) yields a row of NaN.
    static func getRows(_ table: InputTensor, _ ids: InputTensor, _ out: OutputTensor) {
        let (k, r) = (table.ne(0), table.ne(1))
        var row = [Float](repeating: 0, count: k)
        for j in 0..<ids.desc.shape.count {
            let id = Int(ids.i32(j))
            if id >= 0 && id < r {
                table.loadRow(id, 0, 0, into: &row, at: 0)
            } else {
                for i in 0..<k { row[i] = .nan }
            }
            for i in 0..<k { out.setF32(j * k + i, row[i]) }
        }
    }

    /// out = a ∘ b with b repeated to a's shape: b's index is (i0 % b.ne0, i1 % b.ne1, …).
    /// Computed in Float: a single IEEE operation is already correctly rounded.
    static func binary(_ a: InputTensor, _ b: InputTensor, _ out: OutputTensor, _ f: (Float, Float) -> Float) {
        forEachIndex(a.desc.shape) { flat, i0, i1, i2, i3 in
            out.setF32(flat, f(a.f32(flat), b.f32(b.flatIndex(i0, i1, i2, i3, wrapping: true))))
        }
    }

    static func unary(_ x: InputTensor, _ out: OutputTensor, _ f: (Float) -> Float) {
        for i in 0..<x.desc.shape.count { out.setF32(i, f(x.f32(i))) }
    }

    /// Per row: y = x / sqrt(mean(x²) + eps), times weight[i0] when given.
    static func rmsNorm(_ x: InputTensor, weight: InputTensor?, eps: Float, _ out: OutputTensor) {
        let k = x.ne(0)
        for row in 0..<x.desc.shape.rows {
            var sumSquares = 0.0
            for i in 0..<k {
                let v = Double(x.f32(row * k + i))
                sumSquares += v * v
            }
            let denominator = (sumSquares / Double(k) + Double(eps)).squareRoot()
            for i in 0..<k {
                var y = Double(x.f32(row * k + i)) / denominator
                if let weight { y *= Double(weight.f32(i)) }
                out.setF32(row * k + i, Float(y))
            }
        }
    }

    /// y = softmax(x·scale + mask) along ne0; row i1 uses mask row i1 (mask broadcast over dims 2, 3).
    /// A row whose maximum is -inf (fully masked) becomes zeros.
    static func softmax(_ x: InputTensor, mask: InputTensor?, scale: Float, _ out: OutputTensor) {
        let k = x.ne(0)
        var s = [Double](repeating: 0, count: k)
        for i3 in 0..<x.ne(3) {
            for i2 in 0..<x.ne(2) {
                for i1 in 0..<x.ne(1) {
                    let base = x.flatIndex(0, i1, i2, i3)
                    for i in 0..<k {
                        s[i] = Double(x.f32(base + i)) * Double(scale)
                        if let mask { s[i] += Double(mask.f32(mask.flatIndex(i, i1, i2, i3, wrapping: true))) }
                    }
                    let p = normalizedExponentials(s)
                    for i in 0..<k { out.setF32(base + i, Float(p[i])) }
                }
            }
        }
    }

    /// Normalised exponentials of `s`, shifted by the maximum; all zeros when the maximum is -inf.
    static func normalizedExponentials(_ s: [Double]) -> [Double] {
        let maximum = s.max() ?? -.infinity
        if maximum == -.infinity { return [Double](repeating: 0, count: s.count) }
        let e = s.map { exp($0 - maximum) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// Rotary embedding of x [headDim, heads, tokens] at positions[token]; angles in Double.
    /// Normal mode rotates (x[i0], x[i0+1]); NeoX rotates (x[i], x[i + nDims/2]); θ = p·freqScale·base^(−i0/nDims)
    /// for the pair's even index i0 (= 2i in NeoX). Dims ≥ nDims pass through.
    static func rope(_ x: InputTensor, positions: InputTensor, _ params: RopeParams, _ out: OutputTensor) {
        let (headDim, nDims) = (x.ne(0), params.nDims)
        let base = Double(params.freqBase), freqScale = Double(params.freqScale)
        for i3 in 0..<x.ne(3) {
            for t in 0..<x.ne(2) {
                let p = Double(positions.i32(t))
                for h in 0..<x.ne(1) {
                    let row = x.flatIndex(0, h, t, i3)
                    for i in nDims..<headDim { out.setF32(row + i, x.f32(row + i)) }
                    for i0 in stride(from: 0, to: nDims, by: 2) {
                        let theta = p * freqScale * pow(base, -Double(i0) / Double(nDims))
                        let (c, s) = (cos(theta), sin(theta))
                        let (first, second) = params.mode == .normal ? (i0, i0 + 1) : (i0 / 2, i0 / 2 + nDims / 2)
                        let x0 = Double(x.f32(row + first)), x1 = Double(x.f32(row + second))
                        out.setF32(row + first, Float(x0 * c - x1 * s))
                        out.setF32(row + second, Float(x0 * s + x1 * c))
                    }
                }
            }
        }
    }

    /// f32/f16 → f32/f16, value by value (f32 → f16 rounds to nearest even).
    /// dst[:, ids[j]] = src[:, j]; ids outside the destination write nothing.
    static func setRows(_ src: InputTensor, ids: InputTensor, _ dst: OutputTensor) {
        let (k, rows) = (dst.desc.shape[0], dst.desc.shape[1])
        for j in 0..<ids.desc.shape[0] {
            let r = Int(ids.i32(j))
            guard r >= 0 && r < rows else { continue }
            for i in 0..<k {
                let v = src.f32(j * k + i)
                if dst.desc.type == .f16 {
                    dst.base.storeBytes(of: Float16(v), toByteOffset: (r * k + i) * 2, as: Float16.self)
                } else {
                    dst.setF32(r * k + i, v)
                }
            }
        }
    }

    static func convert(_ x: InputTensor, _ out: OutputTensor) {
        let count = x.desc.shape.count
        if x.desc.type == out.desc.type {
            out.base.copyMemory(from: x.base, byteCount: x.desc.byteCount)
            return
        }
        var values = [Float](repeating: 0, count: count)
        x.loadValues(into: &values)
        switch out.desc.type {
        case .f32:
            for i in 0..<count { out.setF32(i, values[i]) }
        default:
            values.withUnsafeBufferPointer { src in
                Quant.quantize(out.desc.type, from: src.baseAddress!, into: out.base, count: count)
            }
        }
    }

    /// ggml_cont(ggml_permute(x, axes)): input axis i becomes output axis axes[i]. Moves whole elements.
    static func permute(_ x: InputTensor, axes: [Int], _ out: OutputTensor) {
        let elementBytes = x.desc.type.blockBytes  // f32 or f16: one value per "block"
        let outShape = out.desc.shape
        forEachIndex(x.desc.shape) { flat, i0, i1, i2, i3 in
            var o = [0, 0, 0, 0]
            o[axes[0]] = i0
            o[axes[1]] = i1
            o[axes[2]] = i2
            o[axes[3]] = i3
            let outFlat = ((o[3] * outShape[2] + o[2]) * outShape[1] + o[1]) * outShape[0] + o[0]
            (out.base + outFlat * elementBytes).copyMemory(from: x.base + flat * elementBytes, byteCount: elementBytes)
        }
    }

    /// q [D, T, H], k, v [D, KV, Hkv], mask [KV, ≥T] → [D, T, H]; head h reads kv head h / (H / Hkv).
    /// s_j = scale·(q·k_j) + mask[j, t]; p = softmax(s); out = Σ_j p_j·v_j, all in Double.
    static func attention(q: InputTensor, k: InputTensor, v: InputTensor, mask: InputTensor?, scale: Float,
                          _ out: OutputTensor) {
        let (d, tokens, heads) = (q.ne(0), q.ne(1), q.ne(2))
        let (kvLength, kvHeads) = (k.ne(1), k.ne(2))
        let group = heads / kvHeads
        var keys = [Float](repeating: 0, count: d * kvLength)
        var values = [Float](repeating: 0, count: d * kvLength)
        for i3 in 0..<q.ne(3) {
            for g in 0..<kvHeads {
                for j in 0..<kvLength {
                    k.loadRow(j, g, i3 % k.ne(3), into: &keys, at: j * d)
                    v.loadRow(j, g, i3 % v.ne(3), into: &values, at: j * d)
                }
                let (keys, values) = (keys, values)
                // The (head, token) pairs of this kv head's group, each independent.
                parallel(group * tokens) { items in
                    var query = [Float](repeating: 0, count: d)
                    var s = [Double](repeating: 0, count: kvLength)
                    for item in items {
                        let (h, t) = (g * group + item / tokens, item % tokens)
                        q.loadRow(t, h, i3, into: &query, at: 0)
                        for j in 0..<kvLength {
                            // A key the mask hides (−∞) takes no part, as in ggml's flash attention:
                            // its weight is exactly 0, and its value is never read.
                            let bias = mask.map { Double($0.f32($0.flatIndex(j, t, h, i3, wrapping: true))) } ?? 0
                            if bias == -.infinity { s[j] = -.infinity; continue }
                            var dot = 0.0
                            for i in 0..<d { dot += Double(query[i]) * Double(keys[j * d + i]) }
                            s[j] = Double(scale) * dot + bias
                        }
                        let p = normalizedExponentials(s)
                        let row = out.flatIndex(0, t, h, i3)
                        for i in 0..<d {
                            var sum = 0.0
                            for j in 0..<kvLength where s[j] != -.infinity { sum += p[j] * Double(values[j * d + i]) }
                            out.setF32(row + i, Float(sum))
                        }
                    }
                }
            }
        }
    }

    // MARK: - Indexing

    /// Calls `body(flat, i0, i1, i2, i3)` for every element of `shape`, in memory order.
    static func forEachIndex(_ shape: Shape, _ body: (Int, Int, Int, Int, Int) -> Void) {
        var flat = 0
        for i3 in 0..<shape[3] {
            for i2 in 0..<shape[2] {
                for i1 in 0..<shape[1] {
                    for i0 in 0..<shape[0] {
                        body(flat, i0, i1, i2, i3)
                        flat += 1
                    }
                }
            }
        }
    }
}

extension ReferenceKernels {
    /// A contiguous input tensor in host memory.
    struct InputTensor {
        let base: UnsafeRawPointer
        let desc: TensorDesc

        func ne(_ axis: Int) -> Int { desc.shape[axis] }

        /// Element index of (i0, i1, i2, i3); with `wrapping`, each index is reduced modulo the extent (broadcast).
        func flatIndex(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int, wrapping: Bool = false) -> Int {
            let s = desc.shape
            if wrapping {
                return (((i3 % s[3]) * s[2] + i2 % s[2]) * s[1] + i1 % s[1]) * s[0] + i0 % s[0]
            }
            return ((i3 * s[2] + i2) * s[1] + i1) * s[0] + i0
        }

        /// The F32 value at element index `i`.
        func f32(_ i: Int) -> Float { base.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }

        /// The I32 value at element index `i`.
        func i32(_ i: Int) -> Int32 { base.loadUnaligned(fromByteOffset: i * 4, as: Int32.self) }

        /// Dequantizes row (i1, i2, i3) — `ne0` values of any type — into `buffer[offset...]`.
        func loadRow(_ i1: Int, _ i2: Int, _ i3: Int, into buffer: inout [Float], at offset: Int) {
            let rowIndex = (i3 * ne(2) + i2) * ne(1) + i1
            let row = base + rowIndex * desc.rowBytes
            let count = ne(0)
            precondition(offset + count <= buffer.count)
            if desc.type == .f32 {
                for i in 0..<count { buffer[offset + i] = row.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
            } else {
                buffer.withUnsafeMutableBufferPointer { dst in
                    Quant.dequantize(desc.type, from: row, into: dst.baseAddress! + offset, count: count)
                }
            }
        }

        /// Dequantizes the whole tensor into `buffer`.
        func loadValues(into buffer: inout [Float]) {
            var offset = 0
            for i3 in 0..<ne(3) {
                for i2 in 0..<ne(2) {
                    for i1 in 0..<ne(1) {
                        loadRow(i1, i2, i3, into: &buffer, at: offset)
                        offset += ne(0)
                    }
                }
            }
        }
    }

    /// The contiguous output tensor in host memory.
    struct OutputTensor {
        let base: UnsafeMutableRawPointer
        let desc: TensorDesc

        func flatIndex(_ i0: Int, _ i1: Int, _ i2: Int, _ i3: Int) -> Int {
            let s = desc.shape
            return ((i3 * s[2] + i2) * s[1] + i1) * s[0] + i0
        }

        func setF32(_ i: Int, _ value: Float) { base.storeBytes(of: value, toByteOffset: i * 4, as: Float.self) }
    }
}
