import COpenCL
import EdgeHAL

/// How one node runs: program (kernel file and build options), kernel, scalar arguments after the
/// tensors, and the NDRange — each kernel's header comment in Kernels/opencl gives its formulas.
struct OpenCLDispatch {
    enum Scalar { case u(UInt32), f(Float) }
    /// Kernel files (Kernels/opencl, without .cl) concatenated into the program's source, shared code first.
    var files: [String]
    var options = ""
    var kernel: String
    var scalars: [Scalar]
    var global: [Int]
    var local: [Int]? = nil
    /// Tensor inputs the kernel takes, when other than the op's (rms_norm's kernel also serves rms_norm·w).
    var inputs: Int? = nil
    /// The op's inputs the kernel takes, in the kernel's order, when they differ from the op's (mul_mat_rows binds
    /// its optional inputs at fixed places); an index past the node's inputs binds input 0 (never read).
    var inputOrder: [Int]? = nil
    /// Two-pass nodes (split-key attention): the kernel writes `scratchBytes` of partial results in place of
    /// the output, then `merge` (at most one; an array, as a struct cannot hold itself) reads them as its one
    /// input and writes the node's output. The program gives each such node a scratch buffer of its own.
    var scratchBytes = 0
    var merge: [OpenCLDispatch] = []
}

/// A partition as kernels whose arguments are all set at compile time: `run` only enqueues them on
/// the device's in-order queue and waits once — no host round trip between ops.
final class OpenCLProgram: Program, @unchecked Sendable {
    let device: OpenCLDevice
    /// Keeps the buffers the kernels' arguments point at alive.
    let partition: Partition
    private var kernels: [(kernel: cl_kernel, plan: OpenCLDispatch)] = []
    /// Two-pass nodes' partial results (``OpenCLDispatch/scratchBytes``).
    private var scratch: [any DeviceBuffer] = []

    init(device: OpenCLDevice, partition: Partition) throws {
        self.device = device
        self.partition = partition
        for node in partition.nodes {
            let plan = try OpenCLKernels.plan(node, family: device.family, maxWorkGroup: device.facts.maxWorkGroup)
            guard plan.scratchBytes > 0, let merge = plan.merge.first else { try add(node, plan); continue }
            // The in-order queue runs the merge after the kernel that writes its input.
            let buffer = try device.makeBuffer(byteCount: plan.scratchBytes)
            scratch.append(buffer)
            let part = BufferSlice(buffer: buffer, offset: 0, desc: TensorDesc(.f32, Shape(plan.scratchBytes / 4)))
            try add(PartitionNode(op: node.op, inputs: node.inputs, output: part), plan)
            try add(PartitionNode(op: node.op, inputs: [part], output: node.output), merge)
        }
    }

    /// Creates `plan`'s kernel and sets its arguments to `node`'s tensors and the plan's scalars.
    private func add(_ node: PartitionNode, _ plan: OpenCLDispatch) throws {
        let cl = device.cl
        let program = try device.program(plan.files, options: plan.options)
        var error: cl_int = 0
        guard let kernel = cl.createKernel(program, plan.kernel, &error), error == CL_SUCCESS else {
            throw OpenCLError("clCreateKernel (\(plan.kernel))", error)
        }
        kernels.append((kernel, plan))
        // Tensors: every input the op can take (an absent optional one is input 0 again), then the output.
        let (required, optional) = node.op.arity
        let order = plan.inputOrder ?? Array(0..<(plan.inputs ?? required + optional))
        let tensors = order.map { node.inputs[$0 < node.inputs.count ? $0 : 0] } + [node.output]
        var index: cl_uint = 0
        func set<T>(_ value: T) throws {
            var v = value
            try clCheck("clSetKernelArg (\(plan.kernel) #\(index))", cl.setKernelArg(kernel, index, MemoryLayout<T>.size, &v))
            index += 1
        }
        for t in tensors {
            try set(Optional(try device.buffer(t).memory))
            try set(UInt32(t.offset))
        }
        for s in plan.scalars {
            switch s {
            case .u(let v): try set(v)
            case .f(let v): try set(v)
            }
        }
    }

    deinit { for k in kernels { _ = device.cl.releaseKernel(k.kernel) } }

    func run() throws {
        let cl = device.cl
        var events: [(String, cl_event)] = []
        try device.lock.withLock { _ in
            for (kernel, plan) in kernels {
                var global = plan.global
                if let local = plan.local {   // OpenCL 1.2: the global size is a multiple of the local one
                    for i in global.indices { global[i] = (global[i] + local[i] - 1) / local[i] * local[i] }
                }
                guard global.allSatisfy({ $0 > 0 }) else { continue }
                var event: cl_event?
                let result = global.withUnsafeBufferPointer { g in
                    (plan.local ?? []).withUnsafeBufferPointer { l in
                        withUnsafeMutablePointer(to: &event) { e in
                            cl.enqueueNDRangeKernel(device.queue, kernel, cl_uint(g.count), nil, g.baseAddress,
                                                    plan.local == nil ? nil : l.baseAddress, 0, nil, device.profile != nil ? e : nil)
                        }
                    }
                }
                try clCheck("clEnqueueNDRangeKernel (\(plan.kernel))", result)
                if let event { events.append((plan.kernel + (plan.options.isEmpty ? "" : " " + plan.options), event)) }
            }
            try clCheck("clFinish", cl.finish(device.queue))
        }
        for (name, event) in events {
            var start: cl_ulong = 0, end: cl_ulong = 0
            _ = cl.getEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil)
            _ = cl.getEventProfilingInfo(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil)
            device.profile?.kernels.add(name, ms: Double(end &- start) / 1e6)
            _ = cl.releaseEvent(event)
        }
        if device.hasPendingBinaries { device.saveRunBinaries() }
    }
}
