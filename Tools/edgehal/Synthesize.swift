import ArgumentParser
import EdgeHAL
import EdgeHALModels
import Foundation

struct Synthesize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a GGUF model of any shape with random weights (for benchmarks: its text is noise).",
        discussion: """
            A preset copies a published model's shape; any option given beside it overrides that part \
            (e.g. --preset llama-3.2-1b --layers 2 for a small file with the same per-layer work). \
            The file runs in edgehal, conformance model and llama.cpp. Presets: \
            \(SyntheticShape.presetNames.joined(separator: ", ")).
            """)

    @Option(help: "A shape to start from: \(SyntheticShape.presetNames.joined(separator: ", ")).") var preset: String?
    @Option(help: "Architecture: llama or gemma3 (default: the preset's, else llama).") var arch: String?
    @Option var layers: Int?
    @Option var embd: Int?
    @Option var ffn: Int?
    @Option var heads: Int?
    @Option(name: .customLong("kv-heads")) var kvHeads: Int?
    @Option(help: "Head size (gemma3 only; llama uses embd / heads).") var headDim: Int?
    @Option var vocab: Int?
    @Option(help: "Context length stated in the file.") var ctx: Int?
    @Option(help: "Weight type of every matrix: f32, f16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_K, q3_K, q4_K, q5_K, q6_K.")
    var type: String = "q4_0"
    @Option(help: "Seed: the same seed and shape give the same bytes.") var seed: UInt64 = 2026
    @Argument(help: "Output GGUF file (written beside, then renamed: never half-written).") var output: String

    func shape() throws -> SyntheticShape {
        var s: SyntheticShape
        if let preset {
            guard let p = SyntheticShape.presets[preset] else {
                throw ValidationError("unknown preset '\(preset)': use one of \(SyntheticShape.presetNames.joined(separator: ", "))")
            }
            s = p
        } else {
            let missing = [("--layers", layers), ("--embd", embd), ("--ffn", ffn), ("--heads", heads), ("--vocab", vocab)]
                .filter { $0.1 == nil }.map(\.0)
            guard missing.isEmpty else { throw ValidationError("without --preset, give \(missing.joined(separator: ", "))") }
            s = SyntheticShape(architecture: .llama, layers: 0, embedding: 0, feedForward: 0, heads: 0, kvHeads: 0, vocabulary: 0, context: 4096)
        }
        if let arch {
            guard let a = SyntheticShape.Architecture(rawValue: arch) else { throw ValidationError("unknown architecture '\(arch)': use llama or gemma3") }
            if a != s.architecture && a == .gemma3 && s.slidingWindow == nil { s.slidingWindow = 512 }
            s.architecture = a
        }
        s.layers = layers ?? s.layers
        s.embedding = embd ?? s.embedding
        s.feedForward = ffn ?? s.feedForward
        s.heads = heads ?? s.heads
        s.kvHeads = kvHeads ?? (preset == nil ? s.heads : s.kvHeads)
        s.vocabulary = vocab ?? s.vocabulary
        s.context = ctx ?? s.context
        if let headDim { s.headDim = headDim } else if s.architecture == .llama { s.headDim = nil }
        return s
    }

    func run() throws {
        guard let weights = DType(rawValue: type), weights != .i32 else { throw ValidationError("unknown weight type '\(type)'") }
        let model = SyntheticModel(shape: try shape(), type: weights, seed: seed, preset: preset)
        let start = Terminal.now()
        try Terminal.failing("synthesize") { try model.write(to: output) }
        let s = model.shape
        Terminal.note(String(format: "%@: %@ %d layers, embd %d, ffn %d, heads %d/%d, vocab %d, %@; %.2f B parameters, %.1f MiB, %.1f s",
                             output, s.architecture.rawValue, s.layers, s.embedding, s.feedForward, s.heads, s.kvHeads, s.vocabulary,
                             weights.rawValue, Double(s.parameterCount) / 1e9, Double(model.tensorBytes) / 1048576, Terminal.now() - start))
    }
}
