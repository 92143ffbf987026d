import EdgeHAL
import EdgeHALCPU
import EdgeHALReference
import Foundation
import Testing
@testable import EdgeHALModels

/// A tiny llama with random weights, written with the project's own GGUF writer.
enum TinyModel {
    static let embedding = 64, heads = 4, kvHeads = 2, ffn = 128, layers = 2

    /// GPT-2's byte-to-unicode table, so the 256 byte tokens are the vocabulary's first entries.
    static func byteTokens() -> [String] { SyntheticTokenizer.byteTokens }

    static func write(to path: String, seed: UInt64 = 7) throws {
        var rng = SeededRandom(seed: seed)
        var tokens = byteTokens()
        let merges = ["Ġ t", "h e", "Ġt he", "i n"]
        tokens += ["Ġt", "he", "Ġthe", "in", "<|im_start|>", "<|im_end|>"]
        let types: [Int32] = Array(repeating: 1, count: tokens.count - 2) + [3, 3]
        var w = GGUFWriter()
        w.set("general.architecture", .string("llama"))
        w.set("llama.block_count", .uint32(UInt32(layers)))
        w.set("llama.context_length", .uint32(256))
        w.set("llama.embedding_length", .uint32(UInt32(embedding)))
        w.set("llama.feed_forward_length", .uint32(UInt32(ffn)))
        w.set("llama.attention.head_count", .uint32(UInt32(heads)))
        w.set("llama.attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("llama.rope.freq_base", .float32(10000))
        w.set("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("default"))
        w.set("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(.int32, types.map { .int32($0) }))
        w.set("tokenizer.ggml.merges", .array(.string, merges.map { .string($0) }))
        w.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(tokens.count - 2)))
        w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 1)))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        let vocab = tokens.count
        func matrix(_ name: String, _ k: Int, _ m: Int, _ type: DType, scale: Float = 1.7) throws {
            let values = (0..<(k * m)).map { _ in Float.random(in: -1...1, using: &rng) / Float(k).squareRoot() * scale }
            try w.addTensor(name: name, type: type, shape: Shape(k, m), bytes: Quant.quantize(type, values))
        }
        func norm(_ name: String) throws {
            let values = (0..<embedding).map { _ in Float.random(in: 0.8...1.2, using: &rng) }
            try w.addTensor(name: name, type: .f32, shape: Shape(embedding), bytes: values.withUnsafeBytes { Array($0) })
        }
        // Large output weights give a peaked next-token distribution, like a trained model's.
        try matrix("token_embd.weight", embedding, vocab, .q8_0, scale: 12)
        for l in 0..<layers {
            let p = "blk.\(l)."
            try norm(p + "attn_norm.weight")
            try norm(p + "ffn_norm.weight")
            try matrix(p + "attn_q.weight", embedding, embedding, .q4_1)
            try matrix(p + "attn_k.weight", embedding, embedding / heads * kvHeads, .q4_1)
            try matrix(p + "attn_v.weight", embedding, embedding / heads * kvHeads, .q4_1)
            try matrix(p + "attn_output.weight", embedding, embedding, .q4_1)
            try matrix(p + "ffn_gate.weight", embedding, ffn, .q4_0)
            try matrix(p + "ffn_up.weight", embedding, ffn, .q4_0)
            try matrix(p + "ffn_down.weight", ffn, embedding, .q5_0)
        }
        try norm("output_norm.weight")
        try w.write(to: path)
    }

    /// Written once per test process (tests run in parallel; a static is initialized exactly once).
    static let shared: Result<String, Error> = Result {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("edgehal-tiny-\(getpid()).gguf").path
        try write(to: path)
        return path
    }

    static func path() throws -> String { try shared.get() }
}

struct LlamaModelTests {
    let model: LanguageModel
    let prompt: [Int32] = [72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100]

    init() throws { model = try LanguageModel(path: try TinyModel.path()) }

    func nmse(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) } / b.reduce(0.0) { $0 + Double($1) * Double($1) }
    }

    @Test func configComesFromMetadata() {
        #expect(model.config.layers == 2 && model.config.heads == 4 && model.config.kvHeads == 2 && model.config.headDim == 16)
        #expect(model.config.vocabulary == 262)
    }

    @Test func decodingWithTheCacheEqualsOneBatch() throws {
        let batch = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 32, batchSize: 64)
        let all = try batch.evaluate(prompt, allLogits: true)
        let stepwise = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 32, batchSize: 1)
        var last: [Float] = []
        for (i, t) in prompt.enumerated() {
            last = try stepwise.evaluate([t])
            let row = Array(all[(i * 262)..<((i + 1) * 262)])
            #expect(nmse(last, row) < 1e-10, "position \(i)")
        }
        let chunked = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 32, batchSize: 5)
        #expect(nmse(try chunked.evaluate(prompt), last) < 1e-10)
    }

    @Test func cpuBackendAgreesWithTheReference() throws {
        let reference = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 32)
        let cpu = ModelSession(model: model, devices: [CPUDevice(threads: 2)], contextLength: 32)
        var a = try reference.evaluate(prompt), b = try cpu.evaluate(prompt)
        for _ in 0..<8 {
            #expect(nmse(b, a) < 1e-3)
            #expect(Sampler.argmax(a) == Sampler.argmax(b))
            let next = Sampler.argmax(a)
            a = try reference.evaluate([next])
            b = try cpu.evaluate([next])
        }
    }

    @Test func contextOverflowAndBadTokensAreErrors() throws {
        let s = ModelSession(model: model, devices: [ReferenceDevice()], contextLength: 4)
        #expect(throws: ModelError.self) { try s.evaluate(prompt) }
        #expect(throws: ModelError.self) { try s.evaluate([9999]) }
    }

    @Test func seededSamplingRepeats() {
        let logits = (0..<100).map { Float(sin(Double($0))) }
        var a = Sampler(temperature: 0.8, seed: 3), b = Sampler(temperature: 0.8, seed: 3)
        #expect((0..<20).map { _ in a.sample(logits) } == (0..<20).map { _ in b.sample(logits) })
        #expect(Sampler.argmax(logits) == 33)
    }
}
