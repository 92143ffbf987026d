import EdgeHAL

/// Scratch for one set of quantized activation columns, shared by the kernels of a group that
/// read them in the same layout.
final class ActivationScratch: @unchecked Sendable {
    let codes: UnsafeMutableRawPointer
    let meta: UnsafeMutableRawPointer

    init(codeBytes: Int, metaBytes: Int) {
        codes = .allocate(byteCount: max(64, codeBytes), alignment: 64)
        meta = .allocate(byteCount: max(64, metaBytes), alignment: 64)
    }

    deinit {
        codes.deallocate()
        meta.deallocate()
    }
}

/// A group of mul_mats over the same activations (``Partition/groups``) run as one job: the
/// activations quantized once per layout, then one pool dispatch in which every worker takes its
/// share of each member's rows. In SmolLM2's decode this turns a layer's five mat-vec dispatches
/// (q, k, v, gate, up) into two, and its five activation quantizations into two.
final class MatMulGroup: @unchecked Sendable {
    struct Member {
        let kernel: MatMulKernel
        let a: UnsafeRawPointer
        let out: UnsafeMutableRawPointer
    }

    let members: [Member]
    let b: UnsafeRawPointer
    let work: Int

    /// Nil unless every node reads the same activation address (then the nodes run one by one).
    init?(_ nodes: ArraySlice<PartitionNode>, device: String, threads: Int, kernels set: CPUKernelSet) throws {
        var members: [Member] = []
        var kernels: [MatMulKernel] = []
        var b: UnsafeRawPointer?
        for node in nodes {
            let (ins, out) = try node.hostAddresses(device: device)
            if let b, b != ins[1] { return nil }
            b = ins[1]
            let kernel = MatMulKernel(weights: node.inputs[0].desc, activations: node.inputs[1].desc, output: node.output.desc,
                                      threads: threads, kernels: set, sharing: kernels)
            kernels.append(kernel)
            members.append(Member(kernel: kernel, a: ins[0], out: out))
        }
        self.members = members
        self.b = b!
        work = kernels.reduce(0) { $0 + $1.work }
    }

    func run(pool: WorkerPool) {
        for m in members where m.kernel.quantizes { m.kernel.quantize(b, pool: pool) }
        let x = b.assumingMemoryBound(to: Float.self)
        if MatMulKernel.runsOnCaller(work: work, pool: pool) {
            for m in members { m.kernel.compute(m.a, x, m.out, worker: 0, workers: 1) }
        } else {
            pool.run { w in
                for m in self.members { m.kernel.compute(m.a, x, m.out, worker: w, workers: pool.threads) }
            }
        }
    }
}
