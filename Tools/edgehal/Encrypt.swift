import ArgumentParser
import EdgeHALModels
import Foundation

/// `edgehal keygen | encrypt | decrypt`: models encrypted at rest (EncryptedModel).
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a new random 256-bit model key (mode 0600; never overwrites).")
    @Argument(help: "The key file to create.") var key: String
    func run() throws {
        try Terminal.failing("keygen") { try ModelKey.generate(key) }
        Terminal.note("\(key): a new 256-bit key (mode 0600); keep it apart from the models it opens")
    }
}

struct Encrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt a GGUF model (AES-256-GCM, 1 MiB chunks each authenticated); every model command opens the result with --key-file.")
    @Argument(help: "The GGUF file.") var input: String
    @Argument(help: "The encrypted model to write (.ehm; written beside, then renamed).") var output: String
    @Option(name: .customLong("key-file"), help: "The key (edgehal keygen).") var keyFile: String
    func run() throws {
        guard input != output else { throw ValidationError("refusing to overwrite the input file") }
        let start = Terminal.now()
        try Terminal.failing("encrypt") { try EncryptedModel.encrypt(input, to: output, key: try ModelKey.read(keyFile)) }
        Terminal.note(String(format: "%@: encrypted in %.2f s", output, Terminal.now() - start))
    }
}

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt an encrypted model back to its GGUF file (for its owner); nothing is written unless every chunk authenticates.")
    @Argument(help: "The encrypted model.") var input: String
    @Argument(help: "The GGUF file to write.") var output: String
    @Option(name: .customLong("key-file"), help: "The key.") var keyFile: String
    func run() throws {
        guard input != output else { throw ValidationError("refusing to overwrite the input file") }
        try Terminal.failing("decrypt") { try EncryptedModel.decrypt(input, to: output, key: try ModelKey.read(keyFile)) }
    }
}
