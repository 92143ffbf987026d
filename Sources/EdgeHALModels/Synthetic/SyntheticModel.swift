import EdgeHAL

/// A GGUF model of any shape with random weights, for measuring where the real file is too large
/// to carry (a device run takes 64 MiB) or not at hand: `edgehal synthesize`.
///
/// Weights are normal with σ = 1/√K per row, quantized by EdgeHAL's own quantizer (random valid
/// blocks for the K-quants, which it cannot produce). To write a 7B-shaped file in seconds and
/// in little memory, each matrix's rows are drawn from a pool of 512 quantized rows of its width
/// by a hash of (seed, tensor, row): the file is streamed, the same for a seed whatever the chunking,
/// and any two rows of a matrix are the same with probability 1/512.
public struct SyntheticModel: Sendable {
    public var shape: SyntheticShape
    public var type: DType
    public var seed: UInt64
    /// The preset the shape came from, recorded in the file (`edgehal.synthetic.preset`).
    public var preset: String?

    public static let poolRows = 512

    public init(shape: SyntheticShape, type: DType, seed: UInt64 = 2026, preset: String? = nil) {
        self.shape = shape
        self.type = type
        self.seed = seed
        self.preset = preset
    }

    /// Metadata marking a synthetic file: `edgehal run` says once that its text is noise.
    public static let seedKey = "edgehal.synthetic.seed"

    /// One tensor of the file: a matrix [k, rows] of the weight type, or an f32 norm of ones.
    struct Planned {
        var name: String
        var shape: Shape
        var matrix: Bool
    }

    var tensors: [Planned] {
        let s = shape, e = s.embedding, d = s.headSize
        func m(_ name: String, _ k: Int, _ rows: Int) -> Planned { Planned(name: name, shape: Shape(k, rows), matrix: true) }
        func norm(_ name: String, _ n: Int) -> Planned { Planned(name: name, shape: Shape(n), matrix: false) }
        var out = [m("token_embd.weight", e, s.vocabulary), norm("output_norm.weight", e)]
        if !s.tiedOutput { out.append(m("output.weight", e, s.vocabulary)) }
        for l in 0..<s.layers {
            let p = "blk.\(l)."
            out += [norm(p + "attn_norm.weight", e), m(p + "attn_q.weight", e, s.heads * d), m(p + "attn_k.weight", e, s.kvHeads * d),
                    m(p + "attn_v.weight", e, s.kvHeads * d), m(p + "attn_output.weight", s.heads * d, e)]
            if s.architecture == .gemma3 {
                out += [norm(p + "attn_q_norm.weight", d), norm(p + "attn_k_norm.weight", d), norm(p + "post_attention_norm.weight", e),
                        norm(p + "post_ffw_norm.weight", e)]
            }
            out += [norm(p + "ffn_norm.weight", e), m(p + "ffn_gate.weight", e, s.feedForward), m(p + "ffn_up.weight", e, s.feedForward),
                    m(p + "ffn_down.weight", s.feedForward, e)]
        }
        return out
    }

    /// Bytes of the tensors (the file adds its metadata, mostly the vocabulary, and alignment).
    public var tensorBytes: Int {
        tensors.reduce(0) { $0 + TensorDesc($1.matrix ? type : .f32, $1.shape).byteCount }
    }

    /// The file's metadata, in order.
    var metadata: [(String, GGUFValue)] {
        let s = shape, a = s.architecture.rawValue
        var kv: [(String, GGUFValue)] = [
            ("general.architecture", .string(a)),
            ("general.name", .string("EdgeHAL synthetic " + (preset ?? a))),
            ("general.file_type", .uint32(Self.fileTypes[type] ?? 0)),
            ("general.quantization_version", .uint32(2)),
            ("\(a).block_count", .uint32(UInt32(s.layers))),
            ("\(a).context_length", .uint32(UInt32(s.context))),
            ("\(a).embedding_length", .uint32(UInt32(s.embedding))),
            ("\(a).feed_forward_length", .uint32(UInt32(s.feedForward))),
            ("\(a).attention.head_count", .uint32(UInt32(s.heads))),
            ("\(a).attention.head_count_kv", .uint32(UInt32(s.kvHeads))),
            ("\(a).rope.freq_base", .float32(s.ropeFreqBase)),
            ("\(a).attention.layer_norm_rms_epsilon", .float32(s.architecture == .gemma3 ? 1e-6 : 1e-5)),
        ]
        switch s.architecture {
        case .llama:
            kv += [("llama.rope.dimension_count", .uint32(UInt32(s.headSize))), ("llama.vocab_size", .uint32(UInt32(s.vocabulary)))]
        case .gemma3:
            kv += [("gemma3.attention.key_length", .uint32(UInt32(s.headSize))), ("gemma3.attention.value_length", .uint32(UInt32(s.headSize)))]
            if let w = s.slidingWindow { kv.append(("gemma3.attention.sliding_window", .uint32(UInt32(w)))) }
        }
        kv += [(Self.seedKey, .uint64(seed))]
        if let preset { kv.append(("edgehal.synthetic.preset", .string(preset))) }
        return kv + SyntheticTokenizer.metadata(vocabulary: s.vocabulary)
    }

    /// llama.cpp's LLAMA_FTYPE for a file whose matrices are all `type` (the K-quants as their _S mixes).
    static let fileTypes: [DType: UInt32] = [.f32: 0, .f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9,
                                             .q2_K: 10, .q3_K: 11, .q4_K: 14, .q5_K: 16, .q6_K: 18]

    /// Checks the shape, then writes the file (beside `path`, renamed into place: a failure leaves nothing).
    public func write(to path: String) throws {
        let problems = shape.problems(for: type)
        guard problems.isEmpty else { throw ModelError("cannot synthesize this model: " + problems.joined(separator: "; ")) }
        var writer = GGUFWriter()
        for (key, value) in metadata { writer.set(key, value) }
        var pools: [Int: RowPool] = [:]
        for (index, t) in tensors.enumerated() {
            guard t.matrix else {
                try writer.addTensor(name: t.name, type: .f32, shape: t.shape, bytes: Self.ones(t.shape.count))
                continue
            }
            let k = t.shape[0]
            let pool = pools[k] ?? RowPool(type: type, k: k, seed: seed)
            pools[k] = pool
            let salt = seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
            try writer.addTensor(name: t.name, type: type, shape: t.shape) { rows, buffer in pool.fill(rows, salt: salt, into: buffer) }
        }
        try writer.write(to: path)
    }

    /// Norm weights: ones (Gemma's converter has already folded its 1 + w).
    static func ones(_ n: Int) -> [UInt8] { [Float](repeating: 1, count: n).withUnsafeBytes { Array($0) } }
}

/// Quantized rows of one width, from which a synthetic matrix draws its rows.
final class RowPool: Sendable {
    let rowBytes: Int
    let bytes: [UInt8]

    init(type: DType, k: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed ^ (UInt64(k) &* 0xD6E8_FEB8_6659_FD93))
        let count = SyntheticModel.poolRows, sigma = 1 / Float(k).squareRoot()
        rowBytes = type.rowBytes(k)
        if type.canQuantize {
            bytes = Quant.quantize(type, rng.normal(count: count * k, scale: sigma))
        } else {
            bytes = Quant.randomBlocks(type, blocks: count * k / type.blockSize, rng: &rng, scale: sigma)
        }
    }

    /// Rows `rows` of a matrix: row r is pool row hash(salt, r) mod the pool size.
    func fill(_ rows: Range<Int>, salt: UInt64, into buffer: UnsafeMutableRawBufferPointer) {
        bytes.withUnsafeBytes { pool in
            for (i, r) in rows.enumerated() {
                var z = salt &+ UInt64(r) &* 0x9E37_79B9_7F4A_7C15
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                let pick = Int((z ^ (z >> 31)) % UInt64(SyntheticModel.poolRows))
                (buffer.baseAddress! + i * rowBytes).copyMemory(from: pool.baseAddress! + pick * rowBytes, byteCount: rowBytes)
            }
        }
    }
}

