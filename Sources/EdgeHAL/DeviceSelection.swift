/// Devices opened for a selection, and why they were chosen.
public struct SelectedDevices {
    /// The selection, then the host CPU fallback.
    public var devices: [any Device]
    /// How `auto` decided (with the predictions behind it), or the variable or option that named the devices.
    public var explanation: String
}

extension BackendRegistry {
    /// Opens what `spec` (or `EDGEHAL_BACKEND`, or `auto`) selects among this registry's backends,
    /// followed by the best host CPU device as fallback for ops the selection does not support.
    /// With a `workload`, `auto` picks the device predicted fastest for it from each device's
    /// calibration (stored in the cache folder, measured on first use).
    public func select(_ spec: String? = nil, workload: Workload? = nil) throws -> SelectedDevices {
        let probed = probeAll()
        let spec = spec ?? Selection.environmentValue
        var predicted: [DeviceChoice: Prediction] = [:]
        if let workload, Selection.usesAuto(spec) {
            predicted = Selection.predictions(calibrations(probed, types: workload.types), for: workload)
        }
        let chosen = try Selection.resolve(spec, probed: probed, predicted: predicted)
        let devices = try Selection.withFallback(chosen, probed: probed).map { try open($0) }
        let why = Selection.usesAuto(spec) ? Selection.autoExplanation(probed, predicted: predicted, workload: workload)
                                            : "selected by \(spec.map { "'\($0)'" } ?? "auto")"
        return SelectedDevices(devices: devices, explanation: why)
    }
}
