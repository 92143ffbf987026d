import COpenCL
import EdgeHAL
import EdgeHALGPU

/// An OpenCL call that failed: the call and the CL error's name.
struct OpenCLError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
    init(_ call: String, _ code: cl_int) {
        description = "\(call) failed: \(Self.name(code)) (\(code))"
        if code == -1001 { description += ": no OpenCL platform (ICD) is installed, or OCL_ICD_VENDORS points at none" }
    }

    static func name(_ code: cl_int) -> String {
        let names: [cl_int: String] = [
            -1: "CL_DEVICE_NOT_FOUND", -2: "CL_DEVICE_NOT_AVAILABLE", -3: "CL_COMPILER_NOT_AVAILABLE",
            -4: "CL_MEM_OBJECT_ALLOCATION_FAILURE", -5: "CL_OUT_OF_RESOURCES", -6: "CL_OUT_OF_HOST_MEMORY",
            -11: "CL_BUILD_PROGRAM_FAILURE", -30: "CL_INVALID_VALUE", -33: "CL_INVALID_DEVICE", -34: "CL_INVALID_CONTEXT",
            -38: "CL_INVALID_MEM_OBJECT", -42: "CL_INVALID_BINARY", -44: "CL_INVALID_PROGRAM", -46: "CL_INVALID_KERNEL_NAME",
            -48: "CL_INVALID_KERNEL", -49: "CL_INVALID_ARG_INDEX", -50: "CL_INVALID_ARG_VALUE", -51: "CL_INVALID_ARG_SIZE",
            -52: "CL_INVALID_KERNEL_ARGS", -54: "CL_INVALID_WORK_GROUP_SIZE", -55: "CL_INVALID_WORK_ITEM_SIZE",
            -61: "CL_INVALID_BUFFER_SIZE", -63: "CL_INVALID_GLOBAL_WORK_SIZE", -1001: "CL_PLATFORM_NOT_FOUND_KHR",
        ]
        return names[code] ?? "CL error"
    }
}

func clCheck(_ call: String, _ code: cl_int) throws {
    guard code == CL_SUCCESS else { throw OpenCLError(call, code) }
}

/// libOpenCL.so.1 (the ICD loader), opened at run time, with every entry point the backend calls.
final class OpenCLLibrary: @unchecked Sendable {
    private let library: RuntimeLibrary
    let getPlatformIDs: cl_api_clGetPlatformIDs
    let getPlatformInfo: cl_api_clGetPlatformInfo
    let getDeviceIDs: cl_api_clGetDeviceIDs
    let getDeviceInfo: cl_api_clGetDeviceInfo
    let createContext: cl_api_clCreateContext
    let releaseContext: cl_api_clReleaseContext
    let createCommandQueue: cl_api_clCreateCommandQueue
    let releaseCommandQueue: cl_api_clReleaseCommandQueue
    let createBuffer: cl_api_clCreateBuffer
    let releaseMemObject: cl_api_clReleaseMemObject
    let enqueueWriteBuffer: cl_api_clEnqueueWriteBuffer
    let enqueueReadBuffer: cl_api_clEnqueueReadBuffer
    let createProgramWithSource: cl_api_clCreateProgramWithSource
    let createProgramWithBinary: cl_api_clCreateProgramWithBinary
    let buildProgram: cl_api_clBuildProgram
    let getProgramBuildInfo: cl_api_clGetProgramBuildInfo
    let getProgramInfo: cl_api_clGetProgramInfo
    let releaseProgram: cl_api_clReleaseProgram
    let createKernel: cl_api_clCreateKernel
    let setKernelArg: cl_api_clSetKernelArg
    let releaseKernel: cl_api_clReleaseKernel
    let enqueueNDRangeKernel: cl_api_clEnqueueNDRangeKernel
    let finish: cl_api_clFinish
    let getEventProfilingInfo: cl_api_clGetEventProfilingInfo
    let releaseEvent: cl_api_clReleaseEvent

    static let libraryName = "libOpenCL.so.1"

    init() throws {
        // Never unloaded: ICDs register atexit handlers and keep threads.
        let library = try RuntimeLibrary(Self.libraryName, missing: "the OpenCL ICD loader is not installed", unloads: false)
        self.library = library
        func load<F>(_ name: String) throws -> F { try library.function(name) }
        getPlatformIDs = try load("clGetPlatformIDs")
        getPlatformInfo = try load("clGetPlatformInfo")
        getDeviceIDs = try load("clGetDeviceIDs")
        getDeviceInfo = try load("clGetDeviceInfo")
        createContext = try load("clCreateContext")
        releaseContext = try load("clReleaseContext")
        createCommandQueue = try load("clCreateCommandQueue")
        releaseCommandQueue = try load("clReleaseCommandQueue")
        createBuffer = try load("clCreateBuffer")
        releaseMemObject = try load("clReleaseMemObject")
        enqueueWriteBuffer = try load("clEnqueueWriteBuffer")
        enqueueReadBuffer = try load("clEnqueueReadBuffer")
        createProgramWithSource = try load("clCreateProgramWithSource")
        createProgramWithBinary = try load("clCreateProgramWithBinary")
        buildProgram = try load("clBuildProgram")
        getProgramBuildInfo = try load("clGetProgramBuildInfo")
        getProgramInfo = try load("clGetProgramInfo")
        releaseProgram = try load("clReleaseProgram")
        createKernel = try load("clCreateKernel")
        setKernelArg = try load("clSetKernelArg")
        releaseKernel = try load("clReleaseKernel")
        enqueueNDRangeKernel = try load("clEnqueueNDRangeKernel")
        finish = try load("clFinish")
        getEventProfilingInfo = try load("clGetEventProfilingInfo")
        releaseEvent = try load("clReleaseEvent")
    }

    /// A string-valued platform or device property.
    func string(_ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) -> String {
        var size = 0
        guard get(0, nil, &size) == CL_SUCCESS, size > 0 else { return "" }
        var bytes = [UInt8](repeating: 0, count: size)
        guard get(size, &bytes, nil) == CL_SUCCESS else { return "" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    func deviceString(_ d: cl_device_id, _ p: Int32) -> String {
        string { getDeviceInfo(d, cl_device_info(p), $0, $1, $2) }
    }

    func deviceValue<T>(_ d: cl_device_id, _ p: Int32, _ initial: T) -> T {
        var v = initial
        _ = getDeviceInfo(d, cl_device_info(p), MemoryLayout<T>.size, &v, nil)
        return v
    }
}
