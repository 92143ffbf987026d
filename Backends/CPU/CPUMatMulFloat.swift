import EdgeHAL

// mul_mat with F32 or F16 weights: Float FMA, no activation quantization.
//
// F16 weights are widened 8 at a time as they are read (F16C's vcvtph2ps, from the Float16 → Float
// vector conversion): one conversion per weight vector, reused across the tile's columns. Converting
// the activations to f16 instead (ggml's way) would still need both operands widened for the FMA —
// AVX2 has no f16 arithmetic — so it was not pursued; measured, f16 weights run at the same share of
// memory bandwidth as f32 in mat-vec and faster than f32 in prefill (half the bytes).
// Tiles of 2 weight rows × up to 4 activation columns keep 8 SIMD8 accumulators in registers: each
// 8-value step loads 2 weight vectors and up to 4 activation vectors for 8 FMAs. Mat-vec uses two
// accumulators per row so the FMA latency chains stay short.

protocol FloatWeights {
    static var elementBytes: Int { get }
    static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float>
    static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float
}

enum F32Weights: FloatWeights {
    static var elementBytes: Int { 4 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        p.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: i &* 4, as: Float.self)
    }
}

enum F16Weights: FloatWeights {
    static var elementBytes: Int { 2 }
    @inline(__always) static func load8(_ p: UnsafeRawPointer, _ i: Int) -> SIMD8<Float> {
        SIMD8<Float>(p.loadUnaligned(fromByteOffset: i &* 2, as: SIMD8<Float16>.self))
    }
    @inline(__always) static func load1(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        Float(p.loadUnaligned(fromByteOffset: i &* 2, as: Float16.self))
    }
}

enum FloatMatMul {
    static func run(_ job: RowJob, f16: Bool, x: UnsafePointer<Float>) {
        if f16 { rows(F16Weights.self, job, x) } else { rows(F32Weights.self, job, x) }
    }

    @inline(never)
    static func rows<W: FloatWeights>(_ w: W.Type, _ job: RowJob, _ x: UnsafePointer<Float>) {
        let k = job.k
        let xr = UnsafeRawPointer(x)
        var p0 = 0
        while p0 < job.columns {
            let p1 = min(job.columns, p0 + job.panel)
            var r = job.rows.lowerBound
            while r < job.rows.upperBound {
                let two = r + 1 < job.rows.upperBound
                let w0 = job.weights + r * job.rowBytes
                let w1 = two ? w0 + job.rowBytes : w0
                var c = p0
                while c < p1 {
                    let n = min(4, p1 - c)
                    let o = job.out + c * job.outStride + r
                    let xc = xr + c * k * 4
                    switch (n, two) {
                    case (4, true): tile(w, Tile2.self, Tile4.self, w0, w1, xc, k, o, job.outStride)
                    case (4, false): tile(w, Tile1.self, Tile4.self, w0, w1, xc, k, o, job.outStride)
                    case (3, true): tile(w, Tile2.self, Tile3.self, w0, w1, xc, k, o, job.outStride)
                    case (3, false): tile(w, Tile1.self, Tile3.self, w0, w1, xc, k, o, job.outStride)
                    case (2, true): tile(w, Tile2.self, Tile2.self, w0, w1, xc, k, o, job.outStride)
                    case (2, false): tile(w, Tile1.self, Tile2.self, w0, w1, xc, k, o, job.outStride)
                    case (_, true): tile(w, Tile2.self, Tile1.self, w0, w1, xc, k, o, job.outStride)
                    default: tile(w, Tile1.self, Tile1.self, w0, w1, xc, k, o, job.outStride)
                    }
                    c += n
                }
                r += two ? 2 : 1
            }
            p0 = p1
        }
    }

    /// out[c·stride + r] = Σ_i w_r[i]·x_c[i] for R.n rows (w0, w1) and C.n columns at x, x + k, ….
    static func tile<W: FloatWeights, R: TileWidth, C: TileWidth>(_: W.Type, _: R.Type, _: C.Type,
                                                                 _ w0: UnsafeRawPointer, _ w1: UnsafeRawPointer,
                                                                 _ x: UnsafeRawPointer, _ k: Int,
                                                                 _ out: UnsafeMutablePointer<Float>, _ stride: Int) {
        var a00 = SIMD8<Float>(), a01 = SIMD8<Float>(), a02 = SIMD8<Float>(), a03 = SIMD8<Float>()
        var a10 = SIMD8<Float>(), a11 = SIMD8<Float>(), a12 = SIMD8<Float>(), a13 = SIMD8<Float>()
        let kb = k &* 4
        var i = 0
        if C.n == 1 {
            // Mat-vec: two accumulators per row (a0x, a1x) so the FMA latency chains stay short.
            while i &+ 16 <= k {
                let x0 = x.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
                let x1 = x.loadUnaligned(fromByteOffset: i &* 4 &+ 32, as: SIMD8<Float>.self)
                a00.addProduct(W.load8(w0, i), x0)
                a01.addProduct(W.load8(w0, i &+ 8), x1)
                if R.n > 1 {
                    a10.addProduct(W.load8(w1, i), x0)
                    a11.addProduct(W.load8(w1, i &+ 8), x1)
                }
                i &+= 16
            }
            a00 += a01
            a10 += a11
            a01 = SIMD8<Float>()
            a11 = SIMD8<Float>()
        }
        while i &+ 8 <= k {
            let v0 = W.load8(w0, i)
            let v1 = R.n > 1 ? W.load8(w1, i) : v0
            let o = i &* 4
            let x0 = x.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
            a00.addProduct(v0, x0)
            if R.n > 1 { a10.addProduct(v1, x0) }
            if C.n > 1 {
                let x1 = x.loadUnaligned(fromByteOffset: o &+ kb, as: SIMD8<Float>.self)
                a01.addProduct(v0, x1)
                if R.n > 1 { a11.addProduct(v1, x1) }
            }
            if C.n > 2 {
                let x2 = x.loadUnaligned(fromByteOffset: o &+ 2 &* kb, as: SIMD8<Float>.self)
                a02.addProduct(v0, x2)
                if R.n > 1 { a12.addProduct(v1, x2) }
            }
            if C.n > 3 {
                let x3 = x.loadUnaligned(fromByteOffset: o &+ 3 &* kb, as: SIMD8<Float>.self)
                a03.addProduct(v0, x3)
                if R.n > 1 { a13.addProduct(v1, x3) }
            }
            i &+= 8
        }
        var s00 = a00.sum(), s01 = a01.sum(), s02 = a02.sum(), s03 = a03.sum()
        var s10 = a10.sum(), s11 = a11.sum(), s12 = a12.sum(), s13 = a13.sum()
        while i < k {
            let v0 = W.load1(w0, i), v1 = W.load1(w1, i)
            let o = i &* 4
            let x0 = x.loadUnaligned(fromByteOffset: o, as: Float.self)
            s00 += v0 * x0; s10 += v1 * x0
            if C.n > 1 { let x1 = x.loadUnaligned(fromByteOffset: o &+ kb, as: Float.self); s01 += v0 * x1; s11 += v1 * x1 }
            if C.n > 2 { let x2 = x.loadUnaligned(fromByteOffset: o &+ 2 &* kb, as: Float.self); s02 += v0 * x2; s12 += v1 * x2 }
            if C.n > 3 { let x3 = x.loadUnaligned(fromByteOffset: o &+ 3 &* kb, as: Float.self); s03 += v0 * x3; s13 += v1 * x3 }
            i &+= 1
        }
        out[0] = s00
        if C.n > 1 { out[stride] = s01 }
        if C.n > 2 { out[2 &* stride] = s02 }
        if C.n > 3 { out[3 &* stride] = s03 }
        if R.n > 1 {
            out[1] = s10
            if C.n > 1 { out[stride &+ 1] = s11 }
            if C.n > 2 { out[2 &* stride &+ 1] = s12 }
            if C.n > 3 { out[3 &* stride &+ 1] = s13 }
        }
    }
}
