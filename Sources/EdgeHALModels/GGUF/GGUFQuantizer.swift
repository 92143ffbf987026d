import EdgeHAL

/// `edgehal quantize`: re-quantizes a GGUF model's weight matrices to one block type. Tensors with
/// fewer than two dimensions (norms, biases) stay as they are, as llama.cpp keeps them F32.
public enum GGUFQuantizer {
    /// llama.cpp's LLAMA_FTYPE values for general.file_type.
    public static let fileTypes: [DType: UInt32] = [.q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9]

    /// Whether a tensor is a weight matrix the quantizer converts.
    public static func converts(_ t: GGUFTensorInfo, to target: DType) -> Bool {
        t.shape.dims.filter { $0 > 1 }.count >= 2 && t.shape[0] % target.blockSize == 0 && t.type != target && t.type != .i32
    }

    /// Builds the quantized file's contents; `progress(done, total)` is called per tensor.
    public static func quantize(_ file: GGUFFile, to target: DType, progress: (Int, Int) -> Void = { _, _ in }) throws -> (writer: GGUFWriter, converted: Int) {
        guard let fileType = fileTypes[target] else {
            throw GGUFError("cannot quantize to \(target.rawValue): use one of \(fileTypes.keys.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        var writer = GGUFWriter()
        for key in file.metadataKeys where key != "general.alignment" { writer.set(key, file.metadata[key]!) }
        writer.set("general.file_type", .uint32(fileType))
        var converted = 0
        for (i, t) in file.tensors.enumerated() {
            let data = file.data(for: t).bytes
            if converts(t, to: target) {
                var values = [Float](repeating: 0, count: t.shape.count)
                values.withUnsafeMutableBufferPointer { Quant.dequantize(t.type, from: data.baseAddress!, into: $0.baseAddress!, count: t.shape.count) }
                try writer.addTensor(name: t.name, type: target, shape: t.shape, bytes: Quant.quantize(target, values))
                converted += 1
            } else {
                try writer.addTensor(name: t.name, type: t.type, shape: t.shape, bytes: Array(data))
            }
            progress(i + 1, file.tensors.count)
        }
        return (writer, converted)
    }
}
