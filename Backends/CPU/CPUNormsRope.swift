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

/// The cos/sin table of one set of rope parameters for the positions of the run at hand. Every
/// rope node of a program (q and k of each layer) asks for it, so it is computed once per run and
/// per parameter set instead of once per node: 36 times on a Gemma 3 prefill, where the Double
/// sin/cos of 128 tokens took 265 µs a node, 6 % of the prefill (measured on the Zen2 EPYC).
/// One per program; a program's kernels run one after another, so it needs no lock.
final class RopeTables: @unchecked Sendable {
    private final class Entry {
        var positions: [Int32] = []
        let table: UnsafeMutablePointer<Float>
        let capacity: Int
        /// freqScale · base^(−2i/nDims), i < nDims/2: fixed by the parameters, so computed once.
        let inverse: [Double]
        init(_ p: RopeParams, capacity: Int) {
            self.capacity = capacity
            table = .allocate(capacity: capacity)
            inverse = (0..<(p.nDims / 2)).map { Double(p.freqScale) * pow(Double(p.freqBase), -Double(2 * $0) / Double(p.nDims)) }
        }
        deinit { table.deallocate() }
    }
    private var entries: [RopeParams: Entry] = [:]

    /// Per token: cos[nDims/2] then sin[nDims/2], angles computed in Double (exact at 32k+ positions).
    func table(_ p: RopeParams, positions: UnsafePointer<Int32>, tokens: Int, pool: WorkerPool) -> UnsafePointer<Float> {
        let entry: Entry
        if let e = entries[p], e.capacity >= tokens * p.nDims { entry = e } else {
            entry = Entry(p, capacity: tokens * p.nDims)
            entries[p] = entry
        }
        let current = UnsafeBufferPointer(start: positions, count: tokens)
        if entry.positions.elementsEqual(current) { return UnsafePointer(entry.table) }
        entry.positions = Array(current)
        let half = p.nDims / 2
        let inverse = entry.inverse
        nonisolated(unsafe) let table = entry.table
        let fill: (Range<Int>) -> Void = { r in
            for t in r {
                let c = table + t * p.nDims, s = c + half
                let pos = Double(positions[t])
                for i in 0..<half {
                    let theta = pos * inverse[i]
                    c[i] = Float(cos(theta))
                    s[i] = Float(sin(theta))
                }
            }
        }
        if tokens * half < 4096 { fill(0..<tokens) } else { pool.parallelFor(tokens, fill) }
        return UnsafePointer(entry.table)
    }
}

/// Rotary embedding: the angles come from the program's ``RopeTables``, shared by every head and node.
final class Rope: @unchecked Sendable {
    let p: RopeParams
    let headDim: Int, heads: Int, tokens: Int
    let tables: RopeTables

    init(_ p: RopeParams, headDim: Int, heads: Int, tokens: Int, tables: RopeTables) {
        self.p = p
        self.headDim = headDim
        self.heads = heads
        self.tokens = tokens
        self.tables = tables
    }

    func run(_ x: UnsafePointer<Float>, _ positions: UnsafePointer<Int32>, _ y: UnsafeMutablePointer<Float>, pool: WorkerPool) {
        let table = tables.table(p, positions: positions, tokens: tokens, pool: pool)
        let (p, half, heads, headDim) = (p, p.nDims / 2, heads, headDim)
        let rotate: (Range<Int>) -> Void = { rows in
            for row in rows {
                let t = row / heads
                let c = table + t * p.nDims, s = c + half
                let src = x + row * headDim, dst = y + row * headDim
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
        let rows = tokens * heads
        if rows * headDim < CPUKernels.parallelThreshold { rotate(0..<rows) } else { pool.parallelFor(rows, rotate) }
    }
}
