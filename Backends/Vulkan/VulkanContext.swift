import CVulkan
import EdgeHAL
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One opened Vulkan device: instance, logical device, its compute queue and every entry point
/// the backend calls. This is the one place where Vulkan handles (OpaquePointers, not Sendable)
/// cross threads: the queue is used under `queueLock`, everything else is created once.
final class VulkanContext: @unchecked Sendable {
    let lib: VulkanLibrary
    let instance: VkInstance
    let physical: VkPhysicalDevice
    let device: VkDevice
    let queue: VkQueue
    let queueFamily: UInt32
    let vk: VulkanFunctions
    let facts: VulkanDeviceFacts
    let limits: VkPhysicalDeviceLimits
    /// Where buffers live and how the host reaches them (``VulkanMemory``).
    let memory: VulkanMemory
    /// Host ↔ device copies where buffers are not mapped, or not cached for reading.
    let staging: VulkanStaging
    let has16BitStorage: Bool
    /// shaderIntegerDotProduct enabled (VK_KHR_shader_integer_dot_product): the int8 mat-vec's variants may run.
    let hasIntegerDot: Bool
    /// Names the persisted pipeline cache: the driver's pipeline-cache UUID and driver version.
    let pipelineCacheKey: String
    let validation: VulkanValidation?
    let queueLock = Mutex(())
    private let destroyInstance: PFN_vkDestroyInstance
    private var messenger: VkDebugUtilsMessengerEXT?
    private var destroyMessenger: PFN_vkDestroyDebugUtilsMessengerEXT?

    init(deviceIndex: Int, validation: Bool, forceStaging: Bool = false) throws {
        lib = try VulkanLibrary()
        let sink = validation ? VulkanValidation() : nil
        self.validation = sink
        instance = try Self.makeInstance(lib, validation: validation)
        destroyInstance = try lib.function(instance, "vkDestroyInstance", as: PFN_vkDestroyInstance.self)
        if let sink {
            let create = try lib.function(instance, "vkCreateDebugUtilsMessengerEXT", as: PFN_vkCreateDebugUtilsMessengerEXT.self)
            destroyMessenger = try lib.function(instance, "vkDestroyDebugUtilsMessengerEXT", as: PFN_vkDestroyDebugUtilsMessengerEXT.self)
            var info = VkDebugUtilsMessengerCreateInfoEXT()
            info.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT
            info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT.rawValue
            info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT.rawValue | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT.rawValue
                | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT.rawValue
            info.pfnUserCallback = { _, _, data, user in
                if let data, let user, let text = data.pointee.pMessage {
                    Unmanaged<VulkanValidation>.fromOpaque(user).takeUnretainedValue().record(String(cString: text))
                }
                return VkBool32(VK_FALSE)
            }
            info.pUserData = Unmanaged.passUnretained(sink).toOpaque()
            var m: VkDebugUtilsMessengerEXT?
            try check("vkCreateDebugUtilsMessengerEXT", create(instance, &info, nil, &m))
            messenger = m
        }

        let all = try VulkanProbe.devices(lib, instance)
        guard deviceIndex >= 0 && deviceIndex < all.count else {
            throw VulkanError("no Vulkan device \(deviceIndex) (there are \(all.count))")
        }
        facts = all[deviceIndex]
        let enumerate = try lib.function(instance, "vkEnumeratePhysicalDevices", as: PFN_vkEnumeratePhysicalDevices.self)
        var count: UInt32 = 0
        try check("vkEnumeratePhysicalDevices", enumerate(instance, &count, nil))
        var handles = [VkPhysicalDevice?](repeating: nil, count: Int(count))
        try check("vkEnumeratePhysicalDevices", enumerate(instance, &count, &handles))
        guard deviceIndex < handles.count, let physical = handles[deviceIndex] else { throw VulkanError("device \(deviceIndex) vanished") }
        self.physical = physical

        var properties = VkPhysicalDeviceProperties()
        try lib.function(instance, "vkGetPhysicalDeviceProperties", as: PFN_vkGetPhysicalDeviceProperties.self)(physical, &properties)
        limits = properties.limits
        let uuid = withUnsafeBytes(of: properties.pipelineCacheUUID) { $0.hexString }
        pipelineCacheKey = "\(uuid)-\(properties.driverVersion)"

        var familyCount: UInt32 = 0
        let queues = try lib.function(instance, "vkGetPhysicalDeviceQueueFamilyProperties", as: PFN_vkGetPhysicalDeviceQueueFamilyProperties.self)
        queues(physical, &familyCount, nil)
        var families = [VkQueueFamilyProperties](repeating: VkQueueFamilyProperties(), count: Int(familyCount))
        queues(physical, &familyCount, &families)
        guard let family = families.firstIndex(where: { $0.queueFlags & VK_QUEUE_COMPUTE_BIT.rawValue != 0 }) else {
            throw VulkanError("\(facts.name) has no compute queue")
        }
        queueFamily = UInt32(family)

        var memoryProperties = VkPhysicalDeviceMemoryProperties()
        try lib.function(instance, "vkGetPhysicalDeviceMemoryProperties", as: PFN_vkGetPhysicalDeviceMemoryProperties.self)(physical, &memoryProperties)
        memory = try VulkanMemory(memoryProperties, forceStaging: forceStaging)
        staging = VulkanStaging(memoryType: memory.stagingType)

        has16BitStorage = facts.features.contains("fp16-storage")
        var device: VkDevice?
        let createDevice = try lib.function(instance, "vkCreateDevice", as: PFN_vkCreateDevice.self)
        var priority: Float = 1
        var queueInfo = VkDeviceQueueCreateInfo()
        queueInfo.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO
        queueInfo.queueFamilyIndex = queueFamily
        queueInfo.queueCount = 1
        var v11 = VkPhysicalDeviceVulkan11Features()
        v11.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES
        v11.storageBuffer16BitAccess = VkBool32(has16BitStorage ? VK_TRUE : VK_FALSE)
        let hasIntegerDot = facts.features.contains("int-dot")
        self.hasIntegerDot = hasIntegerDot
        var dot = VkPhysicalDeviceShaderIntegerDotProductFeatures()
        dot.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES
        dot.shaderIntegerDotProduct = VkBool32(VK_TRUE)
        var features = VkPhysicalDeviceFeatures2()
        features.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2
        let extensions = hasIntegerDot ? [VulkanProbe.integerDotExtension] : []
        let result = withUnsafePointer(to: &priority) { p in
            queueInfo.pQueuePriorities = p
            return withUnsafePointer(to: &queueInfo) { q in
                withUnsafeMutablePointer(to: &dot) { fDot in
                    v11.pNext = hasIntegerDot ? UnsafeMutableRawPointer(fDot) : nil
                    return withUnsafeMutablePointer(to: &v11) { f11 in
                        features.pNext = UnsafeMutableRawPointer(f11)
                        return withUnsafeMutablePointer(to: &features) { f in
                            withCStrings(extensions) { names in
                                var info = VkDeviceCreateInfo()
                                info.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO
                                info.pNext = UnsafeRawPointer(f)
                                info.queueCreateInfoCount = 1
                                info.pQueueCreateInfos = q
                                info.enabledExtensionCount = UInt32(extensions.count)
                                info.ppEnabledExtensionNames = names
                                return createDevice(physical, &info, nil, &device)
                            }
                        }
                    }
                }
            }
        }
        try check("vkCreateDevice", result)
        guard let device else { throw VulkanError("vkCreateDevice returned no device") }
        self.device = device
        let getDeviceProcAddr = try lib.function(instance, "vkGetDeviceProcAddr", as: PFN_vkGetDeviceProcAddr.self)
        vk = try VulkanFunctions(device: device, getDeviceProcAddr)
        var q: VkQueue?
        vk.getDeviceQueue(device, queueFamily, 0, &q)
        guard let q else { throw VulkanError("vkGetDeviceQueue returned no queue") }
        queue = q
    }

    deinit {
        _ = vk.deviceWaitIdle(device)
        staging.destroy(vk, device)
        vk.destroyDevice(device, nil)
        if let messenger, let destroyMessenger { destroyMessenger(instance, messenger, nil) }
        destroyInstance(instance, nil)
    }

    /// A Vulkan 1.2 instance, with the Khronos validation layer and debug-utils messages when asked.
    static func makeInstance(_ lib: VulkanLibrary, validation: Bool) throws -> VkInstance {
        let createInstance = try lib.function(nil, "vkCreateInstance", as: PFN_vkCreateInstance.self)
        var instance: VkInstance?
        let layers = validation ? ["VK_LAYER_KHRONOS_validation"] : []
        let extensions = validation ? ["VK_EXT_debug_utils"] : []
        let result: VkResult = withCStrings(layers) { layerNames in
            withCStrings(extensions) { extensionNames in
                "EdgeHAL".withCString { appName in
                    var app = VkApplicationInfo()
                    app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO
                    app.pApplicationName = appName
                    app.apiVersion = VulkanLibrary.version(1, 2)
                    return withUnsafePointer(to: &app) { appPointer in
                        var create = VkInstanceCreateInfo()
                        create.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO
                        create.pApplicationInfo = appPointer
                        create.enabledLayerCount = UInt32(layers.count)
                        create.ppEnabledLayerNames = layerNames
                        create.enabledExtensionCount = UInt32(extensions.count)
                        create.ppEnabledExtensionNames = extensionNames
                        return createInstance(&create, nil, &instance)
                    }
                }
            }
        }
        if result == VK_ERROR_LAYER_NOT_PRESENT {
            throw VulkanError("the Vulkan validation layer is not installed (Debian: vulkan-validationlayers; bash scripts/setup.sh)")
        }
        guard result == VK_SUCCESS, let instance else { throw VulkanError("vkCreateInstance", result) }
        return instance
    }

    /// A buffer of `bytes` bound to new memory of `memoryType` (unmapped).
    func allocateBuffer(bytes: Int, memoryType: UInt32, usage: UInt32) throws -> (VkBuffer, VkDeviceMemory) {
        var info = VkBufferCreateInfo()
        info.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO
        info.size = VkDeviceSize(bytes)
        info.usage = usage
        info.sharingMode = VK_SHARING_MODE_EXCLUSIVE
        var b: VkBuffer?
        try check("vkCreateBuffer (\(bytes) bytes)", vk.createBuffer(device, &info, nil, &b))
        guard let b else { throw VulkanError("vkCreateBuffer returned no buffer") }
        var requirements = VkMemoryRequirements()
        vk.getBufferMemoryRequirements(device, b, &requirements)
        guard requirements.memoryTypeBits & (1 << memoryType) != 0 else {
            vk.destroyBuffer(device, b, nil)
            throw VulkanError("the buffer cannot live in memory type \(memoryType)")
        }
        var allocate = VkMemoryAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO
        allocate.allocationSize = requirements.size
        allocate.memoryTypeIndex = memoryType
        var m: VkDeviceMemory?
        var result = vk.allocateMemory(device, &allocate, nil, &m)
        if result == VK_SUCCESS, let m { result = vk.bindBufferMemory(device, b, m, 0) }
        guard result == VK_SUCCESS, let m else {
            vk.destroyBuffer(device, b, nil)
            if let m { vk.freeMemory(device, m, nil) }
            throw VulkanError("vkAllocateMemory/vkBindBufferMemory (\(requirements.size) bytes)", result)
        }
        return (b, m)
    }

    /// A command pool on the compute queue's family with one primary command buffer, and a fence: what a
    /// recorded submission needs (programs, the staging copies). The caller destroys the pool (which frees
    /// the buffer) and the fence.
    func makeSubmission(poolFlags: UInt32 = 0) throws -> (pool: VkCommandPool, commands: VkCommandBuffer, fence: VkFence) {
        var poolInfo = VkCommandPoolCreateInfo()
        poolInfo.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO
        poolInfo.flags = poolFlags
        poolInfo.queueFamilyIndex = queueFamily
        var pool: VkCommandPool?
        try check("vkCreateCommandPool", vk.createCommandPool(device, &poolInfo, nil, &pool))
        guard let pool else { throw VulkanError("vkCreateCommandPool returned no pool") }
        var allocate = VkCommandBufferAllocateInfo()
        allocate.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO
        allocate.commandPool = pool
        allocate.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY
        allocate.commandBufferCount = 1
        var cb: VkCommandBuffer?
        var fenceInfo = VkFenceCreateInfo()
        fenceInfo.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO
        var fence: VkFence?
        let r1 = vk.allocateCommandBuffers(device, &allocate, &cb)
        let r2 = r1 == VK_SUCCESS ? vk.createFence(device, &fenceInfo, nil, &fence) : r1
        guard r2 == VK_SUCCESS, let cb, let fence else {
            vk.destroyCommandPool(device, pool, nil)
            throw VulkanError("vkAllocateCommandBuffers/vkCreateFence", r2)
        }
        return (pool, cb, fence)
    }

    /// Submits one command buffer and waits for its fence, under the queue lock.
    func submitAndWait(_ commands: VkCommandBuffer, fence: VkFence) throws {
        try queueLock.withLock { _ in
            var f: VkFence? = fence
            try check("vkResetFences", vk.resetFences(device, 1, &f))
            var cb: VkCommandBuffer? = commands
            var submit = VkSubmitInfo()
            submit.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO
            submit.commandBufferCount = 1
            try withUnsafePointer(to: &cb) { c in
                submit.pCommandBuffers = c
                try check("vkQueueSubmit", vk.queueSubmit(queue, 1, &submit, fence))
            }
            try check("vkWaitForFences", vk.waitForFences(device, 1, &f, VkBool32(VK_TRUE), UInt64.max))
        }
    }

    /// A shader-write → shader-read (and → host-read) barrier helper for command recording.
    func barrier(_ commands: VkCommandBuffer, toHost: Bool) {
        var b = VkMemoryBarrier()
        b.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER
        b.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT.rawValue
        b.dstAccessMask = toHost ? VK_ACCESS_HOST_READ_BIT.rawValue : VK_ACCESS_SHADER_READ_BIT.rawValue | VK_ACCESS_SHADER_WRITE_BIT.rawValue
        let dst = toHost ? VK_PIPELINE_STAGE_HOST_BIT.rawValue : VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue
        vk.cmdPipelineBarrier(commands, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT.rawValue, dst, 0, 1, &b, 0, nil, 0, nil)
    }
}

/// Fails with the call's name and VkResult unless it succeeded.
func check(_ call: String, _ result: VkResult) throws {
    guard result == VK_SUCCESS else { throw VulkanError(call, result) }
}

/// Runs `body` with a C array of C strings (nil when `strings` is empty).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    guard !strings.isEmpty else { return body(nil) }
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// Collects the validation layer's messages (warnings and errors) for tests, and logs each (`EDGEHAL_VULKAN_VALIDATION=1`
/// on any tool: the messages appear on standard error as `validation: …`).
final class VulkanValidation: @unchecked Sendable {
    private let store = Mutex<[String]>([])
    private let logger = Logger(label: "edgehal.vulkan")
    /// Keeps the message and logs it at once (`edgehal.vulkan`, warning), as the layer itself would print it.
    func record(_ message: String) {
        store.withLock { $0.append(message) }
        logger.warning("validation: \(message)")
    }
    var messages: [String] { store.withLock { $0 } }
}
