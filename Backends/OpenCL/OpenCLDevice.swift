import COpenCL
import EdgeHAL
import EdgeHALGPU
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An opened OpenCL device: one context, one in-order queue, buffers in device memory, programs
/// built once per (kernel file, build options) — from a cached binary when the cache has one.
public final class OpenCLDevice: Device, @unchecked Sendable {
    public let backendName = "opencl"
    public let info: DeviceInfo
    let cl: OpenCLLibrary
    let id: cl_device_id
    let facts: OpenCLDeviceFacts
    let context: cl_context
    let queue: cl_command_queue
    /// Profiling events on every kernel (`EDGEHAL_OPENCL_PROFILE=1`, or the initialiser).
    public let profile: DeviceProfile?
    /// The shape of kernels this device runs (``KernelFamily``).
    public let family: KernelFamily
    let lock = Mutex(())
    private var programs: [String: BuiltProgram] = [:]

    struct BuiltProgram {
        var program: cl_program
        /// Where the binary goes once the program has run (nil: it came from the cache, or caching is off).
        var pendingCacheFile: KernelCacheFile?
    }

    init(index: Int, profile: Bool, backend: OpenCLBackend) throws {
        cl = try OpenCLLibrary()
        let all = try OpenCLProbe.devices(cl)
        guard index >= 0 && index < all.count else { throw OpenCLError("no OpenCL device \(index) (there are \(all.count))") }
        (id, facts) = (all[index].id, all[index].facts)
        info = backend.info(facts)
        family = backend.family(facts.kind)
        self.profile = profile ? DeviceProfile(kernels: "opencl profile on \(info.name) (profiling events)") : nil
        var error: cl_int = 0
        var device: cl_device_id? = id
        guard let context = cl.createContext(nil, 1, &device, nil, nil, &error), error == CL_SUCCESS else {
            throw OpenCLError("clCreateContext", error)
        }
        self.context = context
        let properties = profile ? cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE) : 0
        guard let queue = cl.createCommandQueue(context, id, properties, &error), error == CL_SUCCESS else {
            _ = cl.releaseContext(context)
            throw OpenCLError("clCreateCommandQueue", error)
        }
        self.queue = queue
    }

    deinit {
        for p in programs.values { _ = cl.releaseProgram(p.program) }
        _ = cl.releaseCommandQueue(queue)
        _ = cl.releaseContext(context)
    }

    public func supports(_ signature: OpSignature) -> Bool {
        signature.isWellFormed && OpenCLKernels.supports(signature, family: family)
            && (signature.inputs + [signature.output]).allSatisfy { $0.byteCount < Int(UInt32.max) }
    }

    public func makeBuffer(byteCount: Int) throws -> any DeviceBuffer {
        try OpenCLBuffer(device: self, byteCount: byteCount, hostData: nil)
    }

    /// Weights stay where they are (CL_MEM_USE_HOST_PTR) on devices that share host memory, as PoCL's does.
    public func makeWeightBuffer(_ data: HostData) throws -> any DeviceBuffer {
        guard cl.deviceValue(id, CL_DEVICE_HOST_UNIFIED_MEMORY, cl_bool(0)) != 0, data.bytes.count > 0 else {
            let b = try makeBuffer(byteCount: data.bytes.count)
            try b.write(data.bytes, at: 0)
            return b
        }
        return try OpenCLBuffer(device: self, byteCount: data.bytes.count, hostData: data)
    }

    public func compile(_ partition: Partition) throws -> any Program {
        try requireSupport(partition)
        return try OpenCLProgram(device: self, partition: partition)
    }

    func buffer(_ slice: BufferSlice) throws -> OpenCLBuffer {
        try slice.buffer(as: OpenCLBuffer.self, of: backendName) { $0.device === self }
    }

    // MARK: programs and the binary cache

    /// The program of `files` (Kernels/opencl, concatenated) built with `options`.
    func program(_ files: [String], options: String) throws -> cl_program {
        let key = files.joined(separator: "+") + " " + options
        let file = files.joined(separator: "+")
        return try lock.withLock { _ in
            if let p = programs[key] { return p.program }
            let source = try files.map { try OpenCLKernelSources.source($0) }.joined(separator: "\n")
            // Named by the source, options, device, driver and platform.
            let cached = KernelCacheFile(kind: "opencl", identity: [source, options, facts.name, facts.driver, facts.platform, facts.openCLC],
                                         magic: "EdgeHAL-CL1")
            if let binary = cached?.read(), let p = try? build(binary: binary, options: options) {
                programs[key] = BuiltProgram(program: p, pendingCacheFile: nil)
                return p
            }
            let p = try build(source: source, options: options, file: file)
            programs[key] = BuiltProgram(program: p, pendingCacheFile: cached)
            return p
        }
    }

    private func build(source: String, options: String, file: String) throws -> cl_program {
        var error: cl_int = 0
        let program: cl_program? = source.withCString { s in
            var p: UnsafePointer<CChar>? = s
            var length = strlen(s)
            return cl.createProgramWithSource(context, 1, &p, &length, &error)
        }
        guard let program, error == CL_SUCCESS else { throw OpenCLError("clCreateProgramWithSource (\(file))", error) }
        var device: cl_device_id? = id
        let result = cl.buildProgram(program, 1, &device, options, nil, nil)
        guard result == CL_SUCCESS else {
            let log = cl.string { cl.getProgramBuildInfo(program, id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2) }
            _ = cl.releaseProgram(program)
            throw OpenCLError("clBuildProgram (\(file) \(options)) failed: \(OpenCLError.name(result)); build log:\n\(log)")
        }
        return program
    }

    private func build(binary: [UInt8], options: String) throws -> cl_program {
        var error: cl_int = 0, status: cl_int = 0
        var device: cl_device_id? = id
        var length = binary.count
        let program: cl_program? = binary.withUnsafeBufferPointer { b in
            var p: UnsafePointer<UInt8>? = b.baseAddress
            return cl.createProgramWithBinary(context, 1, &device, &length, &p, &status, &error)
        }
        guard let program, error == CL_SUCCESS, status == CL_SUCCESS else { throw OpenCLError("clCreateProgramWithBinary", error) }
        let result = cl.buildProgram(program, 1, &device, options, nil, nil)
        guard result == CL_SUCCESS else {
            _ = cl.releaseProgram(program)
            throw OpenCLError("clBuildProgram (binary)", result)
        }
        return program
    }

    /// Saves binaries of programs built from source, once they have run: PoCL compiles its work-group
    /// functions at the first enqueue, and a binary taken after that holds them.
    func saveRunBinaries() {
        lock.withLock { _ in
            for (key, p) in programs {
                guard let file = p.pendingCacheFile else { continue }
                programs[key]?.pendingCacheFile = nil
                var size = 0
                guard cl.getProgramInfo(p.program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil) == CL_SUCCESS,
                      size > 0 else { continue }
                var binary = [UInt8](repeating: 0, count: size)
                let ok = binary.withUnsafeMutableBufferPointer { b -> Bool in
                    var pointer: UnsafeMutablePointer<UInt8>? = b.baseAddress
                    return cl.getProgramInfo(p.program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size,
                                             &pointer, nil) == CL_SUCCESS
                }
                if ok { file.write(binary) }
            }
        }
    }

    var hasPendingBinaries: Bool { lock.withLock { _ in programs.values.contains { $0.pendingCacheFile != nil } } }
}

/// Device memory: a cl_mem, or on unified-memory devices the caller's host data used in place.
final class OpenCLBuffer: DeviceBuffer, @unchecked Sendable {
    let device: OpenCLDevice
    let memory: cl_mem
    let byteCount: Int
    /// Kept alive while the device uses it in place (CL_MEM_USE_HOST_PTR).
    private let hostData: HostData?

    init(device: OpenCLDevice, byteCount: Int, hostData: HostData?) throws {
        self.device = device
        self.byteCount = byteCount
        self.hostData = hostData
        var error: cl_int = 0
        let flags = hostData == nil ? cl_mem_flags(CL_MEM_READ_WRITE) : cl_mem_flags(CL_MEM_READ_ONLY | CL_MEM_USE_HOST_PTR)
        let host = hostData.map { UnsafeMutableRawPointer(mutating: $0.bytes.baseAddress) } ?? nil
        // 16 spare bytes: vector loads of the last block never leave the allocation.
        guard let m = device.cl.createBuffer(device.context, flags, hostData == nil ? max(16, byteCount + 16) : byteCount, host, &error),
              error == CL_SUCCESS else {
            throw OpenCLError("clCreateBuffer (\(byteCount) bytes)", error)
        }
        memory = m
    }

    deinit { _ = device.cl.releaseMemObject(memory) }

    func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        guard bytes.count > 0 else { return }
        try device.lock.withLock { _ in
            try clCheck("clEnqueueWriteBuffer", device.cl.enqueueWriteBuffer(device.queue, memory, cl_bool(CL_TRUE), offset, bytes.count,
                                                                            bytes.baseAddress, 0, nil, nil))
        }
    }

    func read(into bytes: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        try checkRange(offset, bytes.count)
        guard bytes.count > 0 else { return }
        try device.lock.withLock { _ in
            try clCheck("clEnqueueReadBuffer", device.cl.enqueueReadBuffer(device.queue, memory, cl_bool(CL_TRUE), offset, bytes.count,
                                                                          bytes.baseAddress, 0, nil, nil))
        }
    }
}
