/// Element types of EdgeHAL tensors: plain scalars and GGUF's block-quantized formats.
///
/// Quantized types store a row as consecutive blocks of `blockSize` values taking
/// `blockBytes` bytes each, laid out exactly as GGUF files store them.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f32, f16, i32
    case q8_0, q4_0, q4_1, q5_0, q5_1
    case q2_K, q3_K, q4_K, q5_K, q6_K

    /// Values per block (1 for scalar types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .i32: return 1
        case .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K: return 256
        }
    }

    /// Bytes per block, as in ggml's type traits.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        }
    }

    /// ggml's numeric type id (the value stored in GGUF tensor infos).
    public var ggmlTypeID: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q4_1: return 3
        case .q5_0: return 6
        case .q5_1: return 7
        case .q8_0: return 8
        case .q2_K: return 10
        case .q3_K: return 11
        case .q4_K: return 12
        case .q5_K: return 13
        case .q6_K: return 14
        case .i32: return 26
        }
    }

    public init?(ggmlTypeID: UInt32) {
        guard let match = DType.allCases.first(where: { $0.ggmlTypeID == ggmlTypeID }) else { return nil }
        self = match
    }

    public var isQuantized: Bool { blockSize > 1 }

    /// True for types `Quant.quantize` can produce (the K-quants are dequantize-only here).
    public var canQuantize: Bool {
        switch self {
        case .f32, .f16, .q8_0, .q4_0, .q4_1, .q5_0, .q5_1: return true
        default: return false
        }
    }

    /// Bytes taken by a row of `count` values; `count` must be a multiple of `blockSize`.
    public func rowBytes(_ count: Int) -> Int {
        precondition(count % blockSize == 0, "\(count) values is not a whole number of \(self) blocks")
        return count / blockSize * blockBytes
    }
}
