import EdgeHAL

// The fused mat-vecs' rows of the table: a layer's patterns that the GPU families' mat-vec takes in one
// dispatch — the residual added as it writes (mul_mat_add), the norm folded in (rms_norm_mul_mat), a
// feed-forward's gate, up and glu (mul_mat_glu), and a decode step's q, k and v with their rope and cache
// writes (mul_mat_rows). Graph cases: a device without the fused op runs the unfused ops and passes the same way.

extension CaseTable {
    // MARK: mat-vec plus residual (mul_mat_add)

    /// A layer's output projection and its residual, `mul_mat(w, x) + r`, which the core fuses into
    /// mul_mat_add for devices that add r as they write the product (the GPU families' mat-vec). Graph
    /// cases: a device without the fused op runs the two ops and passes the same way. Both operand orders
    /// of the add, a batched case with broadcast weights, and r large next to the product, so a kernel that
    /// drops either part fails.
    static var residuals: [ConformanceCase] {
        let shapes: [(DType, k: Int, m: Int, n: Int, batch: Int, rFirst: Bool)] = [
            (.q4_0, 2048, 96, 1, 1, true), (.q4_0, 512, 33, 3, 1, false), (.q4_K, 512, 40, 1, 1, false), (.q6_K, 512, 33, 2, 1, true),
            (.q8_0, 576, 33, 1, 1, false), (.q5_1, 576, 33, 8, 1, true), (.f16, 200, 17, 1, 1, true), (.q4_1, 256, 17, 1, 4, false),
        ]
        return shapes.map { type, k, m, n, batch, rFirst in
            ConformanceCase(op: "mul_mat_add", type: type.rawValue, shape: "k=\(k) m=\(m) n=\(n)" + (batch > 1 ? " b=\(batch)" : "") + (rFirst ? " r+w·x" : " w·x+r"),
                            threshold: type.isQuantized ? Tolerance.mulMatQuantized : Tolerance.mulMatFloat, check: .graph, flops: Double(2 * k * m * n * batch),
                            weightBytes: Double(type.rowBytes(k) * m * max(1, batch / 2))) { rng in
                var c = OpCaseBuilder()
                let heads = max(1, batch / 2)   // weights broadcast over pairs of activation batches
                let w = try c.weight("w", type, Shape(k, m, heads), TestData.weights(type, k: k, rows: m * heads, rng: &rng))
                let x = c.floats("x", Shape(k, n, batch), rng.normal(count: k * n * batch))
                let r = c.floats("r", Shape(m, n, batch), rng.normal(count: m * n * batch, scale: 4))
                let product = try c.builder.mulMat(w, x)
                return c.finish(rFirst ? try c.builder.add(r, product) : try c.builder.add(product, r))
            }
        }
    }

    // MARK: norm folded into the mat-vecs (rms_norm_mul_mat)

    /// A layer's norm and the mat-vecs that read it — `mul_mat(wᵢ, rms_norm(x)·w)` for one to three wᵢ (a
    /// layer's q, k, v) — which the core fuses into rms_norm_mul_mat for devices whose mat-vec norms the
    /// activations as it loads them (the GPU families). Graph cases: a device without the fused op runs the
    /// norm and the mul_mats and passes the same way. The products are multiplied together, so a kernel that
    /// drops the norm's scale or its weight from any of them fails; x is large (scale 3) so the norm matters,
    /// N up to 8, a batch with broadcast weights, a K with a float tail (200), a K of 136 blocks, and a norm that
    /// an add also reads (no fold: the norm stays).
    static var foldedNorms: [ConformanceCase] {
        let shapes: [(DType, k: Int, m: Int, n: Int, readers: Int, batch: Int)] = [
            (.q4_0, 2048, 96, 1, 3, 1), (.q4_K, 512, 40, 3, 1, 1), (.q6_K, 512, 33, 2, 2, 1), (.q8_0, 576, 33, 8, 1, 1),
            (.f16, 200, 17, 1, 2, 1), (.q5_1, 576, 33, 1, 1, 2), (.q4_1, 256, 17, 5, 1, 1), (.f32, 96, 20, 1, 1, 1),
            // 136 blocks of 32: more than a 128-invocation quantizer has (each takes a block, some two), so its
            // sums over the whole group (Σ x² of a column) see every invocation's share.
            (.q4_0, 4352, 40, 2, 1, 1),
        ]
        func normCase(_ type: DType, k: Int, m: Int, n: Int, readers: Int, batch: Int, alsoAdded: Bool) -> ConformanceCase {
            ConformanceCase(op: "rms_norm_mul_mat", type: type.rawValue,
                            shape: "k=\(k) m=\(m) n=\(n) ×\(readers)" + (batch > 1 ? " b=\(batch)" : "") + (alsoAdded ? " norm+x read too" : ""),
                            threshold: type.isQuantized ? Tolerance.mulMatQuantized : Tolerance.mulMatFloat, check: .graph,
                            flops: Double(2 * k * m * n * batch * readers), weightBytes: Double(type.rowBytes(k) * m * readers)) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(k, n, batch), rng.normal(count: k * n * batch, scale: 3))
                let w = try c.weight("norm", .f32, Shape(k), TestData.bytes(of: rng.uniform(0.2, 3, count: k)))
                let normed = try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-6), w)
                var out: TensorID? = nil
                for i in 0..<readers {
                    let wi = try c.weight("w\(i)", type, Shape(k, m), TestData.weights(type, k: k, rows: m, rng: &rng))
                    let activations = alsoAdded && i == readers - 1 ? try c.builder.add(normed, x) : normed
                    let product = try c.builder.mulMat(wi, activations)
                    out = try out.map { try c.builder.mul($0, product) } ?? product
                }
                return c.finish(out!)
            }
        }
        return shapes.map { normCase($0.0, k: $0.k, m: $0.m, n: $0.n, readers: $0.readers, batch: $0.batch, alsoAdded: false) }
            + [normCase(.q4_0, k: 256, m: 32, n: 1, readers: 2, batch: 1, alsoAdded: true)]
    }

    // MARK: a feed-forward's gate, up and glu in one mat-vec (mul_mat_glu)

    /// A feed-forward's `act(mul_mat(gate, h))·mul_mat(up, h)`, h = x or rms_norm(x)·w, which the core fuses into
    /// mul_mat_glu (with the norm folded in where h is a norm that nothing else reads) for devices whose mat-vec
    /// takes both matrices over the activations it loads (the GPU families). Graph cases: a device without the
    /// fused op runs the mul_mats, the activation and the mul, and passes the same way. Both activations, with
    /// and without the norm, the model builder's `act(g)·u` and a `swiglu` node, N up to 8, a batch with
    /// broadcast weights, float weights with a K tail (200) — and two that must not fuse: gate and up of
    /// different types, and a gate product that the output also reads. x is large (scale 3) so the norm matters.
    static var gluProducts: [ConformanceCase] {
        struct Variant {
            var type: DType, k: Int, m: Int, n: Int, gelu: Bool, norm: Bool, batch = 1
            var upType: DType? = nil, gateReadToo = false, gluNode = false
        }
        let variants = [
            Variant(type: .q4_0, k: 2048, m: 64, n: 1, gelu: false, norm: true),
            Variant(type: .q4_K, k: 512, m: 40, n: 3, gelu: true, norm: true),
            Variant(type: .q6_K, k: 256, m: 33, n: 2, gelu: false, norm: false),
            Variant(type: .q8_0, k: 576, m: 17, n: 8, gelu: true, norm: false),
            Variant(type: .f16, k: 200, m: 17, n: 1, gelu: true, norm: true),
            Variant(type: .f32, k: 96, m: 20, n: 2, gelu: false, norm: true),
            Variant(type: .q5_1, k: 256, m: 33, n: 1, gelu: false, norm: true, batch: 2),
            Variant(type: .q4_1, k: 256, m: 17, n: 5, gelu: false, norm: false, gluNode: true),
            Variant(type: .q4_0, k: 256, m: 32, n: 1, gelu: false, norm: true, upType: .q8_0),
            Variant(type: .q4_0, k: 256, m: 32, n: 1, gelu: true, norm: true, gateReadToo: true),
        ]
        return variants.map { v in
            let upType = v.upType ?? v.type
            let shape = "k=\(v.k) m=\(v.m) n=\(v.n) \(v.gelu ? "geglu" : "swiglu")" + (v.norm ? " normed" : "") + (v.batch > 1 ? " b=\(v.batch)" : "")
                + (v.gluNode ? " glu node" : "") + (v.upType != nil ? " up \(upType)" : "") + (v.gateReadToo ? " gate read too" : "")
            return ConformanceCase(op: "mul_mat_glu", type: v.type.rawValue, shape: shape,
                                   threshold: v.type.isQuantized ? Tolerance.mulMatQuantized : Tolerance.mulMatFloat, check: .graph,
                                   flops: Double(4 * v.k * v.m * v.n * v.batch), weightBytes: Double((v.type.rowBytes(v.k) + upType.rowBytes(v.k)) * v.m)) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(v.k, v.n, v.batch), rng.normal(count: v.k * v.n * v.batch, scale: 3))
                var h = x
                if v.norm {
                    let w = try c.weight("norm", .f32, Shape(v.k), TestData.bytes(of: rng.uniform(0.2, 3, count: v.k)))
                    h = try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-6), w)
                }
                // Gate weights of scale 1/√K: products of a few units, where silu and gelu bend (at scale 1 they are ±30,
                // where both are the identity or zero and a wrong cubic term in gelu hides).
                let gateScale = 1 / Float(v.k).squareRoot()
                let gw = try c.weight("gate", v.type, Shape(v.k, v.m), TestData.weights(v.type, k: v.k, rows: v.m, rng: &rng, scale: gateScale))
                let uw = try c.weight("up", upType, Shape(v.k, v.m), TestData.weights(upType, k: v.k, rows: v.m, rng: &rng))
                let (g, u) = (try c.builder.mulMat(gw, h), try c.builder.mulMat(uw, h))
                let out: TensorID
                if v.gluNode {
                    out = try c.builder.apply(v.gelu ? .geglu : .swiglu, [g, u])
                } else {
                    out = try c.builder.mul(v.gelu ? try c.builder.gelu(g) : try c.builder.silu(g), u)
                }
                return c.finish(v.gateReadToo ? try c.builder.add(out, g) : out)
            }
        }
    }

    // MARK: a projection to heads with its rope and cache write (mul_mat_rows)

    /// A decode step's q, k or v — `mul_mat(w, h)` as heads [hd, heads, N], then rope, then `set_rows` into a cache
    /// (k), or rope alone (q), or the cache write alone (v), h = x or rms_norm(x)·w — which the core fuses into
    /// mul_mat_rows (the norm folded in where nothing else reads it) for devices whose mat-vec ropes and stores
    /// heads as it writes them (the GPU families). Graph cases: a device without the fused op runs the unfused ops
    /// and passes the same way. Both rope modes, partial rotations, Gemma 3's head of 256, linear position scaling,
    /// f32 and f16 caches with ids outside them (−1, 20: nothing written), N up to 8; a layer's q, k and v over one
    /// norm with attention reading the caches; and one that must not fuse (the product read by another op too).
    static var headProjections: [ConformanceCase] {
        struct Variant {
            var type: DType, k: Int, hd: Int, heads: Int, n: Int, rope: RopeParams?, norm: Bool, into: DType?
            var productReadToo = false
        }
        let normal = RopeParams(mode: .normal, nDims: 64, freqBase: 10000)
        let variants = [
            Variant(type: .q4_0, k: 2048, hd: 64, heads: 4, n: 1, rope: normal, norm: true, into: nil),
            Variant(type: .q4_K, k: 512, hd: 64, heads: 2, n: 1, rope: normal, norm: true, into: .f32),
            Variant(type: .q8_0, k: 576, hd: 64, heads: 3, n: 1, rope: nil, norm: true, into: .f16),
            Variant(type: .q6_K, k: 256, hd: 64, heads: 2, n: 3, rope: RopeParams(mode: .neox, nDims: 32, freqBase: 10000), norm: false, into: .f16),
            Variant(type: .f16, k: 200, hd: 40, heads: 2, n: 2, rope: RopeParams(mode: .normal, nDims: 24, freqBase: 1e6, freqScale: 0.125),
                    norm: true, into: nil),
            Variant(type: .q4_1, k: 256, hd: 256, heads: 1, n: 1, rope: RopeParams(mode: .neox, nDims: 256, freqBase: 1e6), norm: false, into: .f32),
            Variant(type: .q5_1, k: 256, hd: 32, heads: 2, n: 8, rope: nil, norm: false, into: .f32),
            Variant(type: .f32, k: 96, hd: 16, heads: 3, n: 5, rope: RopeParams(mode: .neox, nDims: 16, freqBase: 10000), norm: true, into: nil),
            Variant(type: .q4_0, k: 256, hd: 64, heads: 2, n: 1, rope: normal, norm: true, into: nil, productReadToo: true),
        ]
        return variants.map { v in
            let rope = v.rope.map { " \($0.mode.rawValue) rot=\($0.nDims)" + ($0.freqScale != 1 ? " scale=\($0.freqScale)" : "") } ?? ""
            let shape = "k=\(v.k) d=\(v.hd) h=\(v.heads) n=\(v.n)" + rope + (v.norm ? " normed" : "") + (v.into.map { " into \($0) rows=20" } ?? "")
                + (v.productReadToo ? " product read too" : "")
            let m = v.hd * v.heads
            return ConformanceCase(op: "mul_mat_rows", type: v.type.rawValue, shape: shape,
                                   threshold: v.type.isQuantized ? Tolerance.mulMatQuantized : Tolerance.mulMatFloat, check: .graph,
                                   flops: Double(2 * v.k * m * v.n), weightBytes: Double(v.type.rowBytes(v.k) * m)) { rng in
                var c = OpCaseBuilder()
                let x = c.floats("x", Shape(v.k, v.n), rng.normal(count: v.k * v.n, scale: 3))
                var h = x
                if v.norm {
                    let w = try c.weight("norm", .f32, Shape(v.k), TestData.bytes(of: rng.uniform(0.2, 3, count: v.k)))
                    h = try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-6), w)
                }
                let w = try c.weight("w", v.type, Shape(v.k, m), TestData.weights(v.type, k: v.k, rows: m, rng: &rng))
                let product = try c.builder.mulMat(w, h)
                var y = try c.builder.reshape(product, Shape(v.hd, v.heads, v.n))
                if let p = v.rope {
                    y = try c.builder.rope(y, positions: c.ints("pos", (0..<v.n).map { _ in Int32(rng.int(below: 4096)) }), p)
                }
                if v.productReadToo { y = try c.builder.add(y, try c.builder.reshape(product, Shape(v.hd, v.heads, v.n))) }
                guard let type = v.into else { return c.finish(y) }
                let cache = try c.builder.state("cache", type, Shape(v.hd, 20))
                c.data[cache] = type == .f16 ? Quant.quantize(.f16, rng.normal(count: v.hd * 20)) : TestData.bytes(of: rng.normal(count: v.hd * 20))
                // Rows 1 and 2 (when there are that many) go to ids just outside the cache: nothing is written.
                let ids = c.ints("ids", (0..<v.heads * v.n).map { (r: Int) -> Int32 in r == 1 ? -1 : r == 2 ? 20 : Int32((7 * r + 3) % 20) })
                return c.finish(try c.builder.setRows(cache, try c.builder.reshape(y, Shape(v.hd, v.heads * v.n)), ids: ids))
            }
        } + [headLayer]
    }

    /// A layer's attention inputs over one norm, as the model builds a decode step: q roped, k roped into an f16 cache,
    /// v into an f16 cache, and attention over the caches (positions after the step's masked). Fused, the norm folds
    /// into all three projections and each writes its own heads.
    static var headLayer: ConformanceCase {
        let (k, hd, heads, kvHeads, kv) = (256, 64, 4, 2, 24)
        return ConformanceCase(op: "mul_mat_rows", type: "q4_0", shape: "layer q,k,v→attention k=\(k) d=\(hd) h=\(heads)/\(kvHeads) kv=\(kv) f16 caches",
                               threshold: Tolerance.mulMatQuantized, check: .graph, flops: Double(2 * k * hd * (heads + 2 * kvHeads)),
                               weightBytes: Double(DType.q4_0.rowBytes(k) * hd * (heads + 2 * kvHeads))) { rng in
            var c = OpCaseBuilder()
            let x = c.floats("x", Shape(k, 1), rng.normal(count: k, scale: 3))
            let w = try c.weight("norm", .f32, Shape(k), TestData.bytes(of: rng.uniform(0.2, 3, count: k)))
            let h = try c.builder.mul(try c.builder.rmsNorm(x, eps: 1e-6), w)
            let position = Int32(rng.int(below: kv))
            let pos = c.ints("pos", [position])
            let rope = RopeParams(mode: .normal, nDims: hd, freqBase: 10000)
            // Cache rows: kv head g, position j at row g·kv + j.
            let ids = c.ints("ids", (0..<Int32(kvHeads)).map { $0 * Int32(kv) + position })
            func project(_ name: String, _ count: Int, rotate: Bool) throws -> TensorID {
                // Weights of scale 1/√K: q·k of a few units, so the softmax spreads over the keys and the new key and
                // value (1 of up to 24) move the output; at scale 1 it is one-hot on an old key, blind to both.
                let wi = try c.weight(name, .q4_0, Shape(k, hd * count),
                                      TestData.weights(.q4_0, k: k, rows: hd * count, rng: &rng, scale: 1 / Float(k).squareRoot()))
                let y = try c.builder.reshape(try c.builder.mulMat(wi, h), Shape(hd, count, 1))
                return rotate ? try c.builder.rope(y, positions: pos, rope) : y
            }
            func cache(_ name: String, _ fresh: TensorID) throws -> TensorID {
                let state = try c.builder.state("cache_\(name)", .f16, Shape(hd, kv * kvHeads))
                c.data[state] = Quant.quantize(.f16, rng.normal(count: hd * kv * kvHeads))
                let written = try c.builder.setRows(state, try c.builder.reshape(fresh, Shape(hd, kvHeads)), ids: ids)
                return try c.builder.reshape(written, Shape(hd, kv, kvHeads))
            }
            let q = try c.builder.reshape(try project("wq", heads, rotate: true), Shape(hd, 1, heads))
            let kc = try cache("k", try project("wk", kvHeads, rotate: true)), vc = try cache("v", try project("wv", kvHeads, rotate: false))
            let mask = c.floats("mask", Shape(kv, 1), (0..<kv).map { $0 <= Int(position) ? 0 : -Float.infinity })
            return c.finish(try c.builder.attention(q: q, k: kc, v: vc, mask: mask, scale: 1 / Float(hd).squareRoot()))
        }
    }
}
