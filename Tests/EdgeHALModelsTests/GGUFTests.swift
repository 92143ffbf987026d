import Foundation
import Testing
import EdgeHAL
@testable import EdgeHALModels

/// Hand-assembles GGUF bytes, so tests can write what GGUFWriter never would.
struct RawGGUF {
    var bytes: [UInt8] = []

    init(version: UInt32 = 3, tensorCount: UInt64, kvCount: UInt64) {
        bytes = Array("GGUF".utf8)
        u32(version)
        u64(tensorCount)
        u64(kvCount)
    }

    mutating func u32(_ v: UInt32) { GGUFWriter.append(v, to: &bytes) }
    mutating func u64(_ v: UInt64) { GGUFWriter.append(v, to: &bytes) }
    mutating func string(_ s: String) { GGUFWriter.append(string: s, to: &bytes) }
    mutating func rawString(_ b: [UInt8]) { u64(UInt64(b.count)); bytes += b }

    mutating func kv(_ key: String, _ v: GGUFValue) {
        string(key)
        u32(v.type.rawValue)
        GGUFWriter.append(value: v, to: &bytes)
    }

    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    /// Pads to `align` and appends `count` data bytes.
    mutating func data(_ count: Int, align: Int = 32) {
        bytes += [UInt8](repeating: 0, count: GGUFWriter.padded(bytes.count, align) - bytes.count)
        bytes += (0..<count).map { UInt8(truncatingIfNeeded: $0) }
    }
}

/// The error `GGUFFile(bytes:)` throws, or nil when it parses.
func parseError(_ bytes: [UInt8]) -> String? {
    do {
        _ = try GGUFFile(bytes: bytes)
        return nil
    } catch let e as GGUFError {
        return e.description
    } catch {
        return "unexpected error type: \(error)"
    }
}

func pattern(_ count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) }
}

@Suite struct GGUFRoundTripTests {
    static let allValues: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")),
        ("u8", .uint8(255)), ("i8", .int8(-128)), ("u16", .uint16(65535)), ("i16", .int16(-32768)),
        ("u32", .uint32(4_000_000_000)), ("i32", .int32(-7)), ("f32", .float32(-1.5e-5)), ("b.true", .bool(true)),
        ("b.false", .bool(false)), ("u64", .uint64(.max)), ("i64", .int64(.min)), ("f64", .float64(3.141592653589793)),
        ("empty.string", .string("")), ("unicode", .string("héllo wörld ✓ 🦙 \u{0}end")),
        ("strings", .array(.string, [.string("<|endoftext|>"), .string("Ġ t"), .string(""), .string("日本")])),
        ("floats", .array(.float32, [.float32(0.5), .float32(-2), .float32(.infinity)])),
        ("ints", .array(.int32, [.int32(1), .int32(-2), .int32(.max)])),
        ("u8s", .array(.uint8, (0..<10).map { .uint8($0) })),
        ("bools", .array(.bool, [.bool(true), .bool(false)])),
        ("u64s", .array(.uint64, [.uint64(0), .uint64(.max)])),
        ("f64s", .array(.float64, [.float64(1e300)])),
        ("empty.array", .array(.int64, [])),
        ("nested", .array(.array, [.array(.uint16, [.uint16(1), .uint16(2)]), .array(.string, [.string("x")]),
                                   .array(.array, [.array(.int8, [.int8(-1)])]), .array(.float32, [])])),
    ]

    @Test func everyValueTypeRoundTrips() throws {
        var w = GGUFWriter()
        for (k, v) in Self.allValues { w.set(k, v) }
        let f = try GGUFFile(bytes: w.serialize())
        #expect(f.version == 3)
        #expect(f.metadataKeys == Self.allValues.map(\.0))
        for (k, v) in Self.allValues { #expect(f.metadata[k] == v, "\(k)") }
        #expect(f.tensors.isEmpty)
        #expect(f.alignment == 32)
        #expect(f.dataOffset % 32 == 0)

        #expect(f.string("general.architecture") == "llama")
        #expect(f.int("u8") == 255)
        #expect(f.int("i64") == Int(Int64.min))
        #expect(f.int("u64") == nil)  // does not fit in Int
        #expect(f.int("f32") == nil)
        #expect(f.float("f64") == 3.141592653589793)
        #expect(f.float("f32") == Double(Float(-1.5e-5)))
        #expect(f.float("u32") == 4_000_000_000)
        #expect(f.bool("b.true") == true)
        #expect(f.bool("u8") == nil)
        #expect(f.string("missing") == nil)
        #expect(f.metadata["strings"]?.stringArray == ["<|endoftext|>", "Ġ t", "", "日本"])
        #expect(f.metadata["floats"]?.floatArray == [0.5, -2, .infinity])
        #expect(f.metadata["ints"]?.intArray == [1, -2, Int(Int32.max)])
        #expect(f.metadata["ints"]?.floatArray == [1, -2, Float(Int32.max)])
        #expect(f.metadata["u64s"]?.intArray == nil)
        #expect(f.metadata["strings"]?.intArray == nil)
        #expect(f.metadata["empty.array"]?.intArray == [])
        #expect(f.metadata["nested"]?.arrayDepth == 3)
        #expect(f.metadata["nested"]?.isWellTyped == true)
        #expect(GGUFValue.array(.string, [.string("a"), .int32(1)]).stringArray == nil)
        #expect(GGUFValue.array(.string, [.string("a"), .int32(1)]).isWellTyped == false)
        #expect(GGUFValue.uint64(.max).float == Double(UInt64.max))
    }

    @Test func tensorsOfSeveralTypesRoundTrip() throws {
        let specs: [(String, DType, Shape)] = [
            ("token_embd.weight", .q8_0, Shape(64, 3)),
            ("norm", .f32, Shape(7)),
            ("half", .f16, Shape(5, 3)),
            ("q4_0.w", .q4_0, Shape(32, 2, 2)),
            ("q4_1.w", .q4_1, Shape(64, 1, 1, 2)),
            ("q5_0.w", .q5_0, Shape(32)),
            ("q5_1.w", .q5_1, Shape(32, 3)),
            ("q2k", .q2_K, Shape(256)),
            ("q3k", .q3_K, Shape(256, 2)),
            ("q4k", .q4_K, Shape(512)),
            ("q5k", .q5_K, Shape(256)),
            ("q6k", .q6_K, Shape(256, 1, 2)),
            ("ids", .i32, Shape(3, 1, 1, 4)),
        ]
        var w = GGUFWriter()
        w.set("general.architecture", .string("test"))
        var payloads: [String: [UInt8]] = [:]
        for (i, (name, type, shape)) in specs.enumerated() {
            let bytes = pattern(TensorDesc(type, shape).byteCount, seed: i)
            payloads[name] = bytes
            try w.addTensor(name: name, type: type, shape: shape, bytes: bytes)
        }
        let file = try w.serialize()
        #expect(file.count % 32 == 0)
        let f = try GGUFFile(bytes: file)
        #expect(f.tensors.map(\.name) == specs.map(\.0))
        for (name, type, shape) in specs {
            let t = try #require(f.tensor(named: name))
            #expect(t.type == type)
            #expect(t.shape == shape)
            #expect(t.desc == TensorDesc(type, shape))
            #expect(t.byteCount == TensorDesc(type, shape).byteCount)
            #expect(t.offset % 32 == 0)
            #expect(Array(f.data(for: t).bytes) == payloads[name])
        }
        #expect(f.tensor(named: "nope") == nil)
    }

    @Test(arguments: [1, 8, 64, 256, 4096])
    func customAlignmentIsHonoured(alignment: UInt32) throws {
        var w = GGUFWriter()
        w.set("general.alignment", .uint32(alignment))
        try w.addTensor(name: "a", type: .f32, shape: Shape(3), bytes: pattern(12, seed: 1))
        try w.addTensor(name: "b", type: .q4_0, shape: Shape(32), bytes: pattern(18, seed: 2))
        try w.addTensor(name: "c", type: .f16, shape: Shape(1), bytes: pattern(2, seed: 3))
        #expect(w.alignment == Int(alignment))
        let f = try GGUFFile(bytes: w.serialize())
        #expect(f.alignment == Int(alignment))
        #expect(f.dataOffset % Int(alignment) == 0)
        for (t, seed) in zip(f.tensors, 1...) {
            #expect(t.offset % Int(alignment) == 0)
            #expect((f.dataOffset + t.offset) % Int(alignment) == 0)
            #expect(Array(f.data(for: t).bytes) == pattern(t.byteCount, seed: seed))
        }
        // With alignment 1 the tensors are packed back to back.
        if alignment == 1 { #expect(f.tensors.map(\.offset) == [0, 12, 30]) }
    }

    @Test func tensorDataIsAlignedInMemory() throws {
        var w = GGUFWriter()
        try w.addTensor(name: "a", type: .f32, shape: Shape(5), bytes: pattern(20, seed: 0))
        try w.addTensor(name: "b", type: .f32, shape: Shape(5), bytes: pattern(20, seed: 1))
        let f = try GGUFFile(bytes: w.serialize())
        for t in f.tensors {
            #expect(Int(bitPattern: f.data(for: t).bytes.baseAddress) % 32 == 0)
        }
    }

    @Test func setReplacesInPlace() throws {
        var w = GGUFWriter()
        w.set("a", .uint32(1))
        w.set("b", .string("x"))
        w.set("a", .string("replaced"))
        #expect(w.metadataKeys == ["a", "b"])
        let f = try GGUFFile(bytes: w.serialize())
        #expect(f.metadataKeys == ["a", "b"])
        #expect(f.string("a") == "replaced")
    }

    @Test func addTensorValidates() throws {
        var w = GGUFWriter()
        #expect(throws: GGUFError.self) { try w.addTensor(name: "a", type: .f32, shape: Shape(4), bytes: [0, 1]) }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "a", type: .q8_0, shape: Shape(16), bytes: []) }
        #expect(throws: GGUFError.self) { try w.addTensor(name: "a", type: .f32, shape: Shape(0), bytes: []) }
        #expect(throws: GGUFError.self) {
            try w.addTensor(name: "a", type: .f32, shape: Shape(1 << 40, 1 << 40), bytes: [])
        }
        try w.addTensor(name: "a", type: .f32, shape: Shape(1), bytes: [0, 0, 0, 0])
        let dup = #expect(throws: GGUFError.self) { try w.addTensor(name: "a", type: .f32, shape: Shape(1), bytes: [0, 0, 0, 0]) }
        #expect(dup?.description.contains("duplicate") == true)
    }

    @Test func sameBytesAsGGUFPyLayout() throws {
        // Layout checked by hand against gguf-py 0.19: magic, v3, counts, kv, tensor info, padding, data.
        var w = GGUFWriter()
        w.set("k", .uint8(7))
        try w.addTensor(name: "t", type: .f32, shape: Shape(1, 2), bytes: [1, 2, 3, 4, 5, 6, 7, 8])
        var expected = RawGGUF(tensorCount: 1, kvCount: 1)
        expected.kv("k", .uint8(7))
        expected.tensorInfo("t", dims: [1, 2], type: 0, offset: 0)
        expected.data(0)
        expected.bytes += [1, 2, 3, 4, 5, 6, 7, 8] + [UInt8](repeating: 0, count: 24)
        #expect(try w.serialize() == expected.bytes)
    }
}

@Suite struct GGUFFileIOTests {
    func scratchPath(_ name: String) -> String {
        NSTemporaryDirectory() + "gguf-test-\(getpid())-\(name).gguf"
    }

    @Test func writeThenOpenMapsTheFile() throws {
        let path = scratchPath("io")
        defer { unlink(path) }
        var w = GGUFWriter()
        w.set("general.name", .string("mapped"))
        try w.addTensor(name: "w", type: .q4_1, shape: Shape(32, 4), bytes: pattern(80, seed: 5))
        try w.write(to: path)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
        var data: HostData?
        do {
            let f = try GGUFFile.open(path: path)
            #expect(f.string("general.name") == "mapped")
            #expect(try f.fileSize == w.serialize().count)
            data = f.data(for: try #require(f.tensor(named: "w")))
        }
        // The view outlives the GGUFFile object and keeps the mapping alive.
        #expect(Array(try #require(data).bytes) == pattern(80, seed: 5))
    }

    @Test func writeReplacesAtomically() throws {
        let path = scratchPath("replace")
        defer { unlink(path) }
        var w = GGUFWriter()
        w.set("v", .uint32(1))
        try w.write(to: path)
        w.set("v", .uint32(2))
        try w.write(to: path)
        #expect(try GGUFFile.open(path: path).int("v") == 2)
    }

    @Test func writeFailureLeavesNothing() throws {
        let path = NSTemporaryDirectory() + "no-such-dir-\(getpid())/x.gguf"
        let e = #expect(throws: GGUFError.self) { try GGUFWriter().write(to: path) }
        #expect(e?.description.contains("x.gguf.tmp") == true)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func openErrorsAreClear() throws {
        let missing = scratchPath("missing")
        let e1 = #expect(throws: GGUFError.self) { try GGUFFile.open(path: missing) }
        #expect(e1?.description.contains(missing) == true)
        #expect(e1?.description.contains("No such file") == true)

        let e2 = #expect(throws: GGUFError.self) { try GGUFFile.open(path: NSTemporaryDirectory()) }
        #expect(e2?.description.contains("not a regular file") == true)

        let empty = scratchPath("empty")
        defer { unlink(empty) }
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        let e3 = #expect(throws: GGUFError.self) { try GGUFFile.open(path: empty) }
        #expect(e3?.description.contains("empty") == true)

        let junk = scratchPath("junk")
        defer { unlink(junk) }
        _ = FileManager.default.createFile(atPath: junk, contents: Data("not a model at all".utf8))
        let e4 = #expect(throws: GGUFError.self) { try GGUFFile.open(path: junk) }
        #expect(e4?.description.contains(junk) == true)
        #expect(e4?.description.contains("magic") == true)
    }
}

@Suite struct GGUFValidationTests {
    /// A file with one f32[8] tensor "t"; `edit` may change the pieces.
    func file(version: UInt32 = 3, kvs: [(String, GGUFValue)] = [], dims: [UInt64] = [8], type: UInt32 = 0,
              offset: UInt64 = 0, name: String = "t", dataBytes: Int = 32) -> [UInt8] {
        var r = RawGGUF(version: version, tensorCount: 1, kvCount: UInt64(kvs.count))
        for (k, v) in kvs { r.kv(k, v) }
        r.tensorInfo(name, dims: dims, type: type, offset: offset)
        r.data(dataBytes)
        return r.bytes
    }

    func expectError(_ bytes: [UInt8], _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = parseError(bytes) else {
            Issue.record("parsed, expected an error mentioning \(fragments)", sourceLocation: sourceLocation)
            return
        }
        for f in fragments where !e.contains(f) {
            Issue.record("error \"\(e)\" does not mention \"\(f)\"", sourceLocation: sourceLocation)
        }
    }

    @Test func baselineParses() throws {
        let f = try GGUFFile(bytes: file())
        #expect(f.tensors.count == 1)
        #expect(try GGUFFile(bytes: file(version: 2)).version == 2)
    }

    @Test func headerErrors() {
        expectError([], "too short")
        expectError(Array("GGUF".utf8), "version")
        expectError(Array("GGML".utf8) + file().dropFirst(4), "magic")
        expectError(file(version: 1), "version 1 is not supported")
        expectError(file(version: 0x0300_0000), "big-endian")
        expectError(file(version: 4), "unsupported GGUF version 4")
        var huge = RawGGUF(tensorCount: 0x7FFF_FFFF_FFFF_FFFF, kvCount: 0)
        expectError(huge.bytes, "tensor count 9223372036854775807")
        huge = RawGGUF(tensorCount: 0, kvCount: .max)
        expectError(huge.bytes, "key/value count 18446744073709551615", "byte offset 16")
    }

    @Test func metadataErrors() {
        expectError(file(kvs: [("a", .uint8(1)), ("a", .uint8(2))]), "duplicate metadata key", "\"a\"")
        expectError(file(kvs: [("general.alignment", .uint32(48))]), "not a power of two")
        expectError(file(kvs: [("general.alignment", .uint32(0))]), "not a power of two")
        expectError(file(kvs: [("general.alignment", .uint64(32))]), "must be a uint32")

        var r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("k"); r.u32(13); r.u64(0)
        expectError(r.bytes, "unknown value type 13", "\"k\"", "byte offset 33")

        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("k"); r.u32(GGUFValueType.bool.rawValue); r.bytes.append(2)
        expectError(r.bytes, "bool value is 2")

        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("k"); r.u32(GGUFValueType.string.rawValue); r.rawString([0x68, 0xC3, 0x28])
        expectError(r.bytes, "not valid UTF-8", "\"k\"")

        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.rawString([0xFF, 0xFE]); r.u32(0); r.bytes.append(0)
        expectError(r.bytes, "key", "not valid UTF-8", "metadata entry #0")

        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("arr"); r.u32(GGUFValueType.array.rawValue); r.u32(GGUFValueType.uint32.rawValue); r.u64(1 << 40)
        r.bytes += [UInt8](repeating: 0, count: 64)
        expectError(r.bytes, "array length 1099511627776", "\"arr\"")

        // Strings take at least 8 bytes each: 10 strings cannot fit in 79 bytes.
        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("s"); r.u32(GGUFValueType.array.rawValue); r.u32(GGUFValueType.string.rawValue); r.u64(10)
        r.bytes += [UInt8](repeating: 0, count: 79)
        expectError(r.bytes, "array length 10")

        r = RawGGUF(tensorCount: 0, kvCount: 1)
        r.string("s"); r.u32(GGUFValueType.string.rawValue); r.u64(.max)
        expectError(r.bytes, "string length 18446744073709551615")
    }

    @Test func nestingIsLimited() {
        func nested(_ depth: Int) -> [UInt8] {
            var r = RawGGUF(tensorCount: 0, kvCount: 1)
            r.string("deep"); r.u32(GGUFValueType.array.rawValue)
            for _ in 1..<depth { r.u32(GGUFValueType.array.rawValue); r.u64(1) }
            r.u32(GGUFValueType.uint8.rawValue); r.u64(1); r.bytes.append(42)
            return r.bytes
        }
        #expect(parseError(nested(GGUFValue.maxArrayDepth)) == nil)
        expectError(nested(GGUFValue.maxArrayDepth + 1), "nested more than")
        // Deep nesting far beyond the limit fails fast instead of recursing.
        expectError(nested(100_000), "nested more than")
    }

    @Test func tensorInfoErrors() {
        expectError(file(dims: []), "0 dimensions")
        expectError(file(dims: [1, 1, 1, 1, 8]), "5 dimensions")
        expectError(file(dims: [8, 0]), "dimension 1 is 0")
        expectError(file(dims: [1 << 63]), "dimension 0 is 9223372036854775808")
        expectError(file(dims: [1 << 32, 1 << 32]), "overflows")
        expectError(file(dims: [1 << 62], type: 0), "overflows")
        expectError(file(type: 16), "unsupported ggml type id 16", "IQ2_XXS", "\"t\"")
        expectError(file(type: 30), "type id 30 (BF16)")
        expectError(file(type: 999), "type id 999")
        expectError(file(type: DType.q8_0.ggmlTypeID), "ne0 8 is not a multiple", "block size 32")
        expectError(file(offset: 4), "not a multiple of the alignment 32")
        expectError(file(offset: UInt64.max), "data offset 18446744073709551615")
        expectError(file(dataBytes: 31), "extends past the end of the file")
        expectError(file(dims: [8, 1 << 40]), "extends past the end of the file", "\"t\"")
        expectError(file(offset: 0x7FFF_FFFF_FFFF_FFE0), "extends past the end of the file")
        #expect(parseError(file(name: "блок.0 🦙 \u{0}")) == nil)  // names may be any UTF-8
    }

    @Test func duplicateAndOverlappingTensors() {
        var r = RawGGUF(tensorCount: 2, kvCount: 0)
        r.tensorInfo("t", dims: [8], type: 0, offset: 0)
        r.tensorInfo("t", dims: [8], type: 0, offset: 32)
        r.data(64)
        expectError(r.bytes, "duplicate tensor name", "\"t\"")

        r = RawGGUF(tensorCount: 2, kvCount: 0)
        r.tensorInfo("a", dims: [16], type: 0, offset: 0)
        r.tensorInfo("b", dims: [8], type: 0, offset: 32)
        r.data(96)
        expectError(r.bytes, "overlaps tensor \"a\"", "\"b\"")

        // Same offset, listed in the other order.
        r = RawGGUF(tensorCount: 2, kvCount: 0)
        r.tensorInfo("a", dims: [8], type: 0, offset: 32)
        r.tensorInfo("b", dims: [8], type: 0, offset: 32)
        r.data(96)
        expectError(r.bytes, "overlaps")

        // Out of order but disjoint is fine.
        r = RawGGUF(tensorCount: 2, kvCount: 0)
        r.tensorInfo("a", dims: [8], type: 0, offset: 32)
        r.tensorInfo("b", dims: [8], type: 0, offset: 0)
        r.data(64)
        #expect(parseError(r.bytes) == nil)
    }

    @Test func errorsNameTheKeyAndOffset() throws {
        var r = RawGGUF(tensorCount: 0, kvCount: 2)
        r.kv("first", .uint32(1))
        r.string("tokenizer.ggml.tokens"); r.u32(GGUFValueType.array.rawValue)
        r.u32(GGUFValueType.string.rawValue); r.u64(2)
        r.string("ok")
        r.u64(100)  // string length past the end
        let e = try #require(parseError(r.bytes))
        #expect(e.contains("\"tokenizer.ggml.tokens\""))
        #expect(e.contains("byte offset \(r.bytes.count - 8)"))
    }
}
