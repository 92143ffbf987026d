import EdgeHAL
import Testing

struct FakeBackend: Backend {
    let name: String
    let status: BackendStatus
    func probe() -> BackendStatus { status }
    func makeDevice(index: Int) throws -> any Device { throw EdgeHALError.backend("fake") }
}

struct SelectionTests {
    let probed: [ProbedBackend] = BackendRegistry([
        FakeBackend(name: "reference", status: .init(available: true, devices: [DeviceInfo(name: "ref", kind: .cpu, computeUnits: 1, isReference: true)])),
        FakeBackend(name: "vulkan", status: .init(available: true, devices: [DeviceInfo(name: "llvmpipe", kind: .emulated, computeUnits: 2)])),
        FakeBackend(name: "cpu", status: .init(available: true, devices: [DeviceInfo(name: "host", kind: .cpu, computeUnits: 2)])),
        FakeBackend(name: "opencl", status: .unavailable("libOpenCL.so.1 not found")),
    ]).probeAll()

    @Test func autoPrefersNativeCPUOverEmulatedAndReference() throws {
        #expect(try Selection.resolve(nil, probed: probed).map(\.backend) == ["cpu"])
        #expect(try Selection.resolve("auto", probed: probed).map(\.backend) == ["cpu"])
        #expect(Selection.ranked(probed).map(\.backend) == ["cpu", "vulkan", "reference"])
    }

    /// One GPU through Vulkan and OpenCL (the same uuid) is one physical device: grouped, and named
    /// once when `auto` explains its choice; a device without a uuid is never grouped.
    @Test func oneCardThroughTwoAPIsCountsOnce() throws {
        let card = DeviceInfo.uuidString(Array(1...16))
        #expect(card == "01020304-0506-0708-090a-0b0c0d0e0f10")
        #expect(DeviceInfo.uuidString([UInt8](repeating: 0, count: 16)) == nil)
        let probed = BackendRegistry([
            FakeBackend(name: "vulkan", status: .init(available: true, devices: [DeviceInfo(name: "H200", kind: .gpu, computeUnits: 132, uuid: card)])),
            FakeBackend(name: "opencl", status: .init(available: true, devices: [
                DeviceInfo(name: "pocl", kind: .emulated, computeUnits: 2),
                DeviceInfo(name: "NVIDIA H200", kind: .gpu, computeUnits: 132, uuid: card)])),
            FakeBackend(name: "cpu", status: .init(available: true, devices: [DeviceInfo(name: "host", kind: .cpu, computeUnits: 16)])),
        ]).probeAll()
        #expect(Selection.samePhysicalDevice(probed).map { $0.map(\.description) } == [["vulkan:0 (H200)", "opencl:1 (NVIDIA H200)"]])
        let why = Selection.autoExplanation(probed)
        #expect(why.contains("auto picks vulkan:0 (H200)") && !why.contains("opencl:1"), "\(why)")
        #expect(Selection.samePhysicalDevice(self.probed).isEmpty)
    }

    @Test func explicitNamesIndicesAndPriorityLists() throws {
        #expect(try Selection.resolve("vulkan", probed: probed).map(\.description) == ["vulkan:0 (llvmpipe)"])
        #expect(try Selection.resolve("Vulkan:0, reference", probed: probed).map(\.backend) == ["vulkan", "reference"])
        let withFallback = Selection.withFallback(try Selection.resolve("vulkan", probed: probed), probed: probed)
        #expect(withFallback.map(\.backend) == ["vulkan", "cpu"])
    }

    @Test(arguments: ["nonsense", "opencl", "vulkan:3", "vulkan:x", "cpu,,vulkan", ""])
    func badSelectionsAreErrorsListingEveryBackend(_ spec: String) {
        do {
            _ = try Selection.resolve(spec, probed: probed)
            Issue.record("'\(spec)' was accepted")
        } catch {
            let message = "\(error)"
            for name in ["reference", "vulkan", "cpu", "opencl"] { #expect(message.contains(name)) }
            if spec == "opencl" { #expect(message.contains("libOpenCL.so.1 not found")) }
        }
    }

    @Test func duplicateRegistrationIsRefused() {
        var r = BackendRegistry([FakeBackend(name: "cpu", status: .unavailable("x"))])
        #expect(throws: EdgeHALError.self) { try r.register(FakeBackend(name: "cpu", status: .unavailable("y"))) }
    }
}
