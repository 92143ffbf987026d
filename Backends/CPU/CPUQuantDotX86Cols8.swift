import EdgeHAL
#if arch(x86_64)
import _Builtin_intrinsics.intel

// Prefill with 8 activation columns in the lanes of one register (the avx2 set; layout bytes256Cols8).
//
// The row kernels of CPUQuantDotX86.swift put 32 values of one column in a register: each vpmaddubsw
// (32 products) needs its own vpmaddwd (sub-block scale, widening to Int32), conversion and FMA (the
// column's scale per 32). On Zen2 both multiplies issue on one pipe (FP0), so that shape tops out at
// 16 products a cycle.
// Here a register holds 4 consecutive values of each of 8 columns. Four weight codes are broadcast to
// all lanes, one vpmaddubsw makes 32 products, and the Int16 lanes of a whole run of 32 values add up
// in place (8 steps: |Σ| ≤ 8·2·15·127 = 30 480 < 2^15 for 4-bit codes). Then one vpmaddwd by the run's
// sub-block scale gives each column's Int32 dot product in its own lane, and one FMA by the columns'
// activation scales (a vector: one per column) takes it to Float: 8 vpmaddubsw to 1 vpmaddwd. ggml gets
// the same ratio by interleaving weight rows at load (its q4_K 8×8 repack); interleaving the columns
// at quantization instead leaves the weights as the file has them.

extension X86Dot.K4K5 {
    static var cols8: Bool { !Q.present }

    /// One q4_K row against the 8 columns of the bytes256Cols8 group at `col`:
    ///     Σ_k w·x = Σ_sb d·Σ_r sc_r·Σ_k q·(d_r·a) − dmin·Σ_r m_r·(d_r·Σa)
    /// with the codes q of run r in lane order: run 2c in the low nibbles of qs[32c …], run 2c + 1 in
    /// the high ones.
    @inline(never)
    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(!Q.present, "mul_mat: the bytes256Cols8 kernel is q4_K's")
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let mask = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x0F)), to: __m256i.self)
        let spread = Quad(v0: pickDword(0), v1: pickDword(1), v2: pickDword(2), v3: pickDword(3))
        var acc = SIMD8<Float>(), minAcc = SIMD8<Float>()
        for sb in 0..<blocks {
            let blk = row + sb &* 144
            let (sc, mn) = QuantDot.scalesMinsK4(blk + 4)
            let c = codes + sb &* 2048, m = meta + sb &* 1024
            var sAcc = SIMD8<Float>(), mAcc = SIMD8<Float>()
            for ch in 0..<4 {
                let q = blk + (16 &+ 32 &* ch)
                let c0 = c + 512 &* ch, c1 = c0 + 256
                var s0 = __m256i(), s1 = __m256i()
                for half in 0..<2 {
                    // 16 bytes of qs in both 128-bit halves: values 16h … 16h + 15 of run 2ch (low nibbles)
                    // and of run 2ch + 1 (high); vpshufb then spreads 4 of them to all 8 lanes.
                    let b = _mm256_broadcastsi128_si256(q.loadUnaligned(fromByteOffset: 16 &* half, as: __m128i.self))
                    let lo = _mm256_and_si256(b, mask), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask)
                    for t in 0..<4 {
                        let s = 4 &* half &+ t
                        let pick = spread[t]
                        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(_mm256_shuffle_epi8(lo, pick), c0.loadUnaligned(fromByteOffset: 32 &* s, as: __m256i.self)))
                        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(_mm256_shuffle_epi8(hi, pick), c1.loadUnaligned(fromByteOffset: 32 &* s, as: __m256i.self)))
                    }
                }
                let r0 = 2 &* ch, r1 = r0 &+ 1
                let m0 = m + 256 &* ch, m1 = m0 + 128
                sAcc.addProduct(scaled(s0, QuantDot.byte(sc, r0)), m0.loadUnaligned(as: SIMD8<Float>.self))
                sAcc.addProduct(scaled(s1, QuantDot.byte(sc, r1)), m1.loadUnaligned(as: SIMD8<Float>.self))
                mAcc.addProduct(SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r0))), m0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
                mAcc.addProduct(SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r1))), m1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
            }
            acc.addProduct(sAcc, SIMD8<Float>(repeating: QuantDot.f16(blk)))
            minAcc.addProduct(mAcc, SIMD8<Float>(repeating: QuantDot.f16(blk, 2)))
        }
        let y = acc - minAcc
        for j in 0..<8 { out[j &* outStride] = y[j] }
    }

    /// vpshufb control: dword t of each 128-bit half into all four of its dwords.
    @inline(__always) static func pickDword(_ t: Int) -> __m256i {
        let b = UInt32(4 &* t)
        return unsafeBitCast(X86Dot.Bytes(repeating: b | (b &+ 1) << 8 | (b &+ 2) << 16 | (b &+ 3) << 24), to: __m256i.self)
    }

    /// Each column's Int32 sum of the Int16 lane pair it owns, times the run's sub-block scale, as Float.
    @inline(__always) static func scaled(_ s: __m256i, _ scale: Int32) -> SIMD8<Float> {
        let t = _mm256_madd_epi16(s, unsafeBitCast(SIMD16<Int16>(repeating: Int16(truncatingIfNeeded: scale)), to: __m256i.self))
        return SIMD8<Float>(unsafeBitCast(t, to: SIMD8<Int32>.self))
    }
}
#endif
