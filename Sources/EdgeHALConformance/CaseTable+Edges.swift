import EdgeHAL

// The values random data never produces (TestData+Edges): each class on every op it touches.
// Measured on the seeded bugs that hid from the rest of the table: a conversion without its
// subnormal branch, ties rounded away from zero, and NaN for a row with every key masked.

extension CaseTable {
    static var edges: [ConformanceCase] { scaleEdges + f16Rounding + maskedRows + misalignedInputs + reusedSlots }

    // MARK: a product's activations in a reused arena slot

    /// Two products of the same shape whose activations are different tensors a few steps apart, so the arena
    /// gives the second the first one's bytes (three scales between them outlive the hold of 2 steps the Vulkan
    /// backend asks for; the third lands on the first product's input): a backend that keeps something derived from a product's input by its address — the Vulkan
    /// GPU family's int8 products share one quantization of activations between the products reading them —
    /// must see that the bytes were rewritten. Mat-vec and prefill widths; the output adds both products.
    static var reusedSlots: [ConformanceCase] {
        [(DType.q4_0, 1), (.q4_K, 3), (.q8_0, 20)].map { type, n in
            let k = 256
            return ConformanceCase(op: "mul_mat", type: type.rawValue, shape: "k=\(k) m=\(k) n=\(n) ×2 reused slot", threshold: Tolerance.mulMatQuantized,
                                   check: .graph, flops: Double(4 * k * k * n), weightBytes: Double(2 * type.rowBytes(k) * k)) { rng in
                var c = OpCaseBuilder()
                let w1 = try c.weight("w1", type, Shape(k, k), TestData.weights(type, k: k, rows: k, rng: &rng))
                let w2 = try c.weight("w2", type, Shape(k, k), TestData.weights(type, k: k, rows: k, rng: &rng))
                let x = c.floats("x", Shape(k, n), rng.normal(count: k * n))
                let first = try c.builder.mulMat(w1, try c.builder.scale(x, 1.5))
                var h = first
                for s: Float in [0.7, 1.3, 0.9] { h = try c.builder.scale(h, s) }
                return c.finish(try c.builder.add(try c.builder.mulMat(w2, h), first))
            }
        }
    }

    // MARK: input offsets

    /// Ops whose GPU kernels read inputs in 16-byte vectors where they can (attention's K/V, mat-vec and prefill
    /// tile activations), with every input 4 bytes past a 256-byte boundary: the kernels' other path runs.
    /// And graph cases of the fused mat-vecs with every weight 4 bytes into a buffer of its own
    /// (``ExecutionOptions/weightOffset``): elsewhere each input sits at offset 0 of its binding, so a kernel that
    /// took the norm weight's offset for the up matrix's, or the weights' for the residual's, would pass.
    static var misalignedInputs: [ConformanceCase] {
        let shapes = [AttentionShape(d: 64, t: 2, kv: 40, h: 4, hkv: 2, offset: 38),
                      AttentionShape(d: 64, t: 2, kv: 40, h: 4, hkv: 2, offset: 38, kvType: .f16)]
        let cases = attentionCases(shapes) + [mulMatCase(.q4_0, k: 256, m: 33, n: 1), mulMatCase(.q4_0, k: 256, m: 33, n: 3),
                                              mulMatCase(.f16, k: 200, m: 17, n: 1), mulMatCase(.q4_0, k: 256, m: 33, n: 17)]
            + [gluProducts[0], gluProducts[4], foldedNorms[0], residuals[0], headProjections[1], headProjections[2]]
        return cases.map { base in
            ConformanceCase(op: base.op, type: base.type, shape: base.shape + " inputs+4B", threshold: base.threshold,
                                    check: base.check, flops: base.flops, weightBytes: base.weightBytes) { rng in
                var g = try base.make(&rng)
                g.inputMisalignment = 4
                return g
            }
        }
    }

    // MARK: block scales

    /// Every weight type with f16 scales, in mat-vec, small-N and prefill tiles (n = 1, 5, 37), with
    /// scales that are subnormal (and ±0, and the smallest normals), and at the top of f16's range; and
    /// with every code at its extreme against ±127 activation codes (n = 1, 2, 24).
    /// The grouped case with subnormal scales is in `groups`. get_rows (embedding lookups) dequantizes
    /// the same blocks, exactly.
    static var scaleEdges: [ConformanceCase] {
        weightTypes.filter { $0 != .f32 }.flatMap { type -> [ConformanceCase] in
            let k = max(type.blockSize, 32) * 8
            return [1, 5, 37].map { mulMatCase(type, MulMatShape(k, 33, $0), scales: .subnormal) }
                + [1, 17].map { mulMatCase(type, MulMatShape(k, 33, $0), scales: .maximal) }
                // Extreme codes against ±127 activations: mat-vec, small tiles and whole groups of 8 and 16.
                + [1, 2, 24].map { mulMatCase(type, MulMatShape(k, 33, $0), activations: .extreme, scales: .extremeCodes) }
                + [TestData.BlockScales.subnormal, .maximal].map { getRowsCase(type, k: type.blockSize == 256 ? 512 : 96, scales: $0) }
        }
    }

    // MARK: f32 ⇄ f16

    static var f16Rounding: [ConformanceCase] {
        func convertCase(_ label: String, _ shape: Shape, _ values: @escaping @Sendable (Int, inout SeededRandom) -> [Float]) -> ConformanceCase {
            ConformanceCase(op: "convert", type: "f32", shape: "\(shape) \(label) to f16", threshold: Tolerance.exact, check: .op,
                            flops: Double(shape.count), weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", shape, values(shape.count, &rng))
                return c.finish(try c.builder.apply(.convert(.f16), [x]))
            }
        }
        func setRowsCase(_ label: String, k: Int, _ values: @escaping @Sendable (Int, inout SeededRandom) -> [Float]) -> ConformanceCase {
            ConformanceCase(op: "set_rows", type: "f16", shape: "k=\(k) rows=20 n=7 \(label)", threshold: Tolerance.exact,
                            check: .op, flops: 0, weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let dst = try c.builder.state("cache", .f16, Shape(k, 20))
                c.data[dst] = TestData.weights(.f16, k: k, rows: 20, rng: &rng)
                let src = c.floats("src", Shape(k, 7), values(k * 7, &rng))
                return c.finish(try c.builder.setRows(dst, src, ids: c.ints("ids", [3, 0, 19, 20, -1, 7, 12])))
            }
        }
        let ties: @Sendable (Int, inout SeededRandom) -> [Float] = { TestData.f16Ties(count: $0, rng: &$1) }
        let edges: @Sendable (Int, inout SeededRandom) -> [Float] = { TestData.f16Edges(count: $0, rng: &$1) }
        return [
            convertCase("ties", Shape(4096, 3), ties), convertCase("edges", Shape(1001, 7), edges),
            ConformanceCase(op: "convert", type: "f16", shape: "1001x5 edges to f32", threshold: Tolerance.exact,
                            check: .op, flops: 5005, weightBytes: 0) { rng in
                var c = OpCaseBuilder()
                let x = c.input("x", .f16, Shape(1001, 5), TestData.f16EdgeBits(count: 5005, rng: &rng))
                return c.finish(try c.builder.apply(.convert(.f32), [x]))
            },
            setRowsCase("ties", k: 64, ties), setRowsCase("edges", k: 37, edges),
            kvCacheAttention,
            // V entirely in f16's subnormal range (K ordinary): the output is a weighted mean of subnormals.
            attentionCase(AttentionShape(d: 64, t: 3, kv: 50, h: 4, hkv: 2, offset: 47, kvType: .f16), label: "v=subnormal") { c, s, rng in
                let q = c.floats("q", Shape(s.d, s.t, s.h), rng.normal(count: s.d * s.t * s.h))
                let kvShape = Shape(s.d, s.kv, s.hkv)
                let k = c.input("k", .f16, kvShape, Quant.quantize(.f16, rng.normal(count: kvShape.count)))
                let vBits = (0..<kvShape.count).map { i in UInt16(1 + rng.int(below: 0x3FF)) | (i % 3 == 0 ? 0x8000 : 0) }
                let v = c.input("v", .f16, kvShape, TestData.bytes(of: vBits))
                let mask = c.floats("mask", Shape(s.kv, s.t), TestData.causalMask(kv: s.kv, tokens: s.t, kvOffset: s.offset!))
                return [q, k, v, mask]
            },
        ]
    }

    /// Prefill into an empty f16 KV cache, as a model runs it: set_rows writes k and v (every value an
    /// exact f16 tie) into f16 states, attention reads them back. Every cached value carries the
    /// rounding, so a tie rounded the wrong way moves the output by ≈ 1e-7 NMSE, ten times the bound.
    static var kvCacheAttention: ConformanceCase {
        let (d, t, h, hkv) = (64, 12, 4, 2)
        return ConformanceCase(op: "attention", type: "f16-cache", shape: "set_rows→attention d=\(d) t=\(t) kv=\(t) h=\(h)/\(hkv) ties",
                               threshold: Tolerance.float, check: .graph, flops: Double(4 * d * t * t * h), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            // Cache rows: kv head g, position j at row g·t + j; the new columns are in the same order.
            let rows = c.ints("rows", (0..<Int32(t * hkv)).map { $0 })
            func cache(_ name: String) throws -> TensorID {
                let state = try c.builder.state("cache_\(name)", .f16, Shape(d, t * hkv))
                c.data[state] = Quant.quantize(.f16, rng.normal(count: d * t * hkv))
                let fresh = c.floats(name, Shape(d, t * hkv), TestData.f16Ties(count: d * t * hkv, rng: &rng))
                return try c.builder.reshape(try c.builder.setRows(state, fresh, ids: rows), Shape(d, t, hkv))
            }
            let q = c.floats("q", Shape(d, t, h), rng.normal(count: d * t * h))
            let k = try cache("k"), v = try cache("v")
            let mask = c.floats("mask", Shape(t, t), TestData.causalMask(kv: t, tokens: t, kvOffset: 0))
            return c.finish(try c.builder.apply(.attention(scale: 1 / Float(d).squareRoot()), [q, k, v, mask]))
        }
    }

    static func attentionCase(_ s: AttentionShape, label: String,
                              _ inputs: @escaping @Sendable (inout OpCaseBuilder, AttentionShape, inout SeededRandom) -> [TensorID]) -> ConformanceCase {
        ConformanceCase(op: "attention", type: "f32", shape: s.label + " " + label, threshold: Tolerance.float, check: .op,
                        flops: Double(4 * s.d * s.t * s.kv * s.h), weightBytes: 0) { rng in
            var c = OpCaseBuilder()
            let ins = inputs(&c, s, &rng)
            return c.finish(try c.builder.apply(.attention(scale: 1 / Float(s.d).squareRoot()), ins))
        }
    }

    // MARK: masks

    /// Softmax and attention (op and fused) over masks with rows of every TestData.MaskRow kind:
    /// fully masked, one visible key at the first, last and a middle position, -inf mixed with large
    /// finite biases. Sizes: short rows, rows of 8 keys (one vector), a parallel softmax (≥ 2^15
    /// values), decode steps that hide everything, show one key or mix −inf with large biases, an f16 cache.
    static var maskedRows: [ConformanceCase] {
        let softmaxShapes = [SoftmaxShape(kv: 45, t: 7, h: 3, offset: 0, edgeMask: 0),
                             SoftmaxShape(kv: 8, t: 7, h: 2, offset: 0, edgeMask: 3),
                             SoftmaxShape(kv: 1000, t: 7, h: 5, offset: 0, edgeMask: 0)]
        let shapes = [AttentionShape(d: 64, t: 7, kv: 45, h: 4, hkv: 2, offset: 0, edgeMask: 0),
                      AttentionShape(d: 128, t: 7, kv: 300, h: 8, hkv: 1, offset: 0, edgeMask: 2),
                      AttentionShape(d: 64, t: 7, kv: 45, h: 4, hkv: 2, offset: 0, kvType: .f16, edgeMask: 4),
                      // Decode over 600 keys: the GPU families split them over workgroups, so the merge meets
                      // a row whose every chunk is masked, and one whose single visible key is in one chunk.
                      AttentionShape(d: 256, t: 1, kv: 600, h: 4, hkv: 1, offset: 0, edgeMask: 0),   // decode, nothing visible
                      AttentionShape(d: 256, t: 1, kv: 600, h: 4, hkv: 1, offset: 0, edgeMask: 3),   // decode, one key
                      AttentionShape(d: 64, t: 1, kv: 600, h: 4, hkv: 2, offset: 0, edgeMask: 4)]    // decode, -inf and large biases
        return softmaxCases(softmaxShapes) + attentionCases(shapes) + [fusedAttentionCase(shapes[0])]
    }
}
