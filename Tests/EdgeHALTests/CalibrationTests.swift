import EdgeHAL
import EdgeHALReference
import Foundation
import Testing

/// Calibrations: stored with a self-check and re-measured when damaged or foreign, and `auto`
/// picking the device predicted fastest for the work at hand.
struct CalibrationTests {
    static func fake(run: Double, op: Double, gbps: Double, gflops: Double, q4: Double? = nil) -> DeviceCalibration {
        var types = ["q8_0": gbps], prefill = ["q8_0": gflops]
        if let q4 { types["q4_0"] = q4; prefill["q4_0"] = gflops }
        return DeviceCalibration(runSeconds: run, opSeconds: op, matVecGBps: types, prefillGFLOPS: prefill, smallGBps: gbps,
                                 largeGBps: gbps, smallBytes: 1 << 20, typeBytes: 4 << 20, largeBytes: 64 << 20, measuredSeconds: 0.5)
    }

    func folder() -> String {
        let path = NSTemporaryDirectory() + "edgehal-calibration-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func storedCalibrationsRoundTripAndDamagedOrForeignOnesAreRemeasured() throws {
        let store = CalibrationStore(folder: folder())
        let original = Self.fake(run: 3e-5, op: 2e-6, gbps: 123.456789, gflops: 4567.25, q4: 99.5)
        let key = "vulkan | H200 | uuid | driver=x | edgehal 1"
        var measured = 0
        func measure(_ base: DeviceCalibration?, _ types: [DType]) -> DeviceCalibration { measured += 1; return original }
        #expect(try store.calibration(key: key, measure: measure).fresh)
        #expect(measured == 1)
        #expect(store.load(key: key) == original)
        #expect(try store.calibration(key: key, measure: measure) == (original, false))
        #expect(measured == 1)

        let path = try #require(store.path(for: key))
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // A figure edited (the checksum no longer matches), a torn file, garbage, a wrong figure with a
        // recomputed checksum (not plausible), another device's file under this name: all re-measured.
        let damaged = [
            text.replacingOccurrences(of: "123.456789", with: "923.456789"),
            String(text.prefix(text.count / 2)),
            "\u{0}\u{1}not a calibration",
            CalibrationStore.encode(Self.fake(run: -1, op: 0, gbps: 1, gflops: 1), key: key),
            CalibrationStore.encode(original, key: "opencl | another device"),
        ]
        for (i, bad) in damaged.enumerated() {
            try bad.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(store.load(key: key) == nil, "case \(i)")
            #expect(try store.calibration(key: key, measure: measure).fresh, "case \(i)")
            #expect(measured == 2 + i)
            #expect(store.load(key: key) == original)
        }
        // --calibrate measures again whatever is stored.
        #expect(try store.calibration(key: key, remeasure: true, measure: measure).fresh)
    }

    /// A type a stored calibration lacks is measured and added; the rest is kept.
    @Test func missingTypesAreAddedToWhatIsStored() throws {
        let store = CalibrationStore(folder: folder())
        let key = "cpu | host"
        store.save(Self.fake(run: 1e-6, op: 1e-7, gbps: 10, gflops: 50), key: key)
        var asked: [DType] = []
        let (c, fresh) = try store.calibration(key: key, types: [.q8_0, .q4_0]) { base, types in
            asked = types
            var c = try #require(base)
            c.matVecGBps["q4_0"] = 7
            c.prefillGFLOPS["q4_0"] = 60
            return c
        }
        #expect(fresh && asked == [.q8_0, .q4_0] && c.matVecGBps == ["q8_0": 10, "q4_0": 7])
        #expect(store.load(key: key)?.matVecGBps["q4_0"] == 7)
    }

    /// A launch-bound small model and a bandwidth-bound large one choose differently between a
    /// device with a high fixed cost and high bandwidth (a discrete GPU) and a quick, narrow one (a CPU).
    @Test func autoPicksThePredictedFastestDevice() throws {
        let probed = BackendRegistry([
            FakeBackend(name: "vulkan", status: .init(available: true, devices: [DeviceInfo(name: "gpu", kind: .gpu, computeUnits: 100)])),
            FakeBackend(name: "cpu", status: .init(available: true, devices: [DeviceInfo(name: "host", kind: .cpu, computeUnits: 2)])),
            FakeBackend(name: "opencl", status: .init(available: true, devices: [DeviceInfo(name: "pocl", kind: .emulated, computeUnits: 2)])),
            FakeBackend(name: "reference", status: .init(available: true, devices: [DeviceInfo(name: "ref", kind: .cpu, computeUnits: 1, isReference: true)])),
        ]).probeAll()
        let order = Selection.ranked(probed)
        let (gpu, cpu, pocl) = (order[0], order[1], order[2])
        #expect([gpu.backend, cpu.backend, pocl.backend] == ["vulkan", "cpu", "opencl"])
        let gpuFigures = Self.fake(run: 200e-6, op: 20e-6, gbps: 2000, gflops: 50_000)
        let cpuFigures = Self.fake(run: 1e-6, op: 0.2e-6, gbps: 20, gflops: 100)
        func workload(_ bytes: Double, ops: Int) -> Workload {
            Workload(name: "test", matrices: [.init(type: .q8_0, count: 100, bytes: bytes, prefillElements: bytes)], ops: ops,
                     promptTokens: 0, generatedTokens: 64)
        }
        let small = workload(1e6, ops: 600), large = workload(4e9, ops: 600)
        let calibrated = [CalibratedDevice(choice: gpu, calibration: gpuFigures, fresh: false),
                          CalibratedDevice(choice: cpu, calibration: cpuFigures, fresh: false)]
        // 1 MB in 600 ops: the GPU's 12 ms of dispatches lose to the CPU's 0.17 ms.
        let forSmall = Selection.predictions(calibrated, for: small)
        #expect(try Selection.resolve(nil, probed: probed, predicted: forSmall).map(\.backend) == ["cpu"])
        // 4 GB: 2 ms a token on the GPU against 200 ms.
        let forLarge = Selection.predictions(calibrated, for: large)
        #expect(try Selection.resolve("auto", probed: probed, predicted: forLarge).map(\.backend) == ["vulkan"])
        let why = Selection.autoExplanation(probed, predicted: forLarge, workload: large)
        #expect(why.contains("auto picks vulkan:0") && why.contains("predicted fastest") && why.contains("cpu:0") && why.contains("not timed"), "\(why)")
        // An emulated device measured fastest is picked: the measurement decides, not the kind.
        let withPocl = calibrated + [CalibratedDevice(choice: pocl, calibration: Self.fake(run: 1e-6, op: 0.1e-6, gbps: 40, gflops: 200), fresh: false)]
        #expect(Selection.autoChoice(probed, predicted: Selection.predictions(withPocl, for: small)) == pocl)
        // Within 2 %, the better-ranked device wins; without calibrations, the ranking alone decides.
        let tie = [CalibratedDevice(choice: pocl, calibration: cpuFigures, fresh: false), CalibratedDevice(choice: cpu, calibration: cpuFigures, fresh: false)]
        #expect(Selection.autoChoice(probed, predicted: Selection.predictions(tie, for: small)) == cpu)
        #expect(Selection.autoChoice(probed) == gpu)
        // An explicit selection is never overridden by predictions.
        #expect(try Selection.resolve("opencl", probed: probed, predicted: forLarge).map(\.backend) == ["opencl"])
    }

    /// The measurement itself, on the reference device: finite, positive figures for what was asked.
    @Test func calibratorMeasuresARealDevice() throws {
        let c = try Calibrator.measure(ReferenceDevice(), types: [.q4_0], share: 0.01)
        #expect(c.isPlausible, "\(c)")
        #expect(Set(c.matVecGBps.keys) == ["q8_0", "q4_0"] && Set(c.prefillGFLOPS.keys) == ["q8_0", "q4_0"])
        #expect(c.smallBytes < c.typeBytes && c.typeBytes < c.largeBytes)
        let more = try Calibrator.measure(ReferenceDevice(), types: [.q6_K], base: c, share: 0.01)
        #expect(more.runSeconds == c.runSeconds && more.matVecGBps["q4_0"] == c.matVecGBps["q4_0"] && more.matVecGBps["q6_K"] != nil)
    }
}
