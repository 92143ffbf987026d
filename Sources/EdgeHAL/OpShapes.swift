extension OpSignature {
    /// Whether the output is what the op's shape rules give for these inputs.
    public var isWellFormed: Bool { (try? op.outputDesc(for: inputs)) == output }
}

extension Op {
    /// Number of inputs the op takes: (required, optional).
    public var arity: (required: Int, optional: Int) {
        switch self {
        case .mulMat, .getRows, .add, .mul, .rope, .rmsNormMul, .swiglu, .geglu: return (2, 0)
        case .setRows, .mulMatAdd, .rmsNormMulMat: return (3, 0)
        case .scale, .rmsNorm, .silu, .gelu, .convert, .permute: return (1, 0)
        case .softmax: return (1, 1)
        case .attention: return (3, 1)
        case .ropeSetRows: return (4, 0)
        case .mulMatGLU(let p): return (p.normEps == nil ? 3 : 4, 0)
        case .mulMatRows(let p): return (p.inputCount, 0)
        }
    }

    /// Validates input types and shapes and returns the output's.
    public func outputDesc(for inputs: [TensorDesc]) throws -> TensorDesc {
        let (required, optional) = arity
        guard inputs.count >= required, inputs.count <= required + optional else {
            throw EdgeHALError.invalidGraph("\(name) takes \(required)\(optional > 0 ? "–\(required + optional)" : "") inputs, got \(inputs.count)")
        }
        func fail(_ why: String) -> EdgeHALError {
            .invalidGraph("\(name)(\(inputs.map(\.description).joined(separator: ", "))): \(why)")
        }
        func requireF32(_ indices: Int...) throws {
            for i in indices where i < inputs.count && inputs[i].type != .f32 { throw fail("input \(i) must be f32") }
        }
        func divides(_ small: Shape, _ big: Shape, axes: [Int]) -> Bool {
            axes.allSatisfy { small[$0] > 0 && big[$0] % small[$0] == 0 }
        }
        let a = inputs[0]
        guard a.shape.dims.allSatisfy({ $0 > 0 }) else { throw fail("empty dimension") }
        guard a.shape[0] % a.type.blockSize == 0 else { throw fail("ne0 is not a whole number of \(a.type) blocks") }

        switch self {
        case .mulMatAdd:
            let product = try Op.mulMat.outputDesc(for: Array(inputs.prefix(2)))
            guard inputs[2].type == .f32, inputs[2].shape == product.shape else { throw fail("r must be f32 of the product's shape") }
            return product
        case .rmsNormMulMat:
            let product = try Op.mulMat.outputDesc(for: Array(inputs.prefix(2)))
            guard inputs[2].type == .f32, inputs[2].shape.count == a.shape[0] else { throw fail("w must be f32 with ne0 values") }
            return product
        case .mulMatGLU(let p):
            let product = try (p.normEps == nil ? Op.mulMat : Op.rmsNormMulMat(eps: 0)).outputDesc(for: Array(inputs.dropLast()))
            guard inputs[inputs.count - 1] == a else { throw fail("up must have gate's type and shape") }
            return product
        case .mulMatRows(let p):
            var product = try (p.normEps.map { Op.rmsNormMulMat(eps: $0) } ?? .mulMat).outputDesc(for: Array(inputs.prefix(p.normEps == nil ? 2 : 3)))
            guard product.shape.rows == product.shape[1] else { throw fail("a and x must be 2-D") }
            guard p.rope != nil || p.setRows else { throw fail("neither rope nor set_rows: a mul_mat") }
            guard p.headDim > 0, product.shape[0] % p.headDim == 0 else { throw fail("headDim \(p.headDim) does not divide M") }
            product = TensorDesc(.f32, Shape(p.headDim, product.shape[0] / p.headDim, product.shape[1]))
            if let r = p.rope, let at = p.positionsInput { product = try Op.rope(r).outputDesc(for: [product, inputs[at]]) }
            guard let ids = p.idsInput, let dst = p.dstInput else { return product }
            return try Op.setRows.outputDesc(for: [inputs[dst], TensorDesc(.f32, Shape(p.headDim, product.shape.rows)), inputs[ids]])
        case .mulMat:
            let b = inputs[1]
            try requireF32(1)
            guard a.type != .i32 else { throw fail("weights cannot be i32") }
            guard a.shape[0] == b.shape[0] else { throw fail("inner dimensions differ") }
            guard divides(a.shape, b.shape, axes: [2, 3]) else { throw fail("weight dims 2, 3 must divide the activation's") }
            return TensorDesc(.f32, Shape(a.shape[1], b.shape[1], b.shape[2], b.shape[3]))
        case .getRows:
            let ids = inputs[1]
            guard a.type != .i32 else { throw fail("table cannot be i32") }
            guard ids.type == .i32, ids.shape.rows == 1 else { throw fail("ids must be a 1-D i32 tensor") }
            guard a.shape[2] == 1, a.shape[3] == 1 else { throw fail("table must be 2-D") }
            return TensorDesc(.f32, Shape(a.shape[0], ids.shape[0]))
        case .add, .mul:
            try requireF32(0, 1)
            guard divides(inputs[1].shape, a.shape, axes: [0, 1, 2, 3]) else { throw fail("b must repeat to a's shape") }
            return a
        case .swiglu, .geglu:
            try requireF32(0, 1)
            guard inputs[1].shape == a.shape else { throw fail("gate and up differ in shape") }
            return a
        case .scale, .silu, .gelu, .rmsNorm:
            try requireF32(0)
            return a
        case .rmsNormMul:
            try requireF32(0, 1)
            guard inputs[1].shape.count == a.shape[0] else { throw fail("weight must have ne0 values") }
            return a
        case .softmax:
            try requireF32(0, 1)
            if inputs.count == 2 {
                let m = inputs[1].shape
                guard m[0] == a.shape[0], m[1] >= a.shape[1], m[2] == 1, m[3] == 1 else {
                    throw fail("mask must be [ne0, ≥ne1]")
                }
            }
            return a
        case .rope(let p):
            try requireF32(0)
            let pos = inputs[1]
            guard pos.type == .i32, pos.shape.rows == 1, pos.shape[0] == a.shape[2], a.shape[3] == 1 else {
                throw fail("positions must be i32 [ne2] for x [headDim, heads, tokens]")
            }
            guard p.nDims > 0, p.nDims % 2 == 0, p.nDims <= a.shape[0] else { throw fail("nDims must be even and ≤ headDim") }
            return a
        case .setRows:
            let (src, ids) = (inputs[1], inputs[2])
            try requireF32(1)
            guard a.type == .f32 || a.type == .f16 else { throw fail("destination must be f32 or f16") }
            guard a.shape[2] == 1, a.shape[3] == 1, src.shape[0] == a.shape[0], src.shape[2] == 1, src.shape[3] == 1 else {
                throw fail("dst [K, R] and src [K, N] expected")
            }
            guard ids.type == .i32, ids.shape.rows == 1, ids.shape[0] == src.shape[1] else { throw fail("ids must be i32 [N]") }
            return a
        case .ropeSetRows(let p):
            let (x, ids) = (inputs[1], inputs[3])
            _ = try Op.rope(p).outputDesc(for: [x, inputs[2]])
            return try Op.setRows.outputDesc(for: [a, TensorDesc(.f32, Shape(x.shape[0], x.shape.rows)), ids])
        case .convert(let to):
            guard [DType.f32, .f16].contains(a.type), [DType.f32, .f16].contains(to) else {
                throw fail("convert is between f32 and f16")
            }
            return TensorDesc(to, a.shape)
        case .permute(let p0, let p1, let p2, let p3):
            let axes = [p0, p1, p2, p3]
            guard Set(axes) == [0, 1, 2, 3] else { throw fail("axes must be a permutation of 0...3") }
            guard a.type == .f32 || a.type == .f16 else { throw fail("permute moves f32 or f16 values") }
            var out = [1, 1, 1, 1]
            for i in 0..<4 { out[axes[i]] = a.shape[i] }
            return TensorDesc(a.type, Shape(out))
        case .attention:
            let (k, v) = (inputs[1], inputs[2])
            try requireF32(0, 3)
            guard [DType.f32, .f16].contains(k.type), [DType.f32, .f16].contains(v.type) else { throw fail("k, v must be f32 or f16") }
            let (d, t, h) = (a.shape[0], a.shape[1], a.shape[2])
            guard a.shape[3] == 1, k.shape == v.shape, k.shape[0] == d, k.shape[3] == 1 else {
                throw fail("q [D, T, H], k and v [D, KV, Hkv] expected")
            }
            guard h % k.shape[2] == 0 else { throw fail("kv heads must divide query heads") }
            if inputs.count == 4 {
                let m = inputs[3].shape
                guard m[0] == k.shape[1], m[1] >= t, m[2] == 1, m[3] == 1 else { throw fail("mask must be [KV, ≥T]") }
            }
            return TensorDesc(.f32, Shape(d, t, h))
        }
    }
}
