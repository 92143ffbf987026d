import EdgeHAL
import EdgeHALBuiltins
import EdgeHALConformance
import Foundation
import EdgeHALTestSupport
import Testing
@testable import EdgeHALOpenCL

/// The OpenCL backend: its probe explains itself and ranks a CPU device (PoCL) below the native CPU,
/// its embedded kernel sources are the files in Kernels/opencl, and its binary cache never trusts a
/// damaged file. (The conformance table runs on it in ConformanceSuiteTests, as on every available backend.)
struct OpenCLBackendTests {
    static let status = OpenCLBackend().probe()

    @Test func probeExplainsItselfAndRanksCPUDevicesBelowTheNativeCPU() throws {
        #expect(Self.status.reason?.isEmpty == false)
        let probed = BuiltinBackends.registry().probeAll()
        guard Self.status.available else {
            #expect(Self.status.reason?.hasPrefix("OpenCL unavailable") == true)
            #expect(throws: EdgeHALError.self) { try Selection.resolve("opencl", probed: probed) }
            return
        }
        for device in Self.status.devices where device.features.contains("type=cpu") { #expect(device.kind == .emulated) }
        #expect(try Selection.resolve("opencl", probed: probed).first?.backend == "opencl")
    }

    /// The GPU kernel family (mul_mat_vec.cl, attention_wg.cl, rows_wg.cl) forced on whatever OpenCL
    /// device there is (PoCL in CI): every case passes, none unsupported. The default family runs the
    /// table in ConformanceSuiteTests.
    @Test(.enabled(if: status.available))
    func wholeTableWithTheGPUFamily() throws {
        let device = try #require(try OpenCLBackend(kernels: .gpu).makeDevice(index: 0) as? OpenCLDevice)
        #expect(device.family == .gpu && device.info.features.contains("kernels=gpu"))
        let report = ConformanceRunner().run(CaseTable.all, on: device)
        for r in report.results where r.status != .pass {
            Issue.record("opencl (gpu kernels): \(r.op) \(r.type) \(r.shape): \(r.status) \(r.detail ?? "")")
        }
        #expect(report.failed == 0 && report.unsupported == 0)
    }

    /// Attention's kernels read mask row t for query t, one batch: a mask they would misread is declared unsupported
    /// (the graph falls back), not run.
    @Test func attentionDeclaresMasksItCannotRead() {
        let (d, t, kv, h) = (64, 5, 40, 4)
        func sig(mask: [Int]?, batches: Int = 1) -> OpSignature {
            let q = TensorDesc(.f32, Shape(d, t, h, batches)), k = TensorDesc(.f32, Shape(d, kv, 2, batches))
            return OpSignature(op: .attention(scale: 0.125), inputs: [q, k, k] + (mask.map { [TensorDesc(.f32, Shape($0))] } ?? []),
                               output: q)
        }
        for family in KernelFamily.allCases {
            #expect(OpenCLKernels.supports(sig(mask: [kv, t]), family: family) && OpenCLKernels.supports(sig(mask: nil), family: family))
            #expect(!OpenCLKernels.supports(sig(mask: [kv, 1]), family: family))         // one row for every token
            #expect(!OpenCLKernels.supports(sig(mask: [kv, t, h]), family: family))      // a row per head
            #expect(!OpenCLKernels.supports(sig(mask: [kv, t], batches: 2), family: family))
        }
    }

    /// Each device kind gets its family; the switch forces one.
    @Test func kernelFamilyFollowsTheDeviceKind() {
        #expect(OpenCLBackend(kernels: nil).family(.gpu) == (KernelFamily.forced(by: OpenCLBackend.kernelsVariable) ?? .gpu))
        #expect(OpenCLBackend(kernels: .gpu).family(.emulated) == .gpu && OpenCLBackend(kernels: .cpu).family(.gpu) == .cpu)
        for device in Self.status.devices {
            let family = OpenCLBackend().family(device.kind).rawValue
            #expect(device.features.contains("kernels=\(family)"))
        }
    }

    @Test func embeddedSourcesMatchTheKernelFiles() throws {
        let (status, output) = try Shell.check("gen-opencl.sh")
        #expect(status == 0, "\(output)")
    }
}
