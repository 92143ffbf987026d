import Foundation
import Testing
import EdgeHAL

/// `Quant` against gguf-py 0.19.0's vectors in Fixtures/quant (copied from shared/reference/quant;
/// see index.json): byte-exact quantization, dequantization within 1 ulp, plus round-trip sanity.
@Suite struct QuantTests {
    // MARK: - Fixtures

    /// One quantized fixture: `<caseName>.<fileType>` and its `<caseName>.<fileType>.dequant.f32`.
    struct Fixture: Sendable, CustomTestStringConvertible {
        var caseName: String
        var fileType: String  // as file names spell it: "q4_0", "q2_k"
        var type: DType
        var byteCount: Int

        var testDescription: String { "\(caseName).\(fileType)" }
        var bytesFile: String { "\(caseName).\(fileType)" }
        var dequantFile: String { "\(caseName).\(fileType).dequant.f32" }
        var inputFile: String { "\(caseName).f32" }
    }

    struct Index: Decodable {
        struct Entry: Decodable { var bytes: Int }
        var n: Int
        var cases: [String: [String: Entry]]
    }

    static let fixtureDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures/quant")

    static func loadIndex() throws -> Index {
        let data = try Data(contentsOf: fixtureDirectory.appendingPathComponent("index.json"))
        return try JSONDecoder().decode(Index.self, from: data)
    }

    /// Every (case, type) of index.json, sorted by name. Empty if the index cannot be read;
    /// `indexCoversEveryType` then fails.
    static let allFixtures: [Fixture] = {
        guard let index = try? loadIndex() else { return [] }
        var fixtures: [Fixture] = []
        for (caseName, types) in index.cases {
            for (fileType, entry) in types {
                guard let type = DType.allCases.first(where: { $0.rawValue.lowercased() == fileType }) else {
                    continue  // `indexCoversEveryType` reports unknown type names
                }
                fixtures.append(Fixture(caseName: caseName, fileType: fileType, type: type, byteCount: entry.bytes))
            }
        }
        return fixtures.sorted { ($0.caseName, $0.fileType) < ($1.caseName, $1.fileType) }
    }()

    /// Cases with a float input that gguf-py quantized (q8_0, q4_0, q4_1, q5_0, q5_1).
    static let quantizedCases = allFixtures.filter { $0.type.canQuantize }
    /// Random valid K-quant blocks (gguf-py only dequantizes K-quants).
    static let kQuantBlocks = allFixtures.filter { !$0.type.canQuantize }

    static func readBytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixtureDirectory.appendingPathComponent(name)))
    }

    static func readFloats(_ name: String) throws -> [Float] {
        let bytes = try readBytes(name)
        return bytes.withUnsafeBytes { raw in
            (0..<bytes.count / 4).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
            }
        }
    }

    // MARK: - Comparisons

    /// How many representable floats apart `a` and `b` are (+0 and -0 count as equal);
    /// nil if exactly one of them is NaN, 0 if both are.
    static func ulpDistance(_ a: Float, _ b: Float) -> Int64? {
        if a.isNaN || b.isNaN { return a.isNaN && b.isNaN ? 0 : nil }
        func ordered(_ x: Float) -> Int64 {
            let magnitude = Int64(x.bitPattern & 0x7FFF_FFFF)
            return x.sign == .minus ? -magnitude : magnitude
        }
        return abs(ordered(a) - ordered(b))
    }

    /// Records an issue naming the first value (and its block) more than 1 ulp from `want`.
    static func expectWithinOneUlp(_ got: [Float], _ want: [Float], blockSize: Int,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(got.count == want.count, "value count", sourceLocation: sourceLocation)
        let far = (0..<min(got.count, want.count)).filter { i in
            guard let distance = ulpDistance(got[i], want[i]) else { return true }
            return distance > 1
        }
        if let i = far.first {
            Issue.record("""
                \(far.count) of \(want.count) values are more than 1 ulp off; first: value \(i) \
                (block \(i / blockSize)): got \(got[i]), want \(want[i])
                """, sourceLocation: sourceLocation)
        }
    }

    static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    // MARK: - gguf-py vectors

    @Test func indexCoversEveryType() throws {
        let index = try Self.loadIndex()
        #expect(index.n % 256 == 0)
        let quantizable: Set = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1"]
        let kQuants: Set = ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k"]
        #expect(index.cases["random_blocks"].map { Set($0.keys) } == kQuants)
        let inputCases = index.cases.filter { $0.key != "random_blocks" }
        #expect(!inputCases.isEmpty)
        for (name, types) in inputCases {
            #expect(Set(types.keys) == quantizable, "\(name)")
        }
        #expect(Self.quantizedCases.count == inputCases.count * quantizable.count)
        #expect(Self.kQuantBlocks.count == kQuants.count)
    }

    @Test(arguments: QuantTests.quantizedCases)
    func quantizeMatchesGGUFPy(_ fixture: Fixture) throws {
        let input = try Self.readFloats(fixture.inputFile)
        let want = try Self.readBytes(fixture.bytesFile)
        #expect(want.count == fixture.byteCount)
        let got = Quant.quantize(fixture.type, input)
        #expect(got.count == want.count)
        guard got != want, got.count == want.count else { return }

        let blockBytes = fixture.type.blockBytes
        let differing = stride(from: 0, to: want.count, by: blockBytes).filter {
            got[$0..<$0 + blockBytes] != want[$0..<$0 + blockBytes]
        }
        let first = differing[0]
        Issue.record("""
            \(differing.count) of \(want.count / blockBytes) blocks differ; first differing block: \(first / blockBytes)
              got  \(Self.hex(got[first..<first + blockBytes]))
              want \(Self.hex(want[first..<first + blockBytes]))
            """)
    }

    @Test(arguments: QuantTests.quantizedCases)
    func dequantizeMatchesGGUFPy(_ fixture: Fixture) throws {
        let bytes = try Self.readBytes(fixture.bytesFile)
        let want = try Self.readFloats(fixture.dequantFile)
        Self.expectWithinOneUlp(Quant.dequantize(fixture.type, bytes), want, blockSize: fixture.type.blockSize)
    }

    @Test(arguments: QuantTests.kQuantBlocks)
    func dequantizeKQuantMatchesGGUFPy(_ fixture: Fixture) throws {
        let bytes = try Self.readBytes(fixture.bytesFile)
        #expect(bytes.count == fixture.byteCount)
        let want = try Self.readFloats(fixture.dequantFile)
        Self.expectWithinOneUlp(Quant.dequantize(fixture.type, bytes), want, blockSize: fixture.type.blockSize)
    }

    // MARK: - f32 / f16

    @Test func f32RoundTripIsBitExact() {
        let values: [Float] = [0, -0.0, 1, -1.5, .pi, .leastNonzeroMagnitude, -.leastNormalMagnitude,
                               .greatestFiniteMagnitude, .infinity, -.infinity,
                               Float(bitPattern: 0x7FC0_1234)]
        let bytes = Quant.quantize(.f32, values)
        #expect(bytes == values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } })
        #expect(Quant.dequantize(.f32, bytes).map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func f16RoundTripsEveryHalf() {
        let allBits = (0...UInt16.max).map { $0 }
        let bytes = allBits.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let floats = Quant.dequantize(.f16, bytes)
        let back = Quant.quantize(.f16, floats)
        for (i, bits) in allBits.enumerated() {
            let half = Float16(bitPattern: bits)
            if half.isNaN {
                #expect(floats[i].isNaN)
            } else {
                #expect(floats[i] == Float(half) && floats[i].sign == half.sign, "half \(bits)")
                #expect(back[2 * i] == bytes[2 * i] && back[2 * i + 1] == bytes[2 * i + 1], "half \(bits)")
            }
        }
    }

    @Test func f16RoundsToNearestEven() {
        func halfBits(_ x: Float) -> UInt16 {
            let b = Quant.quantize(.f16, [x])
            return UInt16(b[0]) | UInt16(b[1]) << 8
        }
        #expect(halfBits(1) == 0x3C00)
        #expect(halfBits(1 + 0x1p-11) == 0x3C00)      // tie, down to even
        #expect(halfBits(1 + 3 * 0x1p-11) == 0x3C02)  // tie, up to even
        #expect(halfBits(1 + 0x1p-11 + 0x1p-20) == 0x3C01)
        #expect(halfBits(65519) == 0x7BFF)
        #expect(halfBits(65520) == 0x7C00)            // rounds to infinity
        #expect(halfBits(0x1p-25) == 0x0000)          // tie with the smallest subnormal, to even (zero)
        #expect(halfBits(0x1.8p-25) == 0x0001)
        #expect(halfBits(-0.0) == 0x8000)
    }

    // MARK: - Sanity: dequantize(quantize(x)) ≈ x

    /// Deterministic test data: 32-value blocks of roughly normal values at several scales,
    /// some shifted off zero (so the q*_1 minimums matter).
    static func sampleValues() -> [Float] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func uniform() -> Float {  // SplitMix64, top 24 bits
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) * 0x1p-24
        }
        func normal() -> Float { (0..<12).reduce(Float(0)) { sum, _ in sum + uniform() } - 6 }
        let scales: [Float] = [0.05, 1, 30, 1000]
        let offsets: [Float] = [0, 0, 3, -5]
        var values: [Float] = []
        for block in 0..<128 {
            let scale = scales[block % 4], offset = offsets[(block / 4) % 4]
            for _ in 0..<32 { values.append(scale * (normal() + offset)) }
        }
        return values
    }

    /// Largest error allowed for a value of a block with largest magnitude `amax` and range `range`:
    /// half a quantization step (a whole step for q4_0/q5_0, whose top code is clipped), plus the
    /// fp16 rounding of the block's scale and minimum. f16's bound is relative to the value itself.
    static func errorBound(_ type: DType, value: Float, amax: Float, range: Float) -> Float {
        let fp16Slack = amax * 0x1p-9
        switch type {
        case .f32: return 0
        case .f16: return max(abs(value) * 0x1p-11, 0x1p-25)  // 2^-25: half the smallest subnormal step
        case .q8_0: return amax * 0.5 / 127 + fp16Slack
        case .q4_0: return amax / 8 + fp16Slack
        case .q5_0: return amax / 16 + fp16Slack
        case .q4_1: return range * 0.5 / 15 + fp16Slack
        case .q5_1: return range * 0.5 / 31 + fp16Slack
        default: preconditionFailure("\(type) cannot be quantized")
        }
    }

    @Test(arguments: DType.allCases.filter(\.canQuantize))
    func dequantizeOfQuantizeIsClose(_ type: DType) {
        let x = Self.sampleValues()
        let y = Quant.dequantize(type, Quant.quantize(type, x))
        #expect(y.count == x.count)
        var worst = (ratio: Float(0), index: 0)
        for start in stride(from: 0, to: x.count, by: 32) {
            let block = x[start..<start + 32]
            let amax = block.map(abs).max()!
            let range = block.max()! - block.min()!
            for i in block.indices {
                let bound = Self.errorBound(type, value: x[i], amax: amax, range: range)
                let error = abs(y[i] - x[i])
                let ratio = error == 0 ? 0 : error / bound  // bound 0 and error > 0: infinity
                if ratio > worst.ratio { worst = (ratio, i) }
            }
        }
        #expect(worst.ratio <= 1, """
            value \(worst.index) (block \(worst.index / 32)): \(x[worst.index]) came back as \
            \(y[worst.index]), \(worst.ratio) times the allowed error
            """)
    }
}
