import CVulkan

/// Vulkan has no core-level "compute units" property: vendors report their multiprocessors through
/// extensions. Without one the count is unknown (nil), never a made-up 1.
enum VulkanComputeUnits {
    static func count(_ lib: VulkanLibrary, _ instance: VkInstance, _ device: VkPhysicalDevice, extensions names: Set<String>) -> Int? {
        func query<T>(_ ext: T) -> T { VulkanProbe.chained(ext, properties: lib, instance, device) }
        if names.contains("VK_NV_shader_sm_builtins") {          // NVIDIA: streaming multiprocessors
            var nv = VkPhysicalDeviceShaderSMBuiltinsPropertiesNV()
            nv.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV
            let sm = Int(query(nv).shaderSMCount)
            if sm > 0 { return sm }
        }
        if names.contains("VK_AMD_shader_core_properties") {     // AMD: engines × arrays × CUs per array
            var amd = VkPhysicalDeviceShaderCorePropertiesAMD()
            amd.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD
            let p = query(amd)
            let cus = Int(p.shaderEngineCount) * Int(p.shaderArraysPerEngineCount) * Int(p.computeUnitsPerShaderArray)
            if cus > 0 { return cus }
        }
        if names.contains("VK_ARM_shader_core_builtins") {       // Arm Mali: shader cores
            var arm = VkPhysicalDeviceShaderCoreBuiltinsPropertiesARM()
            arm.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_BUILTINS_PROPERTIES_ARM
            let cores = Int(query(arm).shaderCoreCount)
            if cores > 0 { return cores }
        }
        return nil
    }
}
