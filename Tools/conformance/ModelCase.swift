import ArgumentParser
import EdgeHAL
import EdgeHALConformance
import EdgeHALModels
import EdgeHALReference
import Foundation

/// `conformance model`: the end-to-end model case — a real model over a fixed text, the device
/// against the reference at every position (top-1 agreement where the reference is confident, KL).
struct ModelCase: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Run a model over the fixed agreement text on one device and on the reference, and compare.")
    @OptionGroup var options: CaseOptions
    @Argument(help: "A catalogue name (smollm2, gemma3), 'default' (smollm2) or a GGUF path.")
    var model = "default"
    @Option(help: "Tokens of the fixed text the model case evaluates (0: all of it, 285 with SmolLM2).")
    var modelTokens = 0
    @Option(name: .customLong("gpu-layers"), help: ArgumentHelp("Run the model split as edgehal --gpu-layers: the last N layers on the first device of --backend (e.g. vulkan,cpu), the rest on the second.", valueName: "N"))
    var gpuLayers: Int?

    func run() throws {
        let registry = options.registry()
        let (choice, rest) = options.selection(registry)
        let device = options.open(choice, in: registry)
        defer { options.printProfiles([device]) }
        // A split model case runs on the selection's second device too (the host CPU unless named).
        let splitDevices = gpuLayers == nil ? [] : rest.map { options.open($0, in: registry) }
        let r = modelCase(model, device: device, splitDevices: splitDevices)
        if options.json {
            try options.printJSON(ConformanceReport(backend: device.backendName, device: device.info.name, results: [r]))
        } else {
            print("conformance: \(device.backendName) — \(device.info.name), model case")
            print("\(r.status.rawValue.uppercased().padded(11)) model              \(r.type) \(r.shape)")
            if let f = r.model {
                print(String(format: "    confident positions (lead > %.2f): %d of %d, agreement %.1f%% (must be 100%%)",
                             f.margin, f.confident, f.positions, 100 * f.confidentAgreement))
                print(String(format: "    near-ties: %d, flipped %d; top-1 overall %.1f%%; lead error %.3f RMS, %.3f max (logits)",
                             f.nearTies, f.nearTieFlips, 100 * f.top1, f.rmsLeadError, f.maxLeadError))
                print(String(format: "    KL(reference ‖ backend): mean %.2e (≤ %g), max %.2e (≤ %g)",
                             f.meanKL, ModelAgreement.maximumMeanKL, f.maxKL, ModelAgreement.maximumKL))
            }
            if let detail = r.detail { print("    \(detail)") }
        }
        if r.status != .pass { throw ExitCode(1) }
    }

    /// The model case: the device against the reference over the fixed text, all positions.
    func modelCase(_ spec: String, device: any Device, splitDevices: [any Device]) -> CaseResult {
        var r = CaseResult(op: "model", type: "gguf", shape: "", check: .graph, status: .fail,
                           threshold: ModelAgreement.maximumMeanKL)
        do {
            let path = try ModelStore.resolve(spec == "default" ? nil : spec)
            let key = EdgeHALEnvironment.value(ModelKey.environmentVariable)
            let llama = try LanguageModel(path: path, keyFile: key)
            r.type = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
            var tokens = llama.tokenizer.encode(ModelAgreement.text)
            if modelTokens > 0 { tokens = Array(tokens.prefix(modelTokens)) }
            r.shape = "\(tokens.count) tokens"
            // Ops the device lacks (a plugin's) run on the reference: exact, so every difference is the device's.
            if let gpuLayers { r.shape += ", last \(gpuLayers) layers on \(device.backendName), the rest on \(splitDevices.first?.backendName ?? "-")" }
            let m = try ModelAgreement.measure(model: llama, tokens: tokens, device: [device] + splitDevices + [ReferenceDevice()],
                                               reference: [ReferenceDevice()], split: gpuLayers.map { .gpuLayers($0) } ?? .none)
            r.model = ModelFigures(positions: m.positions, confident: m.confident, margin: ModelAgreement.confidentMargin,
                                   confidentAgreement: m.confidentAgreement, nearTies: m.nearTies, nearTieFlips: m.nearTieFlips,
                                   top1: 1 - Double(m.flips.count) / Double(max(1, m.positions)), meanKL: m.meanKL, maxKL: m.maxKL,
                                   maxLeadError: m.maxLeadError, rmsLeadError: m.rmsLeadError)
            r.ms = m.milliseconds
            r.status = m.passes ? .pass : .fail
            if !m.passes { r.detail = m.failures.joined(separator: "; ") }
            else if !m.flips.isEmpty { r.detail = "near-tie flips: " + m.flips.map(\.description).joined(separator: "; ") }
        } catch {
            r.detail = "\(error)"
        }
        return r
    }
}
