#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a graph is turned into an ``Executable``.
public struct ExecutionOptions: Sendable {
    /// Rewrite op patterns into fused ops where a device of the list runs the fused op (Fusion).
    public var fuse: Bool
    /// Bring mul_mats over the same activations together and mark them as groups (SharedInputGrouping).
    public var group: Bool
    /// Whole stages (``Graph/Node/stage``: a model's layers) pinned to devices, by index in the
    /// executable's device list: a node of a listed stage runs there when that device supports it,
    /// else on the first device of the list that does. Other nodes go to the first supporting device.
    public var stageDevices: [Int: Int]
    /// Fused ops, by name (``Op/name``), that fusion never creates: measuring one fusion's worth on a device.
    public var unfused: Set<String>
    /// Test hook (the conformance runner's misaligned graph cases): each weight in a buffer of its own, 1, 2 or 3
    /// times this many bytes (a multiple of 4) from its start, by turns, instead of shared at offset 0 — where every
    /// weight sits otherwise, so a kernel that reads one input's offset for another's would pass every graph.
    public var weightOffset: Int
    /// Test hook (the conformance runner's graph cases): each state (a KV cache) in a buffer of this executable's own
    /// between this many sentinel bytes on each side, which ``Executable/stateGuardsIntact()`` checks — a kernel that
    /// writes a cache row one past the end passes every comparison of the state's own bytes.
    public var stateGuard: Int
    public init(fuse: Bool = true, group: Bool = true, stageDevices: [Int: Int] = [:], unfused: Set<String> = [], weightOffset: Int = 0,
                stateGuard: Int = 0) {
        self.fuse = fuse
        self.group = group
        self.stageDevices = stageDevices
        self.unfused = unfused
        self.weightOffset = weightOffset
        self.stateGuard = stateGuard
    }

    /// The defaults, with `EDGEHAL_FUSION=0` / `EDGEHAL_GROUPING=0` switching a pass off and
    /// `EDGEHAL_UNFUSED=rms_norm_mul_mat,mul_mat_add` (fused ops' names) leaving single fusions out: diagnostic
    /// switches for measuring what each pass is worth, or ruling one out when a result looks wrong.
    public static var fromEnvironment: ExecutionOptions {
        func off(_ name: String) -> Bool { EdgeHALEnvironment.value(name) == "0" }
        let unfused = (EdgeHALEnvironment.value("EDGEHAL_UNFUSED") ?? "").split(separator: ",").map { $0.filter { !$0.isWhitespace } }
        return ExecutionOptions(fuse: !off("EDGEHAL_FUSION"), group: !off("EDGEHAL_GROUPING"), unfused: Set(unfused))
    }
}

/// What scheduling decided, for reports and tests.
public struct ExecutionReport: Sendable, CustomStringConvertible {
    public struct PartitionInfo: Sendable {
        public var device: String
        public var ops: [String]
    }
    public var partitions: [PartitionInfo] = []
    /// Copies between devices per run (inputs uploaded to a device are not counted).
    public var transfers = 0
    public var transferBytes = 0
    /// Each copy of a run: the tensor, its type and shape, and the devices it goes between.
    public var crossings: [String] = []
    /// Arena bytes for intermediates and inputs, summed over devices: the planned peak.
    public var peakBytes = 0
    /// What those tensors would take without reuse.
    public var unsharedBytes = 0
    public var weightBytes = 0
    public var stateBytes = 0
    public var fusedOps = 0

    public var description: String {
        // A long partition (a model's layers) is summarised as op counts.
        func ops(_ names: [String]) -> String {
            guard names.count > 24 else { return names.joined(separator: " ") }
            var counts: [(String, Int)] = []
            for n in names {
                if let i = counts.firstIndex(where: { $0.0 == n }) { counts[i].1 += 1 } else { counts.append((n, 1)) }
            }
            return "\(names.count) ops (" + counts.map { "\($0.0) ×\($0.1)" }.joined(separator: ", ") + ")"
        }
        var lines = partitions.enumerated().map { i, p in "partition \(i) on \(p.device): \(ops(p.ops))" }
        lines.append("fused ops \(fusedOps), transfers \(transfers) (\(transferBytes) bytes), peak \(peakBytes) bytes (unshared \(unsharedBytes)), weights \(weightBytes) bytes")
        return lines.joined(separator: "\n")
    }
}

/// A graph placed on devices, bound to planned buffers and compiled: set inputs, run, read outputs, repeat.
///
/// Each node runs on the first device of the priority list that supports it; the caller ends the
/// list with a CPU device to get fallback for everything else. Tensors crossing devices are copied
/// through host memory between partitions.
public final class Executable {
    public let graph: Graph
    public private(set) var report = ExecutionReport()
    private let devices: [any Device]

    private typealias SlotKey = ExecutionPasses.SlotKey
    private struct Transfer { var from: BufferSlice; var to: BufferSlice }
    private struct Step { var transfers: [Transfer]; var program: any Program; var device: any Device; var ops: [String] }

    private var slots: [SlotKey: BufferSlice] = [:]
    private var steps: [Step] = []
    private var inputData: [Int: [UInt8]] = [:]
    private var outputDevice: [Int: Int] = [:]
    private var arenas: [any DeviceBuffer] = []
    /// States placed between sentinels (``ExecutionOptions/stateGuard``), with the guard's width.
    private var guardedStates: [(slice: BufferSlice, pad: Int)] = []
    static let guardByte: UInt8 = 0x7F
    /// Device slots that receive graph inputs at the start of each run.
    private var inputSlots: [(storage: Int, slice: BufferSlice)] = []
    /// Host memory every transfer between devices passes through, sized once for the largest.
    private var staging: [UInt8] = []

    /// The memory this executable shares with others built on the same ``ResidentTensors``.
    public let resident: ResidentTensors

    public init(graph source: Graph, devices: [any Device], options: ExecutionOptions = ExecutionOptions(),
                resident: ResidentTensors = ResidentTensors()) throws {
        typealias Passes = ExecutionPasses
        let order = try Passes.DeviceOrder(devices, stageDevices: options.stageDevices)
        let fused = options.fuse ? Passes.fuse(source, order, except: options.unfused) : source
        let graph = options.group ? Passes.group(fused) : fused
        self.graph = graph
        self.devices = devices
        self.resident = resident
        report.fusedOps = graph.nodes.filter(\.op.isFused).count - source.nodes.filter(\.op.isFused).count

        let placement = try Passes.place(graph, order)
        let partitions = Passes.partition(placement)
        let lifetimes = Passes.lifetimes(graph, partitions, placement, try Passes.homes(graph, placement))
        outputDevice = lifetimes.outputDevice
        try bind(lifetimes, weightOffset: options.weightOffset, stateGuard: options.stateGuard)
        try compile(partitions, placement, lifetimes.transfers, grouped: options.group)
    }

    /// 7. Bind: one arena per device, planned by liveness (``BufferPlan``, bytes held ``Device/arenaHold`` steps
    /// past their last read); weights and states in
    /// resident memory shared with other executables.
    private func bind(_ lifetimes: ExecutionPasses.Lifetimes, weightOffset: Int, stateGuard: Int) throws {
        for (d, device) in devices.enumerated() {
            let keys = lifetimes.first.keys.filter { $0.device == d }.sorted { $0.storage < $1.storage }
            let requests = keys.map {
                BufferPlan.Request(byteCount: graph.tensors[$0.storage].desc.byteCount, firstStep: lifetimes.first[$0]!,
                                   lastStep: lifetimes.last[$0]!)
            }
            // Bytes stay held past their last read where the device runs independent nodes together (BufferPlan's hold).
            let plan = BufferPlan(requests, hold: device.arenaHold)
            report.peakBytes += plan.peakBytes
            report.unsharedBytes += plan.unsharedBytes
            guard plan.peakBytes > 0 else { continue }
            let arena = try device.makeBuffer(byteCount: plan.peakBytes)
            arenas.append(arena)
            for (key, offset) in zip(keys, plan.offsets) {
                slots[key] = BufferSlice(buffer: arena, offset: offset, desc: graph.tensors[key.storage].desc)
            }
        }
        for (ordinal, key) in lifetimes.persistent.sorted(by: { ($0.device, $0.storage) < ($1.device, $1.storage) }).enumerated() {
            let tensor = graph.tensors[key.storage]
            // The test hooks' placement: the tensor `offset` bytes into a buffer of this executable's own (owned like
            // the arenas), `image` written there whole.
            func own(_ image: [UInt8], at offset: Int) throws -> BufferSlice {
                let buffer = try devices[key.device].makeBuffer(byteCount: image.count)
                try image.withUnsafeBytes { try buffer.write($0, at: 0) }
                arenas.append(buffer)
                return BufferSlice(buffer: buffer, offset: offset, desc: tensor.desc)
            }
            let buffer: any DeviceBuffer
            switch tensor.source {
            case .weight(let data) where weightOffset > 0:
                let offset = weightOffset * (1 + ordinal % 3)
                slots[key] = try own([UInt8](repeating: 0, count: offset) + Array(data.bytes), at: offset)
                report.weightBytes += data.bytes.count
                continue
            case .weight(let data):
                buffer = try resident.weight(data, on: devices[key.device])
                report.weightBytes += data.bytes.count
            case .state where stateGuard > 0:
                // Zeroed, as resident states start, between guard bytes.
                let guardBytes = [UInt8](repeating: Self.guardByte, count: stateGuard)
                let slice = try own(guardBytes + [UInt8](repeating: 0, count: tensor.desc.byteCount) + guardBytes, at: stateGuard)
                slots[key] = slice
                guardedStates.append((slice, stateGuard))
                report.stateBytes += tensor.desc.byteCount
                continue
            case .state:
                buffer = try resident.state(tensor.name, tensor.desc, on: devices[key.device])
                report.stateBytes += tensor.desc.byteCount
            default:
                preconditionFailure("only weights and states are persistent")
            }
            slots[key] = BufferSlice(buffer: buffer, offset: 0, desc: tensor.desc)
        }
        inputSlots = slots.compactMap { key, slice in
            if case .input = graph.tensors[key.storage].source { return (key.storage, slice) }
            return nil
        }.sorted { $0.storage < $1.storage }
    }

    /// 8. Compile: each partition over its bound slices, with the copies that precede it.
    private func compile(_ partitions: [Range<Int>], _ placement: [Int], _ transferPlan: [[(storage: Int, from: Int, to: Int)]],
                         grouped: Bool) throws {
        for (p, range) in partitions.enumerated() {
            let d = placement[range.lowerBound]
            let nodes = range.map { i -> PartitionNode in
                let node = graph.nodes[i]
                return PartitionNode(op: node.op, inputs: node.inputs.map { slice($0, on: d) }, output: slice(node.output, on: d))
            }
            let transfers = transferPlan[p].map { t in
                Transfer(from: slots[SlotKey(storage: t.storage, device: t.from)]!, to: slots[SlotKey(storage: t.storage, device: t.to)]!)
            }
            report.transfers += transfers.count
            staging = [UInt8](repeating: 0, count: max(staging.count, transfers.map(\.to.desc.byteCount).max() ?? 0))
            report.transferBytes += transfers.reduce(0) { $0 + $1.to.desc.byteCount }
            report.crossings += transferPlan[p].map { t in
                "\(graph.tensors[t.storage].name) \(graph.tensors[t.storage].desc): \(devices[t.from].backendName) → \(devices[t.to].backendName)"
            }
            let groups = grouped ? SharedInputGrouping.groups(Array(graph.nodes[range]), in: graph) : []
            let program = try EdgeHALError.naming(devices[d], "compiling", nodes.map(\.op.name)) {
                try devices[d].compile(Partition(nodes: nodes, groups: groups))
            }
            steps.append(Step(transfers: transfers, program: program, device: devices[d], ops: nodes.map(\.op.name)))
            report.partitions.append(.init(device: "\(devices[d].backendName):\(devices[d].info.name)", ops: nodes.map(\.op.name)))
        }
    }

    private func slice(_ t: TensorID, on device: Int) -> BufferSlice {
        var s = slots[SlotKey(storage: graph.storage(of: t).index, device: device)]!
        s.desc = graph[t].desc
        return s
    }

    /// Sets an input's bytes for the following runs.
    public func setInput(_ id: TensorID, bytes: UnsafeRawBufferPointer) throws {
        guard id.index < graph.tensors.count, case .input = graph[id].source else {
            throw EdgeHALError.invalidGraph("\(id) is not an input of this graph")
        }
        guard bytes.count == graph[id].desc.byteCount else {
            throw EdgeHALError.invalidGraph("input \(graph[id].name) \(graph[id].desc) needs \(graph[id].desc.byteCount) bytes, got \(bytes.count)")
        }
        inputData[id.index] = Array(bytes)
    }

    public func setInput(_ id: TensorID, _ values: [Float]) throws {
        try values.withUnsafeBytes { try setInput(id, bytes: $0) }
    }

    public func setInput(_ id: TensorID, _ values: [Int32]) throws {
        try values.withUnsafeBytes { try setInput(id, bytes: $0) }
    }

    /// Overwrites a state tensor's contents on every device holding it (e.g. to restore a saved cache).
    public func setState(_ id: TensorID, bytes: UnsafeRawBufferPointer) throws {
        let s = graph.storage(of: id)
        guard case .state = graph[s].source else { throw EdgeHALError.invalidGraph("\(graph[id].name) is not a state") }
        guard bytes.count == graph[s].desc.byteCount else {
            throw EdgeHALError.invalidGraph("state \(graph[s].name) needs \(graph[s].desc.byteCount) bytes, got \(bytes.count)")
        }
        for (key, slice) in slots where key.storage == s.index { try slice.buffer.write(bytes, at: slice.offset) }
    }

    /// Whether every state placed between sentinels (``ExecutionOptions/stateGuard``) still has them: false when a
    /// kernel wrote outside a state. True when there are none.
    public func stateGuardsIntact() throws -> Bool {
        for (slice, pad) in guardedStates {
            var image = [UInt8](repeating: 0, count: slice.buffer.byteCount)
            try image.withUnsafeMutableBytes { try slice.buffer.read(into: $0, at: 0) }
            let outside = image[..<pad] + image[(pad + slice.desc.byteCount)...]
            if outside.contains(where: { $0 != Self.guardByte }) { return false }
        }
        return true
    }

    /// Runs every partition in order, copying tensors between devices where they cross.
    public func run() throws {
        for (storage, slice) in inputSlots {
            guard let data = inputData[storage] else {
                throw EdgeHALError.invalidGraph("input \(graph.tensors[storage].name) was never set")
            }
            try data.withUnsafeBytes { try slice.buffer.write($0, at: slice.offset) }
        }
        for step in steps {
            for t in step.transfers {
                let count = t.to.desc.byteCount
                try staging.withUnsafeMutableBytes { raw in
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: raw[..<count])
                    try t.from.buffer.read(into: bytes, at: t.from.offset)
                    try t.to.buffer.write(UnsafeRawBufferPointer(bytes), at: t.to.offset)
                }
            }
            try EdgeHALError.naming(step.device, "running", step.ops) { try step.program.run() }
        }
    }

    /// The bytes of an output (or input) after the last run.
    public func readBytes(_ id: TensorID) throws -> [UInt8] {
        let s = graph.storage(of: id)
        if let d = outputDevice[s.index], let slice = slots[SlotKey(storage: s.index, device: d)] {
            var out = [UInt8](repeating: 0, count: graph[id].desc.byteCount)
            try out.withUnsafeMutableBytes { try slice.buffer.read(into: $0, at: slice.offset) }
            return out
        }
        switch graph[s].source {
        case .input: if let data = inputData[s.index] { return data }
        case .weight(let data): return Array(data.bytes)
        case .state:
            for d in devices.indices {
                if let slice = slots[SlotKey(storage: s.index, device: d)], case .state = graph[s].source {
                    var out = [UInt8](repeating: 0, count: graph[s].desc.byteCount)
                    try out.withUnsafeMutableBytes { try slice.buffer.read(into: $0, at: slice.offset) }
                    return out
                }
            }
        default: break
        }
        throw EdgeHALError.invalidGraph("\(graph[id].name) is not an output of this graph")
    }

    /// An F32 output as floats.
    public func read(_ id: TensorID) throws -> [Float] {
        try withFloats(id) { Array($0) }
    }

    /// Calls `body` with an F32 output's values after the last run — in place when its device keeps
    /// it in host memory (the CPU backend: a sampler reads Gemma 3's 262 144 logits without copying
    /// a megabyte per token), else through one copy. The buffer is valid only during the call.
    public func withFloats<R>(_ id: TensorID, _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R {
        let desc = graph[id].desc
        guard desc.type == .f32 else { throw EdgeHALError.invalidGraph("\(graph[id].name) is \(desc.type), not f32") }
        let s = graph.storage(of: id)
        if let d = outputDevice[s.index], let slice = slots[SlotKey(storage: s.index, device: d)], let base = slice.hostAddress {
            return try body(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: desc.shape.count))
        }
        let bytes = try readBytes(id)
        return try bytes.withUnsafeBytes { try body($0.bindMemory(to: Float.self)) }
    }
}
