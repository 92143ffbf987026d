import EdgeHAL
import EdgeHALBuiltins
import EdgeHALConformance
import Testing

/// Every available built-in backend runs the whole conformance table.
struct ConformanceSuiteTests {
    static var devices: [DeviceChoice] {
        Selection.ranked(BuiltinBackends.registry().probeAll())
    }

    @Test("conformance table passes", arguments: devices)
    func backendConforms(_ choice: DeviceChoice) throws {
        let device = try BuiltinBackends.registry().open(choice)
        let report = ConformanceRunner().run(CaseTable.all, on: device)
        for r in report.results where r.status == .fail {
            Issue.record("\(choice): \(r.op) \(r.type) \(r.shape): \(r.detail ?? "")")
        }
        #expect(report.failed == 0)
        #expect(report.passed > 0)
        if choice.info.isReference { #expect(report.unsupported == 0) }
    }

    @Test func tableCoversEveryOpAndQuantType() {
        let cases = CaseTable.all
        let ops = Set(cases.map(\.op))
        for op in ["mul_mat", "get_rows", "add", "mul", "scale", "rms_norm", "softmax", "rope", "silu", "gelu", "convert",
                   "permute", "set_rows", "rms_norm_mul", "swiglu", "attention", "transformer_block"] {
            #expect(ops.contains(op), "no case for \(op)")
        }
        let mulMatTypes = Set(cases.filter { $0.op == "mul_mat" }.map(\.type))
        for t in ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_K", "q6_K", "q2_K", "q3_K", "q5_K"] {
            #expect(mulMatTypes.contains(t))
        }
        #expect(Set(cases.filter { $0.type == "fused" }.map(\.op)) == ["rms_norm_mul", "swiglu", "attention"])
    }

    @Test func nmseIsScaleFreeAndCatchesNonFinite() {
        #expect(ConformanceRunner.nmse([1, 2, 3], [1, 2, 3]) == 0)
        #expect(abs(ConformanceRunner.nmse([2, 0], [1, 0]) - 1) < 1e-12)
        #expect(ConformanceRunner.nmse([.nan, 1], [1, 1]) == .infinity)
        #expect(ConformanceRunner.nmse([1], [1, 2]) == .infinity)
    }
}
