import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A cumulative energy counter: joules since some origin, read before and after a measurement.
public protocol EnergyMeter: Sendable {
    /// What is measured ("powercap package-0 (CPU package)", "NVML GPU 0").
    var name: String { get }
    /// Joules since the meter's origin; nil when the read fails.
    func joules() -> Double?
    /// Ends any sampling the meter does in the background.
    func stop()
}

extension EnergyMeter {
    public func stop() {}
}

/// Finds the energy meters a machine exposes: Linux powercap (RAPL: Intel, and AMD since Zen),
/// hwmon energy counters and power sensors, NVIDIA's NVML for NVIDIA GPUs. Each is tried and, when
/// it gives nothing, says why, so a report can state what was looked for.
public enum EnergyMeters {
    /// Overrides `/sys/class` (tests point it at a fake tree).
    public static let rootVariable = "EDGEHAL_SYSFS_ROOT"

    public static func discover(root: String? = nil) -> (meters: [any EnergyMeter], tried: [String]) {
        let sys = root ?? EdgeHALEnvironment.value(rootVariable) ?? "/sys/class"
        var meters: [any EnergyMeter] = [], tried: [String] = []
        let (rapl, raplWhy) = Powercap.zones(sys + "/powercap")
        meters += rapl
        tried.append(raplWhy)
        let (hw, hwWhy) = Hwmon.meters(sys + "/hwmon")
        meters += hw
        tried.append(hwWhy)
        let (gpus, nvmlWhy) = NVML.meters()
        meters += gpus
        tried.append(nvmlWhy)
        return (meters, tried)
    }

    static func read(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 256)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
        return String(cString: buf).trimmingCharacters()
    }

    static func entries(_ directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted()
    }

    static func why(_ path: String) -> String {
        access(path, F_OK) != 0 ? "absent" : "not readable (\(String(cString: strerror(errno))); root or a udev rule can grant it)"
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.last, c == "\n" || c == " " || c == "\r" { s.removeLast() }
        return String(s)
    }
}

/// RAPL through powercap: `*/energy_uj` counts µJ and wraps at `max_energy_range_uj`. Only top-level
/// zones (`intel-rapl:0`, not its sub-zones `intel-rapl:0:0`, which the package already includes, nor
/// `intel-rapl-mmio:0`, the same package read another way).
struct Powercap: EnergyMeter {
    let name: String
    let path: String
    let range: Double
    /// The last raw value and the wraps seen, so the counter keeps rising across a wrap.
    let state: WrapState

    static func zones(_ root: String) -> ([any EnergyMeter], String) {
        guard let names = EnergyMeters.entries(root) else { return ([], "powercap (\(root)): absent") }
        var zones: [any EnergyMeter] = []
        var problems: [String] = []
        for n in names where n.split(separator: ":").count == 2 && !n.contains("mmio") {
            let dir = root + "/" + n
            guard let raw = EnergyMeters.read(dir + "/energy_uj"), Double(raw) != nil else {
                problems.append("\(n)/energy_uj \(EnergyMeters.why(dir + "/energy_uj"))")
                continue
            }
            let label = EnergyMeters.read(dir + "/name") ?? n
            let range = EnergyMeters.read(dir + "/max_energy_range_uj").flatMap(Double.init) ?? Double(UInt64.max)
            zones.append(Powercap(name: "powercap \(n) (\(label))", path: dir + "/energy_uj", range: range, state: WrapState()))
        }
        if !zones.isEmpty { return (zones, "powercap: \(zones.count) zone(s)") }
        return ([], "powercap (\(root)): " + (problems.isEmpty ? "no zones" : problems.joined(separator: "; ")))
    }

    func joules() -> Double? {
        guard let raw = EnergyMeters.read(path).flatMap(Double.init) else { return nil }
        return state.unwrap(raw, range: range) * 1e-6
    }
}

/// Makes a wrapping counter monotonic: a value below the previous one means it passed its range.
final class WrapState: Sendable {
    /// The last raw value, and what the wraps so far add.
    private let state = Mutex<(last: Double?, offset: Double)>((nil, 0))

    func unwrap(_ raw: Double, range: Double) -> Double {
        state.withLock { s in
            if let last = s.last, raw < last { s.offset += range }
            s.last = raw
            return raw + s.offset
        }
    }
}

/// hwmon: `energyN_input` (µJ, cumulative) where a driver offers it (amd_energy, some BMCs);
/// `powerN_input` / `powerN_average` (µW) otherwise, integrated by sampling every 50 ms.
struct Hwmon {
    static func meters(_ root: String) -> ([any EnergyMeter], String) {
        guard let devices = EnergyMeters.entries(root) else { return ([], "hwmon (\(root)): absent") }
        var out: [any EnergyMeter] = []
        for d in devices {
            let dir = root + "/" + d
            let chip = EnergyMeters.read(dir + "/name") ?? d
            let files = EnergyMeters.entries(dir) ?? []
            let energy = files.filter { $0.hasPrefix("energy") && $0.hasSuffix("_input") }
            if !energy.isEmpty {
                for f in energy where EnergyMeters.read(dir + "/" + f).flatMap(Double.init) != nil {
                    out.append(HwmonEnergy(name: "hwmon \(chip) \(f)", path: dir + "/" + f))
                }
                continue
            }
            for f in files where f.hasPrefix("power") && (f.hasSuffix("_input") || f.hasSuffix("_average")) {
                if EnergyMeters.read(dir + "/" + f).flatMap(Double.init) != nil {
                    out.append(PowerIntegrator(name: "hwmon \(chip) \(f) (sampled)", path: dir + "/" + f))
                }
            }
        }
        return (out, out.isEmpty ? "hwmon (\(root)): no readable energy or power sensor" : "hwmon: \(out.count) sensor(s)")
    }
}

struct HwmonEnergy: EnergyMeter {
    let name: String
    let path: String
    func joules() -> Double? { EnergyMeters.read(path).flatMap(Double.init).map { $0 * 1e-6 } }
}

/// Joules from a power sensor (µW): a background thread samples it every 50 ms and integrates
/// (trapezoids) for as long as the meter lives.
final class PowerIntegrator: EnergyMeter, Sendable {
    let name: String
    let path: String
    /// Joules so far, and whether to keep sampling.
    private let state = Mutex<(total: Double, running: Bool)>((0, true))

    init(name: String, path: String) {
        self.name = name
        self.path = path
        let box = Unmanaged.passRetained(self)
        var t = pthread_t()
        if pthread_create(&t, nil, { arg in
            let me = Unmanaged<PowerIntegrator>.fromOpaque(arg!).takeRetainedValue()
            me.sample()
            return nil
        }, box.toOpaque()) == 0 { pthread_detach(t) } else { box.release() }
    }

    private func sample() {
        var previous = EnergyMeters.read(path).flatMap(Double.init)
        var last = Self.now()
        while true {
            usleep(50_000)
            let watts = EnergyMeters.read(path).flatMap(Double.init)
            let t = Self.now()
            let keep = state.withLock { s in
                if let p = previous, let w = watts { s.total += (p + w) / 2 * 1e-6 * (t - last) }
                return s.running
            }
            if !keep { return }
            (previous, last) = (watts, t)
        }
    }

    /// Stops the sampler (it holds a reference until then).
    public func stop() { state.withLock { $0.running = false } }

    func joules() -> Double? { state.withLock { $0.total } }

    static func now() -> Double { MonotonicClock.seconds() }
}

/// NVIDIA's NVML, opened at run time: total energy since the driver loaded (mJ, Volta and later).
struct NVML: EnergyMeter {
    typealias Energy = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>?) -> Int32
    let name: String
    /// The device handle and nvmlDeviceGetTotalEnergyConsumption, as addresses (Sendable).
    let device: UInt
    let function: UInt

    static func meters() -> ([any EnergyMeter], String) {
        guard let lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL) else { return ([], "NVML: libnvidia-ml.so.1 absent (no NVIDIA driver)") }
        typealias Init = @convention(c) () -> Int32
        typealias Count = @convention(c) (UnsafeMutablePointer<UInt32>?) -> Int32
        typealias Handle = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
        guard let i = dlsym(lib, "nvmlInit_v2"), let c = dlsym(lib, "nvmlDeviceGetCount_v2"),
              let h = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"), let e = dlsym(lib, "nvmlDeviceGetTotalEnergyConsumption")
        else { return ([], "NVML: the library lacks the energy functions") }
        guard unsafeBitCast(i, to: Init.self)() == 0 else { return ([], "NVML: nvmlInit failed") }
        var n: UInt32 = 0
        guard unsafeBitCast(c, to: Count.self)(&n) == 0 else { return ([], "NVML: cannot count devices") }
        let energy = unsafeBitCast(e, to: Energy.self)
        var out: [any EnergyMeter] = []
        for index in 0..<n {
            var device: OpaquePointer?
            var probe: UInt64 = 0
            guard unsafeBitCast(h, to: Handle.self)(index, &device) == 0, let device, energy(device, &probe) == 0 else { continue }
            out.append(NVML(name: "NVML GPU \(index)", device: UInt(bitPattern: device), function: UInt(bitPattern: e)))
        }
        return (out, out.isEmpty ? "NVML: \(n) device(s), none reports energy" : "NVML: \(out.count) GPU(s)")
    }

    func joules() -> Double? {
        var mj: UInt64 = 0
        guard let f = UnsafeRawPointer(bitPattern: function) else { return nil }
        return unsafeBitCast(f, to: Energy.self)(OpaquePointer(bitPattern: device), &mj) == 0 ? Double(mj) * 1e-3 : nil
    }
}
