import EdgeHAL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The portable SIMD CPU backend: Swift vector types only, compiled for the host's vector width,
/// with a persistent worker pool. `EDGEHAL_THREADS` sets the worker count (default: all cores).
public struct CPUBackend: Backend {
    public let name = "cpu"
    public init() {}

    public static var threads: Int {
        if let raw = EdgeHALEnvironment.value("EDGEHAL_THREADS"), let n = Int(raw), n > 0 { return min(n, 256) }
        return HostCPU.cores
    }

    public static var deviceInfo: DeviceInfo {
        DeviceInfo(name: "\(HostCPU.modelName) (Swift SIMD)", kind: .cpu, memoryBytes: HostCPU.memoryBytes,
                   computeUnits: threads,
                   features: HostCPU.simdFeatures + ["threads=\(threads)", "simd-build=\(buildVectorISA)"])
    }

    /// What the compiler targeted for this module. EdgeHAL's toolsets (`--toolset Toolsets/native.json`,
    /// `Toolsets/haswell.json`) pass a CPU and define EDGEHAL_TUNED_BUILD; without one, SIMD types
    /// lower to the architecture's baseline (on x86-64: SSE2 halves and fmaf calls).
    public static var buildVectorISA: String {
        #if arch(x86_64)
        let baseline = "x86-64 baseline (sse2)"
        #elseif arch(arm64)
        let baseline = "arm64 baseline (neon)"
        #else
        let baseline = "scalar"
        #endif
        return HostCPU.buildIsTuned && isOptimized ? "target-cpu from the toolset" : baseline
    }

    static var isOptimized: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }

    public func probe() -> BackendStatus {
        var info = Self.deviceInfo
        let kernels: String
        do { kernels = try CPUKernelSet.configured().rawValue } catch { return BackendStatus(available: false, reason: "\(error)", devices: [info]) }
        info.features.append("kernels=\(kernels)")
        return BackendStatus(available: true, reason: "host CPU, \(Self.threads) worker thread\(Self.threads == 1 ? "" : "s")",
                             devices: [info])
    }

    public func makeDevice(index: Int) throws -> any Device {
        guard index == 0 else { throw EdgeHALError.selection("cpu has one device (0), not \(index)") }
        return CPUDevice(threads: Self.threads, kernels: try CPUKernelSet.configured())
    }
}

public final class CPUDevice: Device {
    public let backendName = "cpu"
    public let info: DeviceInfo
    public let pool: WorkerPool

    /// Wall time per kernel (op and weight type), summed over runs, when `EDGEHAL_CPU_PROFILE=1`
    /// (or the initialiser) asks: each timed kernel adds two clock reads.
    public let profile: DeviceProfile?
    /// The quantized dot-product kernels this device runs (``CPUKernelSet``).
    public let kernels: CPUKernelSet

    /// `kernels`: nil for what `EDGEHAL_CPU_KERNELS` asks, or the build's best when it is unset or names
    /// no set this build has (``CPUBackend/makeDevice(index:)`` reports that as an error instead).
    public init(threads: Int, kernels: CPUKernelSet? = nil, profile: Bool = EdgeHALEnvironment.value("EDGEHAL_CPU_PROFILE") == "1") {
        pool = WorkerPool(threads: threads)
        self.kernels = kernels ?? (try? CPUKernelSet.configured()) ?? CPUKernelSet.best
        var info = CPUBackend.deviceInfo
        info.features.append("kernels=\(self.kernels.rawValue)")
        self.info = info
        self.profile = profile ? DeviceProfile(kernels: "cpu profile, \(threads) thread\(threads == 1 ? "" : "s") (wall time)") : nil
    }

    /// `kernel`, timed under `name` when profiling.
    private func timed(_ name: String, _ kernel: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        guard let profiler = profile?.kernels else { return kernel }
        return {
            let t0 = WorkerPool.monotonicNanoseconds()
            kernel()
            profiler.add(name, ms: Double(WorkerPool.monotonicNanoseconds() - t0) * 1e-6)
        }
    }

    /// "mul_mat q4_1+q4_1 mat-vec" for mul_mats (a group lists each member's weight type), else the op.
    private static func label(_ nodes: ArraySlice<PartitionNode>) -> String {
        guard let first = nodes.first, case .mulMat = first.op else { return nodes.first?.op.name ?? "" }
        return (nodes.count > 1 ? "mul_mat group " : "mul_mat ") + nodes.map { $0.inputs[0].desc.type.rawValue }.joined(separator: "+")
            + (first.inputs[1].desc.shape[1] == 1 ? " mat-vec" : "")
    }

    /// Every well-formed signature of every op but `rms_norm_mul_mat`, `mul_mat_glu` and `mul_mat_rows`: the CPU backend
    /// has no gaps. Those fused ops are for GPU stages; here the norm runs once for the layer's q, k and v (or gate and
    /// up), whose grouped mul_mat quantizes the normed activations once for all of them (``MatMulGroup``), so they stay
    /// unfused.
    public func supports(_ signature: OpSignature) -> Bool {
        guard signature.isWellFormed else { return false }
        switch signature.op {
        case .rmsNormMulMat, .mulMatGLU, .mulMatRows: return false
        default: break
        }
        if signature.op == .mulMat || signature.op == .mulMatAdd { return MatMulKernel.supports(signature.inputs[0].type) }
        return true
    }

    /// What `compile` takes: every signature `supports` accepts, and the fused mat-vecs it declines — a caller that
    /// builds one gets the composing kernel (the norm, the products, the glu or rope and cache write one after
    /// another); the executor, which asks `supports`, never places one here.
    func runs(_ signature: OpSignature) -> Bool {
        switch signature.op {
        case .rmsNormMulMat, .mulMatGLU, .mulMatRows: return signature.isWellFormed && MatMulKernel.supports(signature.inputs[0].type)
        default: return supports(signature)
        }
    }

    public func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { HostBuffer(byteCount: byteCount) }

    public func makeWeightBuffer(_ data: HostData) throws -> any DeviceBuffer { HostBuffer(wrapping: data) }

    /// One closure per node, except that each group of mul_mats over the same activations
    /// (``Partition/groups``) becomes one ``MatMulGroup`` job.
    public func compile(_ partition: Partition) throws -> any Program {
        let nodes = partition.nodes
        for node in nodes where !runs(node.signature) { throw EdgeHALError.unsupported("\(backendName): \(node.signature)") }
        let groups = Dictionary(partition.groups.map { ($0.lowerBound, $0) }, uniquingKeysWith: { a, _ in a })
        var kernels: [@Sendable () -> Void] = []
        let ropeTables = RopeTables()
        var i = 0
        while i < nodes.count {
            if let g = groups[i], g.count > 1, g.upperBound <= nodes.count, nodes[g].allSatisfy({ $0.op == .mulMat }),
               let group = try MatMulGroup(nodes[g], device: backendName, threads: pool.threads, kernels: self.kernels) {
                let pool = pool
                kernels.append(timed(Self.label(nodes[g])) { group.run(pool: pool) })
                i = g.upperBound
                continue
            }
            let node = nodes[i]
            let (ins, out) = try node.hostAddresses(device: backendName)
            kernels.append(timed(Self.label(nodes[i...i]), CPUKernels.make(node.op, inputs: Array(zip(ins, node.inputs.map(\.desc))), output: out,
                                                                   outputDesc: node.output.desc, pool: pool, kernels: self.kernels,
                                                                   ropeTables: ropeTables)))
            i += 1
        }
        return HostProgram(partition, kernels)
    }
}
