import EdgeHAL

/// The conformance table: every op and fused op of EdgeHAL over the types and shapes that matter
/// for quantized transformers — mat-vec and prefill, odd row counts, K from 32 to beyond 4096,
/// grouped-query ratios, attention over long KV, rope at large positions.
public enum CaseTable {
    public static let weightTypes: [DType] = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    public static var all: [ConformanceCase] {
        mulMat + getRows + setRows + elementwise + norms + softmax + rope + attention + fusion + groups + residuals + foldedNorms + gluProducts + headProjections + blocks
            + edges
    }

    // MARK: mul_mat

    /// A mul_mat shape: weights [k, m, a2, a3] × activations [k, n, b2, b3].
    public struct MulMatShape: Sendable {
        public var k: Int, m: Int, n: Int, a2 = 1, b2 = 1, a3 = 1, b3 = 1
        public init(_ k: Int, _ m: Int, _ n: Int, heads: (Int, Int) = (1, 1), batch: (Int, Int) = (1, 1)) {
            (self.k, self.m, self.n) = (k, m, n)
            (a2, b2) = heads
            (a3, b3) = batch
        }
    }

    /// Activation values a case feeds mul_mat: how big, and whether a block holds an outlier.
    public enum Activations: String, Sendable {
        case normal, tiny, huge, outliers
        /// Outlier features, as LLM activations have them: the same few channels (5, K/2 + 3 and
        /// the last) ×300 in every column, the rest normal. The last channel sits at the end of the
        /// last block, where a quantizer's amax scan most easily stops short.
        case channelOutliers = "channel-outliers"
        /// Codes at ±127 with one sign per 32 values (random): even columns ±1, odd columns alternating
        /// ±3, −(±3). With extreme-code weights every partial sum inside a block is at its largest.
        case extreme
    }

    /// Shapes every weight type runs, chosen around the kernels' boundaries (CPU figures in brackets,
    /// but any backend has such boundaries): mat-vec and prefill, the paired-row mat-vec with an odd
    /// block count [two rows per step, blocks in pairs], rows not a multiple of the 16-row work unit
    /// with enough work to go parallel [≥ 2^16 multiply-adds], prefill tile leftovers of 1, 2 and 3
    /// columns, a column count past the activation panel [168 / 204 columns], GQA broadcast in
    /// dim 2 and batch broadcast in dim 3, K past 4096; a GPU's prefill tiles [Vulkan's gpu family: 128 rows by 64
    /// or 128 columns] crossed in both directions with broadcast heads, and a float K tail inside a tile.
    static func mulMatShapes(_ type: DType) -> [MulMatShape] {
        let block = max(type.blockSize, 32)
        var shapes = [
            MulMatShape(256, 67, 1), MulMatShape(256, 64, 17), MulMatShape(512, 16, 3, heads: (2, 8)),
            MulMatShape(4352, 33, 1), MulMatShape(1024, 96, 8),
            MulMatShape(block * 7, 19, 1),        // odd block count, odd rows: pair path's last block and last row
            MulMatShape(block * 7, 23, 6),        // odd blocks in prefill tiles (4 + 2)
            MulMatShape(block * 3, 117, 1),       // 7 full 16-row units + 5 rows, parallel
            MulMatShape(256, 9, 211),             // past the activation panel, tiles 4 + 3
            MulMatShape(256, 5, 5, heads: (2, 4), batch: (2, 6)),  // 4-D broadcast of the weights
            MulMatShape(block * 2, 130, 130, heads: (2, 4)),  // prefill past a 128 × 128 tile in rows and columns, broadcast heads
        ]
        if block == 32 { shapes += [MulMatShape(32, 5, 2), MulMatShape(800, 117, 1)] }
        if type.blockSize == 1 {
            // Float rows of any K: every vector tail (16-, 8-wide steps and scalar rests) in mat-vec and tiles.
            shapes += [MulMatShape(7, 5, 1), MulMatShape(13, 3, 3), MulMatShape(37, 9, 1), MulMatShape(45, 7, 5), MulMatShape(40, 6, 1),
                       MulMatShape(1001, 70, 1), MulMatShape(29, 5, 2, heads: (1, 3), batch: (2, 4)),
                       MulMatShape(45, 70, 17)]   // a K tail in a prefill tile
        }
        return shapes
    }

    static var mulMat: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for type in weightTypes {
            for s in mulMatShapes(type) { cases.append(mulMatCase(type, s)) }
            // Magnitudes: activations from 1e-4 to 1e3 against weights from 1e3 to 1e-3, and one
            // outlier (×100) in every block — the activation quantizer's scale must follow each block.
            let k = max(type.blockSize, 32) * 8
            cases += [mulMatCase(type, MulMatShape(k, 33, 3), activations: .tiny, weightScale: 1e3),
                      mulMatCase(type, MulMatShape(k, 33, 1), activations: .huge, weightScale: 1e-3),
                      mulMatCase(type, MulMatShape(k, 33, 5), activations: .outliers),
                      mulMatCase(type, MulMatShape(k, 21, 2), activations: .channelOutliers)]
        }
        return cases
    }

    public static func mulMatCase(_ type: DType, k: Int, m: Int, n: Int, a2: Int = 1, b2: Int = 1) -> ConformanceCase {
        mulMatCase(type, MulMatShape(k, m, n, heads: (a2, b2)))
    }

    public static func mulMatCase(_ type: DType, _ s: MulMatShape, activations: Activations = .normal,
                                  weightScale: Float = 1, scales: TestData.BlockScales = .natural) -> ConformanceCase {
        let wShape = Shape(s.k, s.m, s.a2, s.a3), xShape = Shape(s.k, s.n, s.b2, s.b3)
        var label = "k=\(s.k) m=\(s.m) n=\(s.n)"
        if s.a2 != s.b2 || s.a2 > 1 { label += " heads=\(s.a2)/\(s.b2)" }
        if s.a3 != s.b3 || s.a3 > 1 { label += " batch=\(s.a3)/\(s.b3)" }
        if activations != .normal { label += " x=\(activations.rawValue)" }
        if weightScale != 1 { label += " w×\(weightScale)" }
        if scales != .natural { label += " scales=\(scales.rawValue)" }
        return ConformanceCase(
            op: "mul_mat", type: type.rawValue, shape: label,
            threshold: Tolerance.mulMat(type), check: .op,
            flops: 2 * Double(s.k * s.m * s.n * s.b2 * s.b3), weightBytes: Double(TensorDesc(type, wShape).byteCount)
        ) { rng in
            var c = OpCaseBuilder()
            let rows = s.m * s.a2 * s.a3
            let w = c.input("w", type, wShape, scales == .natural
                            ? TestData.weights(type, k: s.k, rows: rows, rng: &rng, scale: weightScale)
                            : TestData.weights(type, k: s.k, rows: rows, rng: &rng, scales: scales))
            var x: [Float]
            switch activations {
            case .normal: x = rng.normal(count: xShape.count)
            case .tiny: x = rng.normal(count: xShape.count, scale: 1e-4)
            case .huge: x = rng.normal(count: xShape.count, scale: 1e3)
            case .outliers: x = TestData.withOutliers(rng.normal(count: xShape.count), every: 32, factor: 100, rng: &rng)
            case .extreme:
                let signs = (0..<(xShape.count + 31) / 32).map { _ in Float(rng.int(below: 2) == 0 ? 1 : -1) }
                x = (0..<xShape.count).map { i in signs[i / 32] * ((i / s.k) % 2 == 0 ? 1 : (i % 2 == 0 ? 3 : -3)) }
            case .channelOutliers:
                x = rng.normal(count: xShape.count)
                for column in 0..<(xShape.count / s.k) {
                    for channel in [5, s.k / 2 + 3, s.k - 1] { x[column * s.k + channel] *= 300 }
                }
            }
            let xs = c.floats("x", xShape, x)
            return c.finish(try c.builder.mulMat(w, xs))
        }
    }

    /// Performance shapes (`conformance perf`): large mat-vecs that stream weights from DRAM,
    /// SmolLM2-135M's own projections (cache resident), and prefill batches of 128.
    public static var perf: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for type in [DType.q4_0, .q4_1, .q8_0] {
            cases += [mulMatCase(type, k: 4096, m: 4096, n: 1), mulMatCase(type, k: 4096, m: 11008, n: 1)]
        }
        for type in [DType.f32, .f16, .q4_K, .q6_K] { cases.append(mulMatCase(type, k: 4096, m: 4096, n: 1)) }
        cases += [mulMatCase(.q4_1, k: 576, m: 1536, n: 1), mulMatCase(.q4_1, k: 1536, m: 576, n: 1),
                  mulMatCase(.q8_0, k: 576, m: 49152, n: 1), mulMatCase(.q4_1, k: 576, m: 1536, n: 64)]
        for type in [DType.q4_0, .q4_1, .q8_0] {
            cases += [mulMatCase(type, k: 4096, m: 4096, n: 128), mulMatCase(type, k: 4096, m: 11008, n: 128)]
        }
        return cases
    }

    // MARK: get_rows

    static var getRows: [ConformanceCase] {
        // Every type at a few blocks per row, and float rows whose length is not a multiple of 8.
        let shapes = weightTypes.map { ($0, $0.blockSize == 256 ? 512 : 96) } + [(DType.f32, 37), (.f16, 37)]
        return shapes.map { type, k in getRowsCase(type, k: k) }
    }

    static func getRowsCase(_ type: DType, k: Int, scales: TestData.BlockScales = .natural) -> ConformanceCase {
        let rows = 50
        return ConformanceCase(op: "get_rows", type: type.rawValue,
                               shape: "k=\(k) rows=\(rows) n=7" + (scales != .natural ? " scales=\(scales.rawValue)" : ""),
                               threshold: Tolerance.exact, check: .op, flops: 0, weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let table = c.input("table", type, Shape(k, rows), TestData.weights(type, k: k, rows: rows, rng: &rng, scales: scales))
            // First and last rows, random ones, and ids just outside the table (rows of NaN).
            var ids: [Int32] = [0, Int32(rows - 1), Int32(rows), -1]
            for _ in 0..<3 { ids.append(Int32(rng.int(below: rows))) }
            return c.finish(try c.builder.getRows(table, c.ints("ids", ids)))
        }
    }

    // MARK: set_rows (KV-cache writes)

    static var setRows: [ConformanceCase] {
        [(DType.f32, 64), (.f16, 64), (.f32, 37), (.f16, 37)].map { type, k in
            ConformanceCase(op: "set_rows", type: type.rawValue, shape: "k=\(k) rows=20 n=7", threshold: Tolerance.exact,
                            check: .op, flops: 0, weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let dst = try c.builder.state("cache", type, Shape(k, 20))
                c.data[dst] = TestData.weights(type, k: k, rows: 20, rng: &rng)
                // Values beyond f16's range become ±inf, as ggml's conversion does.
                let src = c.floats("src", Shape(k, 7), TestData.withOutliers(rng.normal(count: k * 7, scale: 100), every: k, factor: 1000, rng: &rng))
                // Ids just outside the destination (20, −1) write nothing.
                let ids = c.ints("ids", [3, 0, 19, 20, -1, 7, 12])
                return c.finish(try c.builder.setRows(dst, src, ids: ids))
            }
        }
    }
}
