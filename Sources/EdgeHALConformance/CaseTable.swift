import EdgeHAL

/// The conformance table: every op and fused op of EdgeHAL over the types and shapes that matter
/// for quantized transformers — mat-vec and prefill, odd row counts, K from 32 to beyond 4096,
/// grouped-query ratios, attention over long KV, rope at large positions.
public enum CaseTable {
    public static let weightTypes: [DType] = [.f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    public static var all: [ConformanceCase] {
        mulMat + getRows + setRows + elementwise + norms + softmax + rope + attention + fusion + blocks
    }

    // MARK: mul_mat

    /// (K, M, N, weight heads, activation heads): mat-vec, odd rows, prefill batch, GQA broadcast, long K.
    static let mulMatShapes: [(k: Int, m: Int, n: Int, a2: Int, b2: Int)] = [
        (256, 67, 1, 1, 1), (256, 64, 17, 1, 1), (512, 16, 3, 2, 8), (4352, 33, 1, 1, 1), (1024, 96, 8, 1, 1),
    ]

    static var mulMat: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for type in weightTypes {
            var shapes = mulMatShapes
            if type.blockSize == 32 || type.blockSize == 1 { shapes.append((32, 5, 2, 1, 1)) }
            for s in shapes {
                cases.append(mulMatCase(type, k: s.k, m: s.m, n: s.n, a2: s.a2, b2: s.b2))
            }
        }
        return cases
    }

    public static func mulMatCase(_ type: DType, k: Int, m: Int, n: Int, a2: Int = 1, b2: Int = 1) -> ConformanceCase {
        let wShape = Shape(k, m, a2), xShape = Shape(k, n, b2)
        return ConformanceCase(
            op: "mul_mat", type: type.rawValue, shape: "k=\(k) m=\(m) n=\(n)" + (a2 != b2 ? " heads=\(a2)/\(b2)" : ""),
            threshold: Tolerance.mulMat(type), check: .op,
            flops: 2 * Double(k * m * n * b2), weightBytes: Double(TensorDesc(type, wShape).byteCount)
        ) { rng in
            var c = OpCaseBuilder()
            let w = c.input("w", type, wShape, TestData.weights(type, k: k, rows: m * a2, rng: &rng))
            let x = c.floats("x", xShape, rng.normal(count: xShape.count))
            return c.finish(try c.builder.mulMat(w, x))
        }
    }

    /// Performance shapes (`conformance --perf`): large mat-vecs that stream weights from DRAM,
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
        weightTypes.map { type in
            let (k, rows) = (type.blockSize == 256 ? 512 : 96, 50)
            return ConformanceCase(op: "get_rows", type: type.rawValue, shape: "k=\(k) rows=\(rows) n=7",
                                   threshold: Tolerance.exact, check: .op, flops: 0, weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let table = c.input("table", type, Shape(k, rows), TestData.weights(type, k: k, rows: rows, rng: &rng))
                var ids: [Int32] = [0, Int32(rows - 1)]
                for _ in 0..<5 { ids.append(Int32(rng.int(below: rows))) }
                return c.finish(try c.builder.getRows(table, c.ints("ids", ids)))
            }
        }
    }

    // MARK: set_rows (KV-cache writes)

    static var setRows: [ConformanceCase] {
        [DType.f32, .f16].map { type in
            ConformanceCase(op: "set_rows", type: type.rawValue, shape: "k=64 rows=20 n=5", threshold: Tolerance.exact,
                            check: .op, flops: 0, weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let dst = try c.builder.state("cache", type, Shape(64, 20))
                c.data[dst] = TestData.weights(type, k: 64, rows: 20, rng: &rng)
                let src = c.floats("src", Shape(64, 5), rng.normal(count: 320))
                let ids = c.ints("ids", [3, 0, 19, 7, 12])
                return c.finish(try c.builder.setRows(dst, src, ids: ids))
            }
        }
    }

    // MARK: elementwise

    static func unaryCase(_ op: Op, _ shape: Shape, range: Float = 4, threshold: Double) -> ConformanceCase {
        ConformanceCase(op: op.name, type: "f32", shape: "\(shape)", threshold: threshold, check: .op,
                        flops: Double(shape.count), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("x", shape, rng.uniform(-range, range, count: shape.count))
            return c.finish(try c.builder.apply(op, [x]))
        }
    }

    static func binaryCase(_ op: Op, _ a: Shape, _ b: Shape, threshold: Double = Tolerance.exact) -> ConformanceCase {
        ConformanceCase(op: op.name, type: "f32", shape: "\(a) by \(b)", threshold: threshold, check: .op,
                        flops: Double(a.count), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("a", a, rng.normal(count: a.count))
            let y = c.floats("b", b, rng.normal(count: b.count))
            return c.finish(try c.builder.apply(op, [x, y]))
        }
    }

    static var elementwise: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for op in [Op.add, .mul] {
            cases += [binaryCase(op, Shape(4096, 3), Shape(4096, 3)), binaryCase(op, Shape(64, 7, 3), Shape(64, 1, 3)),
                      binaryCase(op, Shape(33, 5), Shape(33))]
        }
        cases += [binaryCase(.swiglu, Shape(1536, 5), Shape(1536, 5), threshold: Tolerance.float)]
        cases += [unaryCase(.scale(0.125), Shape(1000, 3), threshold: Tolerance.exact),
                  unaryCase(.silu, Shape(1000, 3), range: 12, threshold: Tolerance.float),
                  unaryCase(.gelu, Shape(1000, 3), range: 8, threshold: Tolerance.float),
                  unaryCase(.permute(1, 0, 2, 3), Shape(17, 5, 3), threshold: Tolerance.exact),
                  unaryCase(.permute(0, 2, 1, 3), Shape(64, 4, 9), threshold: Tolerance.exact),
                  unaryCase(.permute(2, 0, 1, 3), Shape(8, 3, 5), threshold: Tolerance.exact),
                  unaryCase(.convert(.f16), Shape(4096, 2), range: 70000, threshold: Tolerance.exact)]
        cases.append(ConformanceCase(op: "convert", type: "f16", shape: "4096x2 to f32", threshold: Tolerance.exact,
                                     check: .op, flops: 8192, weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.input("x", .f16, Shape(4096, 2), Quant.quantize(.f16, rng.normal(count: 8192, scale: 100)))
            return c.finish(try c.builder.apply(.convert(.f32), [x]))
        })
        return cases
    }

    // MARK: norms

    static var norms: [ConformanceCase] {
        var cases = [Shape(4096, 3), Shape(576, 5), Shape(33)].map { unaryCase(.rmsNorm(eps: 1e-5), $0, threshold: Tolerance.float) }
        for shape in [Shape(576, 5), Shape(4096, 2)] {
            cases.append(ConformanceCase(op: "rms_norm_mul", type: "f32", shape: "\(shape)", threshold: Tolerance.float,
                                         check: .op, flops: Double(3 * shape.count), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", shape, rng.normal(count: shape.count, scale: 3))
                let w = c.floats("w", Shape(shape[0]), rng.uniform(0.5, 1.5, count: shape[0]))
                return c.finish(try c.builder.apply(.rmsNormMul(eps: 1e-6), [x, w]))
            })
        }
        return cases
    }

    // MARK: softmax

    static var softmax: [ConformanceCase] {
        // (kv, tokens, heads, kvOffset or nil for no mask)
        let shapes: [(kv: Int, t: Int, h: Int, offset: Int?)] = [(37, 5, 4, 32), (1000, 4, 1, nil), (4096, 2, 3, 4094), (8, 8, 2, 0)]
        return shapes.map { s in
            ConformanceCase(op: "softmax", type: "f32", shape: "kv=\(s.kv) t=\(s.t) h=\(s.h)" + (s.offset.map { " mask@\($0)" } ?? ""),
                            threshold: Tolerance.float, check: .op, flops: Double(s.kv * s.t * s.h * 4), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(s.kv, s.t, s.h), rng.normal(count: s.kv * s.t * s.h, scale: 4))
                let mask = s.offset.map { c.floats("mask", Shape(s.kv, s.t), TestData.causalMask(kv: s.kv, tokens: s.t, kvOffset: $0)) }
                return c.finish(try c.builder.softmax(x, mask: mask, scale: 0.125))
            }
        }
    }

    // MARK: rope

    static var rope: [ConformanceCase] {
        let variants: [(RopeParams, headDim: Int, maxPos: Int)] = [
            (RopeParams(mode: .normal, nDims: 64, freqBase: 10000), 64, 100),
            (RopeParams(mode: .neox, nDims: 64, freqBase: 10000), 64, 100),
            (RopeParams(mode: .normal, nDims: 64, freqBase: 100000), 64, 32768),
            (RopeParams(mode: .neox, nDims: 128, freqBase: 500000, freqScale: 0.25), 128, 32768),
            (RopeParams(mode: .normal, nDims: 32, freqBase: 10000, freqScale: 0.5), 64, 4096),
            (RopeParams(mode: .neox, nDims: 16, freqBase: 10000), 64, 4096),
        ]
        return variants.map { p, hd, maxPos in
            let (heads, tokens) = (4, 5)
            return ConformanceCase(op: "rope", type: "f32",
                                   shape: "\(p.mode.rawValue) d=\(hd) rot=\(p.nDims) base=\(Int(p.freqBase)) scale=\(p.freqScale) pos<\(maxPos)",
                                   threshold: Tolerance.rope, check: .op, flops: Double(hd * heads * tokens * 6), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(hd, heads, tokens), rng.normal(count: hd * heads * tokens))
                let positions: [Int32] = [0] + (1..<tokens).map { _ in Int32(rng.int(below: maxPos)) }
                return c.finish(try c.builder.rope(x, positions: c.ints("pos", positions), p))
            }
        }
    }

    // MARK: attention

    /// (head dim, tokens, kv, heads, kv heads, kv offset or nil for no mask)
    static let attentionShapes: [(d: Int, t: Int, kv: Int, h: Int, hkv: Int, offset: Int?)] = [
        (64, 1, 300, 8, 2, 299),     // decode, GQA 4:1
        (64, 7, 7, 9, 3, 0),          // prefill, causal from position 0, SmolLM2's 3:1
        (64, 16, 1024, 4, 4, 1008),  // long KV, MHA
        (128, 2, 4100, 8, 1, 4098),  // beyond 4096 keys, MQA
        (32, 5, 40, 2, 2, nil),       // no mask
    ]

    static var attention: [ConformanceCase] {
        attentionShapes.map { s in
            ConformanceCase(op: "attention", type: "f32",
                            shape: "d=\(s.d) t=\(s.t) kv=\(s.kv) h=\(s.h)/\(s.hkv)" + (s.offset.map { " offset=\($0)" } ?? ""),
                            threshold: Tolerance.float, check: .op, flops: Double(4 * s.d * s.t * s.kv * s.h), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let (q, k, v, mask) = attentionInputs(&c, s.d, s.t, s.kv, s.h, s.hkv, s.offset, &rng)
                return c.finish(try c.builder.apply(.attention(scale: 1 / Float(s.d).squareRoot()), [q, k, v] + (mask.map { [$0] } ?? [])))
            }
        }
    }

    static func attentionInputs(_ c: inout OpCaseBuilder, _ d: Int, _ t: Int, _ kv: Int, _ h: Int, _ hkv: Int, _ offset: Int?,
                                _ rng: inout SeededRandom) -> (TensorID, TensorID, TensorID, TensorID?) {
        let q = c.floats("q", Shape(d, t, h), rng.normal(count: d * t * h))
        let k = c.floats("k", Shape(d, kv, hkv), rng.normal(count: d * kv * hkv))
        let v = c.floats("v", Shape(d, kv, hkv), rng.normal(count: d * kv * hkv))
        let mask = offset.map { c.floats("mask", Shape(kv, t), TestData.causalMask(kv: kv, tokens: t, kvOffset: $0)) }
        return (q, k, v, mask)
    }

    // MARK: fusion: the unfused patterns, fused for the device under test

    static var fusion: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        cases.append(ConformanceCase(op: "rms_norm_mul", type: "fused", shape: "rms_norm·w 576x7", threshold: Tolerance.float,
                                     check: .fusion, flops: 3 * 576 * 7, weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("x", Shape(576, 7), rng.normal(count: 576 * 7))
            let w = try c.weight("norm", .f32, Shape(576), TestData.bytes(of: rng.uniform(0.5, 1.5, count: 576)))
            return c.finish(try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-5), w))
        })
        cases.append(ConformanceCase(op: "swiglu", type: "fused", shape: "silu(g)·u 1536x7", threshold: Tolerance.float,
                                     check: .fusion, flops: 4 * 1536 * 7, weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let g = c.floats("g", Shape(1536, 7), rng.normal(count: 1536 * 7, scale: 3))
            let u = c.floats("u", Shape(1536, 7), rng.normal(count: 1536 * 7))
            return c.finish(try c.builder.mul(try c.builder.silu(g), u))
        })
        for s in [attentionShapes[0], attentionShapes[1], attentionShapes[4]] {
            cases.append(ConformanceCase(op: "attention", type: "fused", shape: "q·kᵀ→softmax→·v d=\(s.d) t=\(s.t) kv=\(s.kv) h=\(s.h)/\(s.hkv)",
                                         threshold: Tolerance.float, check: .fusion, flops: Double(4 * s.d * s.t * s.kv * s.h), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let (q, k, v, mask) = attentionInputs(&c, s.d, s.t, s.kv, s.h, s.hkv, s.offset, &rng)
                return c.finish(try c.builder.attention(q: q, k: k, v: v, mask: mask, scale: 1 / Float(s.d).squareRoot()))
            })
        }
        return cases
    }

    // MARK: transformer block

    static var blocks: [ConformanceCase] {
        [(DType.q4_0, 8), (.q4_K, 8), (.q8_0, 1)].map { type, tokens in
            let cfg = TransformerBlock.Config(embedding: 256, heads: 4, kvHeads: 2, ffn: 512, tokens: tokens, weightType: type)
            return ConformanceCase(op: "transformer_block", type: type.rawValue, shape: cfg.description, threshold: Tolerance.block,
                                   check: .graph, flops: cfg.flops, weightBytes: Double(cfg.weightBytes)) { rng in
                try TransformerBlock.make(cfg, rng: &rng)
            }
        }
    }
}
