import ArgumentParser
import EdgeHAL
import EdgeHALModels
import Foundation

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")
    @OptionGroup var options: ModelOptions
    @Argument(help: "The text.") var text: String
    @Flag var json = false

    func run() throws {
        let model = try options.load()
        let ids = model.tokenizer.encode(text)
        if json {
            struct Out: Encodable { var ids: [Int32] }
            print(try Terminal.json(Out(ids: ids)))
        } else {
            for id in ids { print("\(id)\t\(String(decoding: model.tokenizer.tokenBytes(id), as: UTF8.self).debugDescription)") }
        }
    }
}

struct Logits: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the highest logits for the last position of a prompt.")
    @OptionGroup var options: ModelOptions
    @Option var prompt: String
    @Option var top: Int = 10
    @Flag var json = false

    func run() throws {
        let model = try options.load()
        let ids = model.tokenizer.encode(prompt)
        guard !ids.isEmpty else { throw ValidationError("the prompt has no tokens") }
        let session = try options.session(model, promptTokens: ids.count, generatedTokens: 0)
        defer { Terminal.printProfiles(session.devices) }
        let logits = try Terminal.failing("evaluate") { try session.evaluate(ids) }
        let best = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(max(1, top))
        if json {
            struct Out: Encodable { var ids: [Int32]; var top: [[Double]] }
            // [id, logit] pairs as llama.cpp's reference lists them.
            print(try Terminal.json(Out(ids: ids, top: best.map { [Double($0), Double(logits[$0])] })))
        } else {
            for i in best { print(String(format: "%6d %10.4f  %@", i, logits[i], String(decoding: model.tokenizer.tokenBytes(Int32(i)), as: UTF8.self).debugDescription)) }
        }
    }
}

struct Perplexity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Perplexity of a text, as llama.cpp computes it: windows of --ctx tokens, the second half of each scored.")
    @OptionGroup var options: ModelOptions
    @Option var file: String
    @Flag var json = false

    func run() throws {
        // Before the model loads: a wrong path should not cost a model load to find out.
        guard FileManager.default.fileExists(atPath: file) else { throw ValidationError("\(file): no such file") }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let model = try options.load()
        var tokens = model.tokenizer.encode(String(decoding: data, as: UTF8.self))
        let ctx = options.ctx
        let chunks = tokens.count / ctx
        guard ctx >= 4, chunks > 0 else { throw ValidationError("\(file) has \(tokens.count) tokens: fewer than one window of \(ctx)") }
        let session = try options.session(model, batch: ctx, promptTokens: chunks * ctx, generatedTokens: 0)
        defer { Terminal.printProfiles(session.devices) }
        let vocabulary = model.config.vocabulary
        var nll = 0.0, count = 0
        let start = Terminal.now()
        for c in 0..<chunks {
            var window = Array(tokens[(c * ctx)..<((c + 1) * ctx)])
            if model.tokenizer.addsBOS, let bos = model.tokenizer.bos { window[0] = bos }
            try session.reset()
            // Only the scored half needs logits: the first half just fills the cache. For Gemma 3
            // (a 262 144-row output) that halves the output projection, the larger part of the work.
            let first = ctx / 2
            let logits = try Terminal.failing("evaluate") {
                _ = try session.evaluate(Array(window[0..<first]))
                return try session.evaluate(Array(window[first...]), allLogits: true)
            }
            for j in first..<(ctx - 1) {
                let row = logits[((j - first) * vocabulary)..<((j - first + 1) * vocabulary)]
                let maxLogit = Double(row.max()!)
                let logSum = log(row.reduce(0.0) { $0 + exp(Double($1) - maxLogit) }) + maxLogit
                nll += logSum - Double(row[row.startIndex + Int(window[j + 1])])
                count += 1
            }
            Terminal.progress("perplexity", c + 1, chunks)
            if !json && !Terminal.isInteractive {
                Terminal.note(String(format: "[%d/%d] ppl so far %.4f", c + 1, chunks, exp(nll / Double(count))))
            }
        }
        tokens.removeAll()
        let ppl = exp(nll / Double(count))
        if json {
            struct Out: Encodable { var ppl: Double; var tokens: Int; var scored: Int; var chunks: Int; var seconds: Double }
            print(try Terminal.json(Out(ppl: ppl, tokens: chunks * ctx, scored: count, chunks: chunks, seconds: Terminal.now() - start)))
        } else {
            print(String(format: "perplexity %.4f over %d chunks of %d tokens (%d scored)", ppl, chunks, ctx, count))
        }
    }
}
