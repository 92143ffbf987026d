import EdgeHAL

/// The scalar oracle: every op, written for obviousness, computing in Double where it reduces.
/// Every other backend is measured against it; `auto` never prefers it over anything else.
public struct ReferenceBackend: Backend {
    public let name = "reference"
    public init() {}

    public static let deviceInfo = DeviceInfo(
        name: "Scalar reference (Swift, 1 thread)", kind: .cpu, computeUnits: 1,
        features: ["f32", "f16", "all-ops"], isReference: true)

    public func probe() -> BackendStatus {
        BackendStatus(available: true, reason: "always available: the oracle, not built for speed", devices: [Self.deviceInfo])
    }

    public func makeDevice(index: Int) throws -> any Device {
        guard index == 0 else { throw EdgeHALError.selection("reference has one device (0), not \(index)") }
        return ReferenceDevice()
    }
}

public final class ReferenceDevice: Device {
    public let backendName = "reference"
    public let info = ReferenceBackend.deviceInfo
    /// Emulates 8-bit activation quantization in quantized mul_mat (see ReferenceKernels.run): not
    /// a backend anyone selects, the error model the conformance runner derives bounds from.
    public let roundsActivations: Bool
    /// Values per activation scale for K-quant weights when rounding: 32, or 256 (ggml's Q8_K).
    public let kQuantBlock: Int

    public init(roundsActivations: Bool = false, kQuantBlock: Int = 32) {
        self.roundsActivations = roundsActivations
        self.kQuantBlock = kQuantBlock
    }

    /// Every well-formed op signature.
    public func supports(_ signature: OpSignature) -> Bool {
        signature.isWellFormed
    }

    public func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { HostBuffer(byteCount: byteCount) }

    public func makeWeightBuffer(_ data: HostData) throws -> any DeviceBuffer { HostBuffer(wrapping: data) }

    public func compile(_ partition: Partition) throws -> any Program {
        HostProgram(partition, try partition.nodes.map { node in
            guard supports(node.signature) else { throw EdgeHALError.unsupported("reference: \(node.signature)") }
            let (ins, out) = try node.hostAddresses(device: backendName)
            let descs = node.inputs.map(\.desc)
            let op = node.op, outDesc = node.output.desc
            // Raw pointers into buffers the executable keeps alive for the program's lifetime.
            nonisolated(unsafe) let inputs = Array(zip(ins, descs))
            nonisolated(unsafe) let output = out
            let rounding = roundsActivations, kBlock = kQuantBlock
            return {
                ReferenceKernels.run(op, inputs: inputs, output: output, outputDesc: outDesc, roundingActivations: rounding,
                                     kQuantBlock: kBlock)
            }
        })
    }
}
