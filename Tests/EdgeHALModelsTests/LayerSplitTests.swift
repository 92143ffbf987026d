import EdgeHAL
import EdgeHALBuiltins
import EdgeHALCPU
import EdgeHALReference
import Testing
@testable import EdgeHALModels

/// A model split by layers across devices (`--gpu-layers`, `--split auto`) on the default model.
@Suite(.serialized)
struct LayerSplitTests {
    static let model: LanguageModel = try! LanguageModel(path: try! ModelStore.ensureDefaultModel())
    static var layers: Int { model.config.layers }

    /// llama.cpp's -ngl: the last N layers on the first device; the output joins it above the layer count.
    @Test func gpuLayersPlaceTheLastLayers() throws {
        let devices: [any Device] = [ReferenceDevice(), CPUDevice(threads: 1)]
        let l = Self.layers
        let ten = try #require(try LayerSplit.plan(.gpuLayers(10), model: Self.model, devices: devices, contextLength: 64, batchSize: 8))
        #expect((0..<l).map { ten.stageDevices[$0] } == (0..<l).map { $0 >= l - 10 ? 0 : 1 })
        #expect(ten.stageDevices[DecoderBuilder.embeddingStage] == 1 && ten.stageDevices[l] == 1)
        #expect(ten.description.contains("layers \(l - 10)–\(l - 1) on reference"), "\(ten)")
        let all = try #require(try LayerSplit.plan(.gpuLayers(l + 1), model: Self.model, devices: devices, contextLength: 64, batchSize: 8))
        #expect(all.stageDevices[l] == 0 && (0..<l).allSatisfy { all.stageDevices[$0] == 0 })
        let none = try #require(try LayerSplit.plan(.gpuLayers(0), model: Self.model, devices: devices, contextLength: 64, batchSize: 8))
        #expect(none.stageDevices.values.allSatisfy { $0 == 1 })
        #expect(try LayerSplit.plan(.none, model: Self.model, devices: devices, contextLength: 64, batchSize: 8) == nil)
        #expect(throws: ModelError.self) {
            try LayerSplit.plan(.gpuLayers(10), model: Self.model, devices: [CPUDevice(threads: 1)], contextLength: 64, batchSize: 8)
        }
    }

    /// Only the hidden state crosses, once each way: 2 transfers of 576 floats per decoded token,
    /// and each layer's KV cache lives on its layer's device.
    @Test func aSplitDecodeMovesTheHiddenStateTwice() throws {
        let session = try ModelSession(model: Self.model, devices: [CPUDevice(threads: 1), ReferenceDevice()], contextLength: 32,
                                       batchSize: 8, split: .gpuLayers(10))
        let report = try session.executable(tokens: 1, allLogits: false).1.report
        let e = Self.model.config.embedding
        #expect(report.transfers == 2 && report.transferBytes == 2 * e * 4, "\(report)")
        #expect(report.crossings.allSatisfy { $0.contains("f32[\(e)]") }, "\(report.crossings)")
        #expect(report.partitions.count == 3)
    }

    /// Vulkan and the reference both use float activations: the split runs the reference's greedy text exactly.
    @Test(.enabled(if: BuiltinBackends.registry().probeAll().contains { $0.name == "vulkan" && $0.status.available }))
    func vulkanAndReferenceSplitGreedyMatchesTheReference() throws {
        let prompt = Self.model.tokenizer.encode("The capital of France is")
        let reference = try ModelSession(model: Self.model, devices: [ReferenceDevice()], contextLength: 64, batchSize: 64)
        let expected = try reference.greedy(prompt, 8, tokenizer: Self.model.tokenizer)
        let devices = try BuiltinBackends.select("vulkan,reference").devices
        let split = try ModelSession(model: Self.model, devices: devices, contextLength: 64, batchSize: 64, split: .gpuLayers(10))
        #expect(try split.greedy(prompt, 8, tokenizer: Self.model.tokenizer) == expected)
    }

    /// --split auto fills the first device from the output backwards within its memory (here forced
    /// low), the rest on the next; a model that fits nowhere is refused before any weight is loaded.
    @Test func splitAutoFillsTheLimitedDevice() throws {
        let devices: [any Device] = [ReferenceDevice(), CPUDevice(threads: 1)]
        let (l, ctx, batch) = (Self.layers, 64, 8)
        let sizes = LayerSplit.stageBytes(Self.model, contextLength: ctx)
        let reserve = LayerSplit.activationBytes(Self.model.config, batchSize: batch)
        #expect(sizes[DecoderBuilder.embeddingStage]! > 0 && sizes[l]! > 0 && sizes[0]! > 0)
        // Room for the output and 5 layers and a half.
        let room = sizes[l]! + (l - 5..<l).reduce(0) { $0 + sizes[$1]! } + sizes[l - 6]! / 2
        let limits = DeviceMemoryLimits(perBackend: ["reference": reserve + room])
        let plan = try #require(try LayerSplit.plan(.auto, model: Self.model, devices: devices, contextLength: ctx, batchSize: batch, limits: limits))
        #expect((0..<l).filter { plan.stageDevices[$0] == 0 } == Array(l - 5..<l), "\(plan)")
        #expect(plan.stageDevices[l] == 0 && plan.stageDevices[DecoderBuilder.embeddingStage] == 1)
        // Everything fits on the first device without a limit.
        let unlimited = try #require(try LayerSplit.plan(.auto, model: Self.model, devices: devices, contextLength: ctx, batchSize: batch,
                                                         limits: DeviceMemoryLimits()))
        #expect(unlimited.stageDevices.values.allSatisfy { $0 == 0 })
        let nowhere = DeviceMemoryLimits(all: reserve + sizes[l]!)
        let error = #expect(throws: ModelError.self) {
            try LayerSplit.plan(.auto, model: Self.model, devices: devices, contextLength: ctx, batchSize: batch, limits: nowhere)
        }
        #expect(error?.description.contains("does not fit") == true, "\(String(describing: error))")
    }

    @Test func memoryLimitsParse() throws {
        let limits = try DeviceMemoryLimits.parse("vulkan=300M, cpu=8G")
        #expect(limits.perBackend == ["vulkan": 300 << 20, "cpu": 8 << 30] && limits.all == nil)
        #expect(try DeviceMemoryLimits.parse("512k").all == 512 << 10)
        #expect(try DeviceMemoryLimits.parse("1000").all == 1000)
        #expect(throws: ModelError.self) { try DeviceMemoryLimits.parse("vulkan=lots") }
    }
}
