import CVulkan
import EdgeHAL
import EdgeHALGPU

/// A Vulkan call that failed, with the call's name and its VkResult.
struct VulkanError: Error, CustomStringConvertible {
    var description: String

    init(_ message: String) { description = message }

    init(_ call: String, _ result: VkResult) {
        description = "\(call) failed: \(Self.name(result)) (\(result.rawValue))"
        if result == VK_ERROR_INCOMPATIBLE_DRIVER {
            description += ": no Vulkan driver (ICD) is installed, or VK_ICD_FILENAMES points at none"
        }
    }

    static func name(_ r: VkResult) -> String {
        switch r {
        case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY"
        case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY"
        case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED"
        case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT"
        case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT"
        case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER"
        case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST"
        default: return "VkResult"
        }
    }
}

/// libvulkan.so.1, opened at run time: the core and every tool start on a machine without Vulkan.
/// Every other entry point is resolved through vkGetInstanceProcAddr (≈ 0.3–0.6 ms to open here).
final class VulkanLibrary: @unchecked Sendable {
    private let library: RuntimeLibrary
    let getInstanceProcAddr: PFN_vkGetInstanceProcAddr

    static let libraryName = "libvulkan.so.1"

    init() throws {
        library = try RuntimeLibrary(Self.libraryName, missing: "the Vulkan loader is not installed", unloads: true)
        getInstanceProcAddr = try library.function("vkGetInstanceProcAddr", role: "not a Vulkan loader")
    }

    /// The entry point `name` for `instance` (nil: global functions such as vkCreateInstance).
    func function<F>(_ instance: VkInstance?, _ name: String, as: F.Type) throws -> F {
        guard let f = name.withCString({ getInstanceProcAddr(instance, $0) }) else {
            throw VulkanError("the Vulkan loader has no \(name)")
        }
        return unsafeBitCast(f, to: F.self)
    }

    /// VK_MAKE_API_VERSION (not imported: a macro).
    static func version(_ major: UInt32, _ minor: UInt32, _ patch: UInt32 = 0) -> UInt32 {
        (major << 22) | (minor << 12) | patch
    }

    static func versionString(_ v: UInt32) -> String { "\(v >> 22 & 0x7F).\(v >> 12 & 0x3FF).\(v & 0xFFF)" }
}

/// A fixed-size C char array (imported as a tuple) as a String.
func cString<T>(_ tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
}
