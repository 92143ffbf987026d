import EdgeHAL
import EdgeHALBuiltins
import EdgeHALConformance
import EdgeHALReference
import Testing

/// The per-device bandwidth probe `conformance perf` uses for GPUs: a copy through the backend
/// gives a plausible figure on every available device, and a device that cannot copy gives none.
struct DeviceBandwidthTests {
    @Test func everyAvailableDeviceGivesAPlausibleFigure() throws {
        let registry = BuiltinBackends.registry()
        let probed = registry.probeAll()
        for p in probed where p.status.available && p.name != "reference" {
            for i in p.status.devices.indices {
                let device = try registry.open(try #require(try Selection.resolve("\(p.name):\(i)", probed: probed).first))
                let bytesPerSecond = try #require(try DeviceBandwidth.measure(device, megabytes: 32, passes: 2), "\(p.name):\(i)")
                // Between a slow emulated device and the fastest HBM: 0.1 GB/s … 20 TB/s.
                #expect(bytesPerSecond > 1e8 && bytesPerSecond < 2e13, "\(p.name):\(i): \(bytesPerSecond / 1e9) GB/s")
            }
        }
    }

    /// A device without `scale` is not measured: nil, not an error and not a made-up figure.
    @Test func aDeviceWithoutScaleIsNotMeasured() throws {
        #expect(try DeviceBandwidth.measure(NoScale(), megabytes: 1) == nil)
    }

    final class NoScale: Device {
        let base = ReferenceDevice()
        var backendName: String { "no-scale" }
        var info: DeviceInfo { base.info }
        func supports(_ signature: OpSignature) -> Bool { signature.op.name != "scale" && base.supports(signature) }
        func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { try base.makeBuffer(byteCount: byteCount) }
        func compile(_ partition: Partition) throws -> any Program { try base.compile(partition) }
    }
}
