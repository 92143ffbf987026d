/// One device's calibration as `auto` and `hwprobe` use it: stored, measured now, or why neither.
public struct CalibratedDevice: Sendable {
    public var choice: DeviceChoice
    public var calibration: DeviceCalibration?
    /// Measured in this call (none was stored, it could not be trusted, or re-measuring was asked for).
    public var fresh: Bool
    /// Why there is no calibration: a reference oracle is never timed; a device that fails to open
    /// or run says so.
    public var reason: String?

    public init(choice: DeviceChoice, calibration: DeviceCalibration? = nil, fresh: Bool = false, reason: String? = nil) {
        self.choice = choice
        self.calibration = calibration
        self.fresh = fresh
        self.reason = reason
    }
}

extension BackendRegistry {
    /// Every available device's calibration, best-ranked first: from `store`, else measured now
    /// (the device opened, measured for ≤ 2 s and closed) and stored. Reference oracles are not timed.
    /// `types`: the weight types to have rates for (a workload's, ``Workload/types``); those a stored
    /// calibration lacks are measured and added.
    public func calibrations(_ probed: [ProbedBackend], types: [DType] = [.q8_0], store: CalibrationStore = CalibrationStore(),
                             remeasure: Bool = false) -> [CalibratedDevice] {
        Selection.ranked(probed).map { choice in
            guard !choice.info.isReference else {
                return CalibratedDevice(choice: choice, fresh: false, reason: "the reference oracle is not timed")
            }
            do {
                let key = CalibrationStore.key(backend: choice.backend, info: choice.info)
                let (c, fresh) = try store.calibration(key: key, types: types, remeasure: remeasure) { base, types in
                    try Calibrator.measure(try open(choice), types: types, base: base)
                }
                return CalibratedDevice(choice: choice, calibration: c, fresh: fresh)
            } catch {
                return CalibratedDevice(choice: choice, fresh: false, reason: "calibration failed: \(error)")
            }
        }
    }
}

extension Selection {
    /// Each calibrated device's predicted time for `workload`.
    public static func predictions(_ calibrated: [CalibratedDevice], for workload: Workload) -> [DeviceChoice: Prediction] {
        var out: [DeviceChoice: Prediction] = [:]
        for d in calibrated { if let c = d.calibration { out[d.choice] = workload.predict(c) } }
        return out
    }

    /// Whether a selection string uses `auto` (so calibrations matter).
    public static func usesAuto(_ spec: String?) -> Bool {
        guard let spec else { return true }
        return spec.split(separator: ",").contains { String($0).trimmingSpaces.lowercased() == "auto" }
    }
}
