import ArgumentParser
import EdgeHAL
import EdgeHALModels
import Foundation

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Generate text from a prompt.",
                                                    aliases: ["run"])
    @OptionGroup var options: ModelOptions
    @Option(name: .long, help: "The prompt.")
    var prompt: String = "The capital of France is"
    @Option(name: .short, help: "Tokens to generate.")
    var n: Int = 32
    @Option(help: "Temperature (0: greedy).") var temp: Float = 0
    @Option(name: .customLong("top-k")) var topK: Int = 40
    @Option(name: .customLong("top-p")) var topP: Float = 0.95
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Flag(help: "Print where the executor placed each op of the decode graph (partitions, transfers) on standard error.")
    var report = false
    @Flag(help: "Wrap the prompt in the model's chat template (ChatML or Gemma turns) as one user turn.") var chat = false
    @Flag(help: "Print one JSON object instead of streaming text.") var json = false

    func run() throws {
        let model = try options.load()
        let text = chat ? try Terminal.failing("chat") { try ChatTemplate.apply(userMessage: prompt, model: model) } : prompt
        let promptIDs = model.tokenizer.encode(text)
        guard !promptIDs.isEmpty else { throw ValidationError("the prompt has no tokens") }
        let (session, why) = try options.selectedSession(model, promptTokens: promptIDs.count, generatedTokens: n)
        defer { Terminal.printProfiles(session.devices) }
        if report { Terminal.note("devices: \(why)") }
        var sampler = Sampler(temperature: temp, topK: topK, topP: topP, seed: seed)
        var stream = UTF8Stream()
        if !json { FileHandle.standardOutput.write(Data(text.utf8)) }

        let t0 = Terminal.now()
        // The sampler reads the logits where the session keeps them (no copy of the vocabulary).
        var next = try Terminal.failing("prompt") { try session.evaluate(promptIDs) { sampler.sample($0) } }
        let t1 = Terminal.now()
        var generated: [Int32] = []
        while generated.count < n {
            generated.append(next)
            if model.tokenizer.isEndOfGeneration(next) { break }
            if !json { FileHandle.standardOutput.write(Data(stream.push(model.tokenizer.tokenBytes(next)))) }
            guard generated.count < n, session.position < session.contextLength else { break }
            let token = next
            next = try Terminal.failing("decode") { try session.evaluate([token]) { sampler.sample($0) } }
        }
        let t2 = Terminal.now()
        if report {
            let decode = try session.executable(tokens: 1, allLogits: false).1.report
            Terminal.note("decode graph: \(decode)")
            if let split = session.split { Terminal.note("split: \(split)") }
            Terminal.note("per token: \(decode.transfers) transfer\(decode.transfers == 1 ? "" : "s") between devices, \(decode.transferBytes) bytes"
                          + decode.crossings.map { "\n  " + $0 }.joined())
        }
        let decodeSteps = max(0, generated.count - 1)
        let promptRate = Double(promptIDs.count) / (t1 - t0)
        let genRate = decodeSteps > 0 ? Double(decodeSteps) / (t2 - t1) : 0
        if json {
            struct Out: Encodable { var ids: [Int32]; var text: String; var prompt_tokens_per_s: Double; var gen_tokens_per_s: Double }
            print(try Terminal.json(Out(ids: generated, text: model.tokenizer.decode(generated.filter { !model.tokenizer.isEndOfGeneration($0) }),
                                        prompt_tokens_per_s: promptRate, gen_tokens_per_s: genRate)))
        } else {
            FileHandle.standardOutput.write(Data(stream.flush()))
            print("")
            Terminal.note(String(format: "prompt: %d tokens, %.1f tokens/s; generation: %d tokens, %.1f tokens/s (%@)",
                                 promptIDs.count, promptRate, generated.count, genRate,
                                 session.devices.map { "\($0.backendName)" }.joined(separator: " → ")))
        }
    }
}
