import CEdgeHALCPUFeatures
import EdgeHAL
#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

// The avx2 kernel set (CPUKernelSet): quantized dot products with x86's byte multiply-add, against
// activations quantized to Int8 with a scale per 32 (layouts pairBytes64 for q4/q5, bytes256 else).
//
// Each run of 32 weight codes is unpacked to 32 unsigned bytes in natural order, so one 32-byte load
// of activation codes lines up with it, and
//     vpmaddubsw(w, a)   16 × Int16: w[2i]·a[2i] + w[2i+1]·a[2i+1]   (u8 × s8; |·| ≤ 2·63·127 < 2^15)
//     vpmaddwd(·, s)     8 × Int32: s[2j]·p[2j] + s[2j+1]·p[2j+1]     (s: ones, or the sub-block scales)
// give the run's integer dot product, already times the K-quants' sub-block scales, in two
// multiplies. Codes stay unsigned; offsets (q4_0 −8, q5_0 −16, q6_K −32) and minimums enter through
// the activation block sums, as in the portable kernels:
//     Σ x_w·x_a = d_w·(d_a·Σ q_w·q_a + off·d_a·Σq_a)  or  d_w·d_a·Σ q_w·q_a + m_w·d_a·Σq_a.
// q8_0's signed weights go through vpsignb (|w| × a·sign(w)), as ggml does.
//
// Every kernel is generic over the byte dot-product instruction (ByteDot, CPUQuantDotX86Bytes.swift):
// the avx2 set runs them with the pair above, the avx512vnni set with vpdpbusd (one instruction for
// both, exact Int32 sums; the scales then multiply by vpmulld).
// Compiled only where the build targets AVX2 (EDGEHAL_BUILD_X86_AVX2, from the toolset's CPU); the
// portable kernels stay the reference for every other target and for EDGEHAL_CPU_KERNELS=portable.

extension MatMulKernel {
    /// Runs `job` with the x86 kernel of the weight type for the avx2 or avx512vnni set (MatMulKernel
    /// only picks them for types they have, in builds whose target has them).
    func runX86(_ job: RowJob, _ act: ActColumns) {
        #if arch(x86_64)
        if kernels == .avx512vnni && CPUKernelSet.buildHasAVX512VNNI { return runX86(X86Bytes.VNNI.self, job, act) }
        if kernels == .avx2 && X86Dot.built { return runX86(X86Bytes.Madd.self, job, act) }
        #endif
        preconditionFailure("mul_mat: the \(kernels) kernel set is not in this build")
    }

    #if arch(x86_64)
    private func runX86<D: ByteDot>(_: D.Type, _ job: RowJob, _ act: ActColumns) {
        switch a.type {
        case .q4_0: job.run(X86Dot.Pair<Q4_0Format, D>.self, act)
        case .q4_1: job.run(X86Dot.Pair<Q4_1Format, D>.self, act)
        case .q5_0: job.run(X86Dot.Pair<Q5_0Format, D>.self, act)
        case .q5_1: job.run(X86Dot.Pair<Q5_1Format, D>.self, act)
        case .q8_0: job.run(X86Dot.Q8_0<D>.self, act)
        case .q4_K: job.run(X86Dot.K4K5<QuantDot.Without, D>.self, act)
        case .q5_K: job.run(X86Dot.K4K5<QuantDot.With, D>.self, act)
        case .q6_K: job.run(X86Dot.Q6_K<D>.self, act)
        case .q3_K: job.run(X86Dot.Q3_K<D>.self, act)
        case .q2_K: job.run(X86Dot.Q2_K<D>.self, act)
        default: preconditionFailure("mul_mat: the \(kernels) kernel set has no kernel for \(a.type)")
        }
    }
    #endif
}

#if arch(x86_64)
enum X86Dot {
    /// Whether the build targets AVX2 (else nothing below is reached, and its intrinsics stay uncalled).
    static var built: Bool { CPUKernelSet.buildHasAVX2 }

    /// 32 bytes. Byte-wise work is written on 32-bit lanes (masks keep shifted bits inside their byte):
    /// Swift's SIMD32<UInt8> operators ran lane by lane through the stack (60× slower, measured).
    typealias Bytes = SIMD8<UInt32>

    /// `b` in every byte of a 32-bit lane.
    @inline(__always) static func splat(_ b: UInt32) -> UInt32 { b &* 0x0101_0101 }

    /// The run's scaled integer dot product as Float lanes (their sum is the value); `k`: D's scale operand.
    @inline(__always) static func dot<D: ByteDot>(_: D.Type, _ w: Bytes, _ a: UnsafeRawPointer, _ k: __m256i) -> SIMD8<Float> {
        let i = D.dot(unsafeBitCast(w, to: __m256i.self), a.loadUnaligned(as: __m256i.self), k)
        return SIMD8<Float>(unsafeBitCast(i, to: SIMD8<Int32>.self))
    }

    /// Activation block scale d_b of block `b` (bytes256 metadata of the column at `m`; q8_0).
    @inline(__always) static func scale(_ m: UnsafeRawPointer, _ b: Int) -> Float {
        m.load(fromByteOffset: (b &>> 3) &* 128 &+ (b & 7) &* 4, as: Float.self)
    }

    /// 32 fifth bits (bit i: value i) as bytes 16 or 0.
    @inline(__always) static func fifthBits(_ qh: UInt32) -> Bytes {
        // Byte i of qh to bytes 8i … 8i + 7 (vpshufb stays within 128-bit halves, each of which holds qh
        // four times), then each byte tests its own bit.
        let spread = Bytes(0, 0, splat(1), splat(1), splat(2), splat(2), splat(3), splat(3))
        let bytes = _mm256_shuffle_epi8(unsafeBitCast(Bytes(repeating: qh), to: __m256i.self), unsafeBitCast(spread, to: __m256i.self))
        let bit = unsafeBitCast(SIMD4<UInt64>(repeating: 0x8040_2010_0804_0201), to: __m256i.self)
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit)
        return unsafeBitCast(set, to: Bytes.self) & splat(0x10)
    }

    // MARK: q4_0, q4_1, q5_0, q5_1

    /// Rows of a 32-value format against a tile of columns, two blocks (A, B) at a time against the
    /// pairBytes64 activation layout: codes [A 0…15, B 0…15] meet the low nibbles of A's and B's `qs`
    /// side by side, [A 16…31, B 16…31] the high nibbles; both products are added in Int16 (≤ 4·31·127)
    /// and once more in pairs to Int32, so lanes 0…3 hold A's sum and 4…7 B's, scaled by [d ×4, d ×4]
    /// as the portable pairs32 kernels do — one conversion and two FMAs for 64 values.
    enum Pair<F: PairFormat, D: ByteDot>: RowKernel {
        static var blockSize: Int { 32 }

        /// Blocks `a` and `b` (b may equal a for an odd last block; its activations are zero): the two
        /// code vectors, [d_A ×4, d_B ×4] and (q4_1, q5_1) [m_A ×4, m_B ×4].
        @inline(__always) static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> (Bytes, Bytes, SIMD8<Float>, SIMD8<Float>) {
            let qs = F.blockBytes &- 16, low4 = Bytes(repeating: splat(0x0F))
            let q = Bytes(lowHalf: a.loadUnaligned(fromByteOffset: qs, as: SIMD4<UInt32>.self),
                          highHalf: b.loadUnaligned(fromByteOffset: qs, as: SIMD4<UInt32>.self))
            var lo = q & low4, hi = (q &>> 4) & low4
            if F.blockBytes >= 22 {
                // q5: qh (bit i: value i) sits 4 bytes before qs.
                let ha = a.loadUnaligned(fromByteOffset: qs &- 4, as: UInt32.self)
                let hb = b.loadUnaligned(fromByteOffset: qs &- 4, as: UInt32.self)
                lo |= fifthBits((ha & 0xFFFF) | (hb &<< 16))
                hi |= fifthBits((ha &>> 16) | (hb & 0xFFFF_0000))
            }
            let hasMinimum = F.offset == 0
            return (lo, hi, QuantDot.f16Halves(a, b), hasMinimum ? QuantDot.f16Halves(a + 2, b + 2) : SIMD8<Float>())
        }

        /// Σ per block of a pair against the column's codes at `c`: lanes 0…3 block A, 4…7 block B.
        @inline(__always) static func pairDot(_ lo: Bytes, _ hi: Bytes, _ c: UnsafeRawPointer) -> SIMD8<Float> {
            let p = D.step(D.step(__m256i(), unsafeBitCast(lo, to: __m256i.self), c.loadUnaligned(as: __m256i.self)),
                           unsafeBitCast(hi, to: __m256i.self), c.loadUnaligned(fromByteOffset: 32, as: __m256i.self))
            return SIMD8<Float>(unsafeBitCast(D.widen(p), to: SIMD8<Int32>.self))
        }

        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            // Tiles (up to 4 columns: whole groups of 8 go to the interleaved kernels) put q4_1/q5_1's
            // minimum term into the same accumulator; mat-vec keeps it apart (`off`), so both chains are short.
            var acc = Quad<SIMD8<Float>>(), off = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            let cs = act.codeStride, ms = act.metaStride
            let pairBytes = 2 &* F.blockBytes
            @inline(__always) func step(_ p: Int, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ slot: Int) {
                let (lo, hi, dw, mw) = decode(a, b)
                columns(T.self) { j in
                    let c = c0 + (j &* cs &+ p &* 64), m = m0 + (j &* ms &+ p &* 64)
                    let s = pairDot(lo, hi, c)
                    let da = m.loadUnaligned(as: SIMD8<Float>.self), sa = m.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
                    if F.offset != 0 {
                        acc[j &+ slot].addProduct(dw, sa.addingProduct(s, da))
                    } else if T.n == 1 {
                        acc[slot].addProduct(s * da, dw)
                        off[slot].addProduct(mw, sa)
                    } else {
                        acc[j].addProduct(s * da, dw)
                        acc[j].addProduct(mw, sa)
                    }
                }
            }
            let pairs = blocks / 2
            var p = 0
            if T.n == 1 {
                // Mat-vec: two pairs per step into two accumulators, so the FMA latency chains are halved.
                while p &+ 2 <= pairs {
                    let a = row + p &* pairBytes
                    step(p, a, a + F.blockBytes, 0)
                    step(p &+ 1, a + pairBytes, a + (pairBytes &+ F.blockBytes), 1)
                    p &+= 2
                }
                acc.v0 += acc.v1
                off.v0 += off.v1
            }
            while p < pairs {
                let a = row + p &* pairBytes
                step(p, a, a + F.blockBytes, 0)
                p &+= 1
            }
            if blocks & 1 != 0 {
                let a = row + p &* pairBytes
                step(p, a, a, 0)
            }
            if T.n == 1 { acc.v0 += off.v0 }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }
    }

    // MARK: q8_0 — { fp16 d; int8 qs[32] }

    enum Q8_0<D: ByteDot>: RowKernel {
        static var blockSize: Int { 32 }

        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            var acc = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            let cs = act.codeStride, ms = act.metaStride
            @inline(__always) func step(_ b: Int, _ slot: Int) {
                let blk = row + b &* 34
                let q = blk.loadUnaligned(fromByteOffset: 2, as: __m256i.self)
                let magnitude = _mm256_sign_epi8(q, q)
                let dw = QuantDot.f16Splat(blk)
                columns(T.self) { j in
                    let c = c0 + (j &* cs &+ b &* 32), m = m0 + j &* ms
                    let signed = _mm256_sign_epi8(c.loadUnaligned(as: __m256i.self), q)
                    let p = D.dot(magnitude, signed)
                    acc[j &+ slot].addProduct(SIMD8<Float>(unsafeBitCast(p, to: SIMD8<Int32>.self)),
                                              SIMD8<Float>(repeating: scale(m, b)) * dw)
                }
            }
            var b = 0
            if T.n == 1 {
                while b &+ 2 <= blocks {
                    step(b, 0)
                    step(b &+ 1, 1)
                    b &+= 2
                }
                acc.v0 += acc.v1
            }
            while b < blocks {
                step(b, 0)
                b &+= 1
            }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }
    }

    // MARK: K-quants

    /// sbAcc[slot(j, r)] += dot(w, run r of column j) · d_r for every column of the tile. Mat-vec puts
    /// odd runs in a second accumulator (shorter FMA chain).
    @inline(__always) static func kRuns<T: TileWidth, D: ByteDot>(_: T.Type, _: D.Type, _ sbAcc: inout Quad<SIMD8<Float>>, _ w: Bytes,
                                                                  _ k: __m256i, _ cb: UnsafeRawPointer, _ mb: UnsafeRawPointer,
                                                                  _ act: ActColumns, _ r: Int) {
        columns(T.self) { j in
            let slot = T.n == 1 ? (r & 1) : j
            sbAcc[slot].addProduct(dot(D.self, w, cb + (j &* act.codeStride &+ r &* 32), k),
                                   SIMD8<Float>(repeating: mb.load(fromByteOffset: j &* act.metaStride &+ r &* 4, as: Float.self)))
        }
    }

    /// The frame of every K-quant kernel: `block(blk, cb, mb, &acc)` adds super-block `blk` (its columns'
    /// codes at cb, metadata at mb) into the tile's accumulators; then each column's sum goes out.
    @inline(__always) static func superBlocks<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, blockBytes: Int,
                                                           _ act: ActColumns, col: Int, _ out: UnsafeMutablePointer<Float>, outStride: Int,
                                                           _ block: (UnsafeRawPointer, UnsafeRawPointer, UnsafeRawPointer, inout Quad<SIMD8<Float>>) -> Void) {
        var acc = Quad<SIMD8<Float>>()
        let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
        for sb in 0..<blocks {
            block(row + sb &* blockBytes, c0 + sb &* 256, m0 + sb &* KMeta.bytes, &acc)
        }
        columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
    }

    /// acc[j] += d·(sbAcc[j] + o_lo·Σ16(0…7) + o_hi·Σ16(8…15)): a run offset per 16 values (q3_K −4, q6_K
    /// −32, times the sub-block scales) through the 16-value activation sums.
    @inline(__always) static func fold16<T: TileWidth>(_: T.Type, _ acc: inout Quad<SIMD8<Float>>, _ sbAcc: Quad<SIMD8<Float>>, _ oLo: SIMD8<Float>, _ oHi: SIMD8<Float>,
                                                      _ d: SIMD8<Float>, _ mb: UnsafeRawPointer, _ act: ActColumns) {
        columns(T.self) { j in
            let mj = mb + j &* act.metaStride
            var s = sbAcc[j]
            s.addProduct(oLo, KMeta.sums16(mj, 0))
            s.addProduct(oHi, KMeta.sums16(mj, 1))
            acc[j].addProduct(s, d)
        }
    }

    /// q4_K and q5_K (layouts in CPUQuantDotK.swift): eight runs of 32 with 6-bit scales and minimums.
    enum K4K5<Q: QuantDot.FifthBit, D: ByteDot>: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            let fifthBit = Q.present
            let blockBytes = fifthBit ? 176 : 144, qsOffset = fifthBit ? 48 : 16
            superBlocks(T.self, row, blocks: blocks, blockBytes: blockBytes, act, col: col, out, outStride: outStride) { blk, cb, mb, acc in
                let (sc, mn) = QuantDot.scalesMinsK4(blk + 4)
                // q5_K: bit r of qh[l] is the fifth bit of run r; `h` is qh shifted right by 2c.
                var h = fifthBit ? blk.loadUnaligned(fromByteOffset: 16, as: Bytes.self) : Bytes()
                var sbAcc = Quad<SIMD8<Float>>()
                let low4 = Bytes(repeating: splat(0x0F)), bit4 = Bytes(repeating: splat(0x10))
                for c in 0..<4 {
                    let q = blk.loadUnaligned(fromByteOffset: qsOffset &+ 32 &* c, as: Bytes.self)
                    var w0 = q & low4, w1 = (q &>> 4) & low4
                    if fifthBit {
                        w0 |= (h &<< 4) & bit4
                        w1 |= (h &<< 3) & bit4
                        h &>>= 2
                    }
                    let r0 = 2 &* c, r1 = 2 &* c &+ 1
                    kRuns(T.self, D.self, &sbAcc, w0, D.scale(Int32(QuantDot.byte(sc, r0))), cb, mb, act, r0)
                    kRuns(T.self, D.self, &sbAcc, w1, D.scale(Int32(QuantDot.byte(sc, r1))), cb, mb, act, r1)
                }
                if T.n == 1 { sbAcc.v0 += sbAcc.v1 }
                let d = QuantDot.f16Splat(blk), dmin = -QuantDot.f16Splat(blk + 2)
                let mins = SIMD8<Float>(QuantDot.bytes8(mn))
                columns(T.self) { j in
                    acc[j].addProduct(sbAcc[j], d)
                    acc[j].addProduct(mins * KMeta.sums32(mb + j &* act.metaStride), dmin)
                }
            }
        }
    }

    /// The eight bytes of x as Int32 lanes, one vpmovzxbd (QuantDot.bytes8 goes lane by lane here).
    @inline(__always) static func widen(_ x: UInt64) -> SIMD8<Int32> {
        unsafeBitCast(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(Int64(bitPattern: x))), to: SIMD8<Int32>.self)
    }

    /// q3_K — { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d }: codes 0…7 (q + 4) from two
    /// bits of qs and one of hmask, a signed 6-bit scale per 16 values; the −4 enters through the
    /// 16-value activation sums, as q6_K's −32 does.
    enum Q3_K<D: ByteDot>: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            let low2 = Bytes(repeating: splat(0x03)), bit0 = Bytes(repeating: splat(0x01))
            superBlocks(T.self, row, blocks: blocks, blockBytes: 110, act, col: col, out, outStride: outStride) { blk, cb, mb, acc in
                let (sLo, sHi) = QuantDot.scalesQ3K(blk)
                // Run r = 4h + k: bits 2k, 2k + 1 of qs[32h + l] and bit r of hmask[l], l = 0…31.
                let hm = blk.loadUnaligned(as: Bytes.self)
                var sbAcc = Quad<SIMD8<Float>>()
                for h in 0..<2 {
                    let q = blk.loadUnaligned(fromByteOffset: 32 &+ 32 &* h, as: Bytes.self)
                    let s = D.prepare(h == 0 ? sLo : sHi)
                    for k in 0..<4 {
                        let r = 4 &* h &+ k
                        let w = ((q &>> UInt32(2 &* k)) & low2) | (((hm &>> UInt32(r)) & bit0) &<< 2)
                        kRuns(T.self, D.self, &sbAcc, w, D.halves(s, Int32(2 &* k)), cb, mb, act, r)
                    }
                }
                if T.n == 1 { sbAcc.v0 += sbAcc.v1 }
                let d = QuantDot.f16Splat(blk + 108)
                let oLo = SIMD8<Float>(sLo) * -4, oHi = SIMD8<Float>(sHi) * -4
                fold16(T.self, &acc, sbAcc, oLo, oHi, d, mb, act)
            }
        }
    }

    /// q2_K — { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin }: codes 0…3, per 16 values a 4-bit
    /// scale (low nibble) and a 4-bit minimum (high nibble); the minimums enter through the 16-value sums.
    enum Q2_K<D: ByteDot>: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            let low2 = Bytes(repeating: splat(0x03))
            superBlocks(T.self, row, blocks: blocks, blockBytes: 84, act, col: col, out, outStride: outStride) { blk, cb, mb, acc in
                let p0 = blk.loadUnaligned(as: UInt64.self), p1 = blk.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                var sbAcc = Quad<SIMD8<Float>>()
                for h in 0..<2 {
                    // Run r = 4h + k: bits 2k, 2k + 1 of qs[32h + l]; scales[2r], scales[2r + 1].
                    let q = blk.loadUnaligned(fromByteOffset: 16 &+ 32 &* h, as: Bytes.self)
                    let s = D.prepare(widen((h == 0 ? p0 : p1) & 0x0F0F_0F0F_0F0F_0F0F))
                    for k in 0..<4 {
                        let w = (q &>> UInt32(2 &* k)) & low2
                        kRuns(T.self, D.self, &sbAcc, w, D.halves(s, Int32(2 &* k)), cb, mb, act, 4 &* h &+ k)
                    }
                }
                if T.n == 1 { sbAcc.v0 += sbAcc.v1 }
                QuantDot.foldQ2K(T.self, &acc, sbAcc, blk, SIMD8<Float>(widen((p0 >> 4) & 0x0F0F_0F0F_0F0F_0F0F)),
                                 SIMD8<Float>(widen((p1 >> 4) & 0x0F0F_0F0F_0F0F_0F0F)), mb, act)
            }
        }
    }

    /// q6_K — { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d }: codes 0…63 (q + 32), a signed
    /// scale per 16 values; the −32 enters through the 16-value activation sums.
    enum Q6_K<D: ByteDot>: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            superBlocks(T.self, row, blocks: blocks, blockBytes: 210, act, col: col, out, outStride: outStride) { blk, cb, mb, acc in
                let sc = blk.loadUnaligned(fromByteOffset: 192, as: SIMD16<Int8>.self)
                let scLo = SIMD8<Int32>(truncatingIfNeeded: sc.lowHalf), scHi = SIMD8<Int32>(truncatingIfNeeded: sc.highHalf)
                var sbAcc = Quad<SIMD8<Float>>()
                for h in 0..<2 {
                    let s = D.prepare(h == 0 ? scLo : scHi)
                    @inline(__always) func scales(_ r: Int) -> __m256i { D.halves(s, Int32(2 &* (r & 3))) }
                    let l0 = blk.loadUnaligned(fromByteOffset: 64 &* h, as: Bytes.self)
                    let l1 = blk.loadUnaligned(fromByteOffset: 64 &* h &+ 32, as: Bytes.self)
                    let qh = blk.loadUnaligned(fromByteOffset: 128 &+ 32 &* h, as: Bytes.self)
                    let r = 4 &* h
                    let low4 = Bytes(repeating: splat(0x0F)), high2 = Bytes(repeating: splat(0x30))
                    // Runs 4h … 4h + 3: low nibbles of l0, l1, then high nibbles; qh bits 2k, 2k + 1.
                    kRuns(T.self, D.self, &sbAcc, (l0 & low4) | ((qh &<< 4) & high2), scales(r), cb, mb, act, r)
                    kRuns(T.self, D.self, &sbAcc, (l1 & low4) | ((qh &<< 2) & high2), scales(r &+ 1), cb, mb, act, r &+ 1)
                    kRuns(T.self, D.self, &sbAcc, ((l0 &>> 4) & low4) | (qh & high2), scales(r &+ 2), cb, mb, act, r &+ 2)
                    kRuns(T.self, D.self, &sbAcc, ((l1 &>> 4) & low4) | ((qh &>> 2) & high2), scales(r &+ 3), cb, mb, act, r &+ 3)
                }
                if T.n == 1 { sbAcc.v0 += sbAcc.v1 }
                let d = QuantDot.f16Splat(blk + 208)
                let sLo = SIMD8<Float>(scLo) * -32
                let sHi = SIMD8<Float>(scHi) * -32
                fold16(T.self, &acc, sbAcc, sLo, sHi, d, mb, act)
            }
        }
    }
}
#endif
