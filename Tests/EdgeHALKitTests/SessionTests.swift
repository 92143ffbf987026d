import EdgeHAL
import EdgeHALKit
import EdgeHALModels
import Testing

/// The app API on the default model: streams match the low-level session's greedy tokens, cancel
/// leaves a usable session, sessions of one model run in parallel, errors name their layer.
@Suite("EdgeHALKit sessions", .serialized)
struct SessionTests {
    static let prompt = "The capital of France is"

    static func model() async throws -> Model { try await Model.load() }

    /// Greedy tokens through `ModelSession` directly: what the stream must reproduce.
    static func lowLevelGreedy(_ model: Model, backend: String, prompt: String, count: Int) throws -> [Int32] {
        let devices = try model.backends.select(backend).devices
        let session = ModelSession(model: model.languageModel, devices: devices)
        var tokens = model.tokenize(prompt)
        var out: [Int32] = []
        while out.count < count {
            let next = Sampler.argmax(try session.evaluate(tokens))
            if model.languageModel.tokenizer.isEndOfGeneration(next) { break }
            out.append(next)
            tokens = [next]
        }
        return out
    }

    static func collect(_ stream: AsyncThrowingStream<GeneratedPiece, any Error>) async throws -> [GeneratedPiece] {
        var pieces: [GeneratedPiece] = []
        for try await piece in stream { pieces.append(piece) }
        return pieces
    }

    @Test("16 streamed tokens equal the low-level greedy run", arguments: ["cpu", "reference"])
    func streamsGreedyTokens(_ backend: String) async throws {
        let model = try await Self.model()
        let session = try model.session(backend: BackendChoice(backend))
        #expect(session.backendNames.first == backend)
        let pieces = try await Self.collect(session.generate(Self.prompt, .init(maxTokens: 16)))
        let expected = try Self.lowLevelGreedy(model, backend: backend, prompt: Self.prompt, count: 16)
        #expect(pieces.map(\.token) == expected)
        #expect(pieces.map(\.text).joined() == model.detokenize(expected))
        #expect(!pieces.map(\.text).joined().isEmpty)
        // The prompt and every token but the last (sampled, not yet evaluated) are in the cache.
        #expect(await session.position == model.tokenize(Self.prompt).count + pieces.count - 1)
    }

    @Test("cancelling midway stops generation and leaves the session usable")
    func cancelThenReuse() async throws {
        let model = try await Self.model()
        let session = try model.session(backend: .cpu)
        let task = Task {
            var seen = 0
            for try await _ in session.generate(Self.prompt, .init(maxTokens: 200)) {
                seen += 1
                if seen == 4 { break }   // leaving the loop cancels the stream
            }
            return seen
        }
        #expect(try await task.value == 4)
        // Generation stopped within a token of the cancel (never ran on to maxTokens).
        let stoppedAt = await session.position
        #expect(stoppedAt <= model.tokenize(Self.prompt).count + 5)

        // A cancelled consumer task: the stream finishes early, without an error.
        let cancelled = Task { try await Self.collect(session.generate(" Paris", .init(maxTokens: 200))) }
        cancelled.cancel()
        let partial = try await cancelled.value
        #expect(partial.count < 200)

        // Reusable: a new conversation gives exactly the greedy tokens of a fresh session.
        try await session.reset()
        #expect(await session.position == 0)
        let again = try await Self.collect(session.generate(Self.prompt, .init(maxTokens: 8)))
        #expect(again.map(\.token) == (try Self.lowLevelGreedy(model, backend: "cpu", prompt: Self.prompt, count: 8)))
    }

    @Test("two sessions of one model generate in parallel, each as it would alone")
    func parallelSessions() async throws {
        let model = try await Self.model()
        let prompts = [Self.prompt, "Once upon a time"]
        let expected = try prompts.map { try Self.lowLevelGreedy(model, backend: "cpu", prompt: $0, count: 12) }
        let results = try await withThrowingTaskGroup(of: (Int, [Int32]).self) { group in
            for (i, prompt) in prompts.enumerated() {
                let session = try model.session(backend: .cpu)
                group.addTask { (i, try await Self.collect(session.generate(prompt, .init(maxTokens: 12))).map(\.token)) }
            }
            var out = [[Int32]](repeating: [], count: prompts.count)
            for try await (i, tokens) in group { out[i] = tokens }
            return out
        }
        #expect(results == expected)
    }

    @Test("a continuation follows the generated text, as one greedy run")
    func continuation() async throws {
        let model = try await Self.model()
        let session = try model.session(backend: .cpu)
        let first = try await Self.collect(session.generate(Self.prompt, .init(maxTokens: 6)))
        let second = try await Self.collect(session.generate("", .init(maxTokens: 6)))
        let expected = try Self.lowLevelGreedy(model, backend: "cpu", prompt: Self.prompt, count: 12)
        #expect((first + second).map(\.token) == expected)

        // maxTokens 0 adds the prompt without generating; the next request continues after it.
        try await session.reset()
        #expect(try await Self.collect(session.generate("The capital of", .init(maxTokens: 0))).isEmpty)
        #expect(await session.position == model.tokenize("The capital of").count)
        let after = try await Self.collect(session.generate(" France is", .init(maxTokens: 4)))
        #expect(model.tokenize("The capital of") + model.tokenize(" France is", addSpecial: false) == model.tokenize(Self.prompt))
        #expect(after.map(\.token) == Array(expected.prefix(4)))
    }

    @Test("logits(for:) are the low-level session's logits, and the text stays in the conversation")
    func logitsMatch() async throws {
        let model = try await Self.model()
        let session = try model.session(backend: .cpu)
        let logits = try await session.logits(for: Self.prompt)
        let low = ModelSession(model: model.languageModel, devices: try model.backends.select("cpu").devices)
        #expect(logits == (try low.evaluate(model.tokenize(Self.prompt))))
        #expect(logits.count == model.languageModel.config.vocabulary)
        #expect(await session.position == model.tokenize(Self.prompt).count)
    }

    @Test("chat turns: each reply streams, the second turn closes the first")
    func chatTurns() async throws {
        let model = try await Self.model()
        let session = try model.session(backend: .cpu)
        let first = try await Self.collect(session.respond(to: "What is the capital of France?", .init(maxTokens: 24)))
        #expect(!first.isEmpty)
        let afterFirst = await session.position
        let second = try await Self.collect(session.respond(to: "And of Italy?", .init(maxTokens: 24)))
        #expect(!second.isEmpty)
        // The follow-up turn carries no BOS and no second system prompt.
        let followUp = model.tokenize("<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n", addSpecial: false)
        #expect(await session.position >= afterFirst + followUp.count)
        #expect(await session.position <= afterFirst + followUp.count + 1 + second.count)
    }

    @Test("errors name the layer that failed")
    func errors() async throws {
        await #expect(throws: EdgeHALKitError.self) { try await Model.load(.catalogue("no-such-model")) }
        await #expect(throws: EdgeHALKitError.self) { try await Model.load(.file("/nonexistent.gguf")) }
        let model = try await Self.model()
        #expect(throws: EdgeHALKitError.self) { try model.session(backend: "no-such-backend") }
        let session = try model.session(backend: .cpu, contextLength: 4)
        await #expect(throws: EdgeHALKitError.self) { try await Self.collect(session.generate("")) }
        await #expect(throws: EdgeHALKitError.prompt("nothing to evaluate: the text has no tokens")) { try await session.logits(for: "") }
        do {
            _ = try await Self.collect(session.generate("one two three four five six seven"))
            Issue.record("a prompt longer than the context was accepted")
        } catch let error as EdgeHALKitError {
            guard case .prompt(let message) = error else { Issue.record("wrong layer: \(error)"); return }
            #expect(message.contains("context full"))
        }
        #expect(await session.position == 0)
    }
}
