import EdgeHAL

/// Type tags of GGUF metadata values, as stored in the file (a little-endian `UInt32`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    /// Encoded size of a scalar, or `nil` for `string` and `array`.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// Fewest bytes one value of this type can take: a string is at least its `UInt64` length,
    /// an array at least its element type tag and `UInt64` count.
    public var minimumEncodedSize: Int {
        switch self {
        case .string: return 8
        case .array: return 12
        default: return fixedSize!
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }
}

/// One GGUF metadata value.
///
/// An array carries its element type; every element must be of that type (nested arrays may
/// each have their own element type). `[GGUFValue]` already boxes its elements, so the enum is
/// not `indirect`: scalar elements of large arrays (vocabularies) stay unboxed.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), array(GGUFValueType, [GGUFValue])
    case uint64(UInt64), int64(Int64), float64(Double)

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// Any integer value that fits in `Int` (a `uint64` above `Int.max` gives `nil`).
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// A `float32` or `float64` value, or an integer value converted to `Double`.
    public var float: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        case .uint64(let v): return Double(v)
        default: return int.map(Double.init)
        }
    }

    public var bool: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var string: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// Elements of an array (of any element type).
    public var array: [GGUFValue]? {
        if case .array(_, let v) = self { return v }
        return nil
    }

    /// An array of strings.
    public var stringArray: [String]? {
        guard case .array(.string, let items) = self else { return nil }
        let strings = items.compactMap(\.string)
        return strings.count == items.count ? strings : nil
    }

    /// An array of numbers (floats, or integers converted), as `Float`.
    public var floatArray: [Float]? {
        guard case .array(let t, let items) = self, t != .string, t != .array, t != .bool else { return nil }
        var out: [Float] = []
        out.reserveCapacity(items.count)
        for item in items {
            switch item {
            case .float32(let v): out.append(v)
            default:
                guard let d = item.float else { return nil }
                out.append(Float(d))
            }
        }
        return out
    }

    /// An array of integers, each fitting in `Int`.
    public var intArray: [Int]? {
        guard case .array(let t, let items) = self, t != .string, t != .array else { return nil }
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let v = item.int else { return nil }
            out.append(v)
        }
        return out
    }

    /// Nesting depth of arrays: 0 for a scalar or string, 1 for an array of scalars, ...
    public var arrayDepth: Int {
        guard case .array(_, let items) = self else { return 0 }
        return 1 + items.reduce(0) { max($0, $1.arrayDepth) }
    }

    /// True when every element of every (nested) array has its array's declared element type.
    public var isWellTyped: Bool {
        guard case .array(let t, let items) = self else { return true }
        return items.allSatisfy { $0.type == t && $0.isWellTyped }
    }
}

extension GGUFValue {
    /// Deepest array nesting the reader accepts (the writer refuses deeper values).
    public static let maxArrayDepth = 8
}

/// A malformed, unsupported or unreadable GGUF file. The message names what is wrong and where.
public struct GGUFError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A tensor described in a GGUF file's tensor-info section.
public struct GGUFTensorInfo: Sendable {
    public var name: String
    public var type: DType
    /// ggml order: GGUF stores dims innermost first, exactly like ggml's `ne`.
    public var shape: Shape
    /// Byte offset from the start of the data section.
    public var offset: Int
    public var byteCount: Int
    public var desc: TensorDesc

    public init(name: String, type: DType, shape: Shape, offset: Int, byteCount: Int) {
        self.name = name
        self.type = type
        self.shape = shape
        self.offset = offset
        self.byteCount = byteCount
        self.desc = TensorDesc(type, shape)
    }
}

/// ggml's names for its type ids, to say which unsupported type a file uses.
func ggmlTypeName(_ id: UInt32) -> String {
    let names: [UInt32: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_2 (removed)", 5: "Q4_3 (removed)", 6: "Q5_0",
        7: "Q5_1", 8: "Q8_0", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K",
        15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
        22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M",
        30: "BF16", 31: "Q4_0_4_4 (removed)", 32: "Q4_0_4_8 (removed)", 33: "Q4_0_8_8 (removed)",
        34: "TQ1_0", 35: "TQ2_0", 36: "IQ4_NL_4_4 (removed)", 37: "IQ4_NL_4_8 (removed)",
        38: "IQ4_NL_8_8 (removed)", 39: "MXFP4",
    ]
    return names[id] ?? "unknown"
}
