import ArgumentParser

@main
struct EdgeHALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edgehal", abstract: "Run GGUF llama-family models on any EdgeHAL backend.")
}
