import EdgeHAL

/// What every GPU API's probe reports about a device, whatever else it learns: the facts that decide
/// placement and name the device (``DeviceInfo``). The Vulkan and OpenCL facts embed one and add
/// what selects their kernel variants.
public struct GPUDeviceIdentity: Sendable, Hashable {
    public var name: String
    /// The API's device type ("discrete", "CL_DEVICE_TYPE_CPU", …).
    public var type: String
    public var kind: DeviceKind
    public var driver: String
    /// Device-local memory in bytes.
    public var memoryBytes: UInt64
    /// Multiprocessors or compute units, where the driver tells them.
    public var computeUnits: Int?
    /// The card's UUID (Vulkan's deviceUUID, OpenCL's cl_khr_device_uuid): one card through two APIs.
    public var uuid: String?

    public init(name: String, type: String, kind: DeviceKind, driver: String = "", memoryBytes: UInt64 = 0,
                computeUnits: Int? = nil, uuid: String? = nil) {
        (self.name, self.type, self.kind, self.driver) = (name, type, kind, driver)
        (self.memoryBytes, self.computeUnits, self.uuid) = (memoryBytes, computeUnits, uuid)
    }

    /// The device as the core sees it: `api` first (the API and its version), then type and driver,
    /// then the API's own `features`.
    public func info(api: String, features: [String]) -> DeviceInfo {
        DeviceInfo(name: name, kind: kind, memoryBytes: memoryBytes, computeUnits: computeUnits,
                   features: [api, "type=\(type)", "driver=\(driver)"] + features, uuid: uuid)
    }
}
