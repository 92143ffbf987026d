import EdgeHAL
import EdgeHALModels

/// How a reply is generated.
public struct GenerationOptions: Sendable, Hashable {
    /// Tokens to generate at most; generation also ends at the model's end-of-generation token and
    /// when the context is full.
    public var maxTokens: Int
    /// 0: greedy (the same reply every time); above 0: sampled with `topK`, `topP` and `seed`.
    public var temperature: Float
    public var topK: Int
    public var topP: Float
    public var seed: UInt64

    public init(maxTokens: Int = 256, temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, seed: UInt64 = 0) {
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }
}

/// One generated token and the text it completes.
public struct GeneratedPiece: Sendable, Hashable {
    public let token: Int32
    /// The text this token completes. Empty while a character spans several tokens: it appears
    /// whole with the last of them (a character cut off by `maxTokens` is left out).
    public let text: String
}

/// A conversation with a model on a set of devices: its KV cache, its position and, for chat, its
/// turns. Calls on one session run one at a time, in order (a second `generate` waits for the first
/// to finish or be cancelled); sessions of one model run in parallel.
///
/// The model is evaluated synchronously inside the session's methods, between tokens of a stream:
/// a token's work occupies one thread of Swift's cooperative pool while the backend's own threads
/// (the CPU backend's workers, a GPU) do it.
public actor Session {
    public nonisolated let model: Model
    /// The devices' backends, in the order the executor tries them (the selection, then the CPU fallback).
    public nonisolated let backendNames: [String]
    /// Why these devices were chosen (`auto`'s predictions, or the choice that named them).
    public nonisolated let explanation: String
    public nonisolated let contextLength: Int

    private let state: ModelSession
    /// The last sampled token: given to the caller but not yet evaluated (in the cache).
    private var pending: Int32?
    /// Whether the model's chat turn is open (its end marker not yet in the cache).
    private var replyOpen = false
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(model: Model, devices: [any Device], explanation: String, contextLength: Int, batchSize: Int) {
        self.model = model
        self.explanation = explanation
        backendNames = devices.map(\.backendName)
        state = ModelSession(model: model.languageModel, devices: devices, contextLength: contextLength, batchSize: batchSize)
        self.contextLength = state.contextLength
    }

    /// Tokens in the cache.
    public var position: Int { state.position }

    /// The token ids of `text` (with BOS when `addSpecial` and the model asks for it).
    public nonisolated func tokenize(_ text: String, addSpecial: Bool = true) -> [Int32] {
        model.tokenize(text, addSpecial: addSpecial)
    }

    /// Appends `text` to the conversation and returns the logits [vocabulary] of its last token.
    public func logits(for text: String) async throws(EdgeHALKitError) -> [Float] {
        await acquire()
        defer { release() }
        let tokens = try promptTokens(.text(text))
        return try EdgeHALKitError.backend { try state.evaluate(tokens) }
    }

    /// Forgets the conversation.
    public func reset() async throws(EdgeHALKitError) {
        await acquire()
        defer { release() }
        try EdgeHALKitError.backend { try state.reset() }
        pending = nil
        replyOpen = false
    }

    /// Continues the conversation with `prompt` as plain text and streams what the model writes
    /// next. Cancelling the consuming task (or leaving its loop) stops generation after the token in
    /// progress; the session stays usable and keeps what was generated.
    public nonisolated func generate(_ prompt: String, _ options: GenerationOptions = .init()) -> AsyncThrowingStream<GeneratedPiece, any Error> {
        stream(.text(prompt), options)
    }

    /// Adds a user turn in the model's chat template (ChatML or Gemma's turns; the system prompt
    /// of the template on the first turn) and streams the model's reply.
    public nonisolated func respond(to message: String, _ options: GenerationOptions = .init()) -> AsyncThrowingStream<GeneratedPiece, any Error> {
        stream(.userTurn(message), options)
    }

    private enum Input: Sendable { case text(String), userTurn(String) }

    private nonisolated func stream(_ input: Input, _ options: GenerationOptions) -> AsyncThrowingStream<GeneratedPiece, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task { await self.produce(input, options, continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func produce(_ input: Input, _ options: GenerationOptions,
                         _ out: AsyncThrowingStream<GeneratedPiece, any Error>.Continuation) async {
        await acquire()
        defer { release() }
        do {
            guard !Task.isCancelled else { return out.finish() }
            var tokens = try promptTokens(input)
            if case .userTurn = input { replyOpen = true }
            try await generate(from: &tokens, options, out)
            out.finish()
        } catch {
            out.finish(throwing: error)
        }
    }

    /// Evaluates `tokens`, then each sampled token, until a stop; on return `pending` holds the
    /// last sampled token.
    private func generate(from tokens: inout [Int32], _ options: GenerationOptions,
                          _ out: AsyncThrowingStream<GeneratedPiece, any Error>.Continuation) async throws(EdgeHALKitError) {
        let tokenizer = model.languageModel.tokenizer
        var sampler = Sampler(temperature: options.temperature, topK: options.topK, topP: options.topP, seed: options.seed)
        var text = UTF8Stream()
        guard options.maxTokens > 0 else {
            // Nothing to generate: the prompt joins the conversation all the same.
            try EdgeHALKitError.backend { try state.evaluate(tokens) { _ in } }
            return
        }
        for _ in 0..<options.maxTokens {
            let next = try EdgeHALKitError.backend { try state.evaluate(tokens) { sampler.sample($0) } }
            pending = next
            if tokenizer.isEndOfGeneration(next) { return }
            out.yield(GeneratedPiece(token: next, text: String(decoding: text.push(tokenizer.tokenBytes(next)), as: UTF8.self)))
            tokens = [next]
            guard state.position < state.contextLength else { return }
            await Task.yield()
            if Task.isCancelled { return }
        }
    }

    /// The tokens a request evaluates first: the pending token, then the prompt as text or as a
    /// chat turn (closing the previous reply first).
    private func promptTokens(_ input: Input) throws(EdgeHALKitError) -> [Int32] {
        let tokenizer = model.languageModel.tokenizer
        var carried = pending.map { [$0] } ?? []
        let text: String
        switch input {
        case .text(let prompt):
            text = prompt
        case .userTurn(let message):
            let template: ChatTemplate
            do { template = try ChatTemplate.detect(model.languageModel) } catch { throw .chat("\(error)") }
            if startsConversation {
                text = template.render(userMessage: message, template: tokenizer.chatTemplate)
            } else {
                // A reply that ended with its end token: the marker text stands for that token.
                if let p = pending, tokenizer.isEndOfGeneration(p) { carried = [] }
                text = (replyOpen ? template.endOfTurn : "") + template.renderFollowUp(userMessage: message)
            }
        }
        let tokens = carried + model.tokenize(text, addSpecial: startsConversation)
        guard !tokens.isEmpty else { throw .prompt("nothing to evaluate: the text has no tokens") }
        try checkRoom(tokens)
        pending = nil
        return tokens
    }

    private var startsConversation: Bool { state.position == 0 && pending == nil }

    private func checkRoom(_ tokens: [Int32]) throws(EdgeHALKitError) {
        guard state.position + tokens.count <= state.contextLength else {
            throw .prompt("context full: \(state.position) + \(tokens.count) tokens exceed \(state.contextLength)")
        }
    }

    // One request at a time, in order of arrival (actor methods interleave at each `await`).
    private func acquire() async {
        guard busy else { busy = true; return }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }
}
