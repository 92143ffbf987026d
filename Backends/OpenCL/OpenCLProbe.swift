import COpenCL
import EdgeHAL
import EdgeHALGPU

/// One OpenCL device as probed: its identity (name, kind, driver, global memory, compute units and,
/// where cl_khr_device_uuid is offered, the card's UUID) and the features that select kernel variants.
@dynamicMemberLookup
struct OpenCLDeviceFacts: Sendable {
    var identity: GPUDeviceIdentity
    var platform: String
    var openCLC: String
    var localMemory: UInt64
    var maxWorkGroup: Int
    var preferredFloatWidth: Int
    var extensions: [String]

    subscript<T>(dynamicMember path: WritableKeyPath<GPUDeviceIdentity, T>) -> T {
        get { identity[keyPath: path] }
        set { identity[keyPath: path] = newValue }
    }

    var info: DeviceInfo {
        let selected = ["cl_khr_fp16", "cl_khr_subgroups", "cl_intel_subgroups", "cl_khr_integer_dot_product"].filter { extensions.contains($0) }
        return identity.info(api: "platform=\(platform)",
                             features: [openCLC, "local-memory=\(localMemory >> 10)KiB", "max-work-group=\(maxWorkGroup)",
                                        "float-vector=\(preferredFloatWidth)"] + selected)
    }
}

enum OpenCLProbe {
    /// Every device of every platform, in platform order.
    static func devices(_ cl: OpenCLLibrary) throws -> [(id: cl_device_id, facts: OpenCLDeviceFacts)] {
        var count: cl_uint = 0
        try clCheck("clGetPlatformIDs", cl.getPlatformIDs(0, nil, &count))
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        try clCheck("clGetPlatformIDs", cl.getPlatformIDs(count, &platforms, nil))
        var result: [(cl_device_id, OpenCLDeviceFacts)] = []
        for case let p? in platforms {
            let platformName = cl.string { cl.getPlatformInfo(p, cl_platform_info(CL_PLATFORM_NAME), $0, $1, $2) }
            var n: cl_uint = 0
            guard cl.getDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n) == CL_SUCCESS, n > 0 else { continue }
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            guard cl.getDeviceIDs(p, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil) == CL_SUCCESS else { continue }
            for case let d? in ids {
                let type = cl.deviceValue(d, CL_DEVICE_TYPE, cl_device_type(0))
                let unified = cl.deviceValue(d, CL_DEVICE_HOST_UNIFIED_MEMORY, cl_bool(0)) != 0
                let (kind, typeName): (DeviceKind, String) =
                    type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? (.emulated, "cpu")
                    : type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? (unified ? .integrated : .gpu, "gpu")
                    : (.gpu, "accelerator")
                let identity = GPUDeviceIdentity(
                    name: cl.deviceString(d, CL_DEVICE_NAME), type: typeName, kind: kind, driver: cl.deviceString(d, CL_DRIVER_VERSION),
                    memoryBytes: cl.deviceValue(d, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong(0)),
                    computeUnits: Int(cl.deviceValue(d, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint(0))))
                var facts = OpenCLDeviceFacts(
                    identity: identity, platform: platformName, openCLC: cl.deviceString(d, CL_DEVICE_OPENCL_C_VERSION),
                    localMemory: cl.deviceValue(d, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong(0)),
                    maxWorkGroup: cl.deviceValue(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, 0),
                    preferredFloatWidth: Int(cl.deviceValue(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, cl_uint(0))),
                    extensions: cl.deviceString(d, CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init))
                if facts.extensions.contains("cl_khr_device_uuid") {
                    // CL_DEVICE_UUID_KHR (cl_ext.h): 16 bytes.
                    let bytes = cl.deviceValue(d, 0x106A, (UInt64(0), UInt64(0)))
                    facts.uuid = DeviceInfo.uuidString(withUnsafeBytes(of: bytes) { Array($0) })
                }
                result.append((d, facts))
            }
        }
        return result
    }
}

/// The OpenCL backend's entry: finds the ICD loader and platforms at run time. PoCL's CPU device is
/// `emulated`, so `auto` prefers the native CPU backend; `EDGEHAL_BACKEND=opencl` (or `opencl:N`) forces it.
/// `EDGEHAL_OPENCL_PROFILE=1` times every kernel with profiling events (printed when the device closes);
/// `EDGEHAL_OPENCL_KERNELS=gpu|cpu` forces a kernel family (``KernelFamily``; features: `kernels=…`).
public struct OpenCLBackend: Backend {
    public let name = "opencl"
    public let profile: Bool
    /// The kernel family every device gets; nil: each device's kind decides.
    public let kernels: KernelFamily?
    public static let kernelsVariable = "EDGEHAL_OPENCL_KERNELS"

    public init(profile: Bool? = nil, kernels: KernelFamily? = nil) {
        self.profile = profile ?? (EdgeHALEnvironment.value("EDGEHAL_OPENCL_PROFILE") == "1")
        self.kernels = kernels ?? KernelFamily.forced(by: Self.kernelsVariable)
    }

    public func family(_ kind: DeviceKind) -> KernelFamily { kernels ?? KernelFamily.forKind(kind) }

    func info(_ facts: OpenCLDeviceFacts) -> DeviceInfo {
        var info = facts.info
        info.features.append("kernels=\(family(facts.kind).rawValue)")
        return info
    }

    public func probe() -> BackendStatus {
        do {
            let devices = try OpenCLProbe.devices(try OpenCLLibrary())
            guard !devices.isEmpty else { return .unavailable("OpenCL unavailable: no platform has a device") }
            let names = devices.map { "\($0.facts.name) (\($0.facts.platform))" }.joined(separator: ", ")
            return BackendStatus(available: true, reason: "OpenCL: \(names)", devices: devices.map { info($0.facts) })
        } catch {
            return .unavailable("OpenCL unavailable: \(error)")
        }
    }

    public func makeDevice(index: Int) throws -> any Device {
        do {
            return try OpenCLDevice(index: index, profile: profile, backend: self)
        } catch let e as OpenCLError {
            throw EdgeHALError.backend("opencl: \(e)")
        }
    }
}
