import EdgeHAL
import Synchronization

// Integer dot products for the 32-value block formats (q4_0, q4_1, q5_0, q5_1, q8_0) against
// activations quantized by ActivationQuant, for one weight row and a tile of 1…4 columns.
//
// q4/q5 weights are decoded two blocks at a time: the 16 bytes of `qs` of block A and of block B
// are read as 16 little-endian words, whose four nibbles are values (2i, 2i+16, 2i+1, 2i+17) of
// the block — four 16-lane vectors with no shuffling (the `pairs32` activation layout matches).
// Codes stay unsigned (q4: 0…15, q5: 0…31); the offset (−8, −16) or the minimum m enters through
// the activation block sums s_a = d_a·Σq_a (Q8_1's s), one FMA per pair of blocks:
//     Σ x_w·x_a = d_w·(d_a·Σ q_w·q_a + off·s_a)   (q4_0, q5_0: off = −8, −16, folded into s_a)
//     Σ x_w·x_a = d_w·d_a·Σ q_w·q_a + m_w·s_a      (q4_1, q5_1)
// Products are summed in Int16 (4 per lane ≤ 4·31·127 < 2^15; adjacent lanes too) and then in pairs
// to Int32, converted to Float and scaled once per pair of blocks.
//
// q8_0 weights (signed bytes) are widened to Int16 in natural order instead (vpmovsxbw).

/// Column tiles of 1…4 columns, as types so each width is specialized with its loop unrolled.
protocol TileWidth { static var n: Int { get } }
enum Tile1: TileWidth { static var n: Int { 1 } }
enum Tile2: TileWidth { static var n: Int { 2 } }
enum Tile3: TileWidth { static var n: Int { 3 } }
enum Tile4: TileWidth { static var n: Int { 4 } }
/// Prefill tiles of the 32-value pair formats only (RowKernel.wideTiles): a decoded pair of weight
/// blocks serves 8 columns, halving the decode work per product.
enum Tile8: TileWidth { static var n: Int { 8 } }

/// Quantized activation columns: codes and metadata of column c at `codes + c·codeStride`,
/// `meta + c·metaStride` (bytes); and the last byte of the weight rows being read (for Prefetch).
struct ActColumns {
    var codes: UnsafeRawPointer
    var codeStride: Int
    var meta: UnsafeRawPointer
    var metaStride: Int
    var weightEnd: UnsafeRawPointer
}

/// Touch-ahead loads standing in for prefetch instructions, which portable Swift lacks. Reading two
/// short rows at once from DRAM, the hardware prefetchers fell behind (cold q8_0 576×49152: 3.0 GB/s
/// per core against 6.1 for one row at a time); a touch 512 bytes ahead of each stream restores it
/// (6.5 GB/s; 1536 or 4096 ahead did not help). Each touch reads one byte, never past `end`; the
/// bytes are OR-ed and published once per row pair so the loads stay.
struct Prefetch {
    static let distance = 512
    static let sink = Atomic<UInt8>(0)
    let end: UnsafeRawPointer
    var bits: UInt8 = 0
    init(_ end: UnsafeRawPointer) { self.end = end }
    @inline(__always) mutating func touch(_ p: UnsafeRawPointer) {
        bits |= Swift.min(p + Prefetch.distance, end).load(as: UInt8.self)
    }
    @inline(__always) func publish() { Prefetch.sink.store(bits, ordering: .relaxed) }
}

/// Two decoded blocks: four 16-lane code vectors, [d_A ×4, d_B ×4] and (q4_1, q5_1) [m_A ×4, m_B ×4].
struct DecodedPair {
    var n0, n1, n2, n3: SIMD16<Int16>
    var dw: SIMD8<Float>
    var mw: SIMD8<Float>
}

protocol PairFormat {
    static var blockBytes: Int { get }
    /// The code offset of symmetric formats (q4_0: −8, q5_0: −16), 0 for those with a minimum. The
    /// activation quantizer stores s_a already multiplied by it, so Σ x_w·x_a = d_w·(d_a·S + s'_a).
    static var offset: Float { get }
    /// Whether mat-vec runs two rows at once (q4); q5's larger decode spills registers when doubled.
    static var rowPairs: Bool { get }
    /// Decodes blocks `a` and `b` (b may equal a for an odd last block; its activations are zero).
    static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> DecodedPair
}

extension QuantDot {
    /// Splits 16 words of 4-bit codes into the four nibble vectors.
    @inline(__always) static func nibbles(_ w: SIMD16<UInt16>) -> (SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>) {
        (i16(w & 0x000F), i16((w &>> 4) & 0x000F), i16((w &>> 8) & 0x000F), i16(w &>> 12))
    }

    /// Fifth bits for q5: `h` holds block A's 16 qh bits (low or high half) in lanes 0…7 and block B's
    /// in lanes 8…15; returns 16 where bit (2i + odd) is set in lane i (and i − 8).
    @inline(__always) static func fifthBits(_ h: SIMD16<UInt16>, odd: Bool) -> SIMD16<Int16> {
        let m = odd
            ? SIMD16<UInt16>(2, 8, 32, 128, 512, 2048, 8192, 32768, 2, 8, 32, 128, 512, 2048, 8192, 32768)
            : SIMD16<UInt16>(1, 4, 16, 64, 256, 1024, 4096, 16384, 1, 4, 16, 64, 256, 1024, 4096, 16384)
        return i16(SIMD16<UInt16>(repeating: 0).replacing(with: 16, where: (h & m) .== m))
    }

    /// [x_A ×8, x_B ×8] for two 16-bit values.
    @inline(__always) static func halves16(_ a: UInt16, _ b: UInt16) -> SIMD16<UInt16> {
        let mask = SIMD16<UInt16>(0, 0, 0, 0, 0, 0, 0, 0, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF)
        return (SIMD16<UInt16>(repeating: a) & ~mask) | (SIMD16<UInt16>(repeating: b) & mask)
    }

    @inline(__always) static func fifthBitPair(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ qhOffset: Int,
                                               _ n: inout (SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>, SIMD16<Int16>)) {
        let qa = a.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self)
        let qb = b.loadUnaligned(fromByteOffset: qhOffset, as: UInt32.self)
        let lo = halves16(UInt16(truncatingIfNeeded: qa), UInt16(truncatingIfNeeded: qb))
        let hi = halves16(UInt16(truncatingIfNeeded: qa >> 16), UInt16(truncatingIfNeeded: qb >> 16))
        n.0 |= fifthBits(lo, odd: false)   // values 2i
        n.1 |= fifthBits(hi, odd: false)   // values 2i + 16
        n.2 |= fifthBits(lo, odd: true)    // values 2i + 1
        n.3 |= fifthBits(hi, odd: true)    // values 2i + 17
    }
}

enum Q4_0Format: PairFormat {
    static var blockBytes: Int { 18 }
    static var offset: Float { -8 }
    static var rowPairs: Bool { true }
    @inline(__always) static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> DecodedPair {
        let (n0, n1, n2, n3) = QuantDot.nibbles(QuantDot.words(a + 2, b + 2))
        return DecodedPair(n0: n0, n1: n1, n2: n2, n3: n3, dw: QuantDot.f16Halves(a, b), mw: SIMD8<Float>())
    }
}

enum Q4_1Format: PairFormat {
    static var blockBytes: Int { 20 }
    static var offset: Float { 0 }
    static var rowPairs: Bool { true }
    @inline(__always) static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> DecodedPair {
        let (n0, n1, n2, n3) = QuantDot.nibbles(QuantDot.words(a + 4, b + 4))
        return DecodedPair(n0: n0, n1: n1, n2: n2, n3: n3, dw: QuantDot.f16Halves(a, b), mw: QuantDot.f16Halves(a + 2, b + 2))
    }
}

enum Q5_0Format: PairFormat {
    static var blockBytes: Int { 22 }
    static var offset: Float { -16 }
    static var rowPairs: Bool { false }
    @inline(__always) static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> DecodedPair {
        var n = QuantDot.nibbles(QuantDot.words(a + 6, b + 6))
        QuantDot.fifthBitPair(a, b, 2, &n)
        return DecodedPair(n0: n.0, n1: n.1, n2: n.2, n3: n.3, dw: QuantDot.f16Halves(a, b), mw: SIMD8<Float>())
    }
}

enum Q5_1Format: PairFormat {
    static var blockBytes: Int { 24 }
    static var offset: Float { 0 }
    static var rowPairs: Bool { false }
    @inline(__always) static func decode(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> DecodedPair {
        var n = QuantDot.nibbles(QuantDot.words(a + 8, b + 8))
        QuantDot.fifthBitPair(a, b, 4, &n)
        return DecodedPair(n0: n.0, n1: n.1, n2: n.2, n3: n.3, dw: QuantDot.f16Halves(a, b), mw: QuantDot.f16Halves(a + 2, b + 2))
    }
}

extension QuantDot {
    /// One pair of blocks against one column: codes at `c`, metadata ([d ×8], [s'/4 ×8]) at `m`;
    /// the minimum term (q4_1, q5_1) goes to `off`.
    @inline(__always) static func pairStep<F: PairFormat>(_: F.Type, _ acc: inout SIMD8<Float>, _ off: inout SIMD8<Float>,
                                                          _ w: DecodedPair, _ c: UnsafeRawPointer, _ m: UnsafeRawPointer) {
        let p = w.n0 &* codes(c, 0) &+ w.n1 &* codes(c, 32) &+ w.n2 &* codes(c, 64) &+ w.n3 &* codes(c, 96)
        let s = SIMD8<Float>(pairSum(p))
        let da = m.loadUnaligned(as: SIMD8<Float>.self), sa = m.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        if F.offset != 0 {
            acc.addProduct(w.dw, sa.addingProduct(s, da))
        } else {
            acc.addProduct(s * da, w.dw)
            off.addProduct(w.mw, sa)
        }
    }

    /// pairStep with one accumulator for both terms (tiles: enough independent chains across columns).
    @inline(__always) static func pairStep<F: PairFormat>(_ f: F.Type, _ acc: SIMD8<Float>, _ w: DecodedPair,
                                                          _ c: UnsafeRawPointer, _ m: UnsafeRawPointer) -> SIMD8<Float> {
        var a = acc, o = SIMD8<Float>()
        pairStep(f, &a, &o, w, c, m)
        return a + o
    }

    /// The kernels of q4_0, q4_1, q5_0 and q5_1 rows.
    enum Pair<F: PairFormat>: RowKernel {
        static var blockSize: Int { 32 }
        static var wideTiles: Bool { true }

        /// out[c·outStride] = row · column(col + c) for c in 0..<T.n, for q4_0/q4_1/q5_0/q5_1 rows.
        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            // Columns 0…3 in acc, 4…7 (Tile8) in hi.
            var acc = Quad<SIMD8<Float>>(), hi = Quad<SIMD8<Float>>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            let cs = act.codeStride, ms = act.metaStride
            let pairBytes = 2 &* F.blockBytes
            var p = 0
            let pairs = blocks / 2
            if T.n == 1 {
                // Mat-vec: two pairs per step into four accumulators, so the FMA latency chains stay short.
                var off = Quad<SIMD8<Float>>()
                while p &+ 2 <= pairs {
                    let a = row + p &* pairBytes
                    let w0 = F.decode(a, a + F.blockBytes)
                    let w1 = F.decode(a + pairBytes, a + (pairBytes &+ F.blockBytes))
                    let c = c0 + p &* 128, m = m0 + p &* 64
                    pairStep(F.self, &acc.v0, &off.v0, w0, c, m)
                    pairStep(F.self, &acc.v1, &off.v1, w1, c + 128, m + 64)
                    p &+= 2
                }
                acc.v0 += acc.v1
                if F.offset == 0 { acc.v0 += off.v0 + off.v1 }
                acc.v1 = SIMD8<Float>()
            }
            @inline(__always) func step(_ w: DecodedPair, _ p: Int) {
                columns(T.self) { j in
                    let c = c0 + (j &* cs &+ p &* 128), m = m0 + (j &* ms &+ p &* 64)
                    if j < 4 { acc[j] = pairStep(F.self, acc[j], w, c, m) } else { hi[j &- 4] = pairStep(F.self, hi[j &- 4], w, c, m) }
                }
            }
            while p < pairs {
                let a = row + p &* pairBytes
                step(F.decode(a, a + F.blockBytes), p)
                p &+= 1
            }
            if blocks & 1 != 0 {
                // The last block alone: decode it twice; the B half of its activation pair is zero.
                let a = row + p &* pairBytes
                step(F.decode(a, a), p)
            }
            columns(T.self) { j in out[j &* outStride] = (j < 4 ? acc[j] : hi[j &- 4]).sum() }
        }

        /// Mat-vec on two rows: out[0] = row0 · column, out[1] = row1 · column (activations loaded once).
        @inline(__always)
        static func rowPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                            _ out: UnsafeMutablePointer<Float>) {
            guard F.rowPairs else {
                row(Tile1.self, row0, blocks: blocks, act, col: col, out, outStride: 1)
                row(Tile1.self, row1, blocks: blocks, act, col: col, out + 1, outStride: 1)
                return
            }
            var acc0 = SIMD8<Float>(), off0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), off1 = SIMD8<Float>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            let pairBytes = 2 &* F.blockBytes
            let pairs = blocks / 2
            var pf = Prefetch(act.weightEnd)
            var p = 0
            while p < pairs {
                let o = p &* pairBytes
                let c = c0 + p &* 128, m = m0 + p &* 64
                pf.touch(row0 + o)
                pf.touch(row1 + o)
                pairStep(F.self, &acc0, &off0, F.decode(row0 + o, row0 + (o &+ F.blockBytes)), c, m)
                pairStep(F.self, &acc1, &off1, F.decode(row1 + o, row1 + (o &+ F.blockBytes)), c, m)
                p &+= 1
            }
            if blocks & 1 != 0 {
                let o = p &* pairBytes
                let c = c0 + p &* 128, m = m0 + p &* 64
                pairStep(F.self, &acc0, &off0, F.decode(row0 + o, row0 + o), c, m)
                pairStep(F.self, &acc1, &off1, F.decode(row1 + o, row1 + o), c, m)
            }
            out[0] = (acc0 + off0).sum()
            out[1] = (acc1 + off1).sum()
            pf.publish()
        }
    }

    // MARK: q8_0 — { fp16 d; int8 qs[32] } against natural-order codes, metadata [d_a ×8] per block.

    @inline(__always) static func q8Codes(_ blk: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int16> {
        SIMD16<Int16>(truncatingIfNeeded: blk.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int8>.self))
    }

    @inline(__always) static func q8Step(_ acc: inout SIMD8<Float>, _ q0: SIMD16<Int16>, _ q1: SIMD16<Int16>,
                                         _ dw: SIMD8<Float>, _ c: UnsafeRawPointer, _ m: UnsafeRawPointer) {
        // |q_w·q_a| ≤ 128·127, so two products per lane fit Int16 but not four: widen both halves of
        // each 32-bit lane (sign-extended) instead of pairSum.
        let x = unsafeBitCast(q0 &* codes(c, 0) &+ q1 &* codes(c, 32), to: SIMD8<Int32>.self)
        let s = ((x &<< 16) &>> 16) &+ (x &>> 16)
        acc.addProduct(SIMD8<Float>(s), dw * m.loadUnaligned(as: SIMD8<Float>.self))
    }

    enum Q8_0: RowKernel {
        static var blockSize: Int { 32 }

        @inline(__always)
        static func row<T: TileWidth>(_: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                      _ out: UnsafeMutablePointer<Float>, outStride: Int) {
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>(), acc2 = SIMD8<Float>(), acc3 = SIMD8<Float>()
            let c0 = act.codes + col * act.codeStride, m0 = act.meta + col * act.metaStride
            let cs = act.codeStride, ms = act.metaStride
            var b = 0
            if T.n == 1 {
                var accB = SIMD8<Float>()
                while b &+ 2 <= blocks {
                    let blk = row + b &* 34
                    let c = c0 + b &* 64, m = m0 + b &* 32
                    q8Step(&acc0, q8Codes(blk, 2), q8Codes(blk, 18), f16Splat(blk), c, m)
                    q8Step(&accB, q8Codes(blk, 36), q8Codes(blk, 52), f16Splat(blk + 34), c + 64, m + 32)
                    b &+= 2
                }
                acc0 += accB
            }
            while b < blocks {
                let blk = row + b &* 34
                let q0 = q8Codes(blk, 2), q1 = q8Codes(blk, 18)
                let dw = f16Splat(blk)
                let c = c0 + b &* 64, m = m0 + b &* 32
                q8Step(&acc0, q0, q1, dw, c, m)
                if T.n > 1 { q8Step(&acc1, q0, q1, dw, c + cs, m + ms) }
                if T.n > 2 { q8Step(&acc2, q0, q1, dw, c + 2 &* cs, m + 2 &* ms) }
                if T.n > 3 { q8Step(&acc3, q0, q1, dw, c + 3 &* cs, m + 3 &* ms) }
                b &+= 1
            }
            out[0] = acc0.sum()
            if T.n > 1 { out[outStride] = acc1.sum() }
            if T.n > 2 { out[2 &* outStride] = acc2.sum() }
            if T.n > 3 { out[3 &* outStride] = acc3.sum() }
        }

        /// Mat-vec on two q8_0 rows (activations loaded once).
        @inline(__always)
        static func rowPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                            _ out: UnsafeMutablePointer<Float>) {
            var acc0 = SIMD8<Float>(), acc1 = SIMD8<Float>()
            let c0 = act.codes + col &* act.codeStride, m0 = act.meta + col &* act.metaStride
            var pf = Prefetch(act.weightEnd)
            var b = 0
            while b < blocks {
                let o = b &* 34
                let c = c0 + b &* 64, m = m0 + b &* 32
                pf.touch(row0 + o)
                pf.touch(row1 + o)
                q8Step(&acc0, q8Codes(row0 + o, 2), q8Codes(row0 + o, 18), f16Splat(row0 + o), c, m)
                q8Step(&acc1, q8Codes(row1 + o, 2), q8Codes(row1 + o, 18), f16Splat(row1 + o), c, m)
                b &+= 1
            }
            out[0] = acc0.sum()
            out[1] = acc1.sum()
            pf.publish()
        }
    }
}
