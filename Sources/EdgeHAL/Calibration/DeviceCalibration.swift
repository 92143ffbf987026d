#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a device measured doing the work a decoder does, for predicting which device runs a model
/// fastest: no fixed ranking of kinds can be right (an integrated GPU may lose to a big CPU, a
/// software driver always loses, and which wins depends on the model: a 135M model is
/// launch-bound, a 7B one bandwidth-bound).
public struct DeviceCalibration: Codable, Sendable, Equatable {
    /// Seconds for `run()` of a one-op graph to complete: submission, launch and synchronisation.
    public var runSeconds: Double
    /// Seconds each further op of a graph adds (dispatch and barrier of a tiny op).
    public var opSeconds: Double
    /// Mat-vec weight GB/s per weight type (`DType` raw value) at a weight of ``typeBytes`` (run overhead
    /// subtracted): kernels differ by type (a Q4_1 mat-vec may stream at half a Q8_0 one's rate).
    public var matVecGBps: [String: Double]
    /// Mat-mul GFLOPS per weight type over 64 columns (prefill).
    public var prefillGFLOPS: [String: Double]
    /// Q8_0 mat-vec GB/s at ``smallBytes`` (a CPU's caches hold it) and ``largeBytes`` (streamed from
    /// memory): how the rate changes with a weight's size, applied to every type.
    public var smallGBps: Double
    public var largeGBps: Double
    public var smallBytes: Int
    public var typeBytes: Int
    public var largeBytes: Int
    /// How long the measurement took.
    public var measuredSeconds: Double
    /// Types asked for that the device does not run (not measured again).
    public var unsupportedTypes: [String] = []

    public init(runSeconds: Double, opSeconds: Double, matVecGBps: [String: Double], prefillGFLOPS: [String: Double],
                smallGBps: Double, largeGBps: Double, smallBytes: Int, typeBytes: Int, largeBytes: Int, measuredSeconds: Double = 0) {
        self.runSeconds = runSeconds
        self.opSeconds = opSeconds
        self.matVecGBps = matVecGBps
        self.prefillGFLOPS = prefillGFLOPS
        self.smallGBps = smallGBps
        self.largeGBps = largeGBps
        self.smallBytes = smallBytes
        self.typeBytes = typeBytes
        self.largeBytes = largeBytes
        self.measuredSeconds = measuredSeconds
    }

    /// Every figure finite and positive, Q8_0 measured (a cache file that is not so is damaged).
    public var isPlausible: Bool {
        let figures = [runSeconds, smallGBps, largeGBps] + Array(matVecGBps.values) + Array(prefillGFLOPS.values)
        return figures.allSatisfy { $0.isFinite && $0 > 0 } && opSeconds.isFinite && opSeconds >= 0
            && matVecGBps["q8_0"] != nil && prefillGFLOPS["q8_0"] != nil
            && 0 < smallBytes && smallBytes < typeBytes && typeBytes < largeBytes
    }

    /// Mat-vec GB/s for `type` weights of `bytes` in all (a token reads them all, so their total decides
    /// whether they stay in a CPU's caches): the type's rate, scaled as Q8_0's changes with size
    /// (interpolated in log size between the measured points, constant beyond them). A type that was
    /// not measured counts as Q8_0.
    public func matVecGBps(_ type: DType, bytes: Double) -> Double {
        let q8 = matVecGBps["q8_0"]!
        let base = matVecGBps[type.rawValue] ?? q8
        func between(_ lo: Double, _ hi: Double, _ a: Double, _ b: Double) -> Double {
            a + (log(bytes) - log(lo)) / (log(hi) - log(lo)) * (b - a)
        }
        let (s, m, l) = (Double(smallBytes), Double(typeBytes), Double(largeBytes))
        let q8AtSize = bytes <= s ? smallGBps : bytes <= m ? between(s, m, smallGBps, q8) : bytes < l ? between(m, l, q8, largeGBps) : largeGBps
        return base * q8AtSize / q8
    }

    /// Prefill GFLOPS for `type` weights (Q8_0's when that type was not measured).
    public func prefillGFLOPS(_ type: DType) -> Double {
        prefillGFLOPS[type.rawValue] ?? prefillGFLOPS["q8_0"]!
    }

    /// One line for `hwprobe`.
    public var summary: String {
        func rates(_ d: [String: Double], _ unit: String) -> String {
            d.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.decimal($0.value))" }.joined(separator: ", ") + " " + unit
        }
        func mib(_ bytes: Int) -> Int { (bytes + (1 << 19)) >> 20 }   // nearest: 4 193 152 bytes are "4 MiB"
        return "run \(Self.decimal(runSeconds * 1e6)) µs, +\(Self.decimal(opSeconds * 1e6)) µs/op; "
            + "mat-vec at \(mib(typeBytes)) MiB: \(rates(matVecGBps, "GB/s")) (q8_0 \(Self.decimal(smallGBps)) at \(mib(smallBytes)) MiB, "
            + "\(Self.decimal(largeGBps)) at \(mib(largeBytes)) MiB); prefill: \(rates(prefillGFLOPS, "GFLOPS")) "
            + "(measured in \(Self.decimal(measuredSeconds, 2)) s)"
    }

    /// `x` with `digits` decimals (the core has no Foundation formatting).
    public static func decimal(_ x: Double, _ digits: Int = 1) -> String {
        guard x.isFinite else { return "\(x)" }
        let scale = pow(10, Double(digits))
        let r = (x * scale).rounded() / scale
        var s = String(Int64(r.rounded(.towardZero)))
        if r < 0 && s.first != "-" { s = "-" + s }
        guard digits > 0 else { return s }
        let frac = Int64((abs(r) - abs(r.rounded(.towardZero))) * scale + 0.5)
        let f = String(frac)
        return s + "." + String(repeating: "0", count: max(0, digits - f.count)) + f
    }
}

/// Measures a device through the core graph API, as any backend (plugins too) runs a model: each
/// figure is the median of runs after a warm-up, repeated (3 to 50 times) while its share of time
/// lasts. Weight types are measured when a workload first needs them (``measure(_:types:base:share:)``).
public enum Calibrator {
    /// Rows × columns of the mat-vec weights: 1 MiB, 4 MiB (every type at k = 2048) and 64 MiB of Q8_0.
    static let small = (k: 1024, m: 964)
    static let typeK = 2048
    static let large = (k: 8192, m: 7710)
    /// Prefill: 1024 × 1024 weights by 64 columns.
    static let prefill = (k: 1024, m: 1024, n: 64)

    /// Measures `device`: its run and op costs and Q8_0 mat-vec at three sizes (unless `base` has them),
    /// then mat-vec and prefill rates for each of `types` that `base` lacks and the device runs. Each
    /// figure takes a fixed share of time (a driver compiling its kernels on first use adds to it):
    /// ≈ 0.6 s for the base, 0.2 s a type.
    public static func measure(_ device: any Device, types: [DType] = [.q8_0], base: DeviceCalibration? = nil,
                               share: Double = 0.1) throws -> DeviceCalibration {
        let start = MonotonicClock.seconds()
        guard device.supports(matMulSignature(.q8_0, k: typeK, m: 64, n: 1)) else {
            throw EdgeHALError.unsupported("\(device.info.name) has no Q8_0 mat-mul to calibrate with")
        }
        let one = try base?.runSeconds ?? timeGraph(chain(1), device, budget: share / 2)
        // Kernel time: the run's fixed cost subtracted, never below a tenth of the whole.
        func kernel(_ t: Double) -> Double { max(t - one, t / 10) }
        func gbps(_ type: DType, _ k: Int, _ m: Int, _ time: Double) throws -> (Double, Int) {
            let (g, bytes) = try matMul(type, k, m, columns: 1)
            return (Double(bytes) / kernel(try timeGraph(g, device, budget: time)) / 1e9, bytes)
        }
        var c: DeviceCalibration
        if let base { c = base } else {
            let many = try timeGraph(chain(33), device, budget: share / 2)
            let (smallGBps, smallBytes) = try gbps(.q8_0, small.k, small.m, share)
            let (largeGBps, largeBytes) = try gbps(.q8_0, large.k, large.m, share * 2)
            c = DeviceCalibration(runSeconds: one, opSeconds: max(0, (many - one) / 32), matVecGBps: [:], prefillGFLOPS: [:],
                                  smallGBps: smallGBps, largeGBps: largeGBps, smallBytes: smallBytes, typeBytes: 0, largeBytes: largeBytes)
        }
        var wanted = ([DType.q8_0] + types.filter { $0 != .q8_0 }).filter { c.matVecGBps[$0.rawValue] == nil }
        for t in wanted where !device.supports(matMulSignature(t, k: typeK, m: 64, n: 1)) {
            if !c.unsupportedTypes.contains(t.rawValue) { c.unsupportedTypes.append(t.rawValue) }
        }
        wanted = wanted.filter { !c.unsupportedTypes.contains($0.rawValue) }
        for t in wanted {
            // About 4 MiB of each type.
            let m = max(64, (4 << 20) / (typeK / t.blockSize * t.blockBytes))
            let (rate, bytes) = try gbps(t, typeK, m, share)
            c.matVecGBps[t.rawValue] = rate
            if t == .q8_0 { c.typeBytes = bytes }
            let (g, _) = try matMul(t, prefill.k, prefill.m, columns: prefill.n)
            c.prefillGFLOPS[t.rawValue] = 2.0 * Double(prefill.k * prefill.m * prefill.n) / kernel(try timeGraph(g, device, budget: share)) / 1e9
        }
        c.measuredSeconds += MonotonicClock.seconds() - start
        return c
    }

    static func matMulSignature(_ type: DType, k: Int, m: Int, n: Int) -> OpSignature {
        OpSignature(op: .mulMat, inputs: [TensorDesc(type, Shape(k, m)), TensorDesc(.f32, Shape(k, n))], output: TensorDesc(.f32, Shape(m, n)))
    }

    /// `count` dependent adds of 64 floats: what a run costs beyond its arithmetic.
    static func chain(_ count: Int) -> Graph {
        var b = GraphBuilder()
        var x = b.input("x", .f32, Shape(64))
        let y = b.input("y", .f32, Shape(64))
        for _ in 0..<count { x = (try? b.add(x, y)) ?? x }
        b.output(x)
        return b.graph
    }

    /// y = W·x with `type` weights [k, m] and `columns` activation columns; returns the graph and the weight bytes.
    static func matMul(_ type: DType, _ k: Int, _ m: Int, columns: Int) throws -> (Graph, Int) {
        var b = GraphBuilder()
        let bytes = m * (k / type.blockSize) * type.blockBytes
        let w = try b.weight("w", type, Shape(k, m), data: weights(type, bytes))
        let x = b.input("x", .f32, Shape(k, columns))
        b.output(try b.mulMat(w, x))
        return (b.graph, bytes)
    }

    /// Valid blocks: 64 KiB of random blocks repeated (the values do not matter to the speed).
    static func weights(_ type: DType, _ bytes: Int) -> HostData {
        var rng = SeededRandom(seed: 7)
        let tile: [UInt8]
        if type == .f16 {
            tile = (0..<(1 << 15)).flatMap { _ -> [UInt8] in
                let h = Float16(Float(rng.unit()) - 0.5).bitPattern
                return [UInt8(truncatingIfNeeded: h), UInt8(truncatingIfNeeded: h >> 8)]
            }
        } else {
            tile = Quant.randomBlocks(type, blocks: (1 << 16) / type.blockBytes, rng: &rng, scale: 1)
        }
        var out = [UInt8](repeating: 0, count: bytes)
        out.withUnsafeMutableBytes { dst in
            tile.withUnsafeBytes { src in
                var offset = 0
                while offset < bytes {
                    let n = min(src.count, bytes - offset)
                    dst.baseAddress!.advanced(by: offset).copyMemory(from: src.baseAddress!, byteCount: n)
                    offset += n
                }
            }
        }
        return HostData(out)
    }

    /// Median seconds of `run()` (inputs set once, outputs read back once at the end), warm.
    static func timeGraph(_ graph: Graph, _ device: any Device, budget: Double) throws -> Double {
        let exe = try Executable(graph: graph, devices: [device])
        for input in graph.inputs {
            try exe.setInput(input, [Float](repeating: 0.5, count: graph[input].desc.shape.count))
        }
        try exe.run()
        _ = try exe.readBytes(graph.outputs[0])
        var times: [Double] = []
        let deadline = MonotonicClock.seconds() + budget
        while times.count < 3 || (times.count < 50 && MonotonicClock.seconds() < deadline) {
            let t0 = MonotonicClock.seconds()
            try exe.run()
            times.append(MonotonicClock.seconds() - t0)
        }
        return times.sorted()[times.count / 2]
    }
}
