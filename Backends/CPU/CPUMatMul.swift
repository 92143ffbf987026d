import EdgeHAL

/// mul_mat for one node: weights of any type × F32 activations, rows split across workers.
/// Straightforward version: each weight row is dequantized to F32 and dotted with SIMD8 FMA.
final class MatMulKernel: @unchecked Sendable {
    let a: TensorDesc, b: TensorDesc, out: TensorDesc
    /// One dequantized weight row per worker, allocated once at compile time.
    private let rowScratch: UnsafeMutablePointer<Float>

    static func supports(_ weights: DType) -> Bool { weights != .i32 }

    init(weights: TensorDesc, activations: TensorDesc, output: TensorDesc, threads: Int) {
        a = weights
        b = activations
        out = output
        rowScratch = .allocate(capacity: weights.shape[0] * max(threads, 1) + 8)
    }

    deinit { rowScratch.deallocate() }

    func run(a aBase: UnsafeRawPointer, b bBase: UnsafeRawPointer, out oBase: UnsafeMutableRawPointer, pool: WorkerPool) {
        let k = a.shape[0], m = a.shape[1], n = b.shape[1]
        let b2 = b.shape[2], b3 = b.shape[3]
        let r2 = b2 / a.shape[2], r3 = b3 / a.shape[3]
        let rowBytes = a.rowBytes
        let o = oBase.assumingMemoryBound(to: Float.self)
        let x = bBase.assumingMemoryBound(to: Float.self)
        for i3 in 0..<b3 {
            for i2 in 0..<b2 {
                let aMat = aBase + ((i3 / r3) * a.shape[2] + i2 / r2) * m * rowBytes
                let bMat = x + (i3 * b2 + i2) * n * k
                let oMat = o + (i3 * b2 + i2) * n * m
                pool.run { w in
                    let lo = m * w / pool.threads, hi = m * (w + 1) / pool.threads
                    let row = rowScratch + w * k
                    for i in lo..<hi {
                        let src = aMat + i * rowBytes
                        if a.type == .f32 { row.update(from: src.assumingMemoryBound(to: Float.self), count: k) }
                        else { Quant.dequantize(a.type, from: src, into: row, count: k) }
                        for j in 0..<n { oMat[j * m + i] = Self.dot(row, bMat + j * k, k) }
                    }
                }
            }
        }
    }

    @inline(__always) static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ k: Int) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var i = 0
        let xr = UnsafeRawPointer(x), yr = UnsafeRawPointer(y)
        while i + 8 <= k {
            acc.addProduct(xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                           yr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
            i += 8
        }
        var s = acc.sum()
        while i < k { s += x[i] * y[i]; i += 1 }
        return s
    }
}
