import EdgeHAL
import EdgeHALReference
import Foundation
import Testing

/// A device that runs only mul_mat (through the reference kernels), to exercise partitioning and fallback.
final class MulMatOnlyDevice: Device {
    let base = ReferenceDevice()
    let backendName = "matmul-only"
    var info: DeviceInfo { DeviceInfo(name: "test accelerator", kind: .gpu, computeUnits: 1) }
    func supports(_ s: OpSignature) -> Bool { s.op == .mulMat && base.supports(s) }
    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { HostBuffer(byteCount: byteCount) }
    func compile(_ p: Partition) throws -> any Program {
        for n in p.nodes where !supports(n.signature) { throw EdgeHALError.unsupported("\(n.signature)") }
        return try base.compile(p)
    }
}

struct ExecutableTests {
    /// x → mul_mat(w1) → silu → mul_mat(w2) → rms_norm: alternates between the two devices.
    func mlp() throws -> (Graph, TensorID, TensorID) {
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(64, 3))
        let w1 = try b.weight("w1", .q8_0, Shape(64, 128), data: HostData(Quant.quantize(.q8_0, (0..<8192).map { Float($0 % 17) / 17 - 0.5 })))
        let w2 = try b.weight("w2", .f32, Shape(128, 64), data: HostData(floats: (0..<8192).map { Float($0 % 13) / 13 - 0.5 }))
        let h = try b.silu(try b.mulMat(w1, x))
        let y = try b.rmsNorm(try b.mulMat(w2, h), eps: 1e-5)
        b.output(y)
        return (b.graph, x, y)
    }

    @Test func fallbackPartitionsAndTransfersGiveTheSameResult() throws {
        let (graph, x, y) = try mlp()
        let input = (0..<192).map { Float($0 % 7) - 3 }
        let alone = try Executable(graph: graph, devices: [ReferenceDevice()])
        try alone.setInput(x, input)
        try alone.run()
        let mixed = try Executable(graph: graph, devices: [MulMatOnlyDevice(), ReferenceDevice()])
        try mixed.setInput(x, input)
        try mixed.run()
        #expect(mixed.report.partitions.map(\.ops) == [["mul_mat"], ["silu"], ["mul_mat"], ["rms_norm"]])
        #expect(mixed.report.transfers == 3)
        #expect(try mixed.read(y) == alone.read(y))
        // Built once, run many times with new inputs.
        try mixed.setInput(x, input.map { -$0 })
        try mixed.run()
        try alone.setInput(x, input.map { -$0 })
        try alone.run()
        #expect(try mixed.read(y) == alone.read(y))
    }

    /// Executables built at once on several threads over one ResidentTensors upload each weight once.
    @Test func residentTensorsAreSharedSafelyBetweenThreads() async throws {
        let (graph, _, _) = try mlp()
        let resident = ResidentTensors(), device = ReferenceDevice()
        let single = try Executable(graph: graph, devices: [ReferenceDevice()]).resident.weightBytes
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { try Executable(graph: graph, devices: [device], resident: resident).report.weightBytes }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts.count == 8 && counts.allSatisfy { $0 == single })
        #expect(resident.weightBytes == single && single > 0)
    }

    @Test func unsupportedOpWithoutFallbackIsAnError() throws {
        let (graph, _, _) = try mlp()
        #expect(throws: EdgeHALError.self) { try Executable(graph: graph, devices: [MulMatOnlyDevice()]) }
    }

    @Test func missingInputIsAnError() throws {
        let (graph, _, _) = try mlp()
        let exe = try Executable(graph: graph, devices: [ReferenceDevice()])
        #expect(throws: EdgeHALError.self) { try exe.run() }
    }

    @Test func intermediatesShareMemoryByLiveness() throws {
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(1024))
        var t = x
        for _ in 0..<8 { t = try b.silu(t) }
        b.output(t)
        let exe = try Executable(graph: b.graph, devices: [ReferenceDevice()])
        // Nine 4 KiB tensors in a chain need only two live at once (the reference holds no bytes past their read).
        #expect(exe.report.unsharedBytes == 9 * 4096)
        #expect(exe.report.peakBytes == 2 * 4096)
        try exe.setInput(x, [Float](repeating: 1, count: 1024))
        try exe.run()
        var v: Float = 1
        for _ in 0..<8 { v = v / (1 + Float(exp(Double(-v)))) }
        #expect(abs(try exe.read(t)[5] - v) < 1e-6)
    }

    @Test func bufferPlanNeverOverlapsLiveTensors() {
        var rng: UInt64 = 42
        func next(_ n: Int) -> Int { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Int(rng >> 33) % n }
        let requests = (0..<200).map { _ -> BufferPlan.Request in
            let a = next(100)
            return .init(byteCount: 1 + next(5000), firstStep: a, lastStep: a + next(20))
        }
        for hold in [0, 2] {
            let plan = BufferPlan(requests, hold: hold)
            for i in requests.indices {
                for j in requests.indices where i < j {
                    let (a, b) = (requests[i], requests[j])
                    guard a.firstStep <= b.lastStep + hold && b.firstStep <= a.lastStep + hold else { continue }
                    let disjoint = plan.offsets[i] + a.byteCount <= plan.offsets[j] || plan.offsets[j] + b.byteCount <= plan.offsets[i]
                    #expect(disjoint, "requests \(i) and \(j) overlap (hold \(hold))")
                }
            }
            #expect(plan.peakBytes < plan.unsharedBytes)
        }
    }

    @Test func fusionRewritesOnlyWhatTheTargetSupports() throws {
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(64, 4))
        let w = try b.weight("w", .f32, Shape(64), data: HostData(floats: [Float](repeating: 2, count: 64)))
        let g = b.input("g", .f32, Shape(64, 4))
        let normed = try b.rmsNorm(x, eps: 1e-6)
        let n = try b.mul(normed, w)
        let s = try b.mul(try b.silu(g), n)
        b.output(s)
        let all = Fusion.apply(to: b.graph) { _ in true }
        #expect(all.nodes.map(\.op.name) == ["rms_norm_mul", "swiglu"])
        let none = Fusion.apply(to: b.graph) { !$0.op.isFused }
        #expect(none.nodes.count == 4)
        // An intermediate that is also an output must not be fused away.
        var b2 = b
        b2.output(normed)
        #expect(Fusion.apply(to: b2.graph) { _ in true }.nodes.map(\.op.name) == ["rms_norm", "mul", "swiglu"])
    }

    /// A norm read by several mul_mats (a layer's q, k, v) folds into each of them, but only when every reader
    /// is a mul_mat taking it as activations and every one of them may take the fused op.
    @Test func normsFoldIntoEveryMatMulThatReadsThem() throws {
        func graph(extraReader: Bool) throws -> Graph {
            var b = GraphBuilder()
            let x = b.input("x", .f32, Shape(64, 1))
            let w = try b.weight("w", .f32, Shape(64), data: HostData(floats: [Float](repeating: 2, count: 64)))
            let n = try b.mul(try b.rmsNorm(x, eps: 1e-6), w)
            var out: TensorID? = nil
            for (i, type) in [DType.f32, .f16, .f32].enumerated() {
                let count = 64 * 32
                let data = type == .f16 ? HostData([UInt8](repeating: 0, count: 2 * count)) : HostData(floats: [Float](repeating: 0.5, count: count))
                let p = try b.mulMat(try b.weight("m\(i)", type, Shape(64, 32), data: data), n)
                out = try out.map { try b.mul($0, p) } ?? p
            }
            if extraReader { out = try b.add(out!, try b.mulMat(try b.weight("m3", .f32, Shape(64, 32), data: HostData(floats: [Float](repeating: 1, count: 2048))), try b.add(n, x))) }
            b.output(out!)
            return b.graph
        }
        let folded = Fusion.apply(to: try graph(extraReader: false)) { _ in true }
        #expect(folded.nodes.map(\.op.name).filter { $0.hasPrefix("rms") || $0.hasPrefix("mul_mat") }
                == ["rms_norm_mul_mat", "rms_norm_mul_mat", "rms_norm_mul_mat"])
        // A target without the fused op for f16 weights: the norm stays for all three.
        let partial = Fusion.apply(to: try graph(extraReader: false)) { s in s.op != .rmsNormMulMat(eps: 1e-6) || s.inputs[0].type != .f16 }
        #expect(partial.nodes.map(\.op.name).filter { $0.hasPrefix("rms") } == ["rms_norm_mul"])
        #expect(partial.nodes.filter { $0.op == .mulMat }.count == 3)
        // An add reads the norm too: nothing folds.
        let shared = Fusion.apply(to: try graph(extraReader: true)) { _ in true }
        #expect(shared.nodes.map(\.op.name).filter { $0.hasPrefix("rms") } == ["rms_norm_mul"])
        // EDGEHAL_UNFUSED's option leaves one fusion out (the reference runs every fused op).
        let options = ExecutionOptions(unfused: ["rms_norm_mul_mat"])
        let exe = try Executable(graph: try graph(extraReader: false), devices: [ReferenceDevice()], options: options)
        #expect(exe.report.fusedOps == 1)   // rms_norm_mul only
        #expect(try Executable(graph: try graph(extraReader: false), devices: [ReferenceDevice()]).report.fusedOps == 3)
    }

    /// A feed-forward's act(gate·h)·(up·h) becomes one mul_mat_glu, its norm folded in when nothing else reads it;
    /// where the target lacks a fused form, the next one down (a glu, norms folded into the mul_mats) is taken.
    @Test func gluProductsFuseIntoOneMatVec() throws {
        func graph(gelu: Bool = false, upType: DType = .f32, gluNode: Bool = false, stages: Bool = false) throws -> Graph {
            var b = GraphBuilder()
            let x = b.input("x", .f32, Shape(64, 2))
            let w = try b.weight("w", .f32, Shape(64), data: HostData(floats: [Float](repeating: 2, count: 64)))
            let n = try b.mul(try b.rmsNorm(x, eps: 1e-6), w)
            func weight(_ name: String, _ type: DType) throws -> TensorID {
                let data = type == .f16 ? HostData([UInt8](repeating: 0, count: 2 * 2048)) : HostData(floats: [Float](repeating: 0.5, count: 2048))
                return try b.weight(name, type, Shape(64, 32), data: data)
            }
            let g = try b.mulMat(try weight("gate", .f32), n)
            if stages { b.stage = 1 }   // a layer split between the gate and the rest (never in a model: whole layers go)
            let u = try b.mulMat(try weight("up", upType), n)
            if gluNode {
                b.output(try b.apply(gelu ? .geglu : .swiglu, [g, u]))
            } else {
                b.output(try b.mul(gelu ? try b.gelu(g) : try b.silu(g), u))
            }
            return b.graph
        }
        func ops(_ g: Graph) -> [Op] { g.nodes.map(\.op) }
        #expect(ops(Fusion.apply(to: try graph()) { _ in true }) == [.mulMatGLU(MatGLU(.silu, normEps: 1e-6))])
        #expect(ops(Fusion.apply(to: try graph(gelu: true, gluNode: true)) { _ in true }) == [.mulMatGLU(MatGLU(.gelu, normEps: 1e-6))])
        let fused = Fusion.apply(to: try graph()) { _ in true }
        #expect(fused.nodes[0].inputs.count == 4 && fused[fused.nodes[0].inputs[3]].name == "up")
        // No mul_mat_glu: the glu, and the norm folded into both mul_mats.
        let noGLU = Fusion.apply(to: try graph()) { if case .mulMatGLU = $0.op { return false } else { return true } }
        #expect(noGLU.nodes.map(\.op.name) == ["rms_norm_mul_mat", "rms_norm_mul_mat", "swiglu"])
        // mul_mat_glu without the norm folded in: the norm stays.
        let plain = Fusion.apply(to: try graph()) { s in if case .mulMatGLU(let p) = s.op { return p.normEps == nil } else { return s.op != .rmsNormMulMat(eps: 1e-6) } }
        #expect(ops(plain) == [.rmsNormMul(eps: 1e-6), .mulMatGLU(MatGLU(.silu))])
        // Gate and up of different types: one kernel cannot take both; nor can a node take work across stages.
        #expect(Fusion.apply(to: try graph(upType: .f16)) { _ in true }.nodes.map(\.op.name) == ["rms_norm_mul_mat", "rms_norm_mul_mat", "swiglu"])
        #expect(Fusion.apply(to: try graph(stages: true)) { _ in true }.nodes.map(\.op.name) == ["rms_norm_mul_mat", "rms_norm_mul_mat", "swiglu"])
        // A norm that a unary op reads too stays where it is.
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(64, 2))
        let w = try b.weight("w", .f32, Shape(64), data: HostData(floats: [Float](repeating: 2, count: 64)))
        let n = try b.mul(try b.rmsNorm(x, eps: 1e-6), w)
        b.output(try b.mulMat(try b.weight("m", .f32, Shape(64, 32), data: HostData(floats: [Float](repeating: 1, count: 2048))), n))
        b.output(try b.silu(n))
        #expect(Fusion.apply(to: b.graph) { _ in true }.nodes.map(\.op.name) == ["rms_norm_mul", "mul_mat", "silu"])
    }

    @Test func headProjectionsFuseIntoMatVecs() throws {
        // A decode step's q (rope), k (rope, into a cache) and v (into a cache) over one norm, as the model builds them.
        func graph(tokens: Int = 1, qReadToo: Bool = false, stages: Bool = false) throws -> Graph {
            var b = GraphBuilder()
            let x = b.input("x", .f32, Shape(64, tokens))
            let pos = b.input("pos", .i32, Shape(tokens)), ids = b.input("ids", .i32, Shape(2 * tokens))
            let w = try b.weight("w", .f32, Shape(64), data: HostData(floats: [Float](repeating: 2, count: 64)))
            let n = try b.mul(try b.rmsNorm(x, eps: 1e-6), w)
            let rope = RopeParams(mode: .neox, nDims: 16, freqBase: 10000)
            func product(_ name: String, heads: Int) throws -> TensorID {
                let m = try b.weight(name, .f32, Shape(64, 16 * heads), data: HostData(floats: [Float](repeating: 0.5, count: 64 * 16 * heads)))
                return try b.reshape(try b.mulMat(m, n), Shape(16, heads, tokens))
            }
            func cache(_ name: String, _ fresh: TensorID) throws -> TensorID {
                try b.setRows(try b.state(name, .f16, Shape(16, 20)), try b.reshape(fresh, Shape(16, 2 * tokens)), ids: ids)
            }
            let qProduct = try product("wq", heads: 4)
            let q = try b.rope(qProduct, positions: pos, rope)
            if stages { b.stage = 1 }   // a layer split between q and the rest (never in a model: whole layers go)
            let k = try cache("k", try b.rope(try product("wk", heads: 2), positions: pos, rope))
            let v = try cache("v", try product("wv", heads: 2))
            b.output(q)
            if qReadToo { b.output(qProduct) }
            b.output(k)
            b.output(v)
            return b.graph
        }
        func ops(_ g: Graph) -> [Op] { g.nodes.map(\.op) }
        let rope = RopeParams(mode: .neox, nDims: 16, freqBase: 10000)
        let fused = Fusion.apply(to: try graph()) { _ in true }
        #expect(ops(fused) == [.mulMatRows(MatRows(headDim: 16, normEps: 1e-6, rope: rope, setRows: false)),
                               .mulMatRows(MatRows(headDim: 16, normEps: 1e-6, rope: rope, setRows: true)),
                               .mulMatRows(MatRows(headDim: 16, normEps: 1e-6, setRows: true))])
        // k's inputs: a, x, w, positions, ids, then the cache it updates in place.
        let k = fused.nodes[1]
        #expect(k.inputs.count == 6 && fused[k.inputs[3]].name == "pos" && fused[k.inputs[4]].name == "ids" && fused[k.inputs[5]].name == "k")
        #expect(k.op.inPlaceInput == 5 && fused.storage(of: k.output) == fused.storage(of: k.inputs[5]))
        // Three tokens: the same ops (the rows are per token and head).
        #expect(ops(Fusion.apply(to: try graph(tokens: 3)) { _ in true }).map(\.name) == ["mul_mat_rows", "mul_mat_rows", "mul_mat_rows"])
        // Without mul_mat_rows: the norm folds into the mul_mats, rope_set_rows and set_rows as before.
        let none = Fusion.apply(to: try graph()) { if case .mulMatRows = $0.op { return false } else { return true } }
        #expect(ops(none).map(\.name) == ["rms_norm_mul_mat", "rope", "rms_norm_mul_mat", "rope_set_rows", "rms_norm_mul_mat", "set_rows"])
        // A device with the rope form only (no f16 cache writes): q and k roped by their mat-vecs, the cache writes kept.
        let ropeOnly = Fusion.apply(to: try graph()) { if case .mulMatRows(let p) = $0.op { return !p.setRows } else { return true } }
        #expect(ops(ropeOnly).map(\.name) == ["mul_mat_rows", "mul_mat_rows", "set_rows", "rms_norm_mul_mat", "set_rows"])
        // q's product read by the output too: q stays a product (the norm folded in) and a rope.
        #expect(ops(Fusion.apply(to: try graph(qReadToo: true)) { _ in true }).map(\.name)
                == ["rms_norm_mul_mat", "rope", "mul_mat_rows", "mul_mat_rows"])
        // A stage boundary: q fuses in its stage, k and v in theirs; the norm stays (its readers span both).
        #expect(ops(Fusion.apply(to: try graph(stages: true)) { _ in true }).map(\.name).filter { $0 == "mul_mat_rows" }.count == 3)
    }

    @Test func badShapesAreErrorsNotCrashes() {
        var b = GraphBuilder()
        let a = b.input("a", .f32, Shape(64, 4))
        let c = b.input("c", .f32, Shape(48, 4))
        #expect(throws: EdgeHALError.self) { try b.mulMat(a, c) }
        #expect(throws: EdgeHALError.self) { try b.add(a, c) }
        #expect(throws: EdgeHALError.self) { try b.weight("w", .q4_0, Shape(48), data: HostData([UInt8](repeating: 0, count: 18))) }
        #expect(throws: EdgeHALError.self) { try b.reshape(a, Shape(100)) }
    }

    @Test func statePersistsAcrossRunsAndIsSharedBetweenGraphs() throws {
        // A "prefill" graph writes two rows of a cache; a "decode" graph writes one more and sums the cache.
        func graph(tokens: Int) throws -> (Graph, TensorID, TensorID, TensorID) {
            var b = GraphBuilder()
            let cache = try b.state("cache", .f32, Shape(4, 8))
            let src = b.input("src", .f32, Shape(4, tokens))
            let ids = b.input("ids", .i32, Shape(tokens))
            let updated = try b.setRows(cache, src, ids: ids)
            let ones = try b.weight("ones", .f32, Shape(4), data: HostData(floats: [1, 1, 1, 1]))
            let sums = try b.mulMat(updated, try b.reshape(ones, Shape(4, 1)))
            b.output(sums)
            return (b.graph, src, ids, sums)
        }
        let resident = ResidentTensors()
        let (g2, src2, ids2, _) = try graph(tokens: 2)
        let (g1, src1, ids1, sums1) = try graph(tokens: 1)
        for devices in [[ReferenceDevice()] as [any Device], [MulMatOnlyDevice(), ReferenceDevice()]] {
            let resident = devices.count == 1 ? resident : ResidentTensors()
            let prefill = try Executable(graph: g2, devices: devices, resident: resident)
            let decode = try Executable(graph: g1, devices: devices, resident: resident)
            try prefill.setInput(src2, [1, 1, 1, 1, 2, 2, 2, 2] as [Float])
            try prefill.setInput(ids2, [0, 1] as [Int32])
            try prefill.run()
            try decode.setInput(src1, [3, 3, 3, 3] as [Float])
            try decode.setInput(ids1, [2] as [Int32])
            try decode.run()
            #expect(try decode.read(sums1) == [4, 8, 12, 0, 0, 0, 0, 0])
            try decode.setInput(ids1, [7] as [Int32])
            try decode.run()
            #expect(try decode.read(sums1) == [4, 8, 12, 0, 0, 0, 0, 12])
            try resident.resetStates()
            try decode.run()
            #expect(try decode.read(sums1) == [0, 0, 0, 0, 0, 0, 0, 12])
        }
    }

    @Test func inPlaceUpdatesOnlyTargetState() throws {
        var b = GraphBuilder()
        let x = b.input("x", .f32, Shape(4, 2))
        let ids = b.input("ids", .i32, Shape(2))
        #expect(throws: EdgeHALError.self) { try b.setRows(x, x, ids: ids) }
    }
}
