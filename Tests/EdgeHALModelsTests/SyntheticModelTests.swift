import EdgeHAL
import EdgeHALCPU
import Foundation
import Testing
@testable import EdgeHALModels

struct SyntheticModelTests {
    static let llama = SyntheticShape(architecture: .llama, layers: 2, embedding: 64, feedForward: 96, heads: 4, kvHeads: 2,
                                      vocabulary: 300, context: 128, tiedOutput: false)
    static let gemma = SyntheticShape(architecture: .gemma3, layers: 7, embedding: 256, feedForward: 512, heads: 4, kvHeads: 1,
                                      vocabulary: 400, context: 256, headDim: 64, ropeFreqBase: 1e6, slidingWindow: 16)

    func scratch(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("edgehal-synth-\(getpid())-\(name).gguf").path
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test("the file reads back with its shape, types, metadata and tokenizer", arguments: [(llama, DType.q4_0), (gemma, .q4_K), (gemma, .q8_0)])
    func roundTrips(_ shape: SyntheticShape, _ type: DType) throws {
        let path = scratch("rt-\(shape.architecture.rawValue)-\(type.rawValue)")
        defer { unlink(path) }
        let model = SyntheticModel(shape: shape, type: type, seed: 5)
        try model.write(to: path)
        let file = try GGUFFile.open(path: path)
        #expect(file.tensors.count == model.tensors.count)
        for planned in model.tensors {
            let t = try #require(file.tensor(named: planned.name))
            #expect(t.shape == planned.shape, "\(planned.name)")
            #expect(t.type == (planned.matrix ? type : .f32), "\(planned.name)")
        }
        #expect(file.tensor(named: "output.weight") == nil || !shape.tiedOutput)
        #expect(file.int(SyntheticModel.seedKey) == 5)

        let lm = try LanguageModel(path: path)
        let c = lm.config
        #expect(c.architecture == shape.architecture.rawValue)
        let read: [Int] = [c.layers, c.embedding, c.feedForward, c.heads, c.kvHeads, c.headDim, c.vocabulary, c.contextLength]
        let written: [Int] = [shape.layers, shape.embedding, shape.feedForward, shape.heads, shape.kvHeads, shape.headSize, shape.vocabulary, shape.context]
        #expect(read == written)
        #expect(c.slidingWindow?.size == shape.slidingWindow)
        // Byte-level: one token per byte, after the begin token.
        let ids = lm.tokenizer.encode("héllo")
        #expect(ids.first == SyntheticTokenizer.bos)
        #expect(ids.dropFirst().allSatisfy { $0 < 256 })
        #expect(ids.count == 1 + "héllo".utf8.count)

        // It runs, and its logits are finite and not all alike (random weights, not zeros).
        let session = ModelSession(model: lm, devices: [CPUDevice(threads: 2)], contextLength: 32)
        let logits = try session.evaluate(lm.tokenizer.encode("The capital"))
        #expect(logits.count == shape.vocabulary)
        let finite = logits.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(Set(logits).count > shape.vocabulary / 2)
    }

    @Test func sameSeedSameBytesOtherSeedOtherBytes() throws {
        let a = scratch("a"), b = scratch("b"), c = scratch("c")
        defer { for p in [a, b, c] { unlink(p) } }
        try SyntheticModel(shape: Self.llama, type: .q5_0, seed: 1).write(to: a)
        try SyntheticModel(shape: Self.llama, type: .q5_0, seed: 1).write(to: b)
        try SyntheticModel(shape: Self.llama, type: .q5_0, seed: 2).write(to: c)
        #expect(try bytes(a) == bytes(b))
        #expect(try bytes(a) != bytes(c))
        #expect(try bytes(a).count == bytes(c).count)
    }

    /// The rows of one matrix come from the pool but are not all the same row.
    @Test func matrixRowsVary() throws {
        let path = scratch("rows")
        defer { unlink(path) }
        try SyntheticModel(shape: Self.llama, type: .q8_0, seed: 3).write(to: path)
        let file = try GGUFFile.open(path: path)
        let t = try #require(file.tensor(named: "token_embd.weight"))
        let data = file.data(for: t).bytes, rowBytes = DType.q8_0.rowBytes(t.shape[0])
        let rows = Set((0..<t.shape[1]).map { Array(data[($0 * rowBytes)..<(($0 + 1) * rowBytes)]) })
        #expect(rows.count > t.shape[1] / 2)   // 300 draws from 512: ≈ 227 distinct
    }

    /// Bad shapes, each with the words its error must contain.
    enum BadShape: String, CaseIterable, Sendable {
        case headsDoNotDivide, zeroLayers, kvHeadsDoNotDivide, kQuantRows, tinyVocabulary

        var message: String {
            switch self {
            case .headsDoNotDivide: return "heads 5 do not divide embd 64"
            case .zeroLayers: return "layers must be positive"
            case .kvHeadsDoNotDivide: return "not a multiple of kv-heads 3"
            case .kQuantRows: return "q4_K holds rows of a multiple of 256 values; embd is 64"
            case .tinyVocabulary: return "smaller than the byte-level tokenizer"
            }
        }

        var model: SyntheticModel {
            var s = SyntheticModelTests.llama
            var type = DType.q4_0
            switch self {
            case .headsDoNotDivide: (s.heads, s.kvHeads) = (5, 5)
            case .zeroLayers: s.layers = 0
            case .kvHeadsDoNotDivide: s.kvHeads = 3
            case .kQuantRows: type = .q4_K
            case .tinyVocabulary: s.vocabulary = 100
            }
            return SyntheticModel(shape: s, type: type)
        }
    }

    @Test("a bad shape is one clear error and leaves no file", arguments: BadShape.allCases)
    func badShapesAreRefused(_ bad: BadShape) throws {
        let path = scratch("bad-\(bad.rawValue)")
        let error = #expect(throws: ModelError.self) { try bad.model.write(to: path) }
        #expect(error?.description.contains(bad.message) == true, "\(error?.description ?? "")")
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test func presetsAreValid() {
        for (name, shape) in SyntheticShape.presets {
            #expect(shape.problems(for: .q4_0).isEmpty, "\(name): \(shape.problems(for: .q4_0))")
        }
        // Llama 3.2 1B: 1.24 B parameters, as llama.cpp counts them.
        #expect(abs(Double(SyntheticShape.presets["llama-3.2-1b"]!.parameterCount) / 1.2358e9 - 1) < 0.01)
    }
}
