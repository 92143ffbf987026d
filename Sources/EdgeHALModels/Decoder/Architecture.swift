import EdgeHAL

/// One decoder-only model family, keyed by GGUF's `general.architecture`: what it reads from the
/// file beyond the common hyper-parameters, and how its layers are wired from the shared pieces of
/// ``DecoderBuilder``. Adding a family is one small type and one line in ``Architectures/all``; the
/// session, KV cache, tools and every backend take it unchanged.
public protocol DecoderArchitecture: Sendable {
    /// The `general.architecture` value.
    var name: String { get }
    /// Reads the family's own keys and fixes what the common parse cannot know (rope layout,
    /// sliding windows).
    func configure(_ config: inout ModelConfig, from gguf: GGUFFile) throws
    /// Builds the layers: from the token ids to the hidden state [E, T] before the final norm.
    func hidden(_ d: inout DecoderBuilder) throws -> TensorID
}

/// The architectures EdgeHAL runs.
public enum Architectures {
    public static let all: [any DecoderArchitecture] = [Llama(), Gemma3()]

    public static var names: [String] { all.map(\.name).sorted() }

    public static func named(_ name: String) -> (any DecoderArchitecture)? {
        all.first { $0.name == name }
    }

    /// The architecture called `name`, or an error that lists the supported ones.
    public static func require(_ name: String) throws -> any DecoderArchitecture {
        guard let a = named(name) else {
            throw ModelError("architecture '\(name)' is not supported (supported: \(names.joined(separator: ", ")))")
        }
        return a
    }
}
