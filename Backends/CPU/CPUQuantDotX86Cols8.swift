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
// Int16 lanes add up in place over as many steps as the codes and scales allow: a whole run of 32 for
// 4-bit codes under one scale (q4_0, q4_1, q4_K: 8·2·15·127 = 30 480 < 2^15), 4 steps for 5-bit codes
// (q5_0, q5_1, q5_K) and for a 16-value sub-block (q2_K, q3_K), 2 for 6-bit ones (q6_K). Then one
// vpmaddwd (by ones or the sub-block scale) gives each column's Int32 dot product in its own lane and
// one FMA by the columns' scales (a vector) takes it to Float. Two groups (16 columns) share each spread
// register where a panel has them. ggml gets the same effect by interleaving weight rows at load (its
// 8×8 repack); interleaving the columns at quantization leaves the weights as the file has them: no
// second copy, no repacking pass, no change to decode.
// Measured (Zen2, 2 threads, pp128 on a 4-layer 1B-shaped model, quiet, before → after): q4_0 235 → 407
// tokens/s, q4_K 231 → 419, q5_0 211 → 336, q6_K 193 → 317; SmolLM2 445 → 689, Gemma 3 398 → 581
// (docs/cpu-kernels.md). q8_0 only in the avx512vnni set (its kernel at the end): with vpmaddubsw its
// signed weights would need a vpsignb per product, and not even two of its steps fit in Int16
// (2·2·128·127 > 2^15).

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
    @inline(__always) static func steps4<T: TileWidth, D: ByteDot>(_: T.Type, _: D.Type, _ sa: inout __m256i, _ sb: inout __m256i, _ x: __m256i,
                                                                  _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ spread: Quad<__m256i>) {
        for t in 0..<4 {
            let w = _mm256_shuffle_epi8(x, spread[t])
            sa = D.step(sa, w, a.loadUnaligned(fromByteOffset: 32 &* t, as: __m256i.self))
            if T.n > 1 { sb = D.step(sb, w, b.loadUnaligned(fromByteOffset: 32 &* t, as: __m256i.self)) }
        }
    }

    /// Four steps of 6-bit codes `x` (as steps4) for vpmaddubsw: Int16 sums of two steps at a time, each
    /// pair times the sub-block scale `scale` (Int16 lanes) into Int32 lanes `ia` (and `ib` for the
    /// second group). vpdpbusd needs no such care: its sums are Int32 from the start.
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

    /// i += s · scale as Int32 lanes; s = 0 (vpmaddubsw: Int16 step sums moved on before they could wrap).
    @inline(__always) static func drain<D: ByteDot>(_: D.Type, _ i: inout __m256i, _ s: inout __m256i, _ scale: __m256i) {
        i = _mm256_add_epi32(i, D.widen(s, scale))
        s = __m256i()
    }

    /// A super-block's scaled sums `s` and offset (or minimum) sums `o` into the row's accumulators:
    /// acc += s·d + o·e, for each of the T.n groups.
    @inline(__always) static func fold<T: TileWidth>(_: T.Type, _ acc: inout SIMD8<Float>, _ accB: inout SIMD8<Float>,
                                                    _ s: SIMD8<Float>, _ o: SIMD8<Float>, _ sB: SIMD8<Float>, _ oB: SIMD8<Float>,
                                                    _ d: SIMD8<Float>, _ e: SIMD8<Float>) {
        acc.addProduct(s, d)
        acc.addProduct(o, e)
        if T.n > 1 {
            accB.addProduct(sB, d)
            accB.addProduct(oB, e)
        }
    }

    /// One 32-value block's Int32 dot products (a group's 8 columns, Float) into its accumulator; d_r and
    /// d_r·Σa are the run's metadata at `m` (pairBytes64Cols8, bytes256Cols8):
    ///     acc += dw·(dot·d_r + off·(d_r·Σa))      (a code offset: q4_0 −8, q5_0 −16, q8_0's flip −128)
    ///     acc += dw·dot·d_r + mw·(d_r·Σa)         (hasMinimum: q4_1, q5_1)
    @inline(__always) static func addBlock(_ acc: inout SIMD8<Float>, _ dot: SIMD8<Float>, _ m: UnsafeRawPointer, _ dw: SIMD8<Float>,
                                           hasMinimum: Bool, _ off: SIMD8<Float>, _ mw: SIMD8<Float>) {
        let sums = m.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var v = dot * m.loadUnaligned(as: SIMD8<Float>.self)
        if !hasMinimum { v.addProduct(off, sums) }
        acc.addProduct(v, dw)
        if hasMinimum { acc.addProduct(sums, mw) }
    }

    /// The results of T.n groups: out[j · stride] for j < 8 · T.n.
    @inline(__always) static func store<T: TileWidth>(_: T.Type, _ a: SIMD8<Float>, _ b: SIMD8<Float>,
                                                     _ out: UnsafeMutablePointer<Float>, _ stride: Int) {
        for j in 0..<8 { out[j &* stride] = a[j] }
        if T.n > 1 { for j in 0..<8 { out[(j &+ 8) &* stride] = b[j] } }
    }
}

/// A row kernel with an interleaved-column prefill: `groups` takes T.n (1 or 2) groups of 8 at `col`.
protocol Cols8Kernel {
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int)
}

extension RowKernel where Self: Cols8Kernel {
    static var cols8: Bool { true }

    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile1.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }

    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        groups(Tile2.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }
}

extension X86Dot.K4K5: Cols8Kernel {
    /// Bit r of each byte of `h` as 16 or 0 (q5_K: bit r of qh[l] is the fifth bit of value l of run r).
    @inline(__always) static func fifthBit(_ h: __m256i, _ r: Int) -> __m256i {
        let bit4 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x10)), to: __m256i.self)
        let moved: __m256i
        switch r {
        case 0: moved = _mm256_slli_epi16(h, 4)
        case 1: moved = _mm256_slli_epi16(h, 3)
        case 2: moved = _mm256_slli_epi16(h, 2)
        case 3: moved = _mm256_slli_epi16(h, 1)
        case 4: moved = h
        case 5: moved = _mm256_srli_epi16(h, 1)
        case 6: moved = _mm256_srli_epi16(h, 2)
        default: moved = _mm256_srli_epi16(h, 3)
        }
        return _mm256_and_si256(moved, bit4)
    }

    /// One q4_K or q5_K row against T.n (1 or 2) bytes256Cols8 groups at `col`:
    ///     Σ_k w·x = Σ_sb d·Σ_r sc_r·Σ_k q·(d_r·a) − dmin·Σ_r m_r·(d_r·Σa)
    /// with run 2c in the low nibbles of qs[32c …] and run 2c + 1 in the high ones, q5_K's fifth bits
    /// from qh. 4-bit codes add up in Int16 over a run, 5-bit ones over 4 steps (one vpmaddwd each).
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        let two = T.n > 1, five = Q.present
        let blockBytes = five ? 176 : 144, qsOffset = five ? 48 : 16
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        for sb in 0..<blocks {
            let blk = row + sb &* blockBytes
            let (sc, mn) = QuantDot.scalesMinsK4(blk + 4)
            let d = QuantDot.f16Splat(blk), dmin = -QuantDot.f16Splat(blk + 2)
            var sAcc = SIMD8<Float>(), mAcc = SIMD8<Float>(), sAccB = SIMD8<Float>(), mAccB = SIMD8<Float>()
            for ch in 0..<4 {
                let at = sb &* 2048 &+ 512 &* ch
                let r0 = 2 &* ch, r1 = r0 &+ 1
                let sc0 = QuantDot.byte(sc, r0), sc1 = QuantDot.byte(sc, r1)
                let scale0 = D.scale(sc0), scale1 = D.scale(sc1)
                var s0 = __m256i(), s1 = __m256i(), t0 = __m256i(), t1 = __m256i()
                var i0 = __m256i(), i1 = __m256i(), j0 = __m256i(), j1 = __m256i()
                for half in 0..<2 {
                    var (lo, hi) = Cols8.nibbles(blk + (qsOffset &+ 32 &* ch &+ 16 &* half))
                    if five {
                        let h = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 16 &+ 16 &* half, as: __m128i.self))
                        lo = _mm256_or_si256(lo, fifthBit(h, r0))
                        hi = _mm256_or_si256(hi, fifthBit(h, r1))
                    }
                    let o = at &+ 128 &* half
                    Cols8.steps4(T.self, D.self, &s0, &t0, lo, codes + o, codesB + o, spread)
                    Cols8.steps4(T.self, D.self, &s1, &t1, hi, codes + (o &+ 256), codesB + (o &+ 256), spread)
                    if five && !D.exact {
                        Cols8.drain(D.self, &i0, &s0, scale0)
                        Cols8.drain(D.self, &i1, &s1, scale1)
                        if two {
                            Cols8.drain(D.self, &j0, &t0, scale0)
                            Cols8.drain(D.self, &j1, &t1, scale1)
                        }
                    }
                }
                if !five || D.exact {
                    i0 = D.widen(s0, scale0)
                    i1 = D.widen(s1, scale1)
                    if two {
                        j0 = D.widen(t0, scale0)
                        j1 = D.widen(t1, scale1)
                    }
                }
                let m0 = sb &* 1024 &+ 256 &* ch, m1 = m0 &+ 128
                let mn0 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r0))), mn1 = SIMD8<Float>(repeating: Float(QuantDot.byte(mn, r1)))
                runs(&sAcc, &mAcc, i0, i1, mn0, mn1, meta + m0, meta + m1)
                if two { runs(&sAccB, &mAccB, j0, j1, mn0, mn1, metaB + m0, metaB + m1) }
            }
            Cols8.fold(T.self, &acc, &accB, sAcc, mAcc, sAccB, mAccB, d, dmin)
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }

    /// A chunk's two runs (Int32 dot products, scaled) into one group's accumulators: scale sums and
    /// minimum sums (metadata at m0, m1).
    @inline(__always) static func runs(_ sAcc: inout SIMD8<Float>, _ mAcc: inout SIMD8<Float>, _ i0: __m256i, _ i1: __m256i,
                                       _ mn0: SIMD8<Float>, _ mn1: SIMD8<Float>,
                                       _ m0: UnsafeRawPointer, _ m1: UnsafeRawPointer) {
        sAcc.addProduct(SIMD8<Float>(unsafeBitCast(i0, to: SIMD8<Int32>.self)), m0.loadUnaligned(as: SIMD8<Float>.self))
        sAcc.addProduct(SIMD8<Float>(unsafeBitCast(i1, to: SIMD8<Int32>.self)), m1.loadUnaligned(as: SIMD8<Float>.self))
        mAcc.addProduct(mn0, m0.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
        mAcc.addProduct(mn1, m1.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self))
    }
}

/// The K-quants with a scale per 16 values (q2_K, q3_K, q6_K) against bytes256Cols8 groups: one frame,
/// the formats give their codes and scales. Run r = 4h + k (h: which 128 values) has sub-blocks u = 0, 1.
protocol Sub16Format: Cols8Kernel {
    /// The byte dot-product instruction of the kernel set.
    associatedtype Dot: ByteDot
    static var blockBytes: Int { get }
    /// 6-bit codes (q6_K): Int16 step sums of 2 steps (2·2·63·127 < 2^15); else of all 4 of a sub-block.
    static var sixBit: Bool { get }
    /// Per super-block: the 16 scales and 16 offset weights, whatever form the format keeps them in.
    associatedtype Scales
    static func scales(_ blk: UnsafeRawPointer) -> Scales
    /// The 16 codes (0…63) of sub-block u of run 4h + k, in both 128-bit halves.
    static func codes(_ blk: UnsafeRawPointer, _ h: Int, _ k: Int, _ u: Int) -> __m256i
    /// The Int scale of sub-block 2r + u, and the weight of its activation sum in the offset term.
    static func scale(_ s: Scales, _ i: Int) -> Int32
    static func offset(_ s: Scales, _ i: Int) -> Float
    /// Σ w·x = d·Σ_i scale_i·Σ q·(d_r·a) + dOffset·Σ_i offset_i·(d_r·Σ16 a).
    static func d(_ blk: UnsafeRawPointer) -> SIMD8<Float>
    static func dOffset(_ blk: UnsafeRawPointer) -> SIMD8<Float>
}

enum Sub16<F: Sub16Format> {
    typealias D = F.Dot

    /// One row against T.n bytes256Cols8 groups at `col`.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        let two = T.n > 1
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        @inline(__always) func add(_ sAcc: inout SIMD8<Float>, _ oAcc: inout SIMD8<Float>, _ i: __m256i, _ m: UnsafeRawPointer,
                                   _ o0: SIMD8<Float>, _ o1: SIMD8<Float>) {
            sAcc.addProduct(SIMD8<Float>(unsafeBitCast(i, to: SIMD8<Int32>.self)), m.loadUnaligned(as: SIMD8<Float>.self))
            oAcc.addProduct(o0, m.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self))
            oAcc.addProduct(o1, m.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self))
        }
        for sb in 0..<blocks {
            let blk = row + sb &* F.blockBytes
            let sc = F.scales(blk)
            var sAcc = SIMD8<Float>(), oAcc = SIMD8<Float>(), sAccB = SIMD8<Float>(), oAccB = SIMD8<Float>()
            for h in 0..<2 {
                for k in 0..<4 {
                    let r = 4 &* h &+ k
                    let at = sb &* 2048 &+ 256 &* r
                    var i = __m256i(), iB = __m256i()
                    for u in 0..<2 {
                        let x = F.codes(blk, h, k, u), scale = D.scale(F.scale(sc, 2 &* r &+ u))
                        let o = at &+ 128 &* u
                        if F.sixBit && !D.exact {
                            Cols8.steps4Scaled(T.self, &i, &iB, x, codes + o, codesB + o, spread, scale)
                        } else {
                            var s = __m256i(), t = __m256i()
                            Cols8.steps4(T.self, D.self, &s, &t, x, codes + o, codesB + o, spread)
                            Cols8.drain(D.self, &i, &s, scale)
                            if two { Cols8.drain(D.self, &iB, &t, scale) }
                        }
                    }
                    let o0 = SIMD8<Float>(repeating: F.offset(sc, 2 &* r)), o1 = SIMD8<Float>(repeating: F.offset(sc, 2 &* r &+ 1))
                    let m = sb &* 1024 &+ 128 &* r
                    add(&sAcc, &oAcc, i, meta + m, o0, o1)
                    if two { add(&sAccB, &oAccB, iB, metaB + m, o0, o1) }
                }
            }
            let d = F.d(blk), dOffset = F.dOffset(blk)
            Cols8.fold(T.self, &acc, &accB, sAcc, oAcc, sAccB, oAccB, d, dOffset)
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }
}

extension Sub16Format {
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        Sub16<Self>.groups(T.self, row, blocks: blocks, act, col: col, out, outStride: outStride)
    }
}

/// q6_K: low 4 bits from ql[64h + 32(k & 1) …] (low nibbles for k < 2, high after), bits 4–5 from
/// qh[32h …] bits 2k, 2k + 1; signed scales; the −32 through the 16-value sums.
extension X86Dot.Q6_K: Sub16Format {
    typealias Dot = D
    static var blockBytes: Int { 210 }
    static var sixBit: Bool { true }
    @inline(__always) static func scales(_ blk: UnsafeRawPointer) -> UnsafeRawPointer { blk + 192 }
    @inline(__always) static func codes(_ blk: UnsafeRawPointer, _ h: Int, _ k: Int, _ u: Int) -> __m256i {
        let lb = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 64 &* h &+ 32 &* (k & 1) &+ 16 &* u, as: __m128i.self))
        let hb = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 128 &+ 32 &* h &+ 16 &* u, as: __m128i.self))
        let low4 = Cols8.low4, high2 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x30)), to: __m256i.self)
        let lo = k < 2 ? _mm256_and_si256(lb, low4) : _mm256_and_si256(_mm256_srli_epi16(lb, 4), low4)
        let hiBits: __m256i
        switch k {
        case 0: hiBits = _mm256_slli_epi16(hb, 4)
        case 1: hiBits = _mm256_slli_epi16(hb, 2)
        case 2: hiBits = hb
        default: hiBits = _mm256_srli_epi16(hb, 2)
        }
        return _mm256_or_si256(lo, _mm256_and_si256(hiBits, high2))
    }
    @inline(__always) static func scale(_ s: UnsafeRawPointer, _ i: Int) -> Int32 { Int32(s.load(fromByteOffset: i, as: Int8.self)) }
    @inline(__always) static func offset(_ s: UnsafeRawPointer, _ i: Int) -> Float { Float(s.load(fromByteOffset: i, as: Int8.self)) }
    @inline(__always) static func d(_ blk: UnsafeRawPointer) -> SIMD8<Float> { QuantDot.f16Splat(blk + 208) }
    @inline(__always) static func dOffset(_ blk: UnsafeRawPointer) -> SIMD8<Float> { -32 * QuantDot.f16Splat(blk + 208) }
}

/// q3_K: bits 2k, 2k + 1 of qs[32h …] and bit r of hmask as bit 2; signed 6-bit scales; the −4 through
/// the 16-value sums.
extension X86Dot.Q3_K: Sub16Format {
    typealias Dot = D
    static var blockBytes: Int { 110 }
    static var sixBit: Bool { false }
    @inline(__always) static func scales(_ blk: UnsafeRawPointer) -> (SIMD8<Int32>, SIMD8<Int32>) { QuantDot.scalesQ3K(blk) }
    @inline(__always) static func codes(_ blk: UnsafeRawPointer, _ h: Int, _ k: Int, _ u: Int) -> __m256i {
        let q = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 32 &+ 32 &* h &+ 16 &* u, as: __m128i.self))
        let hm = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 16 &* u, as: __m128i.self))
        let low2 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x03)), to: __m256i.self)
        let bit2 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x04)), to: __m256i.self)
        let lo: __m256i
        switch k {
        case 0: lo = q
        case 1: lo = _mm256_srli_epi16(q, 2)
        case 2: lo = _mm256_srli_epi16(q, 4)
        default: lo = _mm256_srli_epi16(q, 6)
        }
        let r = 4 &* h &+ k, high: __m256i
        switch r {
        case 0: high = _mm256_slli_epi16(hm, 2)
        case 1: high = _mm256_slli_epi16(hm, 1)
        case 2: high = hm
        case 3: high = _mm256_srli_epi16(hm, 1)
        case 4: high = _mm256_srli_epi16(hm, 2)
        case 5: high = _mm256_srli_epi16(hm, 3)
        case 6: high = _mm256_srli_epi16(hm, 4)
        default: high = _mm256_srli_epi16(hm, 5)
        }
        return _mm256_or_si256(_mm256_and_si256(lo, low2), _mm256_and_si256(high, bit2))
    }
    @inline(__always) static func scale(_ s: (SIMD8<Int32>, SIMD8<Int32>), _ i: Int) -> Int32 { i < 8 ? s.0[i] : s.1[i &- 8] }
    @inline(__always) static func offset(_ s: (SIMD8<Int32>, SIMD8<Int32>), _ i: Int) -> Float { Float(scale(s, i)) }
    @inline(__always) static func d(_ blk: UnsafeRawPointer) -> SIMD8<Float> { QuantDot.f16Splat(blk + 108) }
    @inline(__always) static func dOffset(_ blk: UnsafeRawPointer) -> SIMD8<Float> { -4 * QuantDot.f16Splat(blk + 108) }
}

/// q2_K: bits 2k, 2k + 1 of qs[32h …]; scales[i]: a 4-bit scale (low nibble) and a 4-bit minimum (high),
/// the minimums through the 16-value sums times −dmin.
extension X86Dot.Q2_K: Sub16Format {
    typealias Dot = D
    static var blockBytes: Int { 84 }
    static var sixBit: Bool { false }
    @inline(__always) static func scales(_ blk: UnsafeRawPointer) -> UnsafeRawPointer { blk }
    @inline(__always) static func codes(_ blk: UnsafeRawPointer, _ h: Int, _ k: Int, _ u: Int) -> __m256i {
        let q = _mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 16 &+ 32 &* h &+ 16 &* u, as: __m128i.self))
        let low2 = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x03)), to: __m256i.self)
        switch k {
        case 0: return _mm256_and_si256(q, low2)
        case 1: return _mm256_and_si256(_mm256_srli_epi16(q, 2), low2)
        case 2: return _mm256_and_si256(_mm256_srli_epi16(q, 4), low2)
        default: return _mm256_and_si256(_mm256_srli_epi16(q, 6), low2)
        }
    }
    @inline(__always) static func scale(_ s: UnsafeRawPointer, _ i: Int) -> Int32 { Int32(s.load(fromByteOffset: i, as: UInt8.self) & 0x0F) }
    @inline(__always) static func offset(_ s: UnsafeRawPointer, _ i: Int) -> Float { Float(s.load(fromByteOffset: i, as: UInt8.self) >> 4) }
    @inline(__always) static func d(_ blk: UnsafeRawPointer) -> SIMD8<Float> { QuantDot.f16Splat(blk + 80) }
    @inline(__always) static func dOffset(_ blk: UnsafeRawPointer) -> SIMD8<Float> { -QuantDot.f16Splat(blk + 82) }
}

extension X86Dot.Pair: Cols8Kernel {
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
        let spread = Cols8.spread
        let off = SIMD8<Float>(repeating: F.offset)
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        @inline(__always) func dot(_ lo: __m256i, _ hi: __m256i) -> SIMD8<Float> {
            let i = fiveBit || D.exact ? _mm256_add_epi32(D.widen(lo), D.widen(hi)) : D.widen(_mm256_add_epi16(lo, hi))
            return SIMD8<Float>(unsafeBitCast(i, to: SIMD8<Int32>.self))
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
            Cols8.steps4(T.self, D.self, &s0, &t0, lo, codes + at, codesB + at, spread)
            Cols8.steps4(T.self, D.self, &s1, &t1, hi, codes + (at &+ 128), codesB + (at &+ 128), spread)
            let dw = QuantDot.f16Splat(blk)
            let mw = hasMinimum ? QuantDot.f16Splat(blk + 2) : SIMD8<Float>()
            Cols8.addBlock(&acc, dot(s0, s1), meta + b &* 128, dw, hasMinimum: hasMinimum, off, mw)
            if two { Cols8.addBlock(&accB, dot(t0, t1), metaB + b &* 128, dw, hasMinimum: hasMinimum, off, mw) }
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }
}

extension X86Dot.Q8_0: Cols8Kernel {
    /// Only with vpdpbusd: q8_0's signed codes become unsigned by a flip of their top bit (w + 128), and
    /// a run of 8 steps of such codes adds up to 8·4·255·127 — far past Int16, exact in Int32.
    static var cols8: Bool { D.exact }

    /// One q8_0 row against T.n bytes256Cols8 groups at `col` (avx512vnni only), a block a run:
    ///     Σ_k w·x = Σ_b d_w·(Σ_k (w + 128)·(d_b·a) − 128·(d_b·Σa))
    /// The +128 leaves through the run's activation sums, as q4_0's −8 does in the pair kernels.
    @inline(never)
    static func groups<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                     _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        precondition(D.exact, "mul_mat: q8_0 interleaved columns need exact Int32 step sums (vpdpbusd)")
        let two = T.n > 1
        let codes = act.codes + col &* act.codeStride, meta = act.meta + col &* act.metaStride
        let codesB = codes + 8 &* act.codeStride, metaB = meta + 8 &* act.metaStride
        let spread = Cols8.spread, flip = unsafeBitCast(X86Dot.Bytes(repeating: X86Dot.splat(0x80)), to: __m256i.self)
        let off = SIMD8<Float>(repeating: -128)
        var acc = SIMD8<Float>(), accB = SIMD8<Float>()
        @inline(__always) func dot(_ lo: __m256i, _ hi: __m256i) -> SIMD8<Float> {
            SIMD8<Float>(unsafeBitCast(_mm256_add_epi32(lo, hi), to: SIMD8<Int32>.self))
        }
        for b in 0..<blocks {
            let blk = row + b &* 34
            // Values 0…15 in both halves for steps 0…3, 16…31 for steps 4…7.
            let lo = _mm256_xor_si256(_mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 2, as: __m128i.self)), flip)
            let hi = _mm256_xor_si256(_mm256_broadcastsi128_si256(blk.loadUnaligned(fromByteOffset: 18, as: __m128i.self)), flip)
            let at = b &* 256
            var s0 = __m256i(), s1 = __m256i(), t0 = __m256i(), t1 = __m256i()
            Cols8.steps4(T.self, D.self, &s0, &t0, lo, codes + at, codesB + at, spread)
            Cols8.steps4(T.self, D.self, &s1, &t1, hi, codes + (at &+ 128), codesB + (at &+ 128), spread)
            let dw = QuantDot.f16Splat(blk)
            Cols8.addBlock(&acc, dot(s0, s1), meta + b &* 128, dw, hasMinimum: false, off, SIMD8<Float>())
            if two { Cols8.addBlock(&accB, dot(t0, t1), metaB + b &* 128, dw, hasMinimum: false, off, SIMD8<Float>()) }
        }
        Cols8.store(T.self, acc, accB, out, outStride)
    }
}
#endif
