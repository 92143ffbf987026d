/// Renders one user turn the way a model's chat template does, for the template families EdgeHAL
/// knows (llama.cpp recognises templates by the same markers rather than running Jinja).
public enum ChatTemplate: String, Sendable {
    /// `<|im_start|>role\n…<|im_end|>\n` (SmolLM2, Qwen), with the template's default system prompt.
    case chatML = "chatml"
    /// `<start_of_turn>user\n…<end_of_turn>\n<start_of_turn>model\n` (Gemma; no system turn).
    case gemma

    /// The family of `model`'s template: from `tokenizer.chat_template` when the file has one,
    /// else from the vocabulary (Gemma 3 base files ship without a template but with the turn tokens).
    public static func detect(_ model: LanguageModel) throws -> ChatTemplate {
        if let t = model.tokenizer.chatTemplate {
            if t.contains("<|im_start|>") { return .chatML }
            if t.contains("<start_of_turn>") { return .gemma }
            throw ModelError("the model's chat template is neither ChatML nor Gemma's turns: not supported")
        }
        if model.tokenizer.token(forText: "<start_of_turn>") != nil { return .gemma }
        throw ModelError("the model carries no chat template and no chat turn tokens")
    }

    /// The prompt for a single user message, ending where the model's reply starts. BOS is not
    /// included: the tokenizer adds it when the model asks for it.
    public func render(userMessage: String, template: String?) -> String {
        switch self {
        case .chatML:
            var system = ""
            if let template, let range = template.range(of: "<|im_start|>system\n") {
                let rest = template[range.upperBound...]
                if let end = rest.range(of: "<|im_end|>") { system = "<|im_start|>system\n" + rest[..<end.lowerBound] + "<|im_end|>\n" }
            }
            return system + renderFollowUp(userMessage: userMessage)
        case .gemma:
            return renderFollowUp(userMessage: userMessage)
        }
    }

    /// A user turn after the first (no system prompt), ending where the model's reply starts.
    public func renderFollowUp(userMessage: String) -> String {
        switch self {
        case .chatML: return "<|im_start|>user\n\(userMessage)<|im_end|>\n<|im_start|>assistant\n"
        case .gemma: return "<start_of_turn>user\n\(userMessage)<end_of_turn>\n<start_of_turn>model\n"
        }
    }

    /// What closes the model's turn before the next user turn. A reply ends when its end token is
    /// sampled, before that token is evaluated, so the next turn starts with this.
    public var endOfTurn: String {
        switch self {
        case .chatML: return "<|im_end|>\n"
        case .gemma: return "<end_of_turn>\n"
        }
    }

    public static func apply(userMessage: String, model: LanguageModel) throws -> String {
        try detect(model).render(userMessage: userMessage, template: model.tokenizer.chatTemplate)
    }
}
