import EdgeHAL

/// mul_mat for one node: weights of any type × F32 activations.
///
/// out[m, n, i2, i3] = Σ_k a[k, m, i2 / (B2/A2), i3 / (B3/A3)] · b[k, n, i2, i3].
///
/// Quantized weights work the way ggml does: every activation column is quantized once per run
/// into scratch allocated here (8-bit codes, a Float scale per 32 values and block sums;
/// CPUQuantDotActivations.swift), and each weight block meets it in integer products summed to Int32
/// and scaled by d_w·d_a in Float: 16-bit lanes in the portable kernel set (CPUQuantDot32.swift,
/// CPUQuantDotK.swift), byte multiply-adds in the avx2 set (CPUQuantDotX86.swift; CPUKernelSet says
/// which runs). F32 and F16 weights use Float FMA (CPUMatMulFloat.swift).
///
/// Work split: each worker takes a contiguous range of weight rows (multiples of 16) of every
/// (i2, i3) matrix. Mat-vec (N = 1) streams those rows, two at a time when rows are short; with
/// N > 1 each weight row is decoded once per tile of up to 4 columns (8 for the portable pair
/// kernels), the columns taken in panels whose quantized activations stay in L2. The avx2 set takes a
/// matrix's whole groups of 8 columns interleaved instead, 16 at a time where a panel has them
/// (CPUQuantDotX86Cols8.swift); the last N mod 8 columns go through the tiles.
final class MatMulKernel: @unchecked Sendable {
    let a: TensorDesc, b: TensorDesc, out: TensorDesc
    let layout: ActivationLayout?
    /// Quantized activations: `columns` × `codeStride` bytes of codes and × `metaStride` of metadata,
    /// in scratch this kernel owns or shares with an earlier kernel of its group (same activations,
    /// same layout: quantized once, by that kernel).
    private let scratch: ActivationScratch
    private var codes: UnsafeMutableRawPointer { scratch.codes }
    private var meta: UnsafeMutableRawPointer { scratch.meta }
    private let codeStride: Int, metaStride: Int
    /// Whether run/quantize fills the scratch (false when an earlier kernel of the group does).
    let quantizes: Bool
    private let columns: Int
    /// Multiplier of the pairs32 activation sums (ActivationLayout.sumScale).
    private let sScale: Float
    /// Columns per panel for prefill (a multiple of 4 whose codes and metadata fit comfortably in L2).
    private let panel: Int

    static func supports(_ weights: DType) -> Bool { weights != .i32 }

    /// The kernel set that runs this weight type (``CPUKernelSet``; the portable one where `kernels` has none).
    let kernels: CPUKernelSet

    /// `sharing`: an earlier kernel over the same activations; its quantized codes are reused when
    /// the layout matches.
    init(weights: TensorDesc, activations: TensorDesc, output: TensorDesc, threads: Int, kernels: CPUKernelSet = .portable,
         sharing: [MatMulKernel] = []) {
        a = weights
        b = activations
        out = output
        self.kernels = kernels.hasOwnKernel(weights.type) ? kernels : .portable
        let k = weights.shape[0]
        // Interleaved groups of 8 columns only where a matrix has one (so mat-vecs share bytes256 codes).
        let preferred = ActivationLayout.forWeights(weights.type, kernels: self.kernels)
        layout = activations.shape[1] < 8 ? preferred?.perColumn : preferred
        sScale = ActivationLayout.sumScale(weights.type)
        columns = activations.shape.rows
        if let layout {
            let padded = layout.paddedLength(k)
            codeStride = (padded * layout.codeBytes + 63) / 64 * 64
            metaStride = (padded / layout.block * layout.metaBytes + 63) / 64 * 64
            let unit = layout.groupsOf8 ? 8 : 4
            panel = max(unit, (128 * 1024 / (codeStride + metaStride)) / unit * unit)
            // A group of 8 interleaved columns fits in the places of its 8 columns.
            let runs = layout.groupRuns(k)
            precondition(!layout.groupsOf8 || (256 * runs <= 8 * codeStride && 128 * runs <= 8 * metaStride), "mul_mat: cols8 strides")
        } else {
            codeStride = 0
            metaStride = 0
            panel = max(4, (192 * 1024 / max(1, k * 4)) / 4 * 4)
        }
        let scale = sScale, (codes, metas) = (codeStride, metaStride)
        if let layout, let twin = sharing.first(where: {
            $0.layout == layout && $0.sScale == scale && $0.a.shape[0] == k && $0.quantizes
                && $0.codeStride == codes && $0.metaStride == metas && $0.columns == activations.shape.rows
        }) {
            scratch = twin.scratch
            quantizes = false
        } else {
            scratch = ActivationScratch(codeBytes: codeStride * columns, metaBytes: metaStride * columns)
            quantizes = true
        }
    }

    func run(a aBase: UnsafeRawPointer, b bBase: UnsafeRawPointer, out oBase: UnsafeMutableRawPointer, pool: WorkerPool) {
        quantize(bBase, pool: pool)
        let x = bBase.assumingMemoryBound(to: Float.self)
        if Self.runsOnCaller(work: work, pool: pool) {
            compute(aBase, x, oBase, worker: 0, workers: 1)
        } else {
            pool.run { w in self.compute(aBase, x, oBase, worker: w, workers: pool.threads) }
        }
    }

    /// Small products run on the caller: waking workers costs more than they save.
    static func runsOnCaller(work: Int, pool: WorkerPool) -> Bool { work < 1 << 16 || pool.threads == 1 }

    /// Multiply-adds of one run.
    var work: Int { a.shape[1] * b.shape[1] * b.shape[2] * b.shape[3] * a.shape[0] }

    /// Quantizes every activation column once (quantized weights only, and only the kernel that owns the scratch).
    func quantize(_ bBase: UnsafeRawPointer, pool: WorkerPool) {
        let k = a.shape[0]
        let x = bBase.assumingMemoryBound(to: Float.self)
        if let layout, quantizes {
            // Quantize every activation column once.
            if columns == 1 || k * columns < 1 << 14 {
                for j in 0..<columns { quantizeColumn(j, x, layout) }
            } else {
                pool.parallelFor(columns) { range in
                    for j in range { self.quantizeColumn(j, x, layout) }
                }
            }
        }
    }

    /// Column `j` (of all B2·B3 matrices' columns) in its place: within its matrix's whole groups of 8
    /// interleaved (bytes256Cols8), else on its own.
    private func quantizeColumn(_ j: Int, _ x: UnsafePointer<Float>, _ layout: ActivationLayout) {
        let k = a.shape[0], n = b.shape[1], within = j % n
        if layout.groupsOf8 && within < n / 8 * 8 {
            let first = j - within % 8
            ActivationQuant.quantizeInGroup(x + j * k, k: k, lane: within % 8, layout: layout,
                                            codes: codes + first * codeStride, meta: meta + first * metaStride)
        } else {
            ActivationQuant.quantizeRow(x + j * k, k: k, layout: layout.perColumn, sScale: sScale,
                                        codes: codes + j * codeStride, meta: meta + j * metaStride)
        }
    }

    /// One worker's share: for every (i2, i3) matrix, a contiguous range of weight rows.
    func compute(_ aBase: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ oBase: UnsafeMutableRawPointer,
                         worker: Int, workers: Int) {
        let k = a.shape[0], m = a.shape[1], n = b.shape[1]
        let b2 = b.shape[2], b3 = b.shape[3]
        let r2 = b2 / a.shape[2], r3 = b3 / a.shape[3]
        let rowBytes = a.rowBytes
        let o = oBase.assumingMemoryBound(to: Float.self)
        // Rows in multiples of 16 per worker: no two workers write the same cache line of a mat-vec output.
        let units = (m + 15) / 16
        let lo = min(m, units * worker / workers * 16), hi = min(m, units * (worker + 1) / workers * 16)
        if lo >= hi { return }
        for i3 in 0..<b3 {
            for i2 in 0..<b2 {
                let aMat = aBase + ((i3 / r3) * a.shape[2] + i2 / r2) * m * rowBytes
                let col0 = (i3 * b2 + i2) * n
                let oMat = o + col0 * m
                let job = RowJob(weights: aMat, rowBytes: rowBytes, k: k, rows: lo..<hi, columns: n, panel: panel,
                                 out: oMat, outStride: m, cols8: layout?.groupsOf8 ?? false)
                switch a.type {
                case .f32, .f16:
                    FloatMatMul.run(job, f16: a.type == .f16, x: x + col0 * k)
                default:
                    let act = ActColumns(codes: codes + col0 * codeStride, codeStride: codeStride,
                                         meta: meta + col0 * metaStride, metaStride: metaStride,
                                         weightEnd: aMat + (hi * rowBytes - 1))
                    if kernels != .portable {
                        runX86(job, act)
                        continue
                    }
                    switch a.type {
                    case .q4_0: job.run(QuantDot.Pair<Q4_0Format>.self, act)
                    case .q4_1: job.run(QuantDot.Pair<Q4_1Format>.self, act)
                    case .q5_0: job.run(QuantDot.Pair<Q5_0Format>.self, act)
                    case .q5_1: job.run(QuantDot.Pair<Q5_1Format>.self, act)
                    case .q8_0: job.run(QuantDot.Q8_0.self, act)
                    case .q2_K: job.run(QuantDot.Q2_K.self, act)
                    case .q3_K: job.run(QuantDot.Q3_K.self, act)
                    case .q4_K: job.run(QuantDot.K4K5<QuantDot.Without>.self, act)
                    case .q5_K: job.run(QuantDot.K4K5<QuantDot.With>.self, act)
                    case .q6_K: job.run(QuantDot.Q6_K.self, act)
                    default: preconditionFailure("mul_mat: unsupported weight type \(a.type)")
                    }
                }
            }
        }
    }

    @inline(__always) static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ k: Int) -> Float {
        var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
        var i = 0
        let xr = UnsafeRawPointer(x), yr = UnsafeRawPointer(y)
        while i + 16 <= k {
            acc0.addProduct(xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                            yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            acc1.addProduct(xr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self),
                            yr.loadUnaligned(fromByteOffset: i * 4 + 32, as: SIMD8<Float>.self))
            i += 16
        }
        if i + 8 <= k {
            acc0.addProduct(xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                            yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var s = (acc0 + acc1).sum()
        while i < k { s += x[i] * y[i]; i += 1 }
        return s
    }
}

/// A kernel for one quantized weight format: one row against a tile of T.n activation columns.
protocol RowKernel {
    static var blockSize: Int { get }
    /// Whether prefill uses Tile8 (8 columns per decoded row) before Tile4 (the portable pair kernels;
    /// avx2 kernels take whole groups of 8 through rowCols8 instead).
    static var wideTiles: Bool { get }
    static func row<T: TileWidth>(_ t: T.Type, _ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                                  _ out: UnsafeMutablePointer<Float>, outStride: Int)
    /// Mat-vec on two rows at once (out[0], out[1]) against column `col`: halves the per-row overhead,
    /// which is a third of the time for SmolLM2's 576-value rows. Used for rows of ≤ 640 bytes.
    static func rowPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                        _ out: UnsafeMutablePointer<Float>)
    /// Whether `rowCols8` exists: prefill then takes whole groups of 8 columns interleaved
    /// (ActivationLayout.groupsOf8; ActivationLayout.forWeights must ask for it).
    static var cols8: Bool { get }
    /// One row against the 8 columns of the interleaved group at `col`: out[j · outStride], j < 8.
    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int)
    /// rowCols8 for the groups at `col` and `col + 8` at once.
    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int)
}

extension RowKernel {
    static var wideTiles: Bool { false }
    static var cols8: Bool { false }

    static func rowCols8(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                         _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        preconditionFailure("mul_mat: no kernel for the bytes256Cols8 layout")
    }

    static func rowCols16(_ row: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                          _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        preconditionFailure("mul_mat: no kernel for the bytes256Cols8 layout")
    }

    @inline(__always)
    static func rowPair(_ row0: UnsafeRawPointer, _ row1: UnsafeRawPointer, blocks: Int, _ act: ActColumns, col: Int,
                        _ out: UnsafeMutablePointer<Float>) {
        row(Tile1.self, row0, blocks: blocks, act, col: col, out, outStride: 1)
        row(Tile1.self, row1, blocks: blocks, act, col: col, out + 1, outStride: 1)
    }

    /// `count` consecutive rows (outputs at out[r]) against the tile: one call, the row kernel inlined.
    @inline(never)
    static func rows<T: TileWidth>(_ t: T.Type, _ first: UnsafeRawPointer, rowBytes: Int, count: Int, blocks: Int,
                                   _ act: ActColumns, col: Int, _ out: UnsafeMutablePointer<Float>, outStride: Int) {
        var r = 0
        // Two rows at once only for short rows: with long ones the two interleaved streams cut the
        // DRAM read rate by a third to a half (measured on cold 4096-wide q4_0 rows), while for
        // short rows (SmolLM2's 576) the pair is nearly one stream and saves a third of the time.
        if T.n == 1 && rowBytes <= 640 {
            while r &+ 2 <= count {
                let w = first + r &* rowBytes
                rowPair(w, w + rowBytes, blocks: blocks, act, col: col, out + r)
                r &+= 2
            }
        }
        while r < count {
            row(t, first + r &* rowBytes, blocks: blocks, act, col: col, out + r, outStride: outStride)
            r &+= 1
        }
    }
}

/// A worker's share of one matrix: weight rows `rows` against all `columns` activation columns.
struct RowJob {
    var weights: UnsafeRawPointer
    var rowBytes: Int
    var k: Int
    var rows: Range<Int>
    var columns: Int
    var panel: Int
    var out: UnsafeMutablePointer<Float>
    var outStride: Int
    /// Whether the activations' whole groups of 8 columns are interleaved (bytes256Cols8, pairBytes64Cols8).
    var cols8 = false

    @inline(never)
    func run<R: RowKernel>(_: R.Type, _ act: ActColumns) {
        precondition(!cols8 || R.cols8, "mul_mat: bytes256Cols8 activations for a kernel without rowCols8")
        let blocks = k / R.blockSize
        if columns == 1 {
            R.rows(Tile1.self, weights + rows.lowerBound * rowBytes, rowBytes: rowBytes, count: rows.count, blocks: blocks,
                   act, col: 0, out + rows.lowerBound, outStride: outStride)
            return
        }
        var p0 = 0
        while p0 < columns {
            let p1 = min(columns, p0 + panel)
            for r in rows {
                let w = weights + r * rowBytes
                var c = p0
                // Panels start at multiples of 8 here, so c + 8 ≤ p1 ≤ N is a whole group.
                while cols8 && c + 16 <= p1 {
                    R.rowCols16(w, blocks: blocks, act, col: c, out + c * outStride + r, outStride: outStride)
                    c += 16
                }
                while cols8 && c + 8 <= p1 {
                    R.rowCols8(w, blocks: blocks, act, col: c, out + c * outStride + r, outStride: outStride)
                    c += 8
                }
                while R.wideTiles && c + 8 <= p1 {
                    R.rows(Tile8.self, w, rowBytes: rowBytes, count: 1, blocks: blocks, act, col: c, out + c * outStride + r,
                           outStride: outStride)
                    c += 8
                }
                while c + 4 <= p1 {
                    R.rows(Tile4.self, w, rowBytes: rowBytes, count: 1, blocks: blocks, act, col: c, out + c * outStride + r,
                           outStride: outStride)
                    c += 4
                }
                let o = out + c * outStride + r
                switch p1 - c {
                case 3: R.rows(Tile3.self, w, rowBytes: rowBytes, count: 1, blocks: blocks, act, col: c, o, outStride: outStride)
                case 2: R.rows(Tile2.self, w, rowBytes: rowBytes, count: 1, blocks: blocks, act, col: c, o, outStride: outStride)
                case 1: R.rows(Tile1.self, w, rowBytes: rowBytes, count: 1, blocks: blocks, act, col: c, o, outStride: outStride)
                default: break
                }
            }
            p0 = p1
        }
    }
}
