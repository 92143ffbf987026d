import EdgeHAL

// Activation quantization for the integer mat-mul kernels (ggml's vec_dot_type idea).
//
// Each F32 activation column is quantized once per run to 8-bit codes with one Float scale per
// block of 32, like ggml's quantize_row_q8_0 / q8_1: d = amax / 127, q = round(x / d), so |q| ≤ 127.
// ggml pairs its K-quants with Q8_K (one scale per 256); here they get a scale per 32 too, for
// accuracy (see `evenOdd256`).
// The codes are stored in the lane order the weight kernels decode their blocks in (see
// `ActivationLayout`), so a kernel multiplies decoded weight lanes by activation lanes and never
// shuffles: widened to Int16 for the portable kernels' 16-bit multiplies, as bytes for the avx2
// kernels' byte multiply-adds.
//
// Per-block metadata (scales, sums) sits in a separate array per column.

/// Where the codes of one quantized activation block go, matching how each weight format decodes.
enum ActivationLayout {
    /// q4_0, q4_1, q5_0, q5_1: blocks are processed in pairs (A, B), 4 × 16 lanes per pair.
    /// Vector t (0..<4) holds, for i in 0..<8, A's value `off_t + 2i` in lane i and B's in lane 8 + i,
    /// with off = (0, 16, 1, 17): exactly the nibbles of the 16-bit words of the two blocks' `qs`.
    /// Metadata per pair (64 bytes): [dA ×4, dB ×4] then [sA/4 ×4, sB/4 ×4], s = c·d·Σq with c the
    /// weight format's code offset (−8, −16) or 1 (see PairFormat.offset).
    /// An odd last block is paired with a zero block (codes 0, d = s = 0).
    case pairs32
    /// q8_0: codes in natural order, 32 per block. Metadata per block (32 bytes): [d ×8].
    case natural32
    /// K-quants: every run of 32 values is stored as its 16 even-index values then its 16
    /// odd-index values, with its own scale d_r (finer than ggml's Q8_K, which has one per 256).
    /// Metadata per super-block of 256 (128 bytes, see KMeta): the 8 run scales d_r (Float) at 0,
    /// at byte 32 d_r·Σq over each run (8 × Float), at byte 64 d_r·Σq over each 16 values (16 × Float).
    ///
    /// Why per 32: Gemma 3's attn_output and ffn_down inputs (attention and GeGLU outputs) carry
    /// outliers that a scale per 256 turns into ~1 code for every other value. With Q8_K rounding the
    /// CPU backend's logits sat 0.36 below the float run's (max 0.506 on Gemma's golden prompt 2);
    /// the same graph with float activations for the K-quant mul_mats only: 0.051.
    case evenOdd256

    /// The avx2 kernels of q8_0 and the K-quants (CPUQuantDotX86.swift): Int8 codes in natural order,
    /// the row padded with zero codes to a multiple of 256. Metadata per 256 values as evenOdd256's
    /// (KMeta): the eight block scales d_b at 0, d_b·Σq over each block of 32 at byte 32, d_b·Σq over
    /// each 16 values at byte 64.
    case bytes256
    /// The avx2 kernels of q4_0, q4_1, q5_0, q5_1: Int8 codes per pair of blocks (A, B), 64 bytes:
    /// A's values 0…15, B's 0…15, A's 16…31, B's 16…31 (the nibble order of the two blocks' `qs` read
    /// side by side). Metadata as pairs32, which an odd last block's zero partner also follows.
    case pairBytes64
    /// The x86 prefill kernels that take 8 columns in the lanes of one register (the K-quants; q8_0 in the
    /// avx512vnni set only, CPUQuantDotX86Cols8.swift): a matrix's
    /// columns 8g … 8g + 7 (every whole group of 8 of its N) are stored interleaved, in the space of
    /// those 8 bytes256 columns. Run r (values 32r … 32r + 31) is 256 bytes of codes at 256r: step s
    /// (values 4s … 4s + 3) is 32 bytes, 4 of each column in column order, so one broadcast of 4 weight
    /// codes meets all 8 columns in one vpmaddubsw. Its metadata is 128 bytes at 128r: d_r of the 8
    /// columns, then d_r·Σq over the run, over its values 0…15 and 16…31 (8 Floats each). A matrix's
    /// last N mod 8 columns stay in bytes256 (`perColumn`), as every column does when N < 8.
    case bytes256Cols8
    /// The avx2 prefill kernels of q4_0, q4_1, q5_0 and q5_1: whole groups of 8 columns as in bytes256Cols8 (a run
    /// is a block; the kernels read a run's d_r and d_r·Σq), the other columns in pairBytes64. A group
    /// fits in its 8 columns' pairBytes64 places, which hold at least as many bytes per value.
    case pairBytes64Cols8

    /// The layout of a column outside whole groups of 8 (the layout itself, except for the Cols8 ones).
    var perColumn: ActivationLayout {
        switch self {
        case .bytes256Cols8: return .bytes256
        case .pairBytes64Cols8: return .pairBytes64
        default: return self
        }
    }

    /// Whether whole groups of 8 columns are interleaved (bytes256Cols8, pairBytes64Cols8).
    var groupsOf8: Bool { perColumn != self }

    /// Runs of 32 a group of 8 columns stores for `k` values (zero runs pad to the per-column length).
    func groupRuns(_ k: Int) -> Int { perColumn.paddedLength(k) / 32 }

    /// Values per metadata record.
    var block: Int {
        switch self {
        case .pairs32, .pairBytes64, .pairBytes64Cols8: return 64
        case .natural32: return 32
        case .evenOdd256, .bytes256, .bytes256Cols8: return 256
        }
    }

    var metaBytes: Int {
        switch self {
        case .pairs32, .pairBytes64, .pairBytes64Cols8: return 64
        case .natural32: return 32
        case .evenOdd256, .bytes256, .bytes256Cols8: return 128
        }
    }

    /// Bytes per stored code: Int16 lanes for the portable kernels, Int8 for the avx2 layouts.
    var codeBytes: Int { perColumn == .bytes256 || perColumn == .pairBytes64 ? 1 : 2 }

    /// Activation row length the layout needs for `k` values (pairs32 rounds up to whole pairs).
    func paddedLength(_ k: Int) -> Int { (k + block - 1) / block * block }

    /// The multiplier of the pairs32 sums for `type` (PairFormat.offset, or 1).
    static func sumScale(_ type: DType) -> Float {
        switch type {
        case .q4_0: return Q4_0Format.offset
        case .q5_0: return Q5_0Format.offset
        default: return 1
        }
    }

    static func forWeights(_ type: DType, kernels: CPUKernelSet = .portable) -> ActivationLayout? {
        let portable: ActivationLayout?
        switch type {
        case .q4_0, .q4_1, .q5_0, .q5_1: portable = .pairs32
        case .q8_0: portable = .natural32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: portable = .evenOdd256
        default: portable = nil
        }
        // The avx2 kernels read the same blocks as bytes: pairs side by side, everything else in natural order.
        guard kernels.hasOwnKernel(type), let portable else { return portable }
        switch type {
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return .bytes256Cols8
        case .q4_0, .q4_1, .q5_0, .q5_1: return .pairBytes64Cols8
        // Interleaved q8_0 needs exact Int32 step sums (X86Dot.Q8_0.cols8): vpdpbusd, not vpmaddubsw.
        case .q8_0: return kernels == .avx512vnni ? .bytes256Cols8 : .bytes256
        default: return portable == .pairs32 ? .pairBytes64 : .bytes256
        }
    }
}

enum ActivationQuant {
    /// Quantizes 32 floats: codes (Int32 lanes, values 0..<8, 8..<16, 16..<24, 24..<32), scale d
    /// and Σq. Bitwise the reference q8_0 quantizer's arithmetic (d = amax/127, id = 1/d, q =
    /// round-half-away(x·id)), so the codes equal Quant.quantize(.q8_0)'s and d rounds to its fp16.
    @inline(__always)
    static func block32(_ x: UnsafeRawPointer) -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, Float, Int32) {
        let v0 = x.loadUnaligned(as: SIMD8<Float>.self)
        let v1 = x.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        let v2 = x.loadUnaligned(fromByteOffset: 64, as: SIMD8<Float>.self)
        let v3 = x.loadUnaligned(fromByteOffset: 96, as: SIMD8<Float>.self)
        let m = max4(abs8(v0), abs8(v1), abs8(v2), abs8(v3))
        let d = m / 127
        let id: Float = d == 0 ? 0 : 1 / d
        let i0 = roundToInt(v0 * id), i1 = roundToInt(v1 * id)
        let i2 = roundToInt(v2 * id), i3 = roundToInt(v3 * id)
        let sum = ((i0 &+ i1) &+ (i2 &+ i3)).wrappedSum()
        return (i0, i1, i2, i3, d, sum)
    }

    @inline(__always) static func abs8(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    /// The largest lane of four non-negative vectors; NaN wins (as in the reference scan).
    @inline(__always) static func max4(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ d: SIMD8<Float>) -> Float {
        // On bit patterns of non-negative floats (NaN included) integer order is float order,
        // with every NaN above +inf.
        let ia = unsafeBitCast(a, to: SIMD8<Int32>.self), ib = unsafeBitCast(b, to: SIMD8<Int32>.self)
        let ic = unsafeBitCast(c, to: SIMD8<Int32>.self), id = unsafeBitCast(d, to: SIMD8<Int32>.self)
        return hmax(pointwiseMax(pointwiseMax(ia, ib), pointwiseMax(ic, id)))
    }

    @inline(__always) static func hmax(_ m: SIMD8<Int32>) -> Float {
        let m4 = pointwiseMax(m.lowHalf, m.highHalf)
        let m2 = pointwiseMax(m4.lowHalf, m4.highHalf)
        return Float(bitPattern: UInt32(bitPattern: Swift.max(m2[0], m2[1])))
    }

    /// round-half-away-from-zero to Int32 for |v| < 2^22 (the codes are within ±127; NaN gives garbage
    /// that the NaN scale makes irrelevant). roundf's own recipe: add ±0.49999997, truncate.
    @inline(__always) static func roundToInt(_ v: SIMD8<Float>) -> SIMD8<Int32> {
        let bits = unsafeBitCast(v, to: SIMD8<UInt32>.self)
        let half = unsafeBitCast((bits & 0x8000_0000) | 0x3EFF_FFFF, to: SIMD8<Float>.self)
        let r = (v + half).rounded(.towardZero)
        return unsafeBitCast(r + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
    }

    /// Quantizes one activation row of `k` values (a multiple of 32; of 256 for evenOdd256) into
    /// `codes` (`layout.codeBytes` each, layout order, `layout.paddedLength(k)` entries) and `meta`.
    ///
    /// For pairs32 and pairBytes64, `sScale` multiplies the stored sums: the weight format's code offset (q4_0: −8,
    /// q5_0: −16) or 1 for formats with a minimum.
    static func quantizeRow(_ x: UnsafePointer<Float>, k: Int, layout: ActivationLayout, sScale: Float = 1,
                            codes: UnsafeMutableRawPointer, meta: UnsafeMutableRawPointer) {
        let xr = UnsafeRawPointer(x)
        // Codes are written in natural order first, then permuted in place by a separate
        // (non-inlined) pass: fused, LLVM pushes the lane permutation up into the float loads.
        switch layout.perColumn {
        case .natural32:
            for b in 0..<(k / 32) {
                let (i0, i1, i2, i3, d, _) = block32(xr + b * 128)
                storeNatural(codes + b * 64, i0, i1, i2, i3)
                meta.storeBytes(of: SIMD8<Float>(repeating: d), toByteOffset: b * 32, as: SIMD8<Float>.self)
            }
        case .pairs32, .pairBytes64, .pairBytes64Cols8:
            let blocks = k / 32, bytes = layout.perColumn == .pairBytes64
            for b in 0..<blocks {
                let (i0, i1, i2, i3, d, sum) = block32(xr + b * 128)
                if bytes {
                    let c = codes + (b / 2) * 64 + (b % 2) * 16
                    c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i0), as: SIMD8<Int8>.self)
                    c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i1), toByteOffset: 8, as: SIMD8<Int8>.self)
                    c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i2), toByteOffset: 32, as: SIMD8<Int8>.self)
                    c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i3), toByteOffset: 40, as: SIMD8<Int8>.self)
                } else {
                    storeNatural(codes + b * 64, i0, i1, i2, i3)
                }
                let m = meta + (b / 2) * 64 + (b % 2) * 16
                m.storeBytes(of: SIMD4<Float>(repeating: d), as: SIMD4<Float>.self)
                m.storeBytes(of: SIMD4<Float>(repeating: d * Float(sum) * (0.25 * sScale)), toByteOffset: 32, as: SIMD4<Float>.self)
            }
            if blocks % 2 == 1 {
                // The zero partner of an odd last block.
                if bytes {
                    let c = codes + (blocks / 2) * 64 + 16
                    c.initializeMemory(as: UInt8.self, repeating: 0, count: 16)
                    (c + 32).initializeMemory(as: UInt8.self, repeating: 0, count: 16)
                } else {
                    (codes + blocks * 64).initializeMemory(as: UInt8.self, repeating: 0, count: 64)
                }
                let m = meta + (blocks / 2) * 64 + 16
                m.storeBytes(of: SIMD4<Float>(), as: SIMD4<Float>.self)
                m.storeBytes(of: SIMD4<Float>(), toByteOffset: 32, as: SIMD4<Float>.self)
            }
            if !bytes { permutePairs(codes, pairs: (blocks + 1) / 2) }
        case .evenOdd256:
            for r in 0..<(k / 32) {
                let (i0, i1, i2, i3, d, _) = block32(xr + r * 128)
                storeNatural(codes + r * 64, i0, i1, i2, i3)
                storeKMeta(meta, r, d, i0 &+ i1, i2 &+ i3)
            }
            permuteEvenOdd(codes, runs: k / 32)
        case .bytes256, .bytes256Cols8:
            let blocks = k / 32, padded = layout.paddedLength(k) / 32
            for b in 0..<blocks {
                let (i0, i1, i2, i3, d, _) = block32(xr + b * 128)
                let c = codes + b * 32
                c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i0), as: SIMD8<Int8>.self)
                c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i1), toByteOffset: 8, as: SIMD8<Int8>.self)
                c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i2), toByteOffset: 16, as: SIMD8<Int8>.self)
                c.storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: i3), toByteOffset: 24, as: SIMD8<Int8>.self)
                storeKMeta(meta, b, d, i0 &+ i1, i2 &+ i3)
            }
            for b in blocks..<padded {
                (codes + b * 32).initializeMemory(as: UInt8.self, repeating: 0, count: 32)
                storeKMeta(meta, b, 0, SIMD8(), SIMD8())
            }
        }
    }

    /// KMeta's entries of block `b` (32 values, codes summed lane-wise in `lo` for values 0…15 and `hi`
    /// for 16…31): d at 4j, d·Σq at 32 + 4j, d·Σq per 16 values at 64 + 8j and 68 + 8j (j = b mod 8).
    @inline(__always) static func storeKMeta(_ meta: UnsafeMutableRawPointer, _ b: Int, _ d: Float, _ lo: SIMD8<Int32>, _ hi: SIMD8<Int32>) {
        let md = meta + (b / 8) * 128, j = b % 8
        let s0 = Float(lo.wrappedSum()), s1 = Float(hi.wrappedSum())
        md.storeBytes(of: d, toByteOffset: 4 * j, as: Float.self)
        md.storeBytes(of: d * (s0 + s1), toByteOffset: 32 + 4 * j, as: Float.self)
        md.storeBytes(of: d * s0, toByteOffset: 64 + 8 * j, as: Float.self)
        md.storeBytes(of: d * s1, toByteOffset: 68 + 8 * j, as: Float.self)
    }

    /// Quantizes column `lane` (0…7) of a group of `layout` (bytes256Cols8, pairBytes64Cols8) whose codes
    /// start at `codes` and metadata at `meta` (the group's first column's places): the codes and scales
    /// of bytes256, interleaved.
    static func quantizeInGroup(_ x: UnsafePointer<Float>, k: Int, lane: Int, layout: ActivationLayout,
                                codes: UnsafeMutableRawPointer, meta: UnsafeMutableRawPointer) {
        let xr = UnsafeRawPointer(x)
        let blocks = k / 32, padded = layout.groupRuns(k)
        for b in 0..<padded {
            let c = codes + b * 256 + lane * 4, m = meta + b * 128 + lane * 4
            guard b < blocks else {
                for s in 0..<8 { c.storeBytes(of: 0, toByteOffset: 32 * s, as: UInt32.self) }
                for f in 0..<4 { m.storeBytes(of: 0, toByteOffset: 32 * f, as: Float.self) }
                continue
            }
            let (i0, i1, i2, i3, d, _) = block32(xr + b * 128)
            // Values 8h … 8h + 7 are steps 2h and 2h + 1.
            func steps(_ h: Int, _ v: SIMD8<Int32>) {
                let w = unsafeBitCast(SIMD8<Int8>(truncatingIfNeeded: v), to: UInt64.self)
                c.storeBytes(of: UInt32(truncatingIfNeeded: w), toByteOffset: 64 * h, as: UInt32.self)
                c.storeBytes(of: UInt32(truncatingIfNeeded: w >> 32), toByteOffset: 64 * h + 32, as: UInt32.self)
            }
            steps(0, i0); steps(1, i1); steps(2, i2); steps(3, i3)
            let s0 = Float((i0 &+ i1).wrappedSum()), s1 = Float((i2 &+ i3).wrappedSum())
            m.storeBytes(of: d, as: Float.self)
            m.storeBytes(of: d * (s0 + s1), toByteOffset: 32, as: Float.self)
            m.storeBytes(of: d * s0, toByteOffset: 64, as: Float.self)
            m.storeBytes(of: d * s1, toByteOffset: 96, as: Float.self)
        }
    }

    @inline(__always) static func storeNatural(_ c: UnsafeMutableRawPointer, _ i0: SIMD8<Int32>, _ i1: SIMD8<Int32>,
                                               _ i2: SIMD8<Int32>, _ i3: SIMD8<Int32>) {
        c.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: i0), as: SIMD8<Int16>.self)
        c.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: i1), toByteOffset: 16, as: SIMD8<Int16>.self)
        c.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: i2), toByteOffset: 32, as: SIMD8<Int16>.self)
        c.storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: i3), toByteOffset: 48, as: SIMD8<Int16>.self)
    }

    /// Natural order → pairs32 order, in place: per pair (A, B), vector t = [A, B] values off_t + 2i.
    @inline(never) static func permutePairs(_ c: UnsafeMutableRawPointer, pairs: Int) {
        for p in 0..<pairs {
            let q = c + p * 128
            let a0 = q.loadUnaligned(as: SIMD16<Int16>.self), a1 = q.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
            let b0 = q.loadUnaligned(fromByteOffset: 64, as: SIMD16<Int16>.self), b1 = q.loadUnaligned(fromByteOffset: 96, as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a0.evenHalf, highHalf: b0.evenHalf), as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a1.evenHalf, highHalf: b1.evenHalf), toByteOffset: 32, as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a0.oddHalf, highHalf: b0.oddHalf), toByteOffset: 64, as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a1.oddHalf, highHalf: b1.oddHalf), toByteOffset: 96, as: SIMD16<Int16>.self)
        }
    }

    /// Natural order → evenOdd256 order, in place: each run of 32 becomes its evens then its odds.
    @inline(never) static func permuteEvenOdd(_ c: UnsafeMutableRawPointer, runs: Int) {
        for r in 0..<runs {
            let q = c + r * 64
            let a0 = q.loadUnaligned(as: SIMD16<Int16>.self), a1 = q.loadUnaligned(fromByteOffset: 32, as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a0.evenHalf, highHalf: a1.evenHalf), as: SIMD16<Int16>.self)
            q.storeBytes(of: SIMD16(lowHalf: a0.oddHalf, highHalf: a1.oddHalf), toByteOffset: 32, as: SIMD16<Int16>.self)
        }
    }

    /// Test hook: the codes and scales of `quantizeRow` for a row, in natural order.
    static func naturalCodes(_ x: [Float], layout: ActivationLayout) -> (codes: [Int16], scales: [Float]) {
        let k = x.count, padded = layout.paddedLength(k)
        let codes = UnsafeMutableRawPointer.allocate(byteCount: padded * layout.codeBytes, alignment: 64)
        let meta = UnsafeMutableRawPointer.allocate(byteCount: padded / layout.block * layout.metaBytes, alignment: 64)
        defer { codes.deallocate(); meta.deallocate() }
        x.withUnsafeBufferPointer { quantizeRow($0.baseAddress!, k: k, layout: layout, codes: codes, meta: meta) }
        var out = [Int16](repeating: 0, count: k), scales: [Float] = []
        let c = codes.assumingMemoryBound(to: Int16.self)
        for j in 0..<k {
            switch layout.perColumn {
            case .natural32: out[j] = c[j]
            case .bytes256, .bytes256Cols8: out[j] = Int16(codes.load(fromByteOffset: j, as: Int8.self))
            case .pairBytes64, .pairBytes64Cols8:
                let b = j / 32, v = j % 32
                out[j] = Int16(codes.load(fromByteOffset: (b / 2) * 64 + (v / 16) * 32 + (b % 2) * 16 + v % 16, as: Int8.self))
            case .evenOdd256:
                let r = j / 32, l = j % 32
                out[j] = c[r * 32 + (l % 2) * 16 + l / 2]
            case .pairs32:
                let b = j / 32, v = j % 32, p = b / 2, h = b % 2
                let t = (v % 2) * 2 + v / 16, i = (v % 16) / 2
                out[j] = c[p * 64 + t * 16 + h * 8 + i]
            }
        }
        for b in 0..<(k / 32) {
            switch layout.perColumn {
            case .natural32: scales.append(meta.load(fromByteOffset: b * 32, as: Float.self))
            case .pairs32, .pairBytes64, .pairBytes64Cols8: scales.append(meta.load(fromByteOffset: (b / 2) * 64 + (b % 2) * 16, as: Float.self))
            case .evenOdd256, .bytes256, .bytes256Cols8: scales.append(meta.load(fromByteOffset: (b / 8) * 128 + (b % 8) * 4, as: Float.self))
            }
        }
        return (out, scales)
    }
}

// MARK: - Shared integer-dot primitives

enum QuantDot {
    /// Sums adjacent Int16 lanes into Int32 lanes: lane j = v[2j] + v[2j+1] (exact when that sum
    /// fits in Int16). Three instructions: portable Swift cannot reach vpmaddwd reliably.
    @inline(__always) static func pairSum(_ v: SIMD16<Int16>) -> SIMD8<Int32> {
        let x = unsafeBitCast(v, to: SIMD8<Int32>.self)
        return (x &+ (x &<< 16)) &>> 16
    }

    /// 16 little-endian 16-bit words from two 16-byte runs (low half from `a`, high half from `b`).
    @inline(__always) static func words(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> SIMD16<UInt16> {
        SIMD16<UInt16>(lowHalf: a.loadUnaligned(as: SIMD8<UInt16>.self), highHalf: b.loadUnaligned(as: SIMD8<UInt16>.self))
    }

    @inline(__always) static func words(_ p: UnsafeRawPointer) -> SIMD16<UInt16> {
        p.loadUnaligned(as: SIMD16<UInt16>.self)
    }

    @inline(__always) static func i16(_ v: SIMD16<UInt16>) -> SIMD16<Int16> { unsafeBitCast(v, to: SIMD16<Int16>.self) }

    @inline(__always) static func codes(_ p: UnsafeRawPointer, _ offset: Int) -> SIMD16<Int16> {
        p.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int16>.self)
    }

    /// [a ×4, b ×4] for the fp16 values at `a` and `b`. Built in general-purpose registers and moved
    /// over whole (vmovq/vpinsrq): a vpinsrw straight from memory would merge into a stale register
    /// and chain each iteration to the previous one's accumulator.
    @inline(__always) static func f16Halves(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer) -> SIMD8<Float> {
        let x = UInt64(a.loadUnaligned(as: UInt16.self)) &* 0x0001_0001_0001_0001
        let y = UInt64(b.loadUnaligned(as: UInt16.self)) &* 0x0001_0001_0001_0001
        return SIMD8<Float>(unsafeBitCast(SIMD2<UInt64>(x, y), to: SIMD8<Float16>.self))
    }

    /// [a ×8] for the fp16 value at `a`. The kernels take every fp16 scale this way: a scalar conversion
    /// (SIMD4(word, 0, 0, 0), lane 0) was compiled to a vpinsrw into whichever register was free, which in
    /// the avx512vnni q8_0 mat-vec was the other FMA accumulator (q8_0 decode at 0.7×, measured).
    @inline(__always) static func f16Splat(_ a: UnsafeRawPointer) -> SIMD8<Float> {
        let x = UInt64(a.loadUnaligned(as: UInt16.self)) &* 0x0001_0001_0001_0001
        return SIMD8<Float>(unsafeBitCast(SIMD2<UInt64>(x, x), to: SIMD8<Float16>.self))
    }
}
