import ArgumentParser
import EdgeHAL
import EdgeHALModels
import Foundation

struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-quantize a GGUF model's weight matrices; norms and other 1-D tensors stay F32.")
    @Argument(help: "Input GGUF file.") var input: String
    @Argument(help: "Output GGUF file (written beside, then renamed: never half-written).") var output: String
    @Option(help: "Target type: q4_0, q4_1, q5_0, q5_1 or q8_0.") var type: String

    func run() throws {
        guard let target = DType(rawValue: type), GGUFQuantizer.fileTypes[target] != nil else {
            throw ValidationError("unknown type '\(type)': use one of q4_0, q4_1, q5_0, q5_1, q8_0")
        }
        guard input != output else { throw ValidationError("refusing to overwrite the input file") }
        let file = try Terminal.failing("cannot read \(input)") { try GGUFFile.open(path: input) }
        let (writer, converted) = try Terminal.failing("quantize") {
            try GGUFQuantizer.quantize(file, to: target) { Terminal.progress("quantize", $0, $1) }
        }
        try Terminal.failing("cannot write \(output)") { try writer.write(to: output) }
        Terminal.note("\(output): \(converted) of \(file.tensors.count) tensors as \(target.rawValue)")
    }
}
