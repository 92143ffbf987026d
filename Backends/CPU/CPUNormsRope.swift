import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Norms {
    @inline(__always) static func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        let p = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= n {
            let v = p.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            acc.addProduct(v, v)
            i += 8
        }
        var s = acc.sum()
        while i < n { s += x[i] * x[i]; i += 1 }
        return s
    }

    static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                        rowLength n: Int, rows: Int, eps: Float, pool: WorkerPool) {
        let work: (Range<Int>) -> Void = { r in
            for row in r {
                let xr = x + row * n, yr = y + row * n
                let inv = 1 / (sumOfSquares(xr, n) / Float(n) + eps).squareRoot()
                if let w = weight { for i in 0..<n { yr[i] = xr[i] * inv * w[i] } }
                else { for i in 0..<n { yr[i] = xr[i] * inv } }
            }
        }
        if rows * n < CPUKernels.parallelThreshold { work(0..<rows) } else { pool.parallelFor(rows, work) }
    }

    /// y = softmax(x·scale + mask) per row; mask row i1 applies to every x row with that i1.
    static func softmax(_ x: UnsafePointer<Float>, mask: UnsafePointer<Float>?, maskRows: Int, _ y: UnsafeMutablePointer<Float>,
                        shape: Shape, scale: Float, pool: WorkerPool) {
        let n = shape[0], rows = shape.rows, ne1 = shape[1]
        let work: (Range<Int>) -> Void = { r in
            for row in r {
                let xr = x + row * n, yr = y + row * n
                let mr = mask.map { $0 + (row % ne1) * n }
                var maxValue = -Float.infinity
                for i in 0..<n {
                    let v = xr[i] * scale + (mr?[i] ?? 0)
                    yr[i] = v
                    maxValue = max(maxValue, v)
                }
                guard maxValue > -.infinity else { yr.update(repeating: 0, count: n); continue }
                var sum: Float = 0
                for i in 0..<n {
                    let e = expf(yr[i] - maxValue)
                    yr[i] = e
                    sum += e
                }
                let inv = 1 / sum
                for i in 0..<n { yr[i] *= inv }
            }
        }
        if rows * n < CPUKernels.parallelThreshold { work(0..<rows) } else { pool.parallelFor(rows, work) }
    }
}

/// Rotary embedding with per-position angles computed in Double (exact at 32k+ positions),
/// cos/sin computed once per token and shared by every head.
final class Rope: @unchecked Sendable {
    let p: RopeParams
    let headDim: Int, heads: Int, tokens: Int
    private let table: UnsafeMutablePointer<Float>  // per token: cos[nDims/2], sin[nDims/2]
    private let inverseFrequencies: [Double]

    init(_ p: RopeParams, headDim: Int, heads: Int, tokens: Int) {
        self.p = p
        self.headDim = headDim
        self.heads = heads
        self.tokens = tokens
        table = .allocate(capacity: tokens * p.nDims)
        inverseFrequencies = (0..<(p.nDims / 2)).map {
            Double(p.freqScale) * pow(Double(p.freqBase), -Double(2 * $0) / Double(p.nDims))
        }
    }

    deinit { table.deallocate() }

    func run(_ x: UnsafePointer<Float>, _ positions: UnsafePointer<Int32>, _ y: UnsafeMutablePointer<Float>) {
        let half = p.nDims / 2
        for t in 0..<tokens {
            let c = table + t * p.nDims, s = c + half
            let pos = Double(positions[t])
            for i in 0..<half {
                let theta = pos * inverseFrequencies[i]
                c[i] = Float(cos(theta))
                s[i] = Float(sin(theta))
            }
            for h in 0..<heads {
                let src = x + (t * heads + h) * headDim, dst = y + (t * heads + h) * headDim
                switch p.mode {
                case .normal:
                    for i in 0..<half {
                        let (a, b) = (src[2 * i], src[2 * i + 1])
                        dst[2 * i] = a * c[i] - b * s[i]
                        dst[2 * i + 1] = a * s[i] + b * c[i]
                    }
                case .neox:
                    for i in 0..<half {
                        let (a, b) = (src[i], src[i + half])
                        dst[i] = a * c[i] - b * s[i]
                        dst[i + half] = a * s[i] + b * c[i]
                    }
                }
                for i in p.nDims..<headDim { dst[i] = src[i] }
            }
        }
    }
}

/// Attention per (head, query) with one pass of online softmax over the keys; fully masked keys
/// are skipped, so a decode graph over a long cache pays only for the positions in use.
final class AttentionKernel: @unchecked Sendable {
    let d: Int, t: Int, kv: Int, h: Int, hkv: Int
    let kType: DType, vType: DType
    let scale: Float
    /// Per worker: D floats of accumulator, plus D floats each for a converted k and v row.
    private let scratch: UnsafeMutablePointer<Float>
    /// Per query token: one past the last key its mask leaves visible.
    private let visibleEnd: UnsafeMutablePointer<Int>

    init(q: TensorDesc, k: TensorDesc, v: TensorDesc, hasMask: Bool, scale: Float, threads: Int) {
        (d, t, h) = (q.shape[0], q.shape[1], q.shape[2])
        (kv, hkv) = (k.shape[1], k.shape[2])
        (kType, vType) = (k.type, v.type)
        self.scale = scale
        scratch = .allocate(capacity: 3 * d * max(threads, 1))
        visibleEnd = .allocate(capacity: t)
    }

    deinit {
        scratch.deallocate()
        visibleEnd.deallocate()
    }

    func run(q: UnsafePointer<Float>, k: UnsafeRawPointer, v: UnsafeRawPointer, mask: UnsafePointer<Float>?,
             out: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let group = h / hkv
        let work = h * t
        // A decode graph attends over the whole cache; keys past the last visible one cost nothing.
        for token in 0..<t {
            var end = kv
            if let m = mask?.advanced(by: token * kv) { while end > 0 && m[end - 1] == -.infinity { end -= 1 } }
            visibleEnd[token] = end
        }
        pool.run { w in
            let lo = work * w / pool.threads, hi = work * (w + 1) / pool.threads
            let acc = scratch + w * 3 * d, kRow = acc + d, vRow = kRow + d
            for item in lo..<hi {
                let head = item / t, token = item % t
                let g = head / group
                let qv = q + (head * t + token) * d
                let mrow = mask.map { $0 + token * kv }
                acc.update(repeating: 0, count: d)
                var maxScore = -Float.infinity, sum: Float = 0
                for j in 0..<visibleEnd[token] {
                    let m = mrow?[j] ?? 0
                    if m == -.infinity { continue }
                    let kp = load(k, kType, row: g * kv + j, into: kRow)
                    let s = MatMulKernel.dot(qv, kp, d) * scale + m
                    let vp = load(v, vType, row: g * kv + j, into: vRow)
                    if s > maxScore {
                        let correction = expf(maxScore - s)
                        sum *= correction
                        for i in 0..<d { acc[i] *= correction }
                        maxScore = s
                    }
                    let p = expf(s - maxScore)
                    sum += p
                    for i in 0..<d { acc[i] += p * vp[i] }
                }
                let o = out + (head * t + token) * d
                let inv: Float = sum > 0 ? 1 / sum : 0
                for i in 0..<d { o[i] = acc[i] * inv }
            }
        }
    }

    @inline(__always) private func load(_ base: UnsafeRawPointer, _ type: DType, row: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if type == .f32 { return base.assumingMemoryBound(to: Float.self) + row * d }
        let src = base.assumingMemoryBound(to: Float16.self) + row * d
        for i in 0..<d { scratch[i] = Float(src[i]) }
        return UnsafePointer(scratch)
    }
}
