import EdgeHAL
import EdgeHALPluginABI

/// EdgeHAL's ops and tensor descriptions as the plain C structs of edgehal_plugin.h.
enum PluginEncoding {
    static func op(_ op: Op) -> eh_op {
        var e = eh_op()
        switch op {
        case .mulMat: e.code = UInt32(EH_OP_MUL_MAT)
        case .getRows: e.code = UInt32(EH_OP_GET_ROWS)
        case .add: e.code = UInt32(EH_OP_ADD)
        case .mul: e.code = UInt32(EH_OP_MUL)
        case .scale(let s): e.code = UInt32(EH_OP_SCALE); e.f.0 = s
        case .rmsNorm(let eps): e.code = UInt32(EH_OP_RMS_NORM); e.f.0 = eps
        case .softmax(let s): e.code = UInt32(EH_OP_SOFTMAX); e.f.0 = s
        case .rope(let p), .ropeSetRows(let p):
            if case .rope = op { e.code = UInt32(EH_OP_ROPE) } else { e.code = UInt32(EH_OP_ROPE_SET_ROWS) }
            (e.f.0, e.f.1) = (p.freqBase, p.freqScale)
            (e.i.0, e.i.1) = (p.mode == .neox ? 1 : 0, Int32(p.nDims))
        case .silu: e.code = UInt32(EH_OP_SILU)
        case .gelu: e.code = UInt32(EH_OP_GELU)
        case .convert(let to): e.code = UInt32(EH_OP_CONVERT); e.i.0 = Int32(to.ggmlTypeID)
        case .permute(let a0, let a1, let a2, let a3):
            e.code = UInt32(EH_OP_PERMUTE)
            e.i = (Int32(a0), Int32(a1), Int32(a2), Int32(a3))
        case .setRows: e.code = UInt32(EH_OP_SET_ROWS)
        case .rmsNormMul(let eps): e.code = UInt32(EH_OP_RMS_NORM_MUL); e.f.0 = eps
        case .swiglu: e.code = UInt32(EH_OP_SWIGLU)
        case .geglu: e.code = UInt32(EH_OP_GEGLU)
        case .attention(let s): e.code = UInt32(EH_OP_ATTENTION); e.f.0 = s
        case .mulMatAdd: e.code = UInt32(EH_OP_MUL_MAT_ADD)
        case .rmsNormMulMat(let eps): e.code = UInt32(EH_OP_RMS_NORM_MUL_MAT); e.f.0 = eps
        case .mulMatGLU(let p):
            e.code = UInt32(EH_OP_MUL_MAT_GLU)
            (e.i.0, e.i.1, e.f.0) = (p.activation == .silu ? 0 : 1, p.normEps == nil ? 0 : 1, p.normEps ?? 0)
        case .mulMatRows(let p):
            e.code = UInt32(EH_OP_MUL_MAT_ROWS)
            (e.f.0, e.f.1, e.f.2) = (p.rope?.freqBase ?? 0, p.rope?.freqScale ?? 0, p.normEps ?? 0)
            e.i = (p.rope.map { $0.mode == .neox ? 1 : 0 } ?? -1, Int32(p.rope?.nDims ?? 0), Int32(p.headDim),
                   (p.normEps == nil ? 0 : 1) | (p.setRows ? 2 : 0))
        }
        return e
    }

    static func desc(_ d: TensorDesc) -> eh_tensor_desc {
        var e = eh_tensor_desc()
        e.type = d.type.ggmlTypeID
        e.ne = (Int64(d.shape[0]), Int64(d.shape[1]), Int64(d.shape[2]), Int64(d.shape[3]))
        return e
    }

    static func tensor(_ d: TensorDesc, buffer: eh_buffer? = nil, offset: Int = 0) -> eh_tensor {
        eh_tensor(desc: desc(d), buffer: buffer, offset: UInt64(offset))
    }

    static func kind(_ k: UInt32) -> DeviceKind {
        switch Int32(bitPattern: k) {
        case EH_KIND_GPU: return .gpu
        case EH_KIND_INTEGRATED: return .integrated
        case EH_KIND_CPU: return .cpu
        default: return .emulated
        }
    }

    /// A C char array (imported as a tuple) as a String.
    static func string<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }
}

/// Calls `body` with a node whose inputs pointer is valid for the call's duration.
func withNode<R>(_ op: Op, inputs: [eh_tensor], output: eh_tensor, _ body: (UnsafePointer<eh_node>) -> R) -> R {
    inputs.withUnsafeBufferPointer { ins in
        var node = eh_node(op: PluginEncoding.op(op), input_count: UInt32(ins.count), inputs: ins.baseAddress, output: output)
        return withUnsafePointer(to: &node) { body($0) }
    }
}
