#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EdgeHAL

/// A parsed GGUF (version 2 or 3, little-endian) file.
///
/// The file is untrusted: every count, length and offset is checked before use, and any
/// inconsistency throws a ``GGUFError`` naming the byte offset and the key or tensor involved.
/// Tensor data is not copied: ``data(for:)`` returns views into the mapping (or owned copy).
public final class GGUFFile: @unchecked Sendable {
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Offset of the data section (tensor offsets are relative to it).
    public let dataOffset: Int

    private let region: GGUFRegion
    private let tensorIndex: [String: Int]

    public static let defaultAlignment = 32

    /// Maps the file at `path` read-only.
    public static func open(path: String) throws -> GGUFFile {
        let region = try GGUFRegion(mapping: path)
        do {
            return try GGUFFile(region: region)
        } catch let e as GGUFError {
            throw GGUFError("\(path): \(e.description)")
        }
    }

    /// Parses a file that `fill` writes into `size` bytes of anonymous memory (a decrypted model: the
    /// plaintext never touches the disk). The memory is read-only once filled and excluded from core dumps.
    public static func open(anonymous size: Int, name: String, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> GGUFFile {
        let region = try GGUFRegion(anonymous: size, fill: fill)
        do {
            return try GGUFFile(region: region)
        } catch let e as GGUFError {
            throw GGUFError("\(name): \(e.description)")
        }
    }

    /// Parses a copy of `bytes`.
    public convenience init(bytes: [UInt8]) throws {
        try self.init(region: GGUFRegion(copying: bytes))
    }

    private init(region: GGUFRegion) throws {
        var p = GGUFParser(buf: region.bytes)
        let h = try p.parseFile()
        self.region = region
        version = h.version
        metadata = h.metadata
        metadataKeys = h.keys
        tensors = h.tensors
        alignment = h.alignment
        dataOffset = h.dataOffset
        var index: [String: Int] = [:]
        for (i, t) in h.tensors.enumerated() { index[t.name] = i }
        tensorIndex = index
    }

    /// Size of the whole file in bytes.
    public var fileSize: Int { region.bytes.count }

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The tensor's bytes, without copying; the returned object keeps the file mapped.
    public func data(for tensor: GGUFTensorInfo) -> HostData {
        let (start, overflow) = dataOffset.addingReportingOverflow(tensor.offset)
        precondition(!overflow && tensor.offset >= 0 && tensor.byteCount >= 0 && start <= region.bytes.count
                     && tensor.byteCount <= region.bytes.count - start,
                     "tensor \(tensor.name) does not lie inside this GGUF file")
        let region = self.region
        return HostData(wrapping: UnsafeRawBufferPointer(rebasing: region.bytes[start..<start + tensor.byteCount]),
                        release: { withExtendedLifetime(region) {} })
    }

    public func string(_ key: String) -> String? { metadata[key]?.string }
    public func int(_ key: String) -> Int? { metadata[key]?.int }
    public func float(_ key: String) -> Double? { metadata[key]?.float }
    public func bool(_ key: String) -> Bool? { metadata[key]?.bool }
}

/// The bytes of a whole file: a read-only private mapping, or an owned 64-byte-aligned copy.
final class GGUFRegion: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let mapped: Bool

    init(copying array: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(array.count, 1), alignment: 64)
        array.withUnsafeBytes { p.copyMemory(from: $0) }
        bytes = UnsafeRawBufferPointer(rebasing: p[0..<array.count])
        mapped = false
    }

    init(mapping path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)  // O_NONBLOCK: a FIFO must not hang the open
        guard fd >= 0 else { throw GGUFError("cannot open \(path): \(Self.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw GGUFError("cannot stat \(path): \(Self.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw GGUFError("\(path) is not a regular file") }
        guard st.st_size > 0 else { throw GGUFError("\(path) is empty, not a GGUF file") }
        guard let size = Int(exactly: st.st_size) else { throw GGUFError("\(path) is too large to map") }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw GGUFError("cannot map \(path) (\(size) bytes): \(Self.errnoText())")
        }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    init(anonymous size: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard size > 0 else { throw GGUFError("empty, not a GGUF file") }
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else { throw GGUFError("cannot allocate \(size) bytes: \(Self.errnoText())") }
        #if os(Linux)
        _ = madvise(p, size, MADV_DONTDUMP)
        #endif
        do {
            try fill(UnsafeMutableRawBufferPointer(start: p, count: size))
        } catch {
            munmap(p, size)
            throw error
        }
        mprotect(p, size, PROT_READ)
        bytes = UnsafeRawBufferPointer(start: p, count: size)
        mapped = true
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: base).deallocate()
        }
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// What ``GGUFParser`` finds in a file.
struct GGUFHeader {
    var version: UInt32
    var metadata: [String: GGUFValue] = [:]
    var keys: [String] = []
    var tensors: [GGUFTensorInfo] = []
    var alignment = GGUFFile.defaultAlignment
    var dataOffset = 0
}

/// A bounds-checked little-endian cursor over untrusted bytes.
struct GGUFParser {
    static let magic: [UInt8] = Array("GGUF".utf8)
    /// name length + n_dims + one dim + type + offset
    static let minTensorInfoSize = 8 + 4 + 8 + 4 + 8
    /// key length + value type + smallest value
    static let minKeyValueSize = 8 + 4 + 1

    let buf: UnsafeRawBufferPointer
    var pos = 0
    /// Appended to the location in messages: ", key \"x\"" or ", tensor \"y\"".
    var context = ""

    init(buf: UnsafeRawBufferPointer) { self.buf = buf }

    var remaining: Int { buf.count - pos }

    func fail(_ what: String, at offset: Int? = nil) -> GGUFError {
        GGUFError("byte offset \(offset ?? pos)\(context): \(what)")
    }

    static func quote(_ s: String) -> String {
        let shown = s.count > 80 ? String(s.prefix(80)) + "…" : s
        return String(reflecting: shown)
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let n = MemoryLayout<T>.size
        guard n <= remaining else {
            throw fail("file ends inside \(what) (needs \(n) bytes, \(remaining) left)")
        }
        let v = T(littleEndian: buf.loadUnaligned(fromByteOffset: pos, as: T.self))
        pos += n
        return v
    }

    /// A `UInt64` count of items each taking at least `minSize` bytes, checked against the bytes left.
    mutating func count(_ what: String, minSize: Int) throws -> Int {
        let start = pos
        let raw = try read(UInt64.self, what)
        let limit = remaining / max(minSize, 1)
        guard raw <= UInt64(limit) else {
            let unit = minSize > 1 ? " of at least \(minSize) bytes each" : " bytes"
            throw fail("\(what) \(raw)\(unit) exceeds the \(remaining) bytes left in the file", at: start)
        }
        return Int(raw)
    }

    mutating func string(_ what: String) throws -> String {
        let start = pos
        let n = try count("\(what) length", minSize: 1)
        let raw = UnsafeRawBufferPointer(rebasing: buf[pos..<pos + n])
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw fail("\(what) (\(n) bytes) is not valid UTF-8", at: start)
        }
        pos += n
        return s
    }

    mutating func valueType(_ what: String) throws -> GGUFValueType {
        let start = pos
        let raw = try read(UInt32.self, what)
        guard let t = GGUFValueType(rawValue: raw) else {
            throw fail("unknown \(what) \(raw) (known types are 0...12)", at: start)
        }
        return t
    }

    /// One value of type `type`; `depth` is the number of enclosing arrays.
    mutating func value(_ type: GGUFValueType, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, "uint8 value"))
        case .int8: return .int8(Int8(bitPattern: try read(UInt8.self, "int8 value")))
        case .uint16: return .uint16(try read(UInt16.self, "uint16 value"))
        case .int16: return .int16(try read(Int16.self, "int16 value"))
        case .uint32: return .uint32(try read(UInt32.self, "uint32 value"))
        case .int32: return .int32(try read(Int32.self, "int32 value"))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, "float32 value")))
        case .uint64: return .uint64(try read(UInt64.self, "uint64 value"))
        case .int64: return .int64(try read(Int64.self, "int64 value"))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, "float64 value")))
        case .bool:
            let start = pos
            let b = try read(UInt8.self, "bool value")
            guard b <= 1 else { throw fail("bool value is \(b), not 0 or 1", at: start) }
            return .bool(b == 1)
        case .string:
            return .string(try string("string"))
        case .array:
            guard depth < GGUFValue.maxArrayDepth else {
                throw fail("arrays nested more than \(GGUFValue.maxArrayDepth) deep")
            }
            let elementType = try valueType("array element type")
            let n = try count("array length", minSize: elementType.minimumEncodedSize)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(elementType, depth: depth + 1)) }
            return .array(elementType, items)
        }
    }

    mutating func parseFile() throws -> GGUFHeader {
        guard buf.count >= 4 else { throw fail("file is \(buf.count) bytes, too short for a GGUF header", at: 0) }
        guard buf.prefix(4).elementsEqual(Self.magic) else {
            let hex = buf.prefix(4).map { String($0, radix: 16) }.joined(separator: " ")
            throw fail("bad magic \(hex) (expected \"GGUF\"): not a GGUF file", at: 0)
        }
        pos = 4
        let version = try read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            if version == 1 { throw fail("GGUF version 1 is not supported (only versions 2 and 3)", at: 4) }
            if version & 0xFFFF == 0 {
                throw fail("version field 0x\(String(version, radix: 16)) looks byte-swapped: big-endian GGUF files are not supported", at: 4)
            }
            throw fail("unsupported GGUF version \(version) (only versions 2 and 3)", at: 4)
        }
        var h = GGUFHeader(version: version)
        let tensorCount = try count("tensor count", minSize: Self.minTensorInfoSize)
        let kvCount = try count("metadata key/value count", minSize: Self.minKeyValueSize)
        try parseMetadata(count: kvCount, into: &h)
        let infoOffsets = try parseTensorInfos(count: tensorCount, into: &h)
        context = ""
        // The data section starts at the next multiple of the alignment.
        let (padded, o1) = pos.addingReportingOverflow(h.alignment - 1)
        guard !o1 else { throw fail("data section offset overflows") }
        h.dataOffset = padded / h.alignment * h.alignment
        try checkTensorData(h, infoOffsets: infoOffsets)
        return h
    }

    mutating func parseMetadata(count: Int, into h: inout GGUFHeader) throws {
        h.keys.reserveCapacity(count)
        for i in 0..<count {
            context = ", metadata entry #\(i)"
            let keyStart = pos
            let key = try string("key")
            context = ", key \(Self.quote(key))"
            guard h.metadata[key] == nil else { throw fail("duplicate metadata key", at: keyStart) }
            let type = try valueType("value type")
            let valueStart = pos
            let v = try value(type, depth: 0)
            if key == "general.alignment" {
                guard case .uint32(let a) = v else {
                    throw fail("general.alignment must be a uint32, found \(type)", at: valueStart)
                }
                guard a != 0, a & (a - 1) == 0 else {
                    throw fail("general.alignment \(a) is not a power of two", at: valueStart)
                }
                h.alignment = Int(a)
            }
            h.metadata[key] = v
            h.keys.append(key)
        }
    }

    /// Parses the tensor infos; returns where each one starts, for later messages.
    mutating func parseTensorInfos(count: Int, into h: inout GGUFHeader) throws -> [Int] {
        var names = Set<String>()
        var infoOffsets: [Int] = []
        h.tensors.reserveCapacity(count)
        infoOffsets.reserveCapacity(count)
        for i in 0..<count {
            context = ", tensor info #\(i)"
            let start = pos
            let name = try string("tensor name")
            context = ", tensor \(Self.quote(name))"
            guard names.insert(name).inserted else { throw fail("duplicate tensor name", at: start) }
            let nDimsAt = pos
            let nDims = try read(UInt32.self, "dimension count")
            guard (1...4).contains(nDims) else {
                throw fail("tensor has \(nDims) dimensions (1 to 4 are supported)", at: nDimsAt)
            }
            var dims: [Int] = []
            var elements = 1
            for d in 0..<Int(nDims) {
                let dimAt = pos
                let raw = try read(UInt64.self, "dimension \(d)")
                guard raw >= 1, let dim = Int(exactly: raw) else {
                    throw fail("dimension \(d) is \(raw) (must be at least 1 and fit in Int)", at: dimAt)
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
                guard !overflow else { throw fail("element count of dims \(dims + [dim]) overflows", at: dimAt) }
                dims.append(dim)
                elements = product
            }
            let typeAt = pos
            let typeID = try read(UInt32.self, "ggml type")
            guard let type = DType(ggmlTypeID: typeID) else {
                throw fail("unsupported ggml type id \(typeID) (\(ggmlTypeName(typeID)))", at: typeAt)
            }
            guard dims[0] % type.blockSize == 0 else {
                throw fail("ne0 \(dims[0]) is not a multiple of the \(type.rawValue) block size \(type.blockSize)", at: nDimsAt)
            }
            let offsetAt = pos
            let rawOffset = try read(UInt64.self, "data offset")
            guard let offset = Int(exactly: rawOffset), offset % h.alignment == 0 else {
                throw fail("data offset \(rawOffset) is not a multiple of the alignment \(h.alignment)", at: offsetAt)
            }
            let (rowBytes, o1) = (dims[0] / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
            let (byteCount, o2) = rowBytes.multipliedReportingOverflow(by: elements / dims[0])
            guard !o1, !o2 else { throw fail("byte size of \(type.rawValue) \(dims) overflows", at: nDimsAt) }
            h.tensors.append(GGUFTensorInfo(name: name, type: type, shape: Shape(dims), offset: offset,
                                            byteCount: byteCount))
            infoOffsets.append(start)
        }
        return infoOffsets
    }

    /// Every tensor's bytes must lie inside the file, and no two may overlap.
    mutating func checkTensorData(_ h: GGUFHeader, infoOffsets: [Int]) throws {
        for (i, t) in h.tensors.enumerated() {
            context = ", tensor \(Self.quote(t.name))"
            let (start, o1) = h.dataOffset.addingReportingOverflow(t.offset)
            let (end, o2) = start.addingReportingOverflow(t.byteCount)
            guard !o1, !o2, end <= buf.count else {
                throw fail("data (\(t.byteCount) bytes at data offset \(t.offset), file offset \(o1 ? "overflow" : String(start))) "
                           + "extends past the end of the file (\(buf.count) bytes)", at: infoOffsets[i])
            }
        }
        let order = h.tensors.indices.sorted { h.tensors[$0].offset < h.tensors[$1].offset }
        for (a, b) in zip(order, order.dropFirst()) {
            let ta = h.tensors[a], tb = h.tensors[b]
            if ta.offset + ta.byteCount > tb.offset {
                context = ", tensor \(Self.quote(tb.name))"
                throw fail("data at data offset \(tb.offset) overlaps tensor \(Self.quote(ta.name)) "
                           + "(data offsets \(ta.offset)..<\(ta.offset + ta.byteCount))", at: infoOffsets[b])
            }
        }
        context = ""
    }
}
