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
    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile1.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    /// rowCols8 for the two groups at `col` and `col + 8`: each spread of weight codes serves 16 columns.
    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile2.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    /// T.n (1 or 2) consecutive groups of 8 columns.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(!Q.present, "mul_mat: the bytes256Cols8 kernel is q4_K's")
        let two = T.n > 1
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let mask = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x0F)), to: __m256i.self)
        let spread = Quad(v0: pickDword(0), v1: pickDword(1), v2: pickDword(2), v3: pickDword(3))
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        for sb in 0..<blocks {
            let blk = row + sb &* 144
            let (sc, mn) = QuantDot.scalesMinsK4(blk + 4)
            let d = SIMD8<Float>(repeating: QuantDot.f16(blk)), dmin = SIMD8<Float>(repeating: -QuantDot.f16(blk, 2))
            var sAcc = SIMD8<Float>(), mAcc = SIMD8<Float>(), sAccB = SIMD8<Float>(), mAccB = SIMD8<Float>()
            for ch in 0..<4 {
                let q = blk + (16 &+ 32 &* ch)
                let at = sb &* 2048 &+ 512 &* ch
                var s0 = __m256i(), s1 = __m256i(), t0 = __m256i(), t1 = __m256i()
                for half in 0..<2 {
                    // 16 bytes of qs in both 128-bit halves: values 16h … 16h + 15 of run 2ch (low nibbles)
                    // and of run 2ch + 1 (high); vpshufb then spreads 4 of them to all 8 lanes.
                    let b = _mm256_broadcastsi128_si256(q.loadUnaligned(fromByteOffset: 16 &* half, as: __m128i.self))
                    let lo = _mm256_and_si256(b, mask), hi = _mm256_and_si256(_mm256_srli_epi16(b, 4), mask)
                    for t in 0..<4 {
                        let o = at &+ 32 &* (4 &* half &+ t)
                        let w0 = _mm256_shuffle_epi8(lo, spread[t]), w1 = _mm256_shuffle_epi8(hi, spread[t])
                        s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(w0, codes.loadUnaligned(fromByteOffset: o, as: __m256i.self)))
                        s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(w1, codes.loadUnaligned(fromByteOffset: o &+ 256, as: __m256i.self)))
                        if two {
                            t0 = _mm256_add_epi16(t0, _mm256_maddubs_epi16(w0, codesB.loadUnaligned(fromByteOffset: o, as: __m256i.self)))
                            t1 = _mm256_add_epi16(t1, _mm256_maddubs_epi16(w1, codesB.loadUnaligned(fromByteOffset: o &+ 256, as: __m256i.self)))
                        }
                    }
                }
                let r0 = 2 &* ch, r1 = r0 &+ 1
                let m0 = sb &* 1024 &+ 256 &* ch, m1 = m0 &+ 128
                let sc0 = QuantDot.byte(sc, r0), sc1 = QuantDot.byte(sc, r1)
                let mn0 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r0))), mn1 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r1)))
                run(&sAcc, &mAcc, s0, s1, sc0, sc1, mn0, mn1, meta + m0, meta + m1)
                if two { run(&sAccB, &mAccB, t0, t1, sc0, sc1, mn0, mn1, metaB + m0, metaB + m1) }
            }
            acc.addProduct(sAcc, d)
            acc.addProduct(mAcc, dmin)
            if two {
                accB.addProduct(sAccB, d)
                accB.addProduct(mAccB, dmin)
            }
        }
        for j in 0..<8 { out[j &* outStride] = acc[j] }
        if two { for j in 0..<8 { out[(j &+ 8) &* outStride] = accB[j] } }
    }

    /// A chunk's two runs into one group's accumulators: scale sums and minimum sums (metadata at m0, m1).
    @inline(__always) static func run(_ sAcc: inout SIMD8<Float>, _ mAcc: inout SIMD8<Float>, _ s0: __m256i, _ s1: __m256i,
                                      _ sc0: Int32, _ sc1: Int32, _ mn0: SIMD8<Float>, _ mn1: SIMD8<Float>,
                                      _ m0: UnsafeRawPointer, _ m1: UnsafeRawPointer) {
        sAcc.addProduct(scaled(s0, sc0), m0.loadUnaligned(as: SIMD8<Float>.self))
        sAcc.addProduct(scaled(s1, sc1), m1.loadUnaligned(as: SIMD8<Float>.self))
        mAcc.addProduct(mn0, m0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        mAcc.addProduct(mn1, m1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
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
