#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EdgeHAL

/// Builds a GGUF version 3 (little-endian) file: metadata in insertion order, then tensor infos,
/// then the data section, each tensor's bytes starting at a multiple of the alignment
/// (`general.alignment` when set, else 32) and padded with zeros to the next one.
public struct GGUFWriter: Sendable {
    /// Writes rows `range` of a tensor into a buffer of exactly their bytes.
    public typealias RowSource = @Sendable (_ rows: Range<Int>, _ into: UnsafeMutableRawBufferPointer) throws -> Void

    private struct PendingTensor: Sendable {
        var name: String
        var type: DType
        var shape: Shape
        var data: Data
        enum Data: Sendable {
            case bytes([UInt8])
            /// Produced row by row while the file is written, so a file larger than memory can be.
            case rows(RowSource)
        }
        var byteCount: Int { TensorDesc(type, shape).byteCount }
    }

    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var pending: [PendingTensor] = []
    private var tensorNames: Set<String> = []

    public init() {}

    /// The alignment the file will use.
    public var alignment: Int {
        if case .uint32(let a)? = values["general.alignment"] { return Int(a) }
        return GGUFFile.defaultAlignment
    }

    /// Metadata keys in the order they will be written.
    public var metadataKeys: [String] { keys }

    /// Sets `key`, keeping its original position when it is already present.
    ///
    /// Preconditions (programming errors, as the reader would refuse the file): array elements all
    /// have their array's element type, arrays nest at most ``GGUFValue/maxArrayDepth`` deep,
    /// and `general.alignment` is a power-of-two `uint32`.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        precondition(value.isWellTyped, "GGUF key \(key): array elements must all be of the array's element type")
        precondition(value.arrayDepth <= GGUFValue.maxArrayDepth,
                     "GGUF key \(key): arrays nest more than \(GGUFValue.maxArrayDepth) deep")
        if key == "general.alignment" {
            guard case .uint32(let a) = value, a != 0, a & (a - 1) == 0 else {
                preconditionFailure("general.alignment must be a power-of-two uint32, got \(value)")
            }
        }
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Adds a tensor; `bytes` must hold exactly the bytes of `type` × `shape` (ggml order).
    public mutating func addTensor(name: String, type: DType, shape: Shape, bytes: [UInt8]) throws {
        let expected = try Self.checkedByteCount(name: name, type: type, shape: shape)
        guard bytes.count == expected else {
            throw GGUFError("tensor \(String(reflecting: name)): \(type.rawValue)[\(shape)] needs \(expected) bytes, got \(bytes.count)")
        }
        try add(PendingTensor(name: name, type: type, shape: shape, data: .bytes(bytes)))
    }

    /// Adds a tensor whose rows `source` produces while ``write(to:)`` writes the file (in runs of
    /// rows, in order, each run once): the tensor is never held in memory whole.
    public mutating func addTensor(name: String, type: DType, shape: Shape, rows source: @escaping RowSource) throws {
        _ = try Self.checkedByteCount(name: name, type: type, shape: shape)
        try add(PendingTensor(name: name, type: type, shape: shape, data: .rows(source)))
    }

    private mutating func add(_ t: PendingTensor) throws {
        guard !tensorNames.contains(t.name) else { throw GGUFError("duplicate tensor name \(String(reflecting: t.name))") }
        tensorNames.insert(t.name)
        pending.append(t)
    }

    private static func checkedByteCount(name: String, type: DType, shape: Shape) throws -> Int {
        var elements = 1
        for d in shape.dims {
            guard d >= 1 else { throw GGUFError("tensor \(String(reflecting: name)): dimension \(d) in [\(shape.dims)] is not positive") }
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw GGUFError("tensor \(String(reflecting: name)): element count of \(shape.dims) overflows") }
            elements = p
        }
        guard shape[0] % type.blockSize == 0 else {
            throw GGUFError("tensor \(String(reflecting: name)): ne0 \(shape[0]) is not a multiple of the \(type.rawValue) block size \(type.blockSize)")
        }
        let (rowBytes, o1) = (shape[0] / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
        let (expected, o2) = rowBytes.multipliedReportingOverflow(by: shape.rows)
        guard !o1, !o2 else { throw GGUFError("tensor \(String(reflecting: name)): byte size of \(type.rawValue)[\(shape)] overflows") }
        return expected
    }

    /// The whole file (tensors given as row sources are produced here, in memory).
    public func serialize() throws -> [UInt8] {
        var out = header()
        try writeData { out.append(contentsOf: $0) }
        return out
    }

    /// Everything before the data section: magic, metadata, tensor infos, padding.
    private func header() -> [UInt8] {
        let align = alignment
        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        Self.append(UInt32(3), to: &out)
        Self.append(UInt64(pending.count), to: &out)
        Self.append(UInt64(keys.count), to: &out)
        for key in keys {
            let value = values[key]!
            Self.append(string: key, to: &out)
            Self.append(value.type.rawValue, to: &out)
            Self.append(value: value, to: &out)
        }
        var offset = 0
        for t in pending {
            Self.append(string: t.name, to: &out)
            // ggml_n_dims: trailing 1s are not written (a shape has at least one dimension).
            var dims = t.shape.dims
            while dims.count > 1 && dims.last == 1 { dims.removeLast() }
            Self.append(UInt32(dims.count), to: &out)
            for d in dims { Self.append(UInt64(d), to: &out) }
            Self.append(t.type.ggmlTypeID, to: &out)
            Self.append(UInt64(offset), to: &out)
            offset += Self.padded(t.byteCount, align)
        }
        out.append(contentsOf: repeatElement(0, count: Self.padded(out.count, align) - out.count))
        return out
    }

    /// The data section in pieces of at most about `chunkBytes` (row sources run a few rows at a time).
    private func writeData(chunkBytes: Int = 8 << 20, _ emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        let align = alignment
        var buffer = [UInt8]()
        for t in pending {
            switch t.data {
            case .bytes(let bytes): try bytes.withUnsafeBytes(emit)
            case .rows(let source):
                let rowBytes = t.byteCount / t.shape.rows, step = max(1, chunkBytes / max(1, rowBytes))
                for start in stride(from: 0, to: t.shape.rows, by: step) {
                    let range = start..<min(start + step, t.shape.rows)
                    if buffer.count != range.count * rowBytes { buffer = [UInt8](repeating: 0, count: range.count * rowBytes) }
                    try buffer.withUnsafeMutableBytes { try source(range, $0) }
                    try buffer.withUnsafeBytes(emit)
                }
            }
            let pad = [UInt8](repeating: 0, count: Self.padded(t.byteCount, align) - t.byteCount)
            try pad.withUnsafeBytes(emit)
        }
    }

    /// Writes the file to `path + ".tmp"`, then renames it over `path`; on failure (a row source's
    /// error included) `path` is untouched and the temporary file removed. Streams: memory stays
    /// at one chunk however large the file.
    public func write(to path: String) throws {
        try AtomicFile.write(path) { put in
            try header().withUnsafeBytes(put)
            try writeData(put)
        }
    }

    // MARK: Encoding

    static func padded(_ n: Int, _ align: Int) -> Int { (n + align - 1) / align * align }

    static func append<T: FixedWidthInteger>(_ v: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func append(string s: String, to out: inout [UInt8]) {
        append(UInt64(s.utf8.count), to: &out)
        out.append(contentsOf: s.utf8)
    }

    /// The value's payload (without its type tag; an array's payload starts with its element type).
    static func append(value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): out.append(v)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): append(string: s, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .array(let t, let items):
            append(t.rawValue, to: &out)
            append(UInt64(items.count), to: &out)
            for item in items { append(value: item, to: &out) }
        }
    }
}
