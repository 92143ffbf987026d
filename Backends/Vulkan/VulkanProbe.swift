import CVulkan
import EdgeHAL
import EdgeHALGPU

/// What one Vulkan physical device offers: the facts that decide placement (kind, memory) and
/// the features that select shader variants (16-bit and 8-bit storage and arithmetic, integer dot
/// product, subgroup size).
///
/// Its identity's memory is the device-local heaps' total, its compute units the multiprocessors a
/// vendor extension reports (else unknown), its UUID VkPhysicalDeviceIDProperties.deviceUUID (shared
/// with the card's OpenCL device).
@dynamicMemberLookup
struct VulkanDeviceFacts: Sendable {
    var identity: GPUDeviceIdentity
    var apiVersion: UInt32
    var computeQueueFamilies = 0
    var subgroupSize: UInt32 = 0
    var features: [String] = []
    /// The device's memory types, for ``VulkanMemory`` (how the backend will reach buffers).
    var memoryProperties = VkPhysicalDeviceMemoryProperties()

    subscript<T>(dynamicMember path: WritableKeyPath<GPUDeviceIdentity, T>) -> T {
        get { identity[keyPath: path] }
        set { identity[keyPath: path] = newValue }
    }

    var info: DeviceInfo {
        identity.info(api: "vulkan-\(VulkanLibrary.versionString(apiVersion))",
                      features: ["subgroup-size=\(subgroupSize)", "compute-queue-families=\(computeQueueFamilies)"] + features)
    }
}

enum VulkanProbe {
    /// Opens the loader, makes an instance and describes every physical device; the reason when any step fails.
    static func devices() throws -> [VulkanDeviceFacts] {
        let lib = try VulkanLibrary()
        let instance = try VulkanContext.makeInstance(lib, validation: false)
        let destroyInstance = try lib.function(instance, "vkDestroyInstance", as: PFN_vkDestroyInstance.self)
        defer { destroyInstance(instance, nil) }
        return try devices(lib, instance)
    }

    /// Describes every physical device of an existing instance (a device being opened reuses its own).
    static func devices(_ lib: VulkanLibrary, _ instance: VkInstance) throws -> [VulkanDeviceFacts] {
        let enumerate = try lib.function(instance, "vkEnumeratePhysicalDevices", as: PFN_vkEnumeratePhysicalDevices.self)
        var count: UInt32 = 0
        var r = enumerate(instance, &count, nil)
        guard r == VK_SUCCESS else { throw VulkanError("vkEnumeratePhysicalDevices", r) }
        var handles = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        r = enumerate(instance, &count, &handles)
        guard r == VK_SUCCESS || r == VK_INCOMPLETE else { throw VulkanError("vkEnumeratePhysicalDevices", r) }

        let properties = try lib.function(instance, "vkGetPhysicalDeviceProperties", as: PFN_vkGetPhysicalDeviceProperties.self)
        let properties2 = try lib.function(instance, "vkGetPhysicalDeviceProperties2", as: PFN_vkGetPhysicalDeviceProperties2.self)
        let features2 = try lib.function(instance, "vkGetPhysicalDeviceFeatures2", as: PFN_vkGetPhysicalDeviceFeatures2.self)
        let memory = try lib.function(instance, "vkGetPhysicalDeviceMemoryProperties", as: PFN_vkGetPhysicalDeviceMemoryProperties.self)
        let queues = try lib.function(instance, "vkGetPhysicalDeviceQueueFamilyProperties",
                                      as: PFN_vkGetPhysicalDeviceQueueFamilyProperties.self)
        return handles.compactMap { $0 }.map { device in
            let extensions = extensionNames(lib, instance, device)
            var basic = VkPhysicalDeviceProperties()
            properties(device, &basic)
            var facts = VulkanDeviceFacts(identity: GPUDeviceIdentity(name: cString(basic.deviceName), type: typeName(basic.deviceType),
                                                                      kind: kind(basic.deviceType)),
                                          apiVersion: basic.apiVersion)
            // Vulkan 1.2+ devices describe their driver, subgroups and features through pNext chains.
            if basic.apiVersion >= VulkanLibrary.version(1, 2) {
                var ids = VkPhysicalDeviceIDProperties()
                ids.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES
                var driver = VkPhysicalDeviceDriverProperties()
                driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES
                var subgroup = VkPhysicalDeviceSubgroupProperties()
                subgroup.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES
                var props = VkPhysicalDeviceProperties2()
                props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
                withUnsafeMutablePointer(to: &ids) { i in
                    driver.pNext = UnsafeMutableRawPointer(i)
                    withUnsafeMutablePointer(to: &driver) { d in
                        subgroup.pNext = UnsafeMutableRawPointer(d)
                        withUnsafeMutablePointer(to: &subgroup) { s in
                            props.pNext = UnsafeMutableRawPointer(s)
                            properties2(device, &props)
                        }
                    }
                }
                facts.driver = "\(cString(driver.driverName)) \(cString(driver.driverInfo))"
                facts.subgroupSize = subgroup.subgroupSize
                facts.uuid = DeviceInfo.uuidString(withUnsafeBytes(of: ids.deviceUUID) { Array($0) })

                var v11 = VkPhysicalDeviceVulkan11Features()
                v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
                var v12 = VkPhysicalDeviceVulkan12Features()
                v12.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES
                var v13 = VkPhysicalDeviceVulkan13Features()
                v13.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES
                var feats = VkPhysicalDeviceFeatures2()
                feats.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
                let has13 = basic.apiVersion >= VulkanLibrary.version(1, 3)
                withUnsafeMutablePointer(to: &v13) { p13 in
                    v12.pNext = has13 ? UnsafeMutableRawPointer(p13) : nil
                    withUnsafeMutablePointer(to: &v12) { p12 in
                        v11.pNext = UnsafeMutableRawPointer(p12)
                        withUnsafeMutablePointer(to: &v11) { p11 in
                            feats.pNext = UnsafeMutableRawPointer(p11)
                            features2(device, &feats)
                        }
                    }
                }
                let flags: [(String, VkBool32)] = [
                    ("fp16-storage", v11.storageBuffer16BitAccess), ("fp16", v12.shaderFloat16),
                    ("int8-storage", v12.storageBuffer8BitAccess), ("int8", v12.shaderInt8),
                    ("int64", feats.features.shaderInt64), ("subgroup-size-control", has13 ? v13.subgroupSizeControl : 0),
                ]
                facts.features = flags.filter { $0.1 != 0 }.map(\.0) + integerDot(lib, instance, device, extensions: extensions)
            } else {
                facts.driver = "driver \(basic.driverVersion)"
            }

            var mem = VkPhysicalDeviceMemoryProperties()
            memory(device, &mem)
            withUnsafeBytes(of: mem.memoryHeaps) { raw in
                let heaps = raw.bindMemory(to: VkMemoryHeap.self)
                for i in 0..<Int(mem.memoryHeapCount) where heaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT.rawValue != 0 {
                    facts.memoryBytes += heaps[i].size
                }
            }
            facts.memoryProperties = mem
            var familyCount: UInt32 = 0
            queues(device, &familyCount, nil)
            var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
            queues(device, &familyCount, &families)
            facts.computeUnits = VulkanComputeUnits.count(lib, instance, device, extensions: extensions)
            facts.computeQueueFamilies = families.filter { $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0 }.count
            return facts
        }
    }

    /// The device's extension names (empty when they cannot be listed).
    static func extensionNames(_ lib: VulkanLibrary, _ instance: VkInstance, _ device: VkPhysicalDevice) -> Set<String> {
        guard let enumerate = try? lib.function(instance, "vkEnumerateDeviceExtensionProperties",
                                                as: PFN_vkEnumerateDeviceExtensionProperties.self) else { return [] }
        var n: UInt32 = 0
        guard enumerate(device, nil, &n, nil) == VK_SUCCESS else { return [] }
        var list = [VkExtensionProperties](repeating: VkExtensionProperties(), count: Int(n))
        guard enumerate(device, nil, &n, &list) == VK_SUCCESS else { return [] }
        return Set(list.prefix(Int(n)).map { withUnsafeBytes(of: $0.extensionName) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) } })
    }

    /// The extension the int8 mat-vec needs. The instance asks for Vulkan 1.2, so the backend enables it as an
    /// extension even where a 1.3 device has it in core.
    static let integerDotExtension = "VK_KHR_shader_integer_dot_product"

    /// `int-dot` where the device offers shaderIntegerDotProduct through VK_KHR_shader_integer_dot_product, and
    /// `int-dot-fast` where it reports packed 4 × 8-bit signed dot products as accelerated (faster than the
    /// multiply-adds they stand for: the int8 mat-vec's default on such a device). lavapipe has the first only.
    static func integerDot(_ lib: VulkanLibrary, _ instance: VkInstance, _ device: VkPhysicalDevice, extensions: Set<String>) -> [String] {
        guard extensions.contains(integerDotExtension) else { return [] }
        var feature = VkPhysicalDeviceShaderIntegerDotProductFeatures()
        feature.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES
        var props = VkPhysicalDeviceShaderIntegerDotProductProperties()
        props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES
        guard chained(feature, features: lib, instance, device).shaderIntegerDotProduct != 0 else { return [] }
        return ["int-dot"] + (chained(props, properties: lib, instance, device).integerDotProduct4x8BitPackedSignedAccelerated != 0 ? ["int-dot-fast"] : [])
    }

    /// An extension's properties struct `ext` (its sType set) filled in by vkGetPhysicalDeviceProperties2 (unchanged
    /// where the entry point is missing).
    static func chained<T>(_ ext: T, properties lib: VulkanLibrary, _ instance: VkInstance, _ device: VkPhysicalDevice) -> T {
        guard let get = try? lib.function(instance, "vkGetPhysicalDeviceProperties2", as: PFN_vkGetPhysicalDeviceProperties2.self) else { return ext }
        var props = VkPhysicalDeviceProperties2()
        props.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2
        return chained(ext, in: &props, \.pNext) { get(device, &$0) }
    }

    /// The same through vkGetPhysicalDeviceFeatures2, for a features struct.
    static func chained<T>(_ ext: T, features lib: VulkanLibrary, _ instance: VkInstance, _ device: VkPhysicalDevice) -> T {
        guard let get = try? lib.function(instance, "vkGetPhysicalDeviceFeatures2", as: PFN_vkGetPhysicalDeviceFeatures2.self) else { return ext }
        var feats = VkPhysicalDeviceFeatures2()
        feats.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        return chained(ext, in: &feats, \.pNext) { get(device, &$0) }
    }

    /// `ext` chained behind `outer`'s pNext while `call` fills both in.
    private static func chained<T, Outer>(_ ext: T, in outer: inout Outer, _ next: WritableKeyPath<Outer, UnsafeMutableRawPointer?>,
                                          _ call: (inout Outer) -> Void) -> T {
        var ext = ext
        withUnsafeMutablePointer(to: &ext) { p in
            outer[keyPath: next] = UnsafeMutableRawPointer(p)
            call(&outer)
        }
        return ext
    }

    static func typeName(_ t: VkPhysicalDeviceType) -> String {
        switch t {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete"
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated"
        case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual"
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu"
        default: return "other"
        }
    }

    /// A CPU-type device (lavapipe, SwiftShader) is an emulation: `auto` ranks it below the native CPU backend.
    static func kind(_ t: VkPhysicalDeviceType) -> DeviceKind {
        switch t {
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return .integrated
        case VK_PHYSICAL_DEVICE_TYPE_CPU: return .emulated
        default: return .gpu
        }
    }
}
