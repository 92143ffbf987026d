import EdgeHAL

// Integer dot products for the K-quants (q2_K … q6_K) against 8-bit activations in the
// `evenOdd256` layout: per super-block, each run of 32 values as 16 even-index then 16 odd-index
// Int16 codes, and per run its scale d_r and the scaled sums d_r·Σq (over 32 and over 16 values).
//
// A run of 32 weight codes comes out of the packed bits as two 16-lane vectors E (even l) and O (odd l)
// by reading the bytes as 16-bit words (byte 2i in the low half, 2i + 1 in the high half) — shifts and
// masks only. For each run: E·E_a + O·O_a in Int16, pairs summed to Int32, times the sub-block scales
// (Int32 multiply, exact: < 2^24), converted and accumulated in Float times the run's d_r; once per
// super-block the sum is scaled by d_w. q3_K and q6_K codes are made signed (−4, −32) before the
// multiply, so their offset needs no correction; the minimum of q2_K and q4_K/q5_K comes in through
// the scaled activation sums:  Σ_s d_r·scale_s·Σ_l q·a − d_min·Σ_s min_s·(d_r·Σ_l a).
// Int16 bound: |E·E_a + O·O_a| ≤ 2·31·127 (q5_K) and a pair of those fits Int16 (QuantDot.pairSum).
//
// For 16-value sub-blocks (q2_K, q3_K, q6_K) lanes 0…7 of E/O hold l < 16 and 8…15 hold l ≥ 16, so
// after pairing lanes 0…3 belong to the run's first sub-block and 4…7 to its second: the scale vector
// is [s_2r ×4, s_2r+1 ×4].

/// Four values of one per-column quantity, addressed by a column index that unrolls to a constant.
struct Quad<V: SIMD> {
    var v0 = V(), v1 = V(), v2 = V(), v3 = V()
    @inline(__always) subscript(_ i: Int) -> V {
        get {
            switch i {
            case 0: return v0
            case 1: return v1
            case 2: return v2
            default: return v3
            }
        }
        set {
            switch i {
            case 0: v0 = newValue
            case 1: v1 = newValue
            case 2: v2 = newValue
            default: v3 = newValue
            }
        }
    }
}

/// Calls body(0…T.n − 1), written out so the column index is always a constant: a `for` loop over
/// T.n was left rolled by LLVM in the larger kernels, with the accumulators in memory.
@inline(__always) func columns<T: TileWidth>(_: T.Type, _ body: (Int) -> Void) {
    body(0)
    if T.n > 1 { body(1) }
    if T.n > 2 { body(2) }
    if T.n > 3 { body(3) }
    if T.n > 4 { body(4); body(5); body(6); body(7) }
}

/// Metadata of a super-block in the evenOdd256 layout (see ActivationLayout).
enum KMeta {
    static let bytes = 128
    /// d_r·Σq over each run of 32 values (8 lanes).
    @inline(__always) static func sums32(_ m: UnsafeRawPointer) -> SIMD8<Float> {
        m.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
    }
    /// d_r·Σq over values 16j…16j + 15, j = 8h … 8h + 7.
    @inline(__always) static func sums16(_ m: UnsafeRawPointer, _ h: Int) -> SIMD8<Float> {
        m.loadUnaligned(fromByteOffset: 64 &+ 32 &* h, as: SIMD8<Float>.self)
    }
}

extension QuantDot {
    /// acc += pairSum(E·E_a + O·O_a) · scale · d_r for run `r` of the super-block whose codes are at
    /// `c` and metadata at `m`.
    @inline(__always) static func kRun(_ acc: inout SIMD8<Float>, _ e: SIMD16<Int16>, _ o: SIMD16<Int16>,
                                       _ scale: SIMD8<Int32>, _ c: UnsafeRawPointer, _ m: UnsafeRawPointer, _ r: Int) {
        let dot = pairSum(e &* codes(c, r &* 64) &+ o &* codes(c, r &* 64 &+ 32)) &* scale
        acc.addProduct(SIMD8<Float>(dot), SIMD8<Float>(repeating: m.load(fromByteOffset: r &* 4, as: Float.self)))
    }

    /// kRun for every column of the tile; `c` and `m` are column 0's codes and metadata of the super-block.
    @inline(__always) static func kRuns<T: TileWidth>(_: T.Type, _ acc: inout Quad<SIMD8<Float>>, _ e: SIMD16<Int16>, _ o: SIMD16<Int16>,
                                                      _ scale: SIMD8<Int32>, _ c: UnsafeRawPointer, _ m: UnsafeRawPointer,
                                                      _ act: ActColumns, _ r: Int) {
        columns(T.self) { j in kRun(&acc[j], e, o, scale, c + j &* act.codeStride, m + j &* act.metaStride, r) }
    }

    /// [a ×4, b ×4].
    @inline(__always) static func split(_ a: Int32, _ b: Int32) -> SIMD8<Int32> {
        SIMD8<Int32>(a, a, a, a, b, b, b, b)
    }

    @inline(__always) static func byte(_ x: UInt64, _ i: Int) -> Int32 { Int32(truncatingIfNeeded: (x &>> UInt64(8 &* i)) & 0xFF) }

    /// Eight bytes widened to Int32 lanes.
    @inline(__always) static func bytes8(_ x: UInt64) -> SIMD8<Int32> {
        let v = unsafeBitCast(SIMD2<UInt64>(x, 0), to: SIMD16<UInt8>.self)
        return SIMD8<Int32>(truncatingIfNeeded: v.lowHalf)
    }

    /// q4_K/q5_K's packed 6-bit scales and mins as two little-endian 8-byte words (ggml's utmp shuffle).
    @inline(__always) static func scalesMinsK4(_ p: UnsafeRawPointer) -> (scales: UInt64, mins: UInt64) {
        let u0 = p.loadUnaligned(as: UInt32.self)
        let u1 = p.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        let u2 = p.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let s0 = u0 & 0x3F3F_3F3F
        let s1 = (u2 & 0x0F0F_0F0F) | (((u0 >> 6) & 0x0303_0303) << 4)
        let m0 = u1 & 0x3F3F_3F3F
        let m1 = ((u2 >> 4) & 0x0F0F_0F0F) | (((u1 >> 6) & 0x0303_0303) << 4)
        return (UInt64(s0) | UInt64(s1) << 32, UInt64(m0) | UInt64(m1) << 32)
    }

    /// Whether q4_K/q5_K blocks carry the fifth bit: `K4K5<Without>` is q4_K, `K4K5<With>` q5_K.
    protocol FifthBit { static var present: Bool { get } }
    enum Without: FifthBit { static var present: Bool { false } }
    enum With: FifthBit { static var present: Bool { true } }

    // MARK: q4_K — { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128] }, 144 bytes;
    //       q5_K — { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128] }, 176 bytes.

    /// q4_K and q5_K: eight sub-blocks of 32 with 6-bit scales and mins; q5_K adds a fifth bit (qh).
    enum K4K5<Q: FifthBit>: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            let fifthBit = Q.present
            let blockBytes = fifthBit ? 176 : 144, qsOffset = fifthBit ? 48 : 16
            var acc = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            for sb in 0..<blocks {
                let blk = row + sb &* blockBytes
                let (sc, mn) = scalesMinsK4(blk + 4)
                let cb = c0 + sb &* 512, mb = m0 + sb &* KMeta.bytes
                // q5_K's fifth bit of sub-block r: bit r of qh[l] — even l: word bit r, odd l: word bit
                // 8 + r. `h` is qh shifted right by r, so the bit positions are constants.
                var h = fifthBit ? words(blk + 16) : SIMD16<UInt16>()
                var sbAcc = Quad<SIMD8<Float>>()
                for c in 0..<4 {
                    let q = words(blk + qsOffset + 32 &* c)
                    let r0 = 2 &* c, r1 = 2 &* c &+ 1
                    var e0 = q & 0x000F, o0 = (q &>> 8) & 0x000F
                    var e1 = (q &>> 4) & 0x000F, o1 = q &>> 12
                    if fifthBit {
                        e0 |= (h &<< 4) & 0x0010
                        o0 |= (h &>> 4) & 0x0010
                        e1 |= (h &<< 3) & 0x0010
                        o1 |= (h &>> 5) & 0x0010
                        h &>>= 2
                    }
                    kRuns(T.self, &sbAcc, i16(e0), i16(o0), SIMD8<Int32>(repeating: byte(sc, r0)), cb, mb, act, r0)
                    kRuns(T.self, &sbAcc, i16(e1), i16(o1), SIMD8<Int32>(repeating: byte(sc, r1)), cb, mb, act, r1)
                }
                let d = f16Splat(blk), dmin = -f16Splat(blk + 2)
                let mins = SIMD8<Float>(bytes8(mn))
                columns(T.self) { j in
                    acc[j].addProduct(sbAcc[j], d)
                    acc[j].addProduct(mins * KMeta.sums32(mb + j &* act.metaStride), dmin)
                }
            }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }
    }

    // MARK: q6_K — { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d }, 210 bytes.

    enum Q6_K: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            var acc = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            for sb in 0..<blocks {
                let blk = row + sb &* 210
                var sbAcc = Quad<SIMD8<Float>>()
                let sLo = SIMD8<Int32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 192, as: SIMD8<Int8>.self))
                let sHi = SIMD8<Int32>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: 200, as: SIMD8<Int8>.self))
                let cb = c0 + sb &* 512, mb = m0 + sb &* KMeta.bytes
                for h in 0..<2 {
                    let l0 = words(blk + 64 &* h), l1 = words(blk + (64 &* h &+ 32)), qh = words(blk + (128 &+ 32 &* h))
                    let s = h == 0 ? sLo : sHi
                    let r = 4 &* h
                    // Run k = 0…3 of this half: low nibbles of l0 / l1, then high nibbles; qh bits 2k…2k+1.
                    // Each run is decoded right before use, which keeps the tile's registers free.
                    kRuns(T.self, &sbAcc, signed6((l0 & 0x000F) | ((qh & 0x0003) &<< 4)), signed6(((l0 &>> 8) & 0x000F) | ((qh &>> 4) & 0x0030)),
                          split(s[0], s[1]), cb, mb, act, r)
                    kRuns(T.self, &sbAcc, signed6((l1 & 0x000F) | ((qh &<< 2) & 0x0030)), signed6(((l1 &>> 8) & 0x000F) | ((qh &>> 6) & 0x0030)),
                          split(s[2], s[3]), cb, mb, act, r &+ 1)
                    kRuns(T.self, &sbAcc, signed6(((l0 &>> 4) & 0x000F) | (qh & 0x0030)), signed6((l0 &>> 12) | ((qh &>> 8) & 0x0030)),
                          split(s[4], s[5]), cb, mb, act, r &+ 2)
                    kRuns(T.self, &sbAcc, signed6(((l1 &>> 4) & 0x000F) | ((qh &>> 2) & 0x0030)), signed6((l1 &>> 12) | ((qh &>> 10) & 0x0030)),
                          split(s[6], s[7]), cb, mb, act, r &+ 3)
                }
                let d = f16Splat(blk + 208)
                columns(T.self) { j in acc[j].addProduct(sbAcc[j], d) }
            }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }

        /// Stored codes are q + 32.
        @inline(__always) static func signed6(_ v: SIMD16<UInt16>) -> SIMD16<Int16> { i16(v) &- 32 }
    }

    // MARK: q3_K — { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d }, 110 bytes.

    /// The sixteen signed scales of a q3_K block (6 bits stored + 32, ggml's aux shuffle: the bytes of
    /// a0, a1 are scales 0…7, of a2, a3 scales 8…15). Shared by the portable and avx2 kernels.
    @inline(__always) static func scalesQ3K(_ blk: UnsafeRawPointer) -> (SIMD8<Int32>, SIMD8<Int32>) {
        let x0 = blk.loadUnaligned(fromByteOffset: 96, as: UInt32.self)
        let x1 = blk.loadUnaligned(fromByteOffset: 100, as: UInt32.self)
        let t = blk.loadUnaligned(fromByteOffset: 104, as: UInt32.self)
        let a0 = (x0 & 0x0F0F_0F0F) | ((t & 0x0303_0303) << 4)
        let a1 = (x1 & 0x0F0F_0F0F) | (((t >> 2) & 0x0303_0303) << 4)
        let a2 = ((x0 >> 4) & 0x0F0F_0F0F) | (((t >> 4) & 0x0303_0303) << 4)
        let a3 = ((x1 >> 4) & 0x0F0F_0F0F) | (((t >> 6) & 0x0303_0303) << 4)
        return (bytes8(UInt64(a0) | UInt64(a1) << 32) &- 32, bytes8(UInt64(a2) | UInt64(a3) << 32) &- 32)
    }

    enum Q3_K: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            var acc = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            for sb in 0..<blocks {
                let blk = row + sb &* 110
                let (sLo, sHi) = scalesQ3K(blk)
                let cb = c0 + sb &* 512, mb = m0 + sb &* KMeta.bytes
                // Third bit of run b = 4h + k: bit b of hmask[l]; `hb` is hmask shifted right by b.
                var hb = words(blk)
                var sbAcc = Quad<SIMD8<Float>>()
                for h in 0..<2 {
                    var q = words(blk + (32 &+ 32 &* h))
                    let s = h == 0 ? sLo : sHi
                    for k in 0..<4 {
                        // Codes q + 4 (0…7), made signed.
                        let e = i16((q & 0x0003) | ((hb &<< 2) & 0x0004)) &- 4
                        let o = i16(((q &>> 8) & 0x0003) | ((hb &>> 6) & 0x0004)) &- 4
                        q &>>= 2
                        hb &>>= 1
                        kRuns(T.self, &sbAcc, e, o, split(s[2 &* k], s[2 &* k &+ 1]), cb, mb, act, 4 &* h &+ k)
                    }
                }
                let d = f16Splat(blk + 108)
                columns(T.self) { j in acc[j].addProduct(sbAcc[j], d) }
            }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }
    }

    // MARK: q2_K — { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin }, 84 bytes.

    /// A q2_K super-block into the tile (both kernel sets): acc[j] += d·sbAcc[j] − dmin·(m_lo·Σ16 over
    /// sub-blocks 0…7 + m_hi·Σ16 over 8…15), the 4-bit minimums `mLo`, `mHi` as Float lanes; `mb` is
    /// column 0's KMeta.
    @inline(__always) static func foldQ2K<T: TileWidth>(_: T.Type, _ acc: inout Quad<SIMD8<Float>>, _ sbAcc: Quad<SIMD8<Float>>,
                                                       _ blk: UnsafeRawPointer, _ mLo: SIMD8<Float>, _ mHi: SIMD8<Float>,
                                                       _ mb: UnsafeRawPointer, _ act: ActColumns) {
        let d = f16Splat(blk + 80), dmin = -f16Splat(blk + 82)
        columns(T.self) { j in
            let mj = mb + j &* act.metaStride
            acc[j].addProduct(sbAcc[j], d)
            acc[j].addProduct(mLo * KMeta.sums16(mj, 0) + mHi * KMeta.sums16(mj, 1), dmin)
        }
    }

    enum Q2_K: RowKernel {
        static var blockSize: Int { 256 }
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            var acc = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            for sb in 0..<blocks {
                let blk = row + sb &* 84
                let p0 = blk.loadUnaligned(as: UInt64.self), p1 = blk.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                let sLo = bytes8(p0 & 0x0F0F_0F0F_0F0F_0F0F), sHi = bytes8(p1 & 0x0F0F_0F0F_0F0F_0F0F)
                let cb = c0 + sb &* 512, mb = m0 + sb &* KMeta.bytes
                var sbAcc = Quad<SIMD8<Float>>()
                for h in 0..<2 {
                    var q = words(blk + (16 &+ 32 &* h))
                    let s = h == 0 ? sLo : sHi
                    for k in 0..<4 {
                        let e = i16(q & 0x0003), o = i16((q &>> 8) & 0x0003)
                        q &>>= 2
                        kRuns(T.self, &sbAcc, e, o, split(s[2 &* k], s[2 &* k &+ 1]), cb, mb, act, 4 &* h &+ k)
                    }
                }
                foldQ2K(T.self, &acc, sbAcc, blk, SIMD8<Float>(bytes8((p0 >> 4) & 0x0F0F_0F0F_0F0F_0F0F)),
                        SIMD8<Float>(bytes8((p1 >> 4) & 0x0F0F_0F0F_0F0F_0F0F)), mb, act)
            }
            columns(T.self) { j in out[j &* outStride] = acc[j].sum() }
        }
    }
}
