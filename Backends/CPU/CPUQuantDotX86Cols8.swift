import EdgeHAL
#if arch(x86_64)
import _Builtin_intrinsics.intel

// Prefill with 8 activation columns in the lanes of one register (the avx2 set; layouts bytes256Cols8
// and pairBytes64Cols8).
//
// The row kernels of CPUQuantDotX86.swift put 32 values of one column in a register: every one or two
// vpmaddubsw (32 products each) need a vpmaddwd (sub-block scale, widening to Int32), a conversion and
// FMAs by the column's scales per 32, and each column loads its own scales.
// Here a register holds 4 consecutive values of each of 8 columns. Four weight codes are spread to all
// lanes (vbroadcasti128 of 16 codes, then one vpshufb a step), one vpmaddubsw makes 32 products, and the
// Int16 lanes add up in place over as many steps as the codes allow: a whole run of 32 for 4-bit codes
// (8·2·15·127 = 30 480 < 2^15), 4 steps for 5-bit (q5_0, q5_1), 2 for 6-bit (q6_K, by its 16-value
// sub-block scale). Then one vpmaddwd gives each column's Int32 dot product in its own lane and one FMA by
// the columns' scales (a vector) takes it to Float. Two groups (16 columns) share each spread register
// where a panel has them. ggml gets the same effect by interleaving weight rows at load (its 8×8 repack);
// interleaving the columns at quantization leaves the weights as the file has them: no second copy, no
// repacking pass, no change to decode.
// Measured (Zen2, 2 threads, pp128 on a 4-layer 1B-shaped model): q4_0 234 → 415–419 tokens/s, q4_K
// 223 → 345–367, q6_K 200 → 314–319. Not q8_0: its signed weights would need a vpsignb per product.

enum Cols8 {
    /// vpshufb control: dword t of each 128-bit half into all four of its dwords.
    @inline(__always) static func pickDword(_ t: Int) -> __m256i {
        let b = UInt32(4 &* t)
        return unsafeBitCast(X86Dot.Bytes(repeating: b | (b &+ 1) << 8 | (b &+ 2) << 16 | (b &+ 3) << 24), to: __m256i.self)
    }

    @inline(__always) static var spread: Quad<__m256i> { Quad(v0: pickDword(0), v1: pickDword(1), v2: pickDword(2), v3: pickDword(3)) }

    @inline(__always) static var low4: __m256i { unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x0F)), to: __m256i.self) }

    /// 16 bytes of 4-bit codes at `p` in both 128-bit halves, as their low nibbles and their high nibbles.
    @inline(__always) static func nibbles(_ p: UnsafeRawPointer) -> (__m256i, __m256i) {
        let b = _mm256_broadcastsi128_si256(p.loadUnaligned(as: __m128i.self))
        return (_mm256_and_si256(b, low4), _mm256_and_si256(_mm256_srli_epi16(b, 4), low4))
    }

    /// Four steps (16 values) of one run: `x` holds the 16 weight codes in both halves; step t's four
    /// codes go to all 8 lanes and meet the group's codes at `a` + 32t (and the second group's at `b`).
    @inline(__always) static func steps4<T: TileWidth>(_: T.Type, _ sa: inout __m256i, _ sb: inout __m256i, _ x: __m256i,
                                                      _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ spread: Quad<__m256i>) {
        for t in 0..<4 {
            let w = _mm256_shuffle_epi8(x, spread[t])
            sa = _mm256_add_epi16(sa, _mm256_maddubs_epi16(w, a.loadUnaligned(fromByteOffset: 32 &* t, as: __m256i.self)))
            if T.n > 1 { sb = _mm256_add_epi16(sb, _mm256_maddubs_epi16(w, b.loadUnaligned(fromByteOffset: 32 &* t, as: __m256i.self))) }
        }
    }

    /// Four steps of 6-bit codes `x` (as steps4): Int16 sums of two steps at a time, each pair times the
    /// sub-block scale `scale` (Int16 lanes) into Int32 lanes `ia` (and `ib` for the second group).
    @inline(__always) static func steps4Scaled<T: TileWidth>(_: T.Type, _ ia: inout __m256i, _ ib: inout __m256i, _ x: __m256i,
                                                            _ a: UnsafeRawPointer, _ b: UnsafeRawPointer,
                                                            _ spread: Quad<__m256i>, _ scale: __m256i) {
        for t in stride(from: 0, to: 4, by: 2) {
            let w0 = _mm256_shuffle_epi8(x, spread[t]), w1 = _mm256_shuffle_epi8(x, spread[t &+ 1])
            let o = 32 &* t
            let pa = _mm256_add_epi16(_mm256_maddubs_epi16(w0, a.loadUnaligned(fromByteOffset: o, as: __m256i.self)),
                                      _mm256_maddubs_epi16(w1, a.loadUnaligned(fromByteOffset: o &+ 32, as: __m256i.self)))
            ia = _mm256_add_epi32(ia, _mm256_madd_epi16(pa, scale))
            if T.n > 1 {
                let pb = _mm256_add_epi16(_mm256_maddubs_epi16(w0, b.loadUnaligned(fromByteOffset: o, as: __m256i.self)),
                                          _mm256_maddubs_epi16(w1, b.loadUnaligned(fromByteOffset: o &+ 32, as: __m256i.self)))
                ib = _mm256_add_epi32(ib, _mm256_madd_epi16(pb, scale))
            }
        }
    }

    /// Each column's Int32 sum of the Int16 lane pair it owns, times `scale`, as Float.
    @inline(__always) static func scaled(_ s: __m256i, _ scale: Int32) -> SIMD8<Float> {
        let t = _mm256_madd_epi16(s, unsafeBitCast(SIMD16<Int16>(repeating: Int16(truncatingIfNeeded: scale)), to: __m256i.self))
        return SIMD8<Float>(unsafeBitCast(t, to: SIMD8<Int32>.self))
    }

    /// The results of T.n groups: out[j · stride] for j < 8 · T.n.
    @inline(__always) static func store<T: TileWidth>(_: T.Type, _ a: SIMD8<Float>, _ b: SIMD8<Float>,
                                                     _ out: UnsafeMutablePointer<Float>, _ stride: Int) {
        for j in 0..<8 { out[j &* stride] = a[j] }
        if T.n > 1 { for j in 0..<8 { out[(j &+ 8) &* stride] = b[j] } }
    }
}

extension X86Dot.K4K5 {
    static var cols8: Bool { !Q.present }

    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile1.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile2.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    /// One q4_K row against T.n (1 or 2) bytes256Cols8 groups at `col`:
    ///     Σ_k w·x = Σ_sb d·Σ_r sc_r·Σ_k q·(d_r·a) − dmin·Σ_r m_r·(d_r·Σa)
    /// with run 2c in the low nibbles of qs[32c …] and run 2c + 1 in the high ones.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(!Q.present, "mul_mat: the bytes256Cols8 kernel is q4_K's")
        let two = T.n > 1
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        for sb in 0..<blocks {
            let blk = row + sb &* 144
            let (sc, mn) = QuantDot.scalesMinsK4(blk + 4)
            let d = SIMD8<Float>(repeating: QuantDot.f16(blk)), dmin = SIMD8<Float>(repeating: -QuantDot.f16(blk, 2))
            var sAcc = SIMD8<Float>(), mAcc = SIMD8<Float>(), sAccB = SIMD8<Float>(), mAccB = SIMD8<Float>()
            for ch in 0..<4 {
                let at = sb &* 2048 &+ 512 &* ch
                var s0 = __m256i(), s1 = __m256i(), t0 = __m256i(), t1 = __m256i()
                for half in 0..<2 {
                    let (lo, hi) = Cols8.nibbles(blk + (16 &+ 32 &* ch &+ 16 &* half))
                    let o = at &+ 128 &* half
                    Cols8.steps4(T.self, &s0, &t0, lo, codes + o, codesB + o, spread)
                    Cols8.steps4(T.self, &s1, &t1, hi, codes + (o &+ 256), codesB + (o &+ 256), spread)
                }
                let r0 = 2 &* ch, r1 = r0 &+ 1
                let m0 = sb &* 1024 &+ 256 &* ch, m1 = m0 &+ 128
                let sc0 = QuantDot.byte(sc, r0), sc1 = QuantDot.byte(sc, r1)
                let mn0 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r0))), mn1 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r1)))
                runs(&sAcc, &mAcc, s0, s1, sc0, sc1, mn0, mn1, meta + m0, meta + m1)
                if two { runs(&sAccB, &mAccB, t0, t1, sc0, sc1, mn0, mn1, metaB + m0, metaB + m1) }
            }
            acc.addProduct(sAcc, d)
            acc.addProduct(mAcc, dmin)
            if two {
                accB.addProduct(sAccB, d)
                accB.addProduct(mAccB, dmin)
            }
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }

    /// A chunk's two runs into one group's accumulators: scale sums and minimum sums (metadata at m0, m1).
    @inline(__always) static func runs(_ sAcc: inout SIMD8<Float>, _ mAcc: inout SIMD8<Float>, _ s0: __m256i, _ s1: __m256i,
                                       _ sc0: Int32, _ sc1: Int32, _ mn0: SIMD8<Float>, _ mn1: SIMD8<Float>,
                                       _ m0: UnsafeRawPointer, _ m1: UnsafeRawPointer) {
        sAcc.addProduct(Cols8.scaled(s0, sc0), m0.loadUnaligned(as: SIMD8<Float>.self))
        sAcc.addProduct(Cols8.scaled(s1, sc1), m1.loadUnaligned(as: SIMD8<Float>.self))
        mAcc.addProduct(mn0, m0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        mAcc.addProduct(mn1, m1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
    }
}

extension X86Dot.Q6_K {
    static var cols8: Bool { true }

    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile1.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile2.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    /// One q6_K row against T.n bytes256Cols8 groups at `col`:
    ///     Σ_k w·x = Σ_sb d·Σ_r (Σ_u sc_2r+u·Σ_16 q·(d_r·a) − 32·Σ_u sc_2r+u·(d_r·Σ_16 a))
    /// Run r = 4h + j of half h: low 4 bits from ql[64h + 32(j & 1) …] (low nibbles for j < 2, high
    /// after), bits 4–5 from qh[32h …] bits 2j, 2j + 1; sub-block u is its values 16u … 16u + 15.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        let two = T.n > 1
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread, low4 = Cols8.low4
        let high2 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x30)), to: __m256i.self)
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        @inline(__always) func add(_ sAcc: inout SIMD8<Float>, _ oAcc: inout SIMD8<Float>, _ i: __m256i, _ m: UnsafeRawPointer,
                                   _ sc0: SIMD8<Float>, _ sc1: SIMD8<Float>) {
            sAcc.addProduct(SIMD8<Float>(unsafeBitCast(i, to: SIMD8<Int32>.self)), m.loadUnaligned(as: SIMD8<Float>.self))
            oAcc.addProduct(sc0, m.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            oAcc.addProduct(sc1, m.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        }
        for sb in 0..<blocks {
            let blk = row + sb &* 210
            var sAcc = SIMD8<Float>(), oAcc = SIMD8<Float>(), sAccB = SIMD8<Float>(), oAccB = SIMD8<Float>()
            for h in 0..<2 {
                for j in 0..<4 {
                    let r = 4 &* h &+ j
                    let at = sb &* 2048 &+ 256 &* r
                    var i = __m256i(), iB = __m256i()
                    for u in 0..<2 {
                        let lb = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 64 &* h &+ 32 &* (j & 1) &+ 16 &* u, as: __m128i.self))
                        let hb = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 128 &+ 32 &* h &+ 16 &* u, as: __m128i.self))
                        let lo = j < 2 ? _mm256_and_si256(lb, low4) : _mm256_and_si256(_mm256_srli_epi16(lb, 4), low4)
                        let hiBits: __m256i
                        switch j {
                        case 0: hiBits = _mm256_slli_epi16(hb, 4)
                        case 1: hiBits = _mm256_slli_epi16(hb, 2)
                        case 2: hiBits = hb
                        default: hiBits = _mm256_srli_epi16(hb, 2)
                        }
                        let x = _mm256_or_si256(lo, _mm256_and_si256(hiBits, high2))
                        let scale = Int16(blk.load(fromByteOffset: 192 &+ 2 &* r &+ u, as: Int8.self))
                        let o = at &+ 128 &* u
                        Cols8.steps4Scaled(T.self, &i, &iB, x, codes + o, codesB + o, spread,
                                           unsafeBitCast(SIMD16<Int16>(repeating: scale), to: __m256i.self))
                    }
                    let sc0 = SIMD8<Float>(repeating: Float(blk.load(fromByteOffset: 192 &+ 2 &* r, as: Int8.self)))
                    let sc1 = SIMD8<Float>(repeating: Float(blk.load(fromByteOffset: 193 &+ 2 &* r, as: Int8.self)))
                    let m = sb &* 1024 &+ 128 &* r
                    add(&sAcc, &oAcc, i, meta + m, sc0, sc1)
                    if two { add(&sAccB, &oAccB, iB, metaB + m, sc0, sc1) }
                }
            }
            let d = SIMD8<Float>(repeating: QuantDot.f16(blk, 208)), minus32 = SIMD8<Float>(repeating: -32)
            sAcc.addProduct(oAcc, minus32)
            acc.addProduct(sAcc, d)
            if two {
                sAccB.addProduct(oAccB, minus32)
                accB.addProduct(sAccB, d)
            }
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }
}

extension X86Dot.Pair {
    static var cols8: Bool { true }

    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile1.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile2.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    /// The fifth bits of values 16h … 16h + 15 (bits of qh) as bytes 16 or 0, in both 128-bit halves.
    @inline(__always) static func fifthBitsHalf(_ qh: UInt32, _ h: Int) -> __m256i {
        // Bytes 2h and 2h + 1 of qh, each to the 8 bytes it covers; then each byte tests its own bit.
        let b = UInt32(2 &* h) &* 0x0101_0101, spread = X86Dot.Bytes(b, b, b &+ 0x0101_0101, b &+ 0x0101_0101,
                                                                       b, b, b &+ 0x0101_0101, b &+ 0x0101_0101)
        let bytes = _mm256_shuffle_epi8(unsafeBitCast(X86Dot.Bytes(repeating: qh), to: __m256i.self), unsafeBitCast(spread, to: __m256i.self))
        let bit = unsafeBitCast(SIMD4<UInt64>(repeating: 0x8040_2010_0804_0201), to: __m256i.self)
        let set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit)
        return _mm256_and_si256(set, unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x10)), to: __m256i.self))
    }

    /// One row of a 32-value pair format against T.n pairBytes64Cols8 groups at `col`, a block a run:
    ///     Σ_k w·x = Σ_b d_w·(Σ_k q·(d_b·a) + off·(d_b·Σa)) + m_w·(d_b·Σa)
    /// (q4_0: off = −8, q5_0: −16, m_w = 0; q4_1, q5_1: off = 0). Values 0…15 are the low nibbles of qs,
    /// 16…31 the high ones, q5's fifth bits from qh (bit i: value i). 4-bit codes add up in Int16 over
    /// the whole block; 5-bit ones over 4 steps (4·2·31·127 < 2^15), so q5 takes two vpmaddwd a block.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        let two = T.n > 1, hasMinimum = F.offset == 0, fiveBit = F.blockBytes >= 22
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread, ones = unsafeBitCast(X86Dot.ones, to: __m256i.self)
        let off = SIMD8<Float>(repeating: F.offset)
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        @inline(__always) func dot(_ lo: __m256i, _ hi: __m256i) -> SIMD8<Float> {
            let i = fiveBit ? _mm256_add_epi32(_mm256_madd_epi16(lo, ones), _mm256_madd_epi16(hi, ones))
                            : _mm256_madd_epi16(_mm256_add_epi16(lo, hi), ones)
            return SIMD8<Float>(unsafeBitCast(i, to: SIMD8<Int32>.self))
        }
        @inline(__always) func add(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Float>, _ m: UnsafeRawPointer, _ dw: SIMD8<Float>, _ mw: SIMD8<Float>) {
            let sums = m.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
            var v = dot * m.loadUnaligned(as: SIMD8<Float>.self)
            if !hasMinimum { v.addProduct(off, sums) }
            acc.addProduct(v, dw)
            if hasMinimum { acc.addProduct(sums, mw) }
        }
        for b in 0..<blocks {
            let blk = row + b &* F.blockBytes
            var (lo, hi) = Cols8.nibbles(blk + (F.blockBytes &- 16))
            if fiveBit {
                let qh = blk.loadUnaligned(fromByteOffset: F.blockBytes &- 20, as: UInt32.self)
                lo = _mm256_or_si256(lo, fifthBitsHalf(qh, 0))
                hi = _mm256_or_si256(hi, fifthBitsHalf(qh, 1))
            }
            let at = b &* 256
            var s0 = __m256i(), s1 = __m256i(), t0 = __m256i(), t1 = __m256i()
            Cols8.steps4(T.self, &s0, &t0, lo, codes + at, codesB + at, spread)
            Cols8.steps4(T.self, &s1, &t1, hi, codes + (at &+ 128), codesB + (at &+ 128), spread)
            let dw = SIMD8<Float>(repeating: QuantDot.f16(blk))
            let mw = hasMinimum ? SIMD8<Float>(repeating: QuantDot.f16(blk, 2)) : SIMD8<Float>()
            add(&acc, dot(s0, s1), meta + b &* 128, dw, mw)
            if two { add(&accB, dot(t0, t1), metaB + b &* 128, dw, mw) }
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }
}
#endif
