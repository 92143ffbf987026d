import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Attention as an online softmax over tiles of keys, in work items of (kv group, block of its heads,
/// block of query tokens, range of keys), up to 8 queries an item.
///
/// Why this shape (Zen2 EPYC, 2 threads, `EDGEHAL_CPU_PROFILE=1`): one item per (head, query) loaded
/// (f16: converted) every key and value row once per query, paid an `expf` and a rescale of the
/// accumulator per key, and waited on one chain of FMAs per dot product; a Gemma 3 prefill call of 128
/// tokens took 567–780 µs, 6 % of the prefill, and 310–495 µs this way. Here the queries of an item
/// share each tile of keys (the heads of a kv group read it once), take four keys a dot-product pass,
/// move their running maximum once per tile and exponentiate 8 scores at a time (``VectorMath/exp(_:)``).
/// When there are fewer than two items a worker (decode) the keys are split into ranges of at least 64
/// and the partial softmaxes merged afterwards (flash-decoding), so every worker has keys to read.
/// Keys past the last one a query's mask leaves visible are never read, so a decode graph over a long
/// cache pays only for the positions in use; a query that sees no key gets zeros.
final class AttentionKernel: @unchecked Sendable {
    let d: Int, t: Int, kv: Int, h: Int, hkv: Int
    let kType: DType, vType: DType
    let scale: Float
    static let queriesPerItem = 8
    /// Keys a tile: 2 048 floats of K and as many of V (8 keys at Gemma 3's head dim 256, 32 at 64),
    /// so both tiles and the accumulators stay in a 32 KiB L1.
    let tile: Int
    /// Per worker: the accumulators of its queries, a converted K tile and V tile, a tile's scores, and
    /// each query's running maximum and sum.
    private let scratch: UnsafeMutablePointer<Float>
    private let scratchPerWorker: Int
    /// Per query token: one past the last key its mask leaves visible.
    private let visibleEnd: UnsafeMutablePointer<Int>
    /// Per item, when a call splits its keys: each query's maximum, sum and d unnormalized values.
    private let partials: UnsafeMutablePointer<Float>

    init(q: TensorDesc, k: TensorDesc, v: TensorDesc, hasMask: Bool, scale: Float, threads: Int) {
        (d, t, h) = (q.shape[0], q.shape[1], q.shape[2])
        (kv, hkv) = (k.shape[1], k.shape[2])
        (kType, vType) = (k.type, v.type)
        self.scale = scale
        tile = max(4, min(32, 2048 / max(d, 1) / 4 * 4))
        scratchPerWorker = (Self.queriesPerItem + 2 * tile) * d + tile + 2 * Self.queriesPerItem
        scratch = .allocate(capacity: scratchPerWorker * max(threads, 1))
        visibleEnd = .allocate(capacity: t)
        // Keys are split only while there are fewer than 2 items a worker, so fewer than 4 a worker in all.
        partials = .allocate(capacity: 4 * max(threads, 1) * Self.queriesPerItem * (d + 2))
    }

    deinit {
        scratch.deallocate()
        visibleEnd.deallocate()
        partials.deallocate()
    }

    /// A call cut into items of (kv group, block of its heads, block of tokens, range of keys).
    private struct Plan {
        let group: Int, headsPerItem: Int, tokensPerItem: Int, tokens: Int, headBlocks: Int, tokenBlocks: Int, chunks: Int, end: Int

        /// Item `index` → its heads, tokens, keys and kv group.
        func item(_ index: Int) -> (g: Int, heads: Range<Int>, tokens: Range<Int>, keys: Range<Int>) {
            let chunk = index % chunks, rest = index / chunks
            let tb = rest % tokenBlocks, hb = (rest / tokenBlocks) % headBlocks, g = rest / tokenBlocks / headBlocks
            let first = g * group + hb * headsPerItem
            return (g, first..<min(first + headsPerItem, (g + 1) * group),
                    tb * tokensPerItem..<min((tb + 1) * tokensPerItem, tokens),
                    end * chunk / chunks..<end * (chunk + 1) / chunks)
        }
    }

    func run(q: UnsafePointer<Float>, k: UnsafeRawPointer, v: UnsafeRawPointer, mask: UnsafePointer<Float>?,
             out: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        var end = 0
        for token in 0..<t {
            var e = kv
            if let m = mask?.advanced(by: token * kv) { while e > 0 && m[e - 1] == -.infinity { e -= 1 } }
            visibleEnd[token] = e
            end = max(end, e)
        }
        // The heads of a kv group share each converted K/V tile; tokens fill the item up to 8 queries.
        let group = h / hkv, rows = Self.queriesPerItem
        let hb = min(group, rows), tb = min(t, max(1, rows / hb))
        let headBlocks = (group + hb - 1) / hb, tokenBlocks = (t + tb - 1) / tb
        let items = hkv * headBlocks * tokenBlocks
        // Too few items to keep every worker busy (decode): split the keys, at least 64 a range, and
        // merge the partial softmaxes afterwards.
        let chunks = items >= 2 * pool.threads ? 1 : max(1, min((2 * pool.threads + items - 1) / items, end / 64))
        let plan = Plan(group: group, headsPerItem: hb, tokensPerItem: tb, tokens: t, headBlocks: headBlocks, tokenBlocks: tokenBlocks,
                        chunks: chunks, end: end)
        let work = items * chunks
        let partials = chunks > 1 ? self.partials : nil
        // Items dealt round-robin: under a causal mask later tokens see more keys, so contiguous
        // ranges would leave the first worker idle half the time.
        pool.run { w in
            let base = scratch + w * scratchPerWorker
            for index in stride(from: w, to: work, by: pool.threads) {
                let item = plan.item(index)
                attend(g: item.g, heads: item.heads, tokens: item.tokens, keys: item.keys, q: q, k: k, v: v,
                       mask: mask, out: out, scratch: base, partial: partials.map { $0 + index * rows * (d + 2) })
            }
        }
        if let partials { merge(partials, plan, out: out) }
    }

    /// Online softmax over the key tiles of `keys` for the queries (`heads` × `tokens`) of kv group `g`:
    /// normalized into `out`, or with `partial`, each query's maximum, sum and unnormalized values there.
    private func attend(g: Int, heads: Range<Int>, tokens: Range<Int>, keys: Range<Int>, q: UnsafePointer<Float>,
                        k: UnsafeRawPointer, v: UnsafeRawPointer, mask: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, partial: UnsafeMutablePointer<Float>?) {
        let acc = scratch, kTile = acc + Self.queriesPerItem * d, vTile = kTile + tile * d, scores = vTile + tile * d
        let maxScore = scores + tile, sum = maxScore + Self.queriesPerItem
        let count = heads.count * tokens.count
        acc.update(repeating: 0, count: count * d)
        maxScore.update(repeating: -.infinity, count: count)
        sum.update(repeating: 0, count: count)
        var end = keys.lowerBound
        for token in tokens { end = max(end, min(visibleEnd[token], keys.upperBound)) }
        for j0 in stride(from: keys.lowerBound, to: end, by: tile) {
            let n = min(tile, end - j0)
            let kp = rows(k, kType, first: g * kv + j0, count: n, into: kTile)
            var vp: UnsafePointer<Float>? = nil
            for r in 0..<count {
                let (head, token) = Self.query(r, heads, tokens)
                // Keys past this query's visible end are masked: no dot product for them (`end`, and so
                // the tile, already stops at the item's last key).
                let visible = min(n, visibleEnd[token] - j0)
                guard visible > 0 else { continue }
                let qv = q + (head * t + token) * d
                let mrow = mask.map { $0 + token * kv + j0 }
                Self.dots(qv, kp, visible, d, into: scores)
                var tileMax = -Float.infinity
                for j in 0..<n {
                    let m = j < visible ? mrow?[j] ?? 0 : -.infinity
                    let s = m == -.infinity ? -.infinity : scores[j] * scale + m
                    scores[j] = s
                    tileMax = max(tileMax, s)
                }
                guard tileMax > -.infinity else { continue }
                let a = acc + r * d
                if tileMax > maxScore[r] {
                    let correction = expf(maxScore[r] - tileMax)
                    sum[r] *= correction
                    Self.scaleRow(a, correction, d)
                    maxScore[r] = tileMax
                }
                sum[r] += Self.exponentiate(scores, n, minus: maxScore[r])
                if vp == nil { vp = rows(v, vType, first: g * kv + j0, count: n, into: vTile) }
                Self.accumulate(a, weights: scores, rows: vp!, n, d)
            }
        }
        for r in 0..<count {
            let a = acc + r * d
            if let p = partial?.advanced(by: r * (d + 2)) {
                p[0] = maxScore[r]
                p[1] = sum[r]
                (p + 2).update(from: a, count: d)
                continue
            }
            let (head, token) = Self.query(r, heads, tokens)
            let o = out + (head * t + token) * d
            let inv: Float = sum[r] > 0 ? 1 / sum[r] : 0
            for i in 0..<d { o[i] = a[i] * inv }
        }
    }

    /// Query `r` of an item: heads outer, tokens inner.
    @inline(__always) static func query(_ r: Int, _ heads: Range<Int>, _ tokens: Range<Int>) -> (head: Int, token: Int) {
        (heads.lowerBound + r / tokens.count, tokens.lowerBound + r % tokens.count)
    }

    /// Each query's ranges of keys combined: values and sums rescaled to the largest maximum.
    private func merge(_ partials: UnsafeMutablePointer<Float>, _ plan: Plan, out: UnsafeMutablePointer<Float>) {
        let itemFloats = Self.queriesPerItem * (d + 2)
        for first in stride(from: 0, to: plan.chunks * hkv * plan.headBlocks * plan.tokenBlocks, by: plan.chunks) {
            let item = plan.item(first)
            let tokens = item.tokens
            for r in 0..<(item.heads.count * tokens.count) {
                let (head, token) = Self.query(r, item.heads, tokens)
                let o = out + (head * t + token) * d
                var m = -Float.infinity
                for c in 0..<plan.chunks { m = max(m, partials[(first + c) * itemFloats + r * (d + 2)]) }
                o.update(repeating: 0, count: d)
                guard m > -.infinity else { continue }
                var total: Float = 0
                for c in 0..<plan.chunks {
                    let p = partials + (first + c) * itemFloats + r * (d + 2)
                    guard p[0] > -.infinity else { continue }
                    let w = expf(p[0] - m)
                    total += p[1] * w
                    for i in 0..<d { o[i] += p[2 + i] * w }
                }
                let inv: Float = total > 0 ? 1 / total : 0
                for i in 0..<d { o[i] *= inv }
            }
        }
    }

    /// `count` rows of K or V from `first` as f32: the cache itself when it is f32, else converted.
    @inline(__always) private func rows(_ base: UnsafeRawPointer, _ type: DType, first: Int, count: Int,
                                        into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if type == .f32 { return base.assumingMemoryBound(to: Float.self) + first * d }
        let src = UnsafeRawPointer(base.assumingMemoryBound(to: Float16.self) + first * d)
        let dst = UnsafeMutableRawPointer(scratch)
        var i = 0
        while i + 8 <= count * d {
            dst.storeBytes(of: SIMD8<Float>(src.loadUnaligned(fromByteOffset: i * 2, as: SIMD8<Float16>.self)), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count * d { scratch[i] = Float(src.load(fromByteOffset: i * 2, as: Float16.self)); i += 1 }
        return UnsafePointer(scratch)
    }

    /// out[j] = q · rows[j] for j < n. Four keys a pass, each with its own accumulator, share the loads
    /// of q: one key at a time waits on one chain of fused multiply-adds (latency-bound, 3× slower here).
    @inline(__always) static func dots(_ q: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, _ n: Int, _ d: Int,
                                       into out: UnsafeMutablePointer<Float>) {
        var j = 0
        let qr = UnsafeRawPointer(q)
        while j + 4 <= n {
            let r0 = UnsafeRawPointer(rows + j * d), r1 = r0 + 4 * d, r2 = r1 + 4 * d, r3 = r2 + 4 * d
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            var i = 0
            while i + 8 <= d {
                let x = qr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                a0.addProduct(x, r0.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                a1.addProduct(x, r1.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                a2.addProduct(x, r2.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                a3.addProduct(x, r3.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                i += 8
            }
            var s = SIMD4(a0.sum(), a1.sum(), a2.sum(), a3.sum())
            while i < d {
                s += q[i] * SIMD4(rows[j * d + i], rows[(j + 1) * d + i], rows[(j + 2) * d + i], rows[(j + 3) * d + i])
                i += 1
            }
            for l in 0..<4 { out[j + l] = s[l] }
            j += 4
        }
        while j < n {
            out[j] = MatMulKernel.dot(q, rows + j * d, d)
            j += 1
        }
    }

    /// scores[j] = e^(scores[j] − m) in place (masked scores become 0); returns their sum.
    @inline(__always) static func exponentiate(_ scores: UnsafeMutablePointer<Float>, _ n: Int, minus m: Float) -> Float {
        var total: Float = 0
        var j = 0
        let raw = UnsafeMutableRawPointer(scores)
        while j < n {
            let lanes = min(8, n - j)
            var x = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<lanes { x[l] = scores[j + l] }
            let e = VectorMath.exp(x - m)
            if lanes == 8 { raw.storeBytes(of: e, toByteOffset: j * 4, as: SIMD8<Float>.self) }
            else { for l in 0..<lanes { scores[j + l] = e[l] } }
            total += e.sum()
            j += 8
        }
        return total
    }

    @inline(__always) static func scaleRow(_ a: UnsafeMutablePointer<Float>, _ c: Float, _ d: Int) {
        for i in 0..<d { a[i] *= c }
    }

    /// a += Σ_j w[j]·rows[j], four rows a pass so the accumulator is loaded once per four.
    @inline(__always) static func accumulate(_ a: UnsafeMutablePointer<Float>, weights w: UnsafePointer<Float>,
                                             rows: UnsafePointer<Float>, _ n: Int, _ d: Int) {
        var j = 0
        let ar = UnsafeMutableRawPointer(a)
        while j + 4 <= n {
            let (w0, w1, w2, w3) = (w[j], w[j + 1], w[j + 2], w[j + 3])
            let r0 = UnsafeRawPointer(rows + j * d), r1 = r0 + 4 * d, r2 = r1 + 4 * d, r3 = r2 + 4 * d
            var i = 0
            while i + 8 <= d {
                var x = ar.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                x.addProduct(SIMD8(repeating: w0), r0.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                x.addProduct(SIMD8(repeating: w1), r1.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                x.addProduct(SIMD8(repeating: w2), r2.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                x.addProduct(SIMD8(repeating: w3), r3.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                ar.storeBytes(of: x, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < d {
                a[i] += w0 * rows[j * d + i] + w1 * rows[(j + 1) * d + i] + w2 * rows[(j + 2) * d + i] + w3 * rows[(j + 3) * d + i]
                i += 1
            }
            j += 4
        }
        while j < n {
            let wj = w[j], r = rows + j * d
            for i in 0..<d { a[i] += wj * r[i] }
            j += 1
        }
    }
}
