import EdgeHAL

// The non-mat-mul rows of the table. Besides the shapes of real models, each op gets:
// - sizes past the point where a fast backend goes parallel (the CPU backend splits elementwise,
//   norm and softmax work above 2^15 elements), with row and element counts that divide by no
//   worker count (37 rows, 40 821 elements) and rows whose length is not a multiple of 8;
// - values far from magnitude 1 where arithmetic breaks: rms_norm inputs of 1e-4 (ε matters) and
//   1e3, softmax logits of ±125 after scaling (exp overflows without the maximum subtracted, and
//   underflows to a zero sum for very negative rows), attention scores reaching ±50;
// - 4-D broadcasts for add and mul, long rows that are mostly masked, odd head and token counts.

extension CaseTable {
    static func unaryCase(_ op: Op, _ shape: Shape, range: Float = 4, threshold: Double, type: DType = .f32) -> ConformanceCase {
        ConformanceCase(op: op.name, type: type.rawValue, shape: "\(shape)" + (range != 4 ? " |x|≤\(range)" : ""),
                        threshold: threshold, check: .op, flops: Double(shape.count), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let values = rng.uniform(-range, range, count: shape.count)
            let x = c.input("x", type, shape, type == .f16 ? Quant.quantize(.f16, values) : TestData.bytes(of: values))
            return c.finish(try c.builder.apply(op, [x]))
        }
    }

    static func binaryCase(_ op: Op, _ a: Shape, _ b: Shape, threshold: Double = Tolerance.exact) -> ConformanceCase {
        ConformanceCase(op: op.name, type: "f32", shape: "\(a) by \(b)", threshold: threshold, check: .op,
                        flops: Double(a.count), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("a", a, rng.normal(count: a.count))
            let gated = op == .swiglu || op == .geglu
            let y = c.floats("b", b, rng.normal(count: b.count, scale: gated ? 4 : 1))
            return c.finish(try c.builder.apply(op, gated ? [y, x] : [x, y]))
        }
    }

    // MARK: elementwise

    /// 40 821 elements: parallel, 638 chunks of 64 (divisible by no worker count), an 8-wide tail of 5.
    static let large = Shape(1237, 33)

    static var elementwise: [ConformanceCase] {
        var cases: [ConformanceCase] = []
        for op in [Op.add, .mul] {
            cases += [binaryCase(op, Shape(4096, 3), Shape(4096, 3)), binaryCase(op, Shape(64, 7, 3), Shape(64, 1, 3)),
                      binaryCase(op, Shape(33, 5), Shape(33)),
                      binaryCase(op, Shape(16, 3, 4, 5), Shape(16, 1, 2, 5)),   // 4-D: broadcast in dims 1 and 2
                      binaryCase(op, Shape(16, 3, 4, 6), Shape(16, 3, 4, 2)),   // dim 3 repeats
                      binaryCase(op, Shape(24, 3, 2, 3), Shape(8, 3, 1, 3)),    // ne0 repeats
                      binaryCase(op, Shape(1001, 41), Shape(1001, 41)),         // parallel, 41 rows
                      binaryCase(op, Shape(1001, 37, 1, 2), Shape(1001, 1, 1, 2))]
        }
        cases += [binaryCase(.swiglu, Shape(1536, 5), Shape(1536, 5), threshold: Tolerance.float),
                  binaryCase(.swiglu, large, large, threshold: Tolerance.float),
                  binaryCase(.geglu, Shape(2048, 5), Shape(2048, 5), threshold: Tolerance.float),   // Gemma 3's feed-forward
                  binaryCase(.geglu, large, large, threshold: Tolerance.float)]
        cases += [unaryCase(.scale(0.125), Shape(1000, 3), threshold: Tolerance.exact),
                  unaryCase(.scale(-3.5), large, range: 1e3, threshold: Tolerance.exact),
                  unaryCase(.silu, Shape(1000, 3), range: 12, threshold: Tolerance.float),
                  unaryCase(.silu, large, range: 100, threshold: Tolerance.float),
                  unaryCase(.gelu, Shape(1000, 3), range: 8, threshold: Tolerance.float),
                  unaryCase(.gelu, large, range: 30, threshold: Tolerance.float),
                  unaryCase(.permute(1, 0, 2, 3), Shape(17, 5, 3), threshold: Tolerance.exact),
                  unaryCase(.permute(0, 2, 1, 3), Shape(64, 4, 9), threshold: Tolerance.exact),
                  unaryCase(.permute(2, 0, 1, 3), Shape(8, 3, 5), threshold: Tolerance.exact),
                  unaryCase(.permute(0, 2, 1, 3), Shape(5, 3, 4, 2), threshold: Tolerance.exact),
                  unaryCase(.permute(3, 1, 0, 2), Shape(3, 4, 5, 2), threshold: Tolerance.exact),
                  unaryCase(.permute(1, 0, 2, 3), Shape(7, 5, 3), threshold: Tolerance.exact, type: .f16),
                  unaryCase(.permute(0, 2, 1, 3), Shape(64, 4, 9), threshold: Tolerance.exact, type: .f16),
                  unaryCase(.convert(.f16), Shape(4096, 2), range: 70000, threshold: Tolerance.exact),
                  unaryCase(.convert(.f16), Shape(4099, 3), range: 1e-4, threshold: Tolerance.exact)]
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
        var cases = [Shape(4096, 3), Shape(576, 5), Shape(33), Shape(1001, 37)].map {
            unaryCase(.rmsNorm(eps: 1e-5), $0, threshold: Tolerance.float)
        }
        // Inputs of 1e-4 (mean square 3e-9, far below ε = 1e-5: ε decides the output) and of 1e3.
        cases += [unaryCase(.rmsNorm(eps: 1e-5), Shape(576, 5), range: 1e-4, threshold: Tolerance.float),
                  unaryCase(.rmsNorm(eps: 1e-6), Shape(577, 3), range: 3e-3, threshold: Tolerance.float),
                  unaryCase(.rmsNorm(eps: 1e-5), Shape(1001, 37), range: 1e3, threshold: Tolerance.float)]
        for (shape, scale) in [(Shape(576, 5), Float(3)), (Shape(4096, 2), 3), (Shape(1001, 37), 3), (Shape(577, 5), 1e-4)] {
            cases.append(ConformanceCase(op: "rms_norm_mul", type: "f32", shape: "\(shape)" + (scale != 3 ? " |x|~\(scale)" : ""),
                                         threshold: Tolerance.float, check: .op, flops: Double(3 * shape.count), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", shape, rng.normal(count: shape.count, scale: scale))
                let w = c.floats("w", Shape(shape[0]), rng.uniform(0.5, 1.5, count: shape[0]))
                return c.finish(try c.builder.apply(.rmsNormMul(eps: 1e-6), [x, w]))
            })
        }
        return cases
    }

    // MARK: softmax

    /// A softmax shape: (kv, tokens, heads), the mask's KV offset (nil: no mask), and the logits' range.
    struct SoftmaxShape {
        var kv: Int, t: Int, h: Int, offset: Int?
        var values: Values = .normal
        /// The mask adds finite biases in [−4, 0] to the visible keys (ALiBi-like), not just 0.
        var biased = false
        /// The mask is TestData.edgeMask (rows of every MaskRow kind, starting at this one) instead of causal.
        var edgeMask: Int? = nil
        enum Values: String { case normal, huge, veryNegative }
    }

    static var softmax: [ConformanceCase] { softmaxCases(softmaxShapes) }

    static let softmaxShapes = [
            SoftmaxShape(kv: 37, t: 5, h: 4, offset: 32), SoftmaxShape(kv: 1000, t: 4, h: 1, offset: nil),
            SoftmaxShape(kv: 4096, t: 2, h: 3, offset: 4094), SoftmaxShape(kv: 8, t: 8, h: 2, offset: 0),
            SoftmaxShape(kv: 1000, t: 37, h: 1, offset: 963),                // parallel, 37 rows
            SoftmaxShape(kv: 5000, t: 3, h: 2, offset: 100),                 // long rows, 98 % masked
            SoftmaxShape(kv: 301, t: 7, h: 3, offset: 294, values: .huge),   // scaled logits up to ±125
            SoftmaxShape(kv: 77, t: 3, h: 2, offset: nil, values: .veryNegative),
            SoftmaxShape(kv: 45, t: 5, h: 3, offset: 40, biased: true),       // finite biases in the mask
        ]

    static func softmaxCases(_ shapes: [SoftmaxShape]) -> [ConformanceCase] {
        shapes.map { s in
            ConformanceCase(op: "softmax", type: "f32",
                            shape: "kv=\(s.kv) t=\(s.t) h=\(s.h)" + (s.edgeMask == nil ? s.offset.map { " mask@\($0)" } ?? "" : "")
                                + (s.values == .normal ? "" : " x=\(s.values.rawValue)") + (s.biased ? " biased" : "")
                                + (s.edgeMask.map { " mask=edges@\($0)" } ?? ""),
                            threshold: Tolerance.float, check: .op, flops: Double(s.kv * s.t * s.h * 4), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let n = s.kv * s.t * s.h
                let values: [Float]
                switch s.values {
                case .normal: values = rng.normal(count: n, scale: 4)
                case .huge: values = rng.uniform(-1000, 1000, count: n)
                case .veryNegative: values = rng.uniform(-1000, -800, count: n)
                }
                let x = c.floats("x", Shape(s.kv, s.t, s.h), values)
                let mask = s.offset.map { offset in
                    c.floats("mask", Shape(s.kv, s.t), s.edgeMask.map { TestData.edgeMask(kv: s.kv, tokens: s.t, first: $0, rng: &rng) }
                             ?? TestData.causalMask(kv: s.kv, tokens: s.t, kvOffset: offset, bias: s.biased ? 4 : 0, rng: &rng))
                }
                return c.finish(try c.builder.softmax(x, mask: mask, scale: 0.125))
            }
        }
    }

    // MARK: rope

    static var rope: [ConformanceCase] {
        let variants: [(RopeParams, headDim: Int, maxPos: Int, heads: Int, tokens: Int)] = [
            (RopeParams(mode: .normal, nDims: 64, freqBase: 10000), 64, 100, 4, 5),
            (RopeParams(mode: .neox, nDims: 64, freqBase: 10000), 64, 100, 4, 5),
            (RopeParams(mode: .normal, nDims: 64, freqBase: 100000), 64, 32768, 4, 5),
            (RopeParams(mode: .neox, nDims: 128, freqBase: 500000, freqScale: 0.25), 128, 32768, 4, 5),
            (RopeParams(mode: .normal, nDims: 32, freqBase: 10000, freqScale: 0.5), 64, 4096, 4, 5),
            (RopeParams(mode: .neox, nDims: 16, freqBase: 10000), 64, 4096, 4, 5),
            (RopeParams(mode: .neox, nDims: 80, freqBase: 10000), 80, 2048, 3, 37),     // odd heads, many tokens
            (RopeParams(mode: .normal, nDims: 24, freqBase: 1e6, freqScale: 0.125), 40, 65536, 5, 7),
            (RopeParams(mode: .neox, nDims: 256, freqBase: 1e6), 256, 32768, 4, 5),      // Gemma 3 global layers
            (RopeParams(mode: .neox, nDims: 256, freqBase: 10000), 256, 2048, 1, 9),     // Gemma 3 local layers (k: one head)
        ]
        return variants.map { p, hd, maxPos, heads, tokens in
            ropeCase(p, hd, maxPos, heads, tokens)
        } + [ropeSharedTables] + ropedCacheWrites
    }

    static func ropeCase(_ p: RopeParams, _ hd: Int, _ maxPos: Int, _ heads: Int, _ tokens: Int) -> ConformanceCase {
        ConformanceCase(op: "rope", type: "f32",
                        shape: "\(p.mode.rawValue) d=\(hd) rot=\(p.nDims) base=\(Int(p.freqBase)) scale=\(p.freqScale) pos<\(maxPos) h=\(heads) t=\(tokens)",
                        threshold: Tolerance.rope, check: .op, flops: Double(hd * heads * tokens * 6), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("x", Shape(hd, heads, tokens), rng.normal(count: hd * heads * tokens))
            let positions: [Int32] = [0] + (1..<tokens).map { _ in Int32(rng.int(below: maxPos)) }
            return c.finish(try c.builder.rope(x, positions: c.ints("pos", positions), p))
        }
    }

    /// Three ropes in one graph, summed: two position sets under one base, and the first set under a
    /// second base. A backend that computes the angle table once and shares it between nodes (the CPU
    /// backend) must key it by parameters and positions: a table kept for the wrong ones fails here.
    /// A decode step's k, roped and written into the cache — `set_rows(cache, rope(x) reshaped, ids)` — which the
    /// core fuses into rope_set_rows for devices that write the roped rows directly (the Vulkan GPU family). Graph
    /// cases: a device without the fused op runs rope and set_rows. f32 and f16 caches, both modes, a partial
    /// rotation, Gemma 3's head of 256, three tokens at once, and ids outside the cache (−1, 20) that write nothing.
    static var ropedCacheWrites: [ConformanceCase] {
        let variants: [(RopeParams, hd: Int, heads: Int, tokens: Int, DType)] = [
            (RopeParams(mode: .normal, nDims: 64, freqBase: 10000), 64, 3, 1, .f32),
            (RopeParams(mode: .neox, nDims: 32, freqBase: 10000), 64, 2, 1, .f16),
            (RopeParams(mode: .neox, nDims: 256, freqBase: 1e6), 256, 1, 1, .f32),
            (RopeParams(mode: .normal, nDims: 24, freqBase: 1e6, freqScale: 0.125), 40, 2, 3, .f16),
        ]
        return variants.map { p, hd, heads, tokens, type in
            ConformanceCase(op: "rope_set_rows", type: type.rawValue,
                            shape: "\(p.mode.rawValue) d=\(hd) rot=\(p.nDims) h=\(heads) t=\(tokens) into rows=20",
                            threshold: Tolerance.rope, check: .graph, flops: Double(hd * heads * tokens * 6), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let cache = try c.builder.state("cache", type, Shape(hd, 20))
                c.data[cache] = type == .f16 ? Quant.quantize(.f16, rng.normal(count: hd * 20)) : TestData.bytes(of: rng.normal(count: hd * 20))
                let x = c.floats("x", Shape(hd, heads, tokens), rng.normal(count: hd * heads * tokens, scale: 3))
                let positions = c.ints("pos", (0..<tokens).map { _ in Int32(rng.int(below: 4096)) })
                let rows = heads * tokens
                // Rows 1 and 2 (when there are that many) go to ids just outside the cache: nothing is written.
                let ids: [Int32] = (0..<rows).map { (r: Int) -> Int32 in r == 1 ? -1 : r == 2 ? 20 : Int32((7 * r + 3) % 20) }
                let idTensor = c.ints("ids", ids)
                let roped = try c.builder.reshape(try c.builder.rope(x, positions: positions, p), Shape(hd, rows))
                return c.finish(try c.builder.setRows(cache, roped, ids: idTensor))
            }
        }
    }

    static var ropeSharedTables: ConformanceCase {
        let (hd, heads, tokens) = (128, 2, 70)
        return ConformanceCase(op: "rope", type: "f32", shape: "neox d=\(hd) h=\(heads) t=\(tokens) ×3 in one graph: two position sets, two bases",
                               threshold: Tolerance.rope, check: .graph, flops: Double(3 * hd * heads * tokens * 6), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let local = RopeParams(mode: .neox, nDims: hd, freqBase: 10000), global = RopeParams(mode: .neox, nDims: hd, freqBase: 1e6)
            let x = c.floats("x", Shape(hd, heads, tokens), rng.normal(count: hd * heads * tokens))
            let y = c.floats("y", Shape(hd, heads, tokens), rng.normal(count: hd * heads * tokens))
            let first: [Int32] = (0..<tokens).map { _ in Int32(rng.int(below: 4096)) }
            let p1 = c.ints("pos1", first), p2 = c.ints("pos2", first.map { $0 + 1 })
            let a = try c.builder.rope(x, positions: p1, local), b = try c.builder.rope(y, positions: p2, local)
            let g = try c.builder.rope(x, positions: p1, global)
            return c.finish(try c.builder.add(try c.builder.add(a, b), g))
        }
    }

    // MARK: attention

    struct AttentionShape {
        var d: Int, t: Int, kv: Int, h: Int, hkv: Int, offset: Int?
        /// Scale of q: 1 gives scores of about ±3, 12 scores reaching ±50.
        var qScale: Float = 1
        var kvType: DType = .f32
        /// The mask adds finite position biases in [−4, 0] to the visible keys, not just 0.
        var bias = false
        /// Sliding-window mask: a query at position p sees keys k with p − k < window only.
        var window: Int? = nil
        /// The mask is TestData.edgeMask (rows of every MaskRow kind, starting at this one) instead of causal.
        var edgeMask: Int? = nil
        var label: String {
            "d=\(d) t=\(t) kv=\(kv) h=\(h)/\(hkv)" + (edgeMask == nil ? offset.map { " offset=\($0)" } ?? "" : "") + (bias ? " biased" : "")
                + (qScale != 1 ? " q×\(qScale)" : "") + (kvType != .f32 ? " kv=\(kvType.rawValue)" : "")
                + (window.map { " window=\($0)" } ?? "") + (edgeMask.map { " mask=edges@\($0)" } ?? "")
        }
    }

    static let attentionShapes: [AttentionShape] = [
        AttentionShape(d: 64, t: 1, kv: 300, h: 8, hkv: 2, offset: 299),    // decode, GQA 4:1
        AttentionShape(d: 64, t: 7, kv: 7, h: 9, hkv: 3, offset: 0),        // prefill, causal from position 0, SmolLM2's 3:1
        AttentionShape(d: 64, t: 16, kv: 1024, h: 4, hkv: 4, offset: 1008), // long KV, MHA
        AttentionShape(d: 128, t: 2, kv: 4100, h: 8, hkv: 1, offset: 4098), // beyond 4096 keys, MQA
        AttentionShape(d: 32, t: 5, kv: 40, h: 2, hkv: 2, offset: nil),     // no mask
        AttentionShape(d: 64, t: 5, kv: 40, h: 7, hkv: 7, offset: 35),      // 35 (head, token) items: no even split
        AttentionShape(d: 64, t: 3, kv: 200, h: 6, hkv: 2, offset: 197, qScale: 12),   // scores reaching ±50
        AttentionShape(d: 64, t: 4, kv: 3000, h: 4, hkv: 2, offset: 20),    // long cache, mostly masked
        AttentionShape(d: 64, t: 4, kv: 200, h: 4, hkv: 2, offset: 196, kvType: .f16),  // f16 KV cache
        AttentionShape(d: 36, t: 3, kv: 33, h: 3, hkv: 1, offset: 30),      // head size not a multiple of 8
        AttentionShape(d: 64, t: 5, kv: 50, h: 4, hkv: 2, offset: 45, bias: true),  // finite additive bias (ALiBi-like)
        AttentionShape(d: 256, t: 1, kv: 300, h: 4, hkv: 1, offset: 299),   // Gemma 3 global layer, decode: head size 256, MQA
        AttentionShape(d: 256, t: 1, kv: 700, h: 4, hkv: 1, offset: 699, window: 512),  // sliding window: the first 188 keys masked
        AttentionShape(d: 256, t: 9, kv: 530, h: 4, hkv: 1, offset: 521, window: 512),  // prefill across the window's edge
        AttentionShape(d: 64, t: 20, kv: 84, h: 4, hkv: 2, offset: 64),   // prefill past one 16-token tile and one 64-key tile
        AttentionShape(d: 36, t: 11, kv: 40, h: 3, hkv: 1, offset: 29),   // prefill, head size not a multiple of 8, MQA
        AttentionShape(d: 256, t: 10, kv: 40, h: 2, hkv: 1, offset: 30, window: 16),   // Gemma 3's head size, prefill in a short window
        AttentionShape(d: 64, t: 2, kv: 300, h: 4, hkv: 2, offset: 298, window: 100),  // rows too few to tile: the first 128 keys hidden, later ones seen
    ]

    static var attention: [ConformanceCase] { attentionCases(attentionShapes) }

    static func attentionCases(_ shapes: [AttentionShape]) -> [ConformanceCase] {
        shapes.map { s in
            ConformanceCase(op: "attention", type: "f32", shape: s.label,
                            threshold: Tolerance.float, check: .op, flops: Double(4 * s.d * s.t * s.kv * s.h), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let (q, k, v, mask) = attentionInputs(&c, s, &rng)
                return c.finish(try c.builder.apply(.attention(scale: 1 / Float(s.d).squareRoot()), [q, k, v] + (mask.map { [$0] } ?? [])))
            }
        }
    }

    static func attentionInputs(_ c: inout OpCaseBuilder, _ s: AttentionShape,
                                _ rng: inout SeededRandom) -> (TensorID, TensorID, TensorID, TensorID?) {
        let q = c.floats("q", Shape(s.d, s.t, s.h), rng.normal(count: s.d * s.t * s.h, scale: s.qScale))
        let kvShape = Shape(s.d, s.kv, s.hkv)
        func kvInput(_ name: String) -> TensorID {
            let values = rng.normal(count: kvShape.count)
            return c.input(name, s.kvType, kvShape, s.kvType == .f16 ? Quant.quantize(.f16, values) : TestData.bytes(of: values))
        }
        let k = kvInput("k"), v = kvInput("v")
        let mask = s.offset.map { offset in
            c.floats("mask", Shape(s.kv, s.t), s.edgeMask.map { TestData.edgeMask(kv: s.kv, tokens: s.t, first: $0, rng: &rng) }
                     ?? TestData.causalMask(kv: s.kv, tokens: s.t, kvOffset: offset, window: s.window, bias: s.bias ? 4 : 0, rng: &rng))
        }
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
        // The gated feed-forwards, act(g)·u, which the executor fuses into one op.
        func gated(_ op: String, _ name: String, width: Int, flopsPerValue: Int,
                   _ act: @escaping @Sendable (inout GraphBuilder, TensorID) throws -> TensorID) -> ConformanceCase {
            ConformanceCase(op: op, type: "fused", shape: "\(name)(g)·u \(width)x7", threshold: Tolerance.float,
                            check: .fusion, flops: Double(flopsPerValue * width * 7), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let g = c.floats("g", Shape(width, 7), rng.normal(count: width * 7, scale: 3))
                let u = c.floats("u", Shape(width, 7), rng.normal(count: width * 7))
                let a = try act(&c.builder, g)
                return c.finish(try c.builder.mul(a, u))
            }
        }
        cases.append(gated("swiglu", "silu", width: 1536, flopsPerValue: 4) { b, g in try b.silu(g) })
        cases.append(gated("geglu", "gelu", width: 2048, flopsPerValue: 10) { b, g in try b.gelu(g) })
        // Gemma 3's per-head norm of q and k: one weight [head] broadcast over heads and tokens.
        cases.append(ConformanceCase(op: "rms_norm_mul", type: "fused", shape: "rms_norm·w per head 256x4x7", threshold: Tolerance.float,
                                     check: .fusion, flops: 3 * 256 * 4 * 7, weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("x", Shape(256, 4, 7), rng.normal(count: 256 * 4 * 7, scale: 5))
            let w = try c.weight("norm", .f32, Shape(256), TestData.bytes(of: rng.uniform(0.2, 3, count: 256)))
            return c.finish(try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-6), w))
        })
        for s in [attentionShapes[0], attentionShapes[1], attentionShapes[4], attentionShapes[6], attentionShapes[13]] {
            cases.append(fusedAttentionCase(s))
        }
        return cases
    }

    static func fusedAttentionCase(_ s: AttentionShape) -> ConformanceCase {
        ConformanceCase(op: "attention", type: "fused", shape: "q·kᵀ→softmax→·v " + s.label,
                        threshold: Tolerance.float, check: .fusion, flops: Double(4 * s.d * s.t * s.kv * s.h), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let (q, k, v, mask) = attentionInputs(&c, s, &rng)
            return c.finish(try c.builder.attention(q: q, k: k, v: v, mask: mask, scale: 1 / Float(s.d).squareRoot()))
        }
    }

    // MARK: grouped mul_mats (SharedInputGrouping): one activation tensor, three weights

    /// q, k and v of a layer: three mul_mats over the same x with different weight types and row
    /// counts, which the core groups and a backend may run as one job. The output mixes all three
    /// (mixing k·v and a projection of q), so a member reading another's rows or activations fails.
    /// With subnormal block scales (weights ~1e-4) x is scaled by 100, so q, k and v are again of
    /// order 1 and both parts of the output show.
    static var groups: [ConformanceCase] {
        [(1, TestData.BlockScales.natural), (7, .natural), (1, .subnormal), (7, .subnormal)].map { n, scales -> ConformanceCase in
            ConformanceCase(op: "mul_mat_group", type: "q4_1+q5_0+q8_0",
                            shape: "576→576,192,192 n=\(n)" + (scales != .natural ? " scales=\(scales.rawValue)" : ""), threshold: Tolerance.block,
                            check: .graph, flops: Double(1_327_104 * n), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(576, n), rng.normal(count: 576 * n, scale: scales == .natural ? 1 : 100))
                let wq = try c.weight("wq", .q4_1, Shape(576, 576), TestData.weights(.q4_1, k: 576, rows: 576, rng: &rng, scales: scales))
                let wk = try c.weight("wk", .q5_0, Shape(576, 192), TestData.weights(.q5_0, k: 576, rows: 192, rng: &rng, scales: scales))
                let wv = try c.weight("wv", .q8_0, Shape(576, 192), TestData.weights(.q8_0, k: 576, rows: 192, rng: &rng, scales: scales))
                let wo = try c.weight("wo", .f32, Shape(576, 192), TestData.bytes(of: rng.normal(count: 576 * 192, scale: 0.05)))
                let q = try c.builder.mulMat(wq, x)
                let kv = try c.builder.mul(try c.builder.mulMat(wk, x), try c.builder.mulMat(wv, x))
                return c.finish(try c.builder.add(try c.builder.mulMat(wo, q), kv))
            }
        }
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
