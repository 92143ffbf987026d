/// The work `auto` chooses a device for, in the terms a ``DeviceCalibration`` predicts: a decoder's
/// weight bytes read per generated token, the ops of one token, and its prefill arithmetic.
public struct Workload: Sendable, CustomStringConvertible {
    /// The weight matrices of one type, and how they are used.
    public struct Matrices: Sendable {
        public var type: DType
        public var count: Int
        /// Bytes of all of them together.
        public var bytes: Double
        /// Elements of those multiplied for every prompt token (the output projection only runs for
        /// the last token of a prefill, so it counts for decode only).
        public var prefillElements: Double

        public init(type: DType, count: Int, bytes: Double, prefillElements: Double) {
            self.type = type
            self.count = count
            self.bytes = bytes
            self.prefillElements = prefillElements
        }
    }

    public var name: String
    /// Every matrix read per generated token, by type.
    public var matrices: [Matrices]
    /// Ops per token (a decode run).
    public var ops: Int
    public var promptTokens: Int
    public var generatedTokens: Int
    /// Prompt tokens per prefill run.
    public var batch: Int

    public init(name: String, matrices: [Matrices], ops: Int, promptTokens: Int, generatedTokens: Int, batch: Int = 64) {
        self.name = name
        self.matrices = matrices
        self.ops = max(1, ops)
        self.promptTokens = max(0, promptTokens)
        self.generatedTokens = max(0, generatedTokens)
        self.batch = max(1, batch)
    }

    /// What `hwprobe` predicts for without a model: SmolLM2-135M's shape in Q8_0 (30 layers of 7
    /// matrices, 106M elements, and a tied 49152 × 576 output; ≈ 21 ops a layer after fusion), for
    /// llama-bench's default test of 128 prompt and 64 generated tokens.
    public static let nominal = Workload(
        name: "a 135M-parameter Q8_0 model (SmolLM2-135M's shape), 128 prompt + 64 generated tokens",
        matrices: [Matrices(type: .q8_0, count: 210, bytes: 106e6 * 34 / 32, prefillElements: 106e6),
                   Matrices(type: .q8_0, count: 1, bytes: 28.3e6 * 34 / 32, prefillElements: 0)],
        ops: 640, promptTokens: 128, generatedTokens: 64)

    public var description: String { name }

    /// The weight types whose rates a prediction needs.
    public var types: [DType] { matrices.map(\.type) }

    /// Predicted seconds on a device with calibration `c`: per token, the run's fixed cost and its
    /// ops' dispatches, plus each type's matrices at that type's rate for the size of all the weights
    /// of a token (what decides whether they stay in a CPU's caches between tokens).
    public func predict(_ c: DeviceCalibration) -> Prediction {
        let run = c.runSeconds + Double(ops - 1) * c.opSeconds
        let total = matrices.reduce(0) { $0 + $1.bytes }
        var decode = run, prefill = run / Double(batch)
        for m in matrices where m.count > 0 {
            decode += m.bytes / (c.matVecGBps(m.type, bytes: total) * 1e9)
            prefill += 2 * m.prefillElements / (c.prefillGFLOPS(m.type) * 1e9)
        }
        return Prediction(decodeSecondsPerToken: decode, prefillSecondsPerToken: prefill,
                          seconds: Double(promptTokens) * prefill + Double(generatedTokens) * decode)
    }
}

/// A device's predicted time for a ``Workload``.
public struct Prediction: Sendable, Codable, Equatable {
    public var decodeSecondsPerToken: Double
    public var prefillSecondsPerToken: Double
    /// The whole workload: its prompt, then its generated tokens.
    public var seconds: Double

    public init(decodeSecondsPerToken: Double, prefillSecondsPerToken: Double, seconds: Double) {
        self.decodeSecondsPerToken = decodeSecondsPerToken
        self.prefillSecondsPerToken = prefillSecondsPerToken
        self.seconds = seconds
    }

    /// "0.84 s (decode 94.1 tokens/s, prefill 412.0 tokens/s)".
    public var summary: String {
        "\(DeviceCalibration.decimal(seconds, 2)) s (decode \(DeviceCalibration.decimal(1 / decodeSecondsPerToken)) tokens/s, "
            + "prefill \(DeviceCalibration.decimal(1 / prefillSecondsPerToken)) tokens/s)"
    }
}
