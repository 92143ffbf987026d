import EdgeHAL
import Foundation
import Testing
import EdgeHALModels

/// `edgehal quantize` against the gguf PyPI package: Fixtures/tiny-f32.gguf was written by gguf-py,
/// and tiny-f32.TYPE.blocks is what gguf-py's quantizer makes of its matrices (make_quantize_fixture.py).
struct GGUFQuantizerTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    @Test(arguments: ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"])
    func blocksEqualGGUFPy(_ name: String) throws {
        let type = DType(rawValue: name)!
        let source = try GGUFFile.open(path: Self.fixtures.appendingPathComponent("tiny-f32.gguf").path)
        let (writer, converted) = try GGUFQuantizer.quantize(source, to: type)
        #expect(converted == 3)
        let out = try GGUFFile(bytes: writer.serialize())
        var blocks: [UInt8] = []
        for t in out.tensors {
            let original = source.tensor(named: t.name)!
            if original.shape.dims.filter({ $0 > 1 }).count >= 2 {
                #expect(t.type == type)
                blocks += Array(out.data(for: t).bytes)
            } else {
                // Norms stay F32, byte for byte.
                #expect(t.type == .f32)
                #expect(Array(out.data(for: t).bytes) == Array(source.data(for: original).bytes))
            }
        }
        let expected = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-f32.\(name).blocks")))
        #expect(blocks == expected)
        #expect(out.int("general.file_type") == Int(GGUFQuantizer.fileTypes[type]!))
        #expect(out.string("general.name") == "quantize fixture")
    }

    @Test func unsupportedTargetIsAnError() throws {
        let source = try GGUFFile.open(path: Self.fixtures.appendingPathComponent("tiny-f32.gguf").path)
        #expect(throws: GGUFError.self) { try GGUFQuantizer.quantize(source, to: .q4_K) }
    }
}
