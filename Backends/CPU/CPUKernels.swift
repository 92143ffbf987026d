import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Builds the closure that runs one node on the CPU. Per-node scratch is allocated here, at
/// compile time, so the steady-state decode loop allocates nothing.
enum CPUKernels {
    typealias Input = (UnsafeRawPointer, TensorDesc)
    /// Below this many elements an elementwise op runs on the calling thread: waking workers costs more.
    static let parallelThreshold = 1 << 15

    static func make(_ op: Op, inputs: [Input], output: UnsafeMutableRawPointer, outputDesc: TensorDesc,
                     pool: WorkerPool, kernels: CPUKernelSet = .portable, ropeTables: RopeTables = RopeTables()) -> @Sendable () -> Void {
        nonisolated(unsafe) let x = inputs.map(\.0)
        let d = inputs.map(\.1)
        nonisolated(unsafe) let y = output
        let yf = output.assumingMemoryBound(to: Float.self)
        nonisolated(unsafe) let out = yf
        let count = outputDesc.shape.count
        func f32(_ i: Int) -> UnsafePointer<Float> { x[i].assumingMemoryBound(to: Float.self) }
        nonisolated(unsafe) let in0 = f32(0)

        switch op {
        case .mulMat:
            let kernel = MatMulKernel(weights: d[0], activations: d[1], output: outputDesc, threads: pool.threads, kernels: kernels)
            return { kernel.run(a: x[0], b: x[1], out: y, pool: pool) }
        case .mulMatAdd:
            // The product, then the residual added over it in place: no saving on the CPU, but a graph the
            // fusion pass gave one op (for a GPU stage) runs here too, and the CPU keeps no gaps.
            let kernel = MatMulKernel(weights: d[0], activations: d[1], output: outputDesc, threads: pool.threads, kernels: kernels)
            nonisolated(unsafe) let r = f32(2)
            let shape = outputDesc.shape
            return {
                kernel.run(a: x[0], b: x[1], out: y, pool: pool)
                Elementwise.binary(out, shape, r, shape, out, add: true, pool: pool)
            }
        case .rmsNormMulMat(let eps):
            // The norm into scratch of its own, then the product: what the unfused pair computes. The executor
            // never fuses this for the CPU (CPUDevice.supports); it runs here for a caller that builds it.
            let kernel = MatMulKernel(weights: d[0], activations: d[1], output: outputDesc, threads: pool.threads, kernels: kernels)
            let scratch = ActivationScratch(codeBytes: d[1].byteCount, metaBytes: 0)
            nonisolated(unsafe) let (xs, w) = (f32(1), f32(2))
            return {
                let normed = scratch.codes.assumingMemoryBound(to: Float.self)
                Norms.rmsNorm(xs, weight: w, normed, rowLength: d[1].shape[0], rows: d[1].shape.rows, eps: eps, pool: pool)
                kernel.run(a: x[0], b: UnsafeRawPointer(normed), out: y, pool: pool)
            }
        case .getRows:
            return { getRows(x[0], d[0], x[1].assumingMemoryBound(to: Int32.self), d[1].shape[0], out) }
        case .add, .mul:
            nonisolated(unsafe) let in1 = f32(1)
            let isAdd = op == .add
            return { Elementwise.binary(in0, d[0].shape, in1, d[1].shape, out, add: isAdd, pool: pool) }
        case .scale(let s):
            return { Elementwise.map(in0, out, count, pool: pool) { $0 * SIMD8(repeating: s) } }
        case .silu:
            return { Elementwise.map(in0, out, count, pool: pool, VectorMath.silu) }
        case .gelu:
            return { Elementwise.map(in0, out, count, pool: pool, VectorMath.gelu) }
        case .mulMatGLU(let p):
            // The norm (if folded in) into scratch, the two products, then the glu over them in place: what the
            // unfused ops compute. Never fused for the CPU (CPUDevice.supports); it runs here for a caller that builds it.
            let gate = MatMulKernel(weights: d[0], activations: d[1], output: outputDesc, threads: pool.threads, kernels: kernels)
            let up = MatMulKernel(weights: d[d.count - 1], activations: d[1], output: outputDesc, threads: pool.threads, kernels: kernels)
            let scratch = ActivationScratch(codeBytes: d[1].byteCount + outputDesc.byteCount, metaBytes: 0)
            nonisolated(unsafe) let (xs, w, upWeights) = (f32(1), p.normEps == nil ? f32(1) : f32(2), x[x.count - 1])
            return {
                let normed = scratch.codes.assumingMemoryBound(to: Float.self)
                let products = scratch.codes.advanced(by: d[1].byteCount).assumingMemoryBound(to: Float.self)
                var b = UnsafeRawPointer(xs)
                if let eps = p.normEps {
                    Norms.rmsNorm(xs, weight: w, normed, rowLength: d[1].shape[0], rows: d[1].shape.rows, eps: eps, pool: pool)
                    b = UnsafeRawPointer(normed)
                }
                gate.run(a: x[0], b: b, out: y, pool: pool)
                up.run(a: upWeights, b: b, out: UnsafeMutableRawPointer(products), pool: pool)
                if p.activation == .silu {
                    Elementwise.swiglu(UnsafePointer(out), UnsafePointer(products), out, count, pool: pool)
                } else {
                    Elementwise.geglu(UnsafePointer(out), UnsafePointer(products), out, count, pool: pool)
                }
            }
        case .mulMatRows(let p):
            return mulMatRows(p, inputs, y, outputDesc, pool: pool, kernels: kernels, ropeTables: ropeTables)
        case .swiglu:
            nonisolated(unsafe) let in1 = f32(1)
            return { Elementwise.swiglu(in0, in1, out, count, pool: pool) }
        case .geglu:
            nonisolated(unsafe) let in1 = f32(1)
            return { Elementwise.geglu(in0, in1, out, count, pool: pool) }
        case .rmsNorm(let eps):
            return { Norms.rmsNorm(in0, weight: nil, out, rowLength: d[0].shape[0], rows: d[0].shape.rows, eps: eps, pool: pool) }
        case .rmsNormMul(let eps):
            nonisolated(unsafe) let w = f32(1)
            return { Norms.rmsNorm(in0, weight: w, out, rowLength: d[0].shape[0], rows: d[0].shape.rows, eps: eps, pool: pool) }
        case .softmax(let scale):
            nonisolated(unsafe) let mask = d.count > 1 ? f32(1) : nil
            let maskRows = d.count > 1 ? d[1].shape[1] : 0
            return { Norms.softmax(in0, mask: mask, maskRows: maskRows, out, shape: d[0].shape, scale: scale, pool: pool) }
        case .rope(let p):
            let rope = Rope(p, headDim: d[0].shape[0], heads: d[0].shape[1], tokens: d[0].shape[2], tables: ropeTables)
            return { rope.run(in0, x[1].assumingMemoryBound(to: Int32.self), out, pool: pool) }
        case .convert(let to):
            let from = d[0].type
            return { convert(x[0], from, y, to, count) }
        case .setRows:
            let rows = d[0].shape[1], k = d[0].shape[0], toF16 = d[0].type == .f16, n = d[1].shape[1]
            nonisolated(unsafe) let src = f32(1)
            return { setRows(src, x[2].assumingMemoryBound(to: Int32.self), n, y, k: k, rows: rows, f16: toF16) }
        case .ropeSetRows(let p):
            // The roped rows into scratch, then into dst: one node where the graph had two (a decode step's k).
            let rope = Rope(p, headDim: d[1].shape[0], heads: d[1].shape[1], tokens: d[1].shape[2], tables: ropeTables)
            let scratch = ActivationScratch(codeBytes: d[1].byteCount, metaBytes: 0)
            let rows = d[0].shape[1], k = d[0].shape[0], toF16 = d[0].type == .f16, n = d[3].shape[0]
            nonisolated(unsafe) let (src, positions, ids) = (f32(1), x[2].assumingMemoryBound(to: Int32.self), x[3].assumingMemoryBound(to: Int32.self))
            return {
                let roped = scratch.codes.assumingMemoryBound(to: Float.self)
                rope.run(src, positions, roped, pool: pool)
                setRows(UnsafePointer(roped), ids, n, y, k: k, rows: rows, f16: toF16)
            }
        case .permute(let a0, let a1, let a2, let a3):
            return { permute(x[0], d[0], axes: [a0, a1, a2, a3], y) }
        case .attention(let scale):
            let kernel = AttentionKernel(q: d[0], k: d[1], v: d[2], hasMask: d.count > 3, scale: scale, threads: pool.threads)
            nonisolated(unsafe) let mask = d.count > 3 ? f32(3) : nil
            return { kernel.run(q: in0, k: x[1], v: x[2], mask: mask, out: out, pool: pool) }
        }
    }

    /// mul_mat_rows as the unfused ops compute it: the norm (if folded in), the product and the rope into scratch, then
    /// the output or dst's rows. Never fused for the CPU (CPUDevice.supports); it runs here for a caller that builds it.
    private static func mulMatRows(_ p: MatRows, _ inputs: [Input], _ y: UnsafeMutableRawPointer, _ outputDesc: TensorDesc,
                                   pool: WorkerPool, kernels: CPUKernelSet, ropeTables: RopeTables) -> @Sendable () -> Void {
        let d = inputs.map(\.1), m = d[0].shape[1], n = d[1].shape[1]
        let heads = TensorDesc(.f32, Shape(p.headDim, m / p.headDim, n))
        let kernel = MatMulKernel(weights: d[0], activations: d[1], output: heads, threads: pool.threads, kernels: kernels)
        let rope = p.rope.map { Rope($0, headDim: p.headDim, heads: m / p.headDim, tokens: n, tables: ropeTables) }
        let scratch = ActivationScratch(codeBytes: d[1].byteCount + 2 * heads.byteCount, metaBytes: 0)
        nonisolated(unsafe) let (a, xs, out) = (inputs[0].0, inputs[1].0.assumingMemoryBound(to: Float.self), y)
        nonisolated(unsafe) let w = p.normInput.map { inputs[$0].0.assumingMemoryBound(to: Float.self) }
        nonisolated(unsafe) let positions = p.positionsInput.map { inputs[$0].0.assumingMemoryBound(to: Int32.self) }
        nonisolated(unsafe) let ids = p.idsInput.map { inputs[$0].0.assumingMemoryBound(to: Int32.self) }
        let (k, toF16) = (outputDesc.shape[0], outputDesc.type == .f16)
        return {
            let normed = scratch.codes.assumingMemoryBound(to: Float.self)
            let product = scratch.codes.advanced(by: d[1].byteCount).assumingMemoryBound(to: Float.self)
            let roped = product.advanced(by: heads.shape.count)
            var b = UnsafeRawPointer(xs)
            if let eps = p.normEps, let w {
                Norms.rmsNorm(xs, weight: w, normed, rowLength: d[1].shape[0], rows: n, eps: eps, pool: pool)
                b = UnsafeRawPointer(normed)
            }
            kernel.run(a: a, b: b, out: UnsafeMutableRawPointer(product), pool: pool)
            var rows = UnsafePointer(product)
            if let rope, let positions {
                rope.run(rows, positions, roped, pool: pool)
                rows = UnsafePointer(roped)
            }
            if let ids {
                setRows(rows, ids, heads.shape.rows, out, k: k, rows: outputDesc.shape[1], f16: toF16)
            } else {
                out.assumingMemoryBound(to: Float.self).update(from: rows, count: heads.shape.count)
            }
        }
    }

    static func getRows(_ table: UnsafeRawPointer, _ desc: TensorDesc, _ ids: UnsafePointer<Int32>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
        let k = desc.shape[0], rows = desc.shape[1], rowBytes = desc.rowBytes
        for j in 0..<n {
            let id = Int(ids[j])
            let dst = out + j * k
            // An id outside the table reads nothing: it yields NaN, like the reference.
            guard id >= 0 && id < rows else { dst.update(repeating: .nan, count: k); continue }
            let src = table + id * rowBytes
            if desc.type == .f32 { dst.update(from: src.assumingMemoryBound(to: Float.self), count: k) }
            else { Quant.dequantize(desc.type, from: src, into: dst, count: k) }
        }
    }

    static func setRows(_ src: UnsafePointer<Float>, _ ids: UnsafePointer<Int32>, _ n: Int, _ dst: UnsafeMutableRawPointer,
                        k: Int, rows: Int, f16: Bool) {
        for j in 0..<n {
            let r = Int(ids[j])
            guard r >= 0 && r < rows else { continue }
            if f16 {
                let o = dst.assumingMemoryBound(to: Float16.self) + r * k
                for i in 0..<k { o[i] = Float16(src[j * k + i]) }
            } else {
                (dst.assumingMemoryBound(to: Float.self) + r * k).update(from: src + j * k, count: k)
            }
        }
    }

    static func convert(_ src: UnsafeRawPointer, _ from: DType, _ dst: UnsafeMutableRawPointer, _ to: DType, _ n: Int) {
        switch (from, to) {
        case (.f32, .f16):
            let s = src.assumingMemoryBound(to: Float.self), o = dst.assumingMemoryBound(to: Float16.self)
            for i in 0..<n { o[i] = Float16(s[i]) }
        case (.f16, .f32):
            let s = src.assumingMemoryBound(to: Float16.self), o = dst.assumingMemoryBound(to: Float.self)
            for i in 0..<n { o[i] = Float(s[i]) }
        default:
            dst.copyMemory(from: src, byteCount: TensorDesc(from, Shape(n)).byteCount)
        }
    }

    /// ggml_cont(ggml_permute(x, axes)): input axis i becomes output axis axes[i].
    static func permute(_ src: UnsafeRawPointer, _ desc: TensorDesc, axes: [Int], _ dst: UnsafeMutableRawPointer) {
        let ne = desc.shape.dims
        var outNe = [1, 1, 1, 1]
        for i in 0..<4 { outNe[axes[i]] = ne[i] }
        var outStride = [1, 1, 1, 1]
        for i in 1..<4 { outStride[i] = outStride[i - 1] * outNe[i - 1] }
        // Stride in the output for a step along each input axis.
        let s = (0..<4).map { outStride[axes[$0]] }
        let size = desc.type == .f16 ? 2 : 4
        var i = 0
        for i3 in 0..<ne[3] {
            for i2 in 0..<ne[2] {
                for i1 in 0..<ne[1] {
                    let base = i3 * s[3] + i2 * s[2] + i1 * s[1]
                    if size == 4 {
                        let from = src.assumingMemoryBound(to: UInt32.self), to = dst.assumingMemoryBound(to: UInt32.self)
                        if s[0] == 1 { (to + base).update(from: from + i, count: ne[0]); i += ne[0]; continue }
                        for i0 in 0..<ne[0] { to[base + i0 * s[0]] = from[i]; i += 1 }
                    } else {
                        let from = src.assumingMemoryBound(to: UInt16.self), to = dst.assumingMemoryBound(to: UInt16.self)
                        for i0 in 0..<ne[0] { to[base + i0 * s[0]] = from[i]; i += 1 }
                    }
                }
            }
        }
    }
}

enum Elementwise {
    static func chunks(_ count: Int, pool: WorkerPool, _ body: (Range<Int>) -> Void) {
        if count < CPUKernels.parallelThreshold { body(0..<count) } else { pool.parallelFor(count, granularity: 64, body) }
    }

    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, pool: WorkerPool,
                    _ f: (SIMD8<Float>) -> SIMD8<Float>) {
        zip(x, x, y, count, pool: pool) { v, _ in f(v) }
    }

    /// f on SIMD8 lanes of x and u, y = f(x, u); the tail goes through the same vector code (lane 0),
    /// so a value's result never depends on where a worker's range ends.
    static func zip(_ x: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                    pool: WorkerPool, _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
        chunks(count, pool: pool) { r in
            var i = r.lowerBound
            let xr = UnsafeRawPointer(x), ur = UnsafeRawPointer(u), yr = UnsafeMutableRawPointer(y)
            while i + 8 <= r.upperBound {
                let v = f(xr.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self),
                          ur.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self))
                yr.storeBytes(of: v, toByteOffset: i * 4, as: SIMD8<Float>.self)
                i += 8
            }
            while i < r.upperBound { y[i] = f(SIMD8(repeating: x[i]), SIMD8(repeating: u[i]))[0]; i += 1 }
        }
    }

    /// silu(g) · u (SwiGLU's gate).
    static func swiglu(_ g: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, pool: WorkerPool) {
        zip(g, u, y, count, pool: pool) { g, u in VectorMath.silu(g) * u }
    }

    /// gelu(g) · u (GeGLU's gate): 390 µs a Gemma 3 prefill call with an expf per value, 100–120 µs so (Zen2 EPYC).
    static func geglu(_ g: UnsafePointer<Float>, _ u: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int, pool: WorkerPool) {
        zip(g, u, y, count, pool: pool) { g, u in VectorMath.gelu(g) * u }
    }

    /// a ∘ b with b repeated to a's shape; rows of b that span a's whole ne0 use vector code.
    static func binary(_ a: UnsafePointer<Float>, _ aShape: Shape, _ b: UnsafePointer<Float>, _ bShape: Shape,
                       _ y: UnsafeMutablePointer<Float>, add: Bool, pool: WorkerPool) {
        let ne0 = aShape[0]
        let rows = aShape.rows
        func bRow(_ row: Int) -> Int {
            let i1 = row % aShape[1], i2 = (row / aShape[1]) % aShape[2], i3 = row / (aShape[1] * aShape[2])
            return ((i3 % bShape[3]) * bShape[2] + i2 % bShape[2]) * bShape[1] + i1 % bShape[1]
        }
        let work: (Range<Int>) -> Void = { r in
            for row in r {
                let ar = a + row * ne0, yr = y + row * ne0
                let br = b + bRow(row) * bShape[0]
                if bShape[0] == ne0 {
                    var i = 0
                    let ap = UnsafeRawPointer(ar), bp = UnsafeRawPointer(br), yp = UnsafeMutableRawPointer(yr)
                    while i + 8 <= ne0 {
                        let va = ap.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        let vb = bp.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
                        yp.storeBytes(of: add ? va + vb : va * vb, toByteOffset: i * 4, as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < ne0 { yr[i] = add ? ar[i] + br[i] : ar[i] * br[i]; i += 1 }
                } else {
                    let bn = bShape[0]
                    for i in 0..<ne0 { yr[i] = add ? ar[i] + br[i % bn] : ar[i] * br[i % bn] }
                }
            }
        }
        if rows * ne0 < CPUKernels.parallelThreshold { work(0..<rows) } else { pool.parallelFor(rows, work) }
    }
}
