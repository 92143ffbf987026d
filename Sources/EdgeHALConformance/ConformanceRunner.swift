import EdgeHAL
import EdgeHALReference
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The outcome of one case on one device.
public struct CaseResult: Sendable, Codable {
    public enum Status: String, Sendable, Codable { case pass, fail, unsupported }
    public var op: String
    public var type: String
    public var shape: String
    public var check: ConformanceCase.Check
    /// The backend measured (set in side-by-side runs).
    public var backend: String?
    public var status: Status
    public var nmse: Double?
    public var threshold: Double
    /// Least-squares gain Σ y·ref / Σ ref² and the band |g − 1| must stay within (Tolerance.gainBand).
    public var gain: Double?
    public var gainBand: Double?
    /// Milliseconds for one run on the device (the median of the timed runs with `conformance perf`).
    public var ms: Double?
    public var gflops: Double?
    public var weightGBps: Double?
    /// The reference backend's time for the same case over this one's (> 1: faster than the oracle).
    public var speedupVsReference: Double?
    /// For model cases: the position-by-position comparison with the reference.
    public var model: ModelFigures?

    public init(op: String, type: String, shape: String, check: ConformanceCase.Check, status: Status, threshold: Double,
                detail: String? = nil) {
        self.op = op
        self.type = type
        self.shape = shape
        self.check = check
        self.status = status
        self.threshold = threshold
        self.detail = detail
    }
    /// What failed, or why the case is unsupported.
    public var detail: String?
}

/// What a model case measured (see EdgeHALModels' ModelAgreement for the criterion).
public struct ModelFigures: Sendable, Codable {
    public var positions: Int
    /// Positions where the reference's top-1 leads its runner-up by more than the margin, and the margin.
    public var confident: Int
    public var margin: Double
    /// Share of confident positions where the backend's top-1 equals the reference's (must be 1).
    public var confidentAgreement: Double
    public var nearTies: Int
    public var nearTieFlips: Int
    /// Share of all positions whose top token equals the reference's.
    public var top1: Double
    public var meanKL: Double
    public var maxKL: Double
    /// How far the backend moves the reference top-1's lead over its runner-up: largest and RMS (logits).
    public var maxLeadError: Double
    public var rmsLeadError: Double

    public init(positions: Int, confident: Int, margin: Double, confidentAgreement: Double, nearTies: Int, nearTieFlips: Int,
                top1: Double, meanKL: Double, maxKL: Double, maxLeadError: Double, rmsLeadError: Double) {
        self.positions = positions
        self.confident = confident
        self.margin = margin
        self.confidentAgreement = confidentAgreement
        self.nearTies = nearTies
        self.nearTieFlips = nearTieFlips
        self.top1 = top1
        self.meanKL = meanKL
        self.maxKL = maxKL
        self.maxLeadError = maxLeadError
        self.rmsLeadError = rmsLeadError
    }
}

/// All results of a conformance run on one device.
public struct ConformanceReport: Sendable, Codable {
    public var backend: String
    public var device: String
    public var passed: Int
    public var failed: Int
    public var unsupported: Int
    public var results: [CaseResult]

    public init(backend: String, device: String, results: [CaseResult]) {
        self.backend = backend
        self.device = device
        self.results = results
        passed = results.filter { $0.status == .pass }.count
        failed = results.filter { $0.status == .fail }.count
        unsupported = results.filter { $0.status == .unsupported }.count
    }
}

/// Runs conformance cases on any ``Device`` — in-tree or a plugin's — against the reference backend.
public struct ConformanceRunner {
    public var seed: UInt64
    /// Timed runs per case after the checked ones (0: time only the checked run).
    public var perfRuns: Int
    private let reference = ReferenceDevice()
    private let roundingReference = ReferenceDevice(roundsActivations: true)
    /// K-quant activations rounded per 256 values, as ggml's Q8_K does: a correct ggml-style kernel
    /// must pass too, and on data with sparse outliers it errs more than per-32 rounding.
    private let superBlockRoundingReference = ReferenceDevice(roundsActivations: true, kQuantBlock: 256)
    /// Bytes of sentinel on each side of every tensor, sized to keep device offsets 256-byte aligned.
    static let guardBytes = 256
    /// 0x7F7F7F7F is 3.4e38 as f32, NaN as f16, a huge id as i32 and a NaN scale in a quant block:
    /// a kernel that reads past an input (a vector step past a row's end) cannot get away with it.
    static let sentinel: UInt8 = 0x7F

    public init(seed: UInt64 = 2026, perfRuns: Int = 0) {
        self.seed = seed
        self.perfRuns = perfRuns
    }

    public func run(_ cases: [ConformanceCase], on device: any Device, progress: (CaseResult) -> Void = { _ in }) -> ConformanceReport {
        let results = cases.map { c -> CaseResult in
            let r = run(c, on: device)
            progress(r)
            return r
        }
        return ConformanceReport(backend: device.backendName, device: device.info.name, results: results)
    }

    public func run(_ c: ConformanceCase, on device: any Device) -> CaseResult {
        compare(c, on: [device])[0]
    }

    /// Runs one case on several devices, computing the reference result once: the side-by-side
    /// view `conformance perf` prints. Results come back in the order of `devices`.
    public func compare(_ c: ConformanceCase, on devices: [any Device]) -> [CaseResult] {
        var blank = CaseResult(op: c.op, type: c.type, shape: c.shape, check: c.check, status: .fail, threshold: c.threshold)
        let prepared: (CaseGraph, [Float])
        var referenceMs = 0.0
        var gainBand: (Int) -> Double = { Tolerance.gainBand(nmse: c.threshold, outputs: $0) }
        do {
            var rng = SeededRandom(seed: seed ^ UInt64(truncatingIfNeeded: c.id.hashValueStable))
            let g = try c.make(&rng)
            let (values, ms) = try execute(g, on: reference, fuse: false)
            prepared = (g, values)
            referenceMs = ms
            let quantized = g.graph.nodes.filter { $0.op == .mulMat && g.graph[$0.inputs[0]].desc.type.isQuantized }
            if !quantized.isEmpty {
                // The error a correct 8-bit-activation kernel makes on this data, by emulation: the
                // larger of per-32 and (with K-quant weights) ggml's per-256 rounding.
                let kQuant = quantized.contains { g.graph[$0.inputs[0]].desc.type.blockSize == 256 }
                var eq = 0.0, gainError = 0.0
                for device in kQuant ? [roundingReference, superBlockRoundingReference] : [roundingReference] {
                    let roundedValues = try execute(g, on: device, fuse: false).values
                    eq = max(eq, Self.nmse(roundedValues, values))
                    gainError = max(gainError, abs(Self.gain(roundedValues, values) - 1))
                }
                blank.threshold = max(Tolerance.roundingFloor, Tolerance.roundingMargin * eq)
                gainBand = { Tolerance.gainBand(nmse: eq, outputs: $0, roundedGainError: gainError) }
            }
        } catch {
            return devices.map { _ in var r = blank; r.detail = "case setup: \(error)"; return r }
        }
        let (g, expected) = prepared
        let threshold = blank.threshold
        let band = gainBand(expected.count)
        return devices.map { device in
            var result = blank
            result.backend = device.backendName
            do {
                let outcome: (actual: [Float], ms: Double)
                switch c.check {
                case .op: outcome = try runGuarded(g, on: device)
                case .fusion, .graph: outcome = try runGraph(g, on: device, requireFusion: c.check == .fusion)
                }
                let nmse = Self.nmse(outcome.actual, expected)
                result.nmse = nmse
                result.ms = outcome.ms
                if outcome.ms > 0 {
                    result.speedupVsReference = referenceMs / outcome.ms
                    result.gflops = c.flops > 0 ? c.flops / outcome.ms / 1e6 : nil
                    result.weightGBps = c.weightBytes > 0 ? c.weightBytes / outcome.ms / 1e6 : nil
                }
                let gain = Self.gain(outcome.actual, expected)
                result.gain = gain
                result.gainBand = band
                if !(nmse <= threshold) {
                    result.detail = "NMSE \(nmse) above \(threshold)"
                } else if Self.roundsExactly(c, g), let i = Self.firstBitDifference(outcome.actual, expected) {
                    result.detail = "value \(i) is \(outcome.actual[i]) (bits \(Self.hex(outcome.actual[i]))), the reference's "
                        + "\(expected[i]) (bits \(Self.hex(expected[i]))): a conversion has one right answer"
                } else if !(abs(gain - 1) <= band) {
                    result.detail = "gain \(gain) outside 1 ± \(band): a systematic scale error"
                } else {
                    result.status = .pass
                }
            } catch let CaseError.unsupported(why) {
                result.status = .unsupported
                result.detail = why
            } catch let CaseError.failed(why) {
                result.detail = why
            } catch {
                result.detail = "\(error)"
            }
            return result
        }
    }

    enum CaseError: Error { case unsupported(String), failed(String) }

    /// Runs a whole graph through the executor with only `device`, so nothing falls back silently.
    func execute(_ g: CaseGraph, on device: any Device, fuse: Bool) throws -> (values: [Float], ms: Double) {
        let exe = try Executable(graph: g.graph, devices: [device], options: ExecutionOptions(fuse: fuse))
        try Self.load(g, into: exe)
        let start = Self.now()
        try exe.run()
        let ms = (Self.now() - start) * 1000
        return (TestData.floats(try exe.readBytes(g.output), as: g.graph[g.output].desc.type), ms)
    }

    func runGraph(_ g: CaseGraph, on device: any Device, requireFusion: Bool) throws -> (actual: [Float], ms: Double) {
        let probe = Fusion.apply(to: g.graph, supports: device.supports)
        if let node = probe.nodes.first(where: { !device.supports(probe.signature(of: $0)) }) {
            throw CaseError.unsupported("\(probe.signature(of: node))")
        }
        if requireFusion && probe.nodes.count == g.graph.nodes.count {
            throw CaseError.unsupported("the device does not support the fused op for this pattern")
        }
        // States between guard bytes: a cache row written one past the end fails here (the output compares only the state).
        let exe = try Executable(graph: g.graph, devices: [device],
                                 options: ExecutionOptions(fuse: true, weightOffset: g.inputMisalignment, stateGuard: Self.guardBytes))
        try Self.load(g, into: exe)
        try exe.run()
        guard try exe.stateGuardsIntact() else { throw CaseError.failed("wrote outside a state (a row past a cache's end?)") }
        let first = try exe.readBytes(g.output)
        let ms = try time {
            try Self.load(g, into: exe)
            try exe.run()
        }
        guard try exe.readBytes(g.output) == first else { throw CaseError.failed("two runs of the same graph differ") }
        return (TestData.floats(first, as: g.graph[g.output].desc.type), ms)
    }

    /// Sets a case's inputs, and the initial contents of its states.
    static func load(_ g: CaseGraph, into exe: Executable) throws {
        for (id, bytes) in g.inputs {
            try bytes.withUnsafeBytes { raw in
                if case .state = g.graph[id].source { try exe.setState(id, bytes: raw) } else { try exe.setInput(id, bytes: raw) }
            }
        }
    }

    /// One op in buffers surrounded by sentinels: checks bounds, untouched inputs and bit-identical reruns.
    func runGuarded(_ g: CaseGraph, on device: any Device) throws -> (actual: [Float], ms: Double) {
        guard g.graph.nodes.count == 1, let node = g.graph.nodes.first else { throw CaseError.failed("an op case has one node") }
        let signature = g.graph.signature(of: node)
        guard device.supports(signature) else { throw CaseError.unsupported("\(signature)") }

        let pad = Self.guardBytes
        // In-place ops share an input's buffer as the output, whose guards are checked at `pad`.
        let skew = node.op.inPlaceInput == nil ? g.inputMisalignment : 0
        func guarded(_ desc: TensorDesc, _ payload: [UInt8]?, skew: Int = 0) throws -> (BufferSlice, [UInt8]) {
            var image = [UInt8](repeating: Self.sentinel, count: desc.byteCount + 2 * pad + skew)
            if let p = payload { image.replaceSubrange((pad + skew)..<(pad + skew + p.count), with: p) }
            let buffer = try device.makeBuffer(byteCount: image.count)
            try image.withUnsafeBytes { try buffer.write($0, at: 0) }
            return (BufferSlice(buffer: buffer, offset: pad + skew, desc: desc), image)
        }
        func contents(_ s: BufferSlice) throws -> [UInt8] {
            var out = [UInt8](repeating: 0, count: s.buffer.byteCount)
            try out.withUnsafeMutableBytes { try s.buffer.read(into: $0, at: 0) }
            return out
        }
        let inputs = try node.inputs.map { id -> (BufferSlice, [UInt8]) in
            let t = g.graph[id]
            switch t.source {
            case .weight(let data): return try guarded(t.desc, Array(data.bytes), skew: skew)
            default:
                guard let bytes = g.inputs[id] else { throw CaseError.failed("input \(t.name) has no data") }
                return try guarded(t.desc, bytes, skew: skew)
            }
        }
        // An in-place op writes into its input: that input's buffer is the output, guards included.
        let inPlace = node.op.inPlaceInput
        let output = try inPlace.map { inputs[$0].0 } ?? guarded(g.graph[node.output].desc, nil).0
        let program = try device.compile(Partition(nodes: [PartitionNode(op: node.op, inputs: inputs.map(\.0), output: output)]))
        try program.run()
        let first = try contents(output)
        let outBytes = output.desc.byteCount
        if let bad = (Array(first[..<pad]) + Array(first[(pad + outBytes)...])).firstIndex(where: { $0 != Self.sentinel }) {
            throw CaseError.failed("wrote outside its output: guard byte \(bad < pad ? bad - pad : bad - pad + outBytes) relative to the output start")
        }
        for (i, (slice, image)) in inputs.enumerated() where i != inPlace {
            if try contents(slice) != image { throw CaseError.failed("modified input \(i)") }
        }
        // Run again from a poisoned output (or, in place, the original contents): the same bytes must come back.
        let reset: [UInt8] = inPlace.map { Array(inputs[$0].1[pad..<(pad + outBytes)]) } ?? [UInt8](repeating: 0xFF, count: outBytes)
        let ms = try time {
            try reset.withUnsafeBytes { try output.buffer.write($0, at: pad) }
            try program.run()
        }
        let second = try contents(output)
        guard second == first else { throw CaseError.failed("two runs differ (or the output was not fully written)") }
        return (TestData.floats(Array(first[pad..<(pad + outBytes)]), as: output.desc.type), ms)
    }

    /// Runs `body` once more (plus `perfRuns` times) and returns the median in milliseconds.
    func time(_ body: () throws -> Void) throws -> Double {
        var samples: [Double] = []
        for _ in 0..<max(1, perfRuns) {
            let start = Self.now()
            try body()
            samples.append((Self.now() - start) * 1000)
        }
        return samples.sorted()[samples.count / 2]
    }

    static func now() -> Double { MonotonicClock.seconds() }

    /// Whether a case's output has exactly one right bit pattern, which NMSE cannot fully check: an
    /// exact op whose output is f16 (rounded to nearest even: a tie rounded the wrong way, or -0
    /// written as +0, is a small or zero NMSE) or any conversion (f16 → f32 widening is exact).
    static func roundsExactly(_ c: ConformanceCase, _ g: CaseGraph) -> Bool {
        c.check == .op && c.threshold == Tolerance.exact && (g.graph[g.output].desc.type == .f16 || c.op == "convert")
    }

    /// The first index whose bits differ (any NaN matches any NaN), or nil.
    static func firstBitDifference(_ actual: [Float], _ expected: [Float]) -> Int? {
        actual.indices.first { i in
            actual[i].bitPattern != expected[i].bitPattern && !(actual[i].isNaN && expected[i].isNaN)
        }
    }

    static func hex(_ f: Float) -> String { "0x" + String(f.bitPattern, radix: 16) }

    /// Least-squares gain Σ a·b / Σ b² over the finite reference values (1 when the reference is all zero).
    public static func gain(_ actual: [Float], _ expected: [Float]) -> Double {
        guard actual.count == expected.count else { return .nan }
        var cross = 0.0, power = 0.0
        for (a, b) in zip(actual, expected) where b.isFinite {
            cross += Double(a) * Double(b)
            power += Double(b) * Double(b)
        }
        return power > 0 ? cross / power : (cross == 0 ? 1 : .nan)
    }

    /// Normalized mean squared error Σ(a−b)²/Σb²; non-finite values where the reference is finite count as infinite error.
    public static func nmse(_ actual: [Float], _ expected: [Float]) -> Double {
        guard actual.count == expected.count else { return .infinity }
        var err = 0.0, power = 0.0
        for (a, b) in zip(actual, expected) {
            if b.isInfinite || b.isNaN {
                if !(a == b || (a.isNaN && b.isNaN)) { return .infinity }
                continue
            }
            guard a.isFinite else { return .infinity }
            let d = Double(a) - Double(b)
            err += d * d
            power += Double(b) * Double(b)
        }
        if err == 0 { return 0 }
        return power > 0 ? err / power : .infinity
    }
}

extension String {
    /// FNV-1a: Swift's `hashValue` is seeded per process, so case data would not repeat across runs.
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}
