import EdgeHAL
import Foundation
import Testing

/// The energy readers on a fake /sys/class tree: powercap zones (sub-zones not counted twice,
/// the counter's wrap-around undone), hwmon energy counters and sampled power sensors, and the
/// reasons given when nothing is there.
struct EnergyMeterTests {
    let root: String = {
        var template = Array("/tmp/edgehal-sysfs-XXXXXX".utf8CString)
        return String(cString: mkdtemp(&template))
    }()

    func put(_ path: String, _ value: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try (value + "\n").write(toFile: full, atomically: false, encoding: .utf8)
    }

    @Test func readsPowercapAcrossAWrapAndHwmon() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("powercap/intel-rapl:0/name", "package-0")
        try put("powercap/intel-rapl:0/energy_uj", "900000")
        try put("powercap/intel-rapl:0/max_energy_range_uj", "1000000")
        try put("powercap/intel-rapl:0:0/name", "core")           // inside the package: not counted again
        try put("powercap/intel-rapl:0:0/energy_uj", "5")
        try put("hwmon/hwmon0/name", "amd_energy")
        try put("hwmon/hwmon0/energy1_input", "3000000")
        let (meters, tried) = EnergyMeters.discover(root: root)
        #expect(meters.map(\.name) == ["powercap intel-rapl:0 (package-0)", "hwmon amd_energy energy1_input"], "\(tried)")
        let package = meters[0]
        let before = try #require(package.joules())
        try put("powercap/intel-rapl:0/energy_uj", "100000")     // wrapped past 1 J
        let after = try #require(package.joules())
        #expect(abs((after - before) - 0.2) < 1e-9)
        #expect(meters[1].joules() == 3)
    }

    /// A power sensor (µW) is integrated over time: 2 W for about half a second is about 1 J.
    @Test func integratesAPowerSensor() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try put("hwmon/hwmon1/name", "gpu")
        try put("hwmon/hwmon1/power1_average", "2000000")
        let (meters, _) = EnergyMeters.discover(root: root)
        let meter = try #require(meters.first { $0.name.contains("power1_average") })
        defer { meter.stop() }
        usleep(500_000)
        let j = try #require(meter.joules())
        #expect(j > 0.4 && j < 1.6, "\(j) J")
    }

    @Test func saysWhatWasTriedWhenNothingIsThere() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (meters, tried) = EnergyMeters.discover(root: root)
        #expect(meters.allSatisfy { $0.name.hasPrefix("NVML") })
        #expect(tried.contains { $0.hasPrefix("powercap") && $0.contains("absent") })
        #expect(tried.contains { $0.hasPrefix("hwmon") && $0.contains("absent") })
        #expect(tried.contains { $0.hasPrefix("NVML") })
    }
}
