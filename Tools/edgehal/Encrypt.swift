import ArgumentParser
import Crypto
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

/// The two files and the key `encrypt` and `decrypt` take.
struct KeyedFiles: ParsableArguments {
    @Argument(help: "The file to read.") var input: String
    @Argument(help: "The file to write (beside, then renamed: never half-written).") var output: String
    @Option(name: .customLong("key-file"), help: "The key (edgehal keygen).") var keyFile: String

    func run(_ what: String, _ body: (String, String, SymmetricKey) throws -> Void) throws {
        guard input != output else { throw ValidationError("refusing to overwrite the input file") }
        let start = Terminal.now()
        try Terminal.failing(what) { try body(input, output, try ModelKey.read(keyFile)) }
        Terminal.note(String(format: "%@: %@ in %.2f s", output, what == "encrypt" ? "encrypted" : "decrypted", Terminal.now() - start))
    }
}

struct Encrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt a GGUF model (AES-256-GCM, 1 MiB chunks each authenticated); every model command opens the result with --key-file.")
    @OptionGroup var files: KeyedFiles
    func run() throws { try files.run("encrypt") { try EncryptedModel.encrypt($0, to: $1, key: $2) } }
}

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt an encrypted model back to its GGUF file (for its owner); nothing is written unless every chunk authenticates.")
    @OptionGroup var files: KeyedFiles
    func run() throws { try files.run("decrypt") { try EncryptedModel.decrypt($0, to: $1, key: $2) } }
}
