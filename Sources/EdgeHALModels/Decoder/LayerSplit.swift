import EdgeHAL
import Logging
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which device runs each part of a decoder when a model is split across devices: whole layers,
/// so only the hidden state crosses at a split point and each layer's KV cache lives where the
/// layer runs (the executor places its set_rows there). Parts are the graph's stages
/// (``DecoderBuilder/embeddingStage``, layers 0..<L, ``DecoderBuilder/outputStage(_:)``).
public struct LayerSplit: Sendable, Equatable, CustomStringConvertible {
    /// How to split, as the model commands ask for it.
    public enum Request: Sendable, Equatable {
        /// Every op on the first device of the list that supports it.
        case none
        /// llama.cpp's `-ngl N`: the last N layers on the first device, the rest on the second; the output
        /// (final norm and projection) joins the first device when N exceeds the layer count, as in llama.cpp.
        case gpuLayers(Int)
        /// Fill the first device's memory from the output backwards, then the next device's, and so on.
        case auto
    }

    /// Device index (in the session's list) per stage.
    public var stageDevices: [Int: Int]
    /// Names of the session's devices, for ``description``.
    public var deviceNames: [String]
    public var layers: Int

    /// "layers 0–19 and the embedding on cpu; layers 20–29 and the output on vulkan".
    public var description: String {
        var parts: [String] = []
        for d in deviceNames.indices {
            let mine = stageDevices.filter { $0.value == d }.map(\.key).sorted()
            guard !mine.isEmpty else { continue }
            let ls = mine.filter { $0 >= 0 && $0 < layers }
            var what: [String] = []
            if mine.contains(DecoderBuilder.embeddingStage) { what.append("the embedding") }
            if !ls.isEmpty { what.append(ls.count == 1 ? "layer \(ls[0])" : "layers \(ls.first!)–\(ls.last!)") }
            if mine.contains(layers) { what.append("the output") }
            let list = what.count > 1 ? what.dropLast().joined(separator: ", ") + " and " + what.last! : what[0]
            parts.append(list + " on " + deviceNames[d])
        }
        return parts.joined(separator: "; ")
    }

    /// The plan for `request` over `devices` (a session's list, fallback included); nil for `.none`.
    /// Throws before any weight is loaded when the request cannot be met.
    public static func plan(_ request: Request, model: LanguageModel, devices: [any Device], contextLength: Int,
                            batchSize: Int, limits: DeviceMemoryLimits = .fromEnvironment) throws -> LayerSplit? {
        let names = devices.map { "\($0.backendName) (\($0.info.name))" }
        let layers = model.config.layers
        switch request {
        case .none:
            return nil
        case .gpuLayers(let n):
            guard n >= 0 else { throw ModelError("--gpu-layers needs a count ≥ 0, got \(n)") }
            guard devices.count >= 2 else {
                throw ModelError("--gpu-layers needs two devices (the accelerator, then the rest), but the selection is \(names.joined(separator: ", ")) alone")
            }
            var map: [Int: Int] = [DecoderBuilder.embeddingStage: 1, layers: n > layers ? 0 : 1]
            for l in 0..<layers { map[l] = l >= layers - n ? 0 : 1 }
            return LayerSplit(stageDevices: map, deviceNames: names, layers: layers)
        case .auto:
            let sizes = stageBytes(model, contextLength: contextLength)
            let reserve = activationBytes(model.config, batchSize: batchSize)
            let budgets = devices.map { d -> UInt64? in
                guard let limit = limits.limit(for: d) else { return nil }
                return limit > reserve ? limit - reserve : 0
            }
            // Stages from the output backwards: the first device takes the end of the model, as with -ngl.
            let order = [layers] + (0..<layers).reversed() + [DecoderBuilder.embeddingStage]
            var map: [Int: Int] = [:]
            var device = 0, used: UInt64 = 0
            for stage in order {
                let need = sizes[stage] ?? 0
                while device < devices.count, let budget = budgets[device], used + need > budget {
                    device += 1
                    used = 0
                }
                guard device < devices.count else {
                    let total = sizes.values.reduce(0, +)
                    let room = zip(names, budgets).map { "\($0.0): \($0.1.map { mib($0) } ?? "no limit")" }.joined(separator: ", ")
                    throw ModelError("the model does not fit: \(mib(total)) of weights and KV cache (\(contextLength) tokens), "
                                     + "\(stage == layers ? "the output" : stage < 0 ? "the embedding" : "layer \(stage)") (\(mib(need))) has no room left; "
                                     + "room per device after \(mib(reserve)) for activations: \(room)")
                }
                map[stage] = device
                used += need
            }
            return LayerSplit(stageDevices: map, deviceNames: names, layers: layers)
        }
    }

    /// Weight and KV-cache bytes per stage, from the file's tensor table (nothing is read or uploaded).
    /// A tied embedding counts for both the embedding and the output: each device holding one has a copy.
    public static func stageBytes(_ model: LanguageModel, contextLength: Int) -> [Int: UInt64] {
        let c = model.config
        var sizes: [Int: UInt64] = [:]
        let cache = UInt64(2 * c.headDim * contextLength * c.kvHeads * MemoryLayout<Float>.size)
        for l in 0..<c.layers { sizes[l] = cache }
        let outputName = model.outputWeightName
        for t in model.file.tensors {
            let bytes = UInt64(t.byteCount)
            if t.name.hasPrefix("blk."), let l = Int(t.name.dropFirst(4).prefix { $0 != "." }), l < c.layers {
                sizes[l, default: 0] += bytes
            }
            if t.name == "token_embd.weight" { sizes[DecoderBuilder.embeddingStage, default: 0] += bytes }
            if t.name.hasPrefix("output") || t.name == outputName { sizes[c.layers, default: 0] += bytes }
        }
        return sizes
    }

    /// What a device keeps free for the activations of one prefill batch (f32 intermediates of a layer:
    /// hidden states, q/k/v, the feed-forward's gate and up) and the logits of one token.
    public static func activationBytes(_ c: ModelConfig, batchSize: Int) -> UInt64 {
        UInt64(4 * batchSize * (4 * c.embedding + 3 * c.heads * c.headDim + 3 * c.feedForward) + 4 * c.vocabulary)
    }

    static func mib(_ bytes: UInt64) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}

/// Memory a split may use per device: what the device reports, or a limit set with
/// `EDGEHAL_MEMORY_LIMIT` — one size for every device (`512M`), or per backend (`vulkan=300M,cpu=8G`);
/// sizes in bytes or with a K, M or G suffix (powers of 1024). For tests, and for leaving room to other programs.
public struct DeviceMemoryLimits: Sendable {
    public static let environmentVariable = "EDGEHAL_MEMORY_LIMIT"
    public var all: UInt64?
    public var perBackend: [String: UInt64] = [:]

    public init(all: UInt64? = nil, perBackend: [String: UInt64] = [:]) {
        self.all = all
        self.perBackend = perBackend
    }

    /// The override for `device`, else what it reports (nil: unknown, no limit).
    public func limit(for device: any Device) -> UInt64? {
        perBackend[device.backendName] ?? all ?? device.info.memoryBytes
    }

    /// Parses the variable; a malformed value is ignored with a warning (`edgehal.models`), as a typo
    /// in a test switch should not stop a run.
    public static var fromEnvironment: DeviceMemoryLimits {
        guard let raw = EdgeHALEnvironment.value(environmentVariable) else { return DeviceMemoryLimits() }
        do { return try parse(raw) } catch {
            Logger(label: "edgehal.models").warning("ignoring \(environmentVariable)=\(raw): \(error)")
            return DeviceMemoryLimits()
        }
    }

    public static func parse(_ text: String) throws -> DeviceMemoryLimits {
        var limits = DeviceMemoryLimits()
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            if parts.count == 1 { limits.all = try size(parts[0]) } else { limits.perBackend[parts[0].lowercased()] = try size(parts[1]) }
        }
        return limits
    }

    static func size(_ s: String) throws -> UInt64 {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        var digits = s.uppercased()
        var scale: UInt64 = 1
        if let unit = digits.last, let f = units[unit] { scale = f; digits.removeLast() }
        guard let n = UInt64(digits) else { throw ModelError("'\(s)' is not a size (bytes, or with K, M or G)") }
        return n * scale
    }
}
