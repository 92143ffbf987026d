/// The passes that turn a graph into an ``Executable``, in the order its initialiser runs them:
/// fuse, group, place, partition, then plan (each storage's home device, the lifetimes of its
/// arena slots and the copies between devices). Binding buffers and compiling are the executable's
/// own steps (``Executable/init(graph:devices:options:resident:)``). Each pass is a function of what
/// the ones before it produced, so a reader can follow one at a time.
enum ExecutionPasses {
    /// The devices a node may run on, best first: its stage's pinned device, then the list.
    struct DeviceOrder {
        let devices: [any Device]
        let stageDevices: [Int: Int]

        init(_ devices: [any Device], stageDevices: [Int: Int]) throws {
            guard !devices.isEmpty else { throw EdgeHALError.selection("no device to run on") }
            for (stage, d) in stageDevices where !devices.indices.contains(d) {
                throw EdgeHALError.selection("stage \(stage) is pinned to device \(d), but there are \(devices.count) devices")
            }
            self.devices = devices
            self.stageDevices = stageDevices
        }

        func callAsFunction(_ stage: Int?) -> [Int] {
            guard let pinned = stage.flatMap({ stageDevices[$0] }) else { return Array(devices.indices) }
            return [pinned] + devices.indices.filter { $0 != pinned }
        }
    }

    /// 1. Fuse: rewrite op patterns into fused ops where a device of the order runs the fused op.
    /// Fusion sees the whole list: a plugin without attention still gets the fallback's fused
    /// attention rather than running the composed mat-muls itself (``Fusion/apply(to:rank:)``).
    static func fuse(_ graph: Graph, _ order: DeviceOrder, except unfused: Set<String> = []) -> Graph {
        Fusion.apply(to: graph, rank: { sig, stage in
            unfused.contains(sig.op.name) ? nil : order(stage).firstIndex { order.devices[$0].supports(sig) }
        })
    }

    /// 2. Group: bring mul_mats over the same activations together (``SharedInputGrouping``).
    static func group(_ graph: Graph) -> Graph { SharedInputGrouping.apply(to: graph) }

    /// 3. Place: each node on the first device of its order that supports it.
    static func place(_ graph: Graph, _ order: DeviceOrder) throws -> [Int] {
        try graph.nodes.map { node -> Int in
            let sig = graph.signature(of: node)
            guard let d = order(node.stage).first(where: { order.devices[$0].supports(sig) }) else {
                let names = order.devices.map { "\($0.backendName) (\($0.info.name))" }.joined(separator: ", ")
                throw EdgeHALError.unsupported("no device supports \(sig); tried \(names)")
            }
            return d
        }
    }

    /// 4. Partition: runs of consecutive nodes placed on one device, each compiled as one program.
    static func partition(_ placement: [Int]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        for i in placement.indices {
            if let last = ranges.last, placement[last.lowerBound] == placement[i] { ranges[ranges.count - 1] = last.lowerBound..<(i + 1) }
            else { ranges.append(i..<(i + 1)) }
        }
        return ranges
    }

    /// 5. Homes: the device that produces each storage — for a state, the one device that updates it
    /// (else the first that reads it); none for host data (inputs, weights), which devices receive directly.
    static func homes(_ graph: Graph, _ placement: [Int]) throws -> [Int: Int] {
        var home: [Int: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            let out = graph.storage(of: node.output)
            if let h = home[out.index], h != placement[i] {
                throw EdgeHALError.unsupported("state \(graph[out].name) would be updated on two devices; place its writers on one")
            }
            home[out.index] = placement[i]
        }
        for (i, node) in graph.nodes.enumerated() {
            for t in node.inputs {
                let s = graph.storage(of: t)
                if case .state = graph[s].source, home[s.index] == nil { home[s.index] = placement[i] }
            }
        }
        return home
    }

    /// A storage on one device: an arena slot, or resident memory for weights and states.
    struct SlotKey: Hashable { var storage: Int; var device: Int }

    /// 6. Plan: what each device holds and for how long, and what crosses between devices.
    struct Lifetimes {
        /// Steps (node indices) of each arena slot's first and last use; inputs are written before step 0,
        /// outputs read after the last.
        var first: [SlotKey: Int] = [:]
        var last: [SlotKey: Int] = [:]
        /// Weights and states: in resident memory, not the arena.
        var persistent = Set<SlotKey>()
        /// Per partition: the storages copied in before it runs, from their home device.
        var transfers: [[(storage: Int, from: Int, to: Int)]]
        /// Where each graph output is read from.
        var outputDevice: [Int: Int] = [:]

        mutating func use(_ key: SlotKey, from start: Int, to stop: Int) {
            first[key] = min(first[key] ?? start, start)
            last[key] = max(last[key] ?? stop, stop)
        }
    }

    static func lifetimes(_ graph: Graph, _ ranges: [Range<Int>], _ placement: [Int], _ home: [Int: Int]) -> Lifetimes {
        var plan = Lifetimes(transfers: Array(repeating: [], count: ranges.count))
        var transferred = Set<SlotKey>()
        func isPersistent(_ s: TensorID) -> Bool {
            switch graph[s].source {
            case .weight, .state: return true
            default: return false
            }
        }
        for (p, range) in ranges.enumerated() {
            let d = placement[range.lowerBound]
            for i in range {
                for t in graph.nodes[i].inputs {
                    let s = graph.storage(of: t)
                    let key = SlotKey(storage: s.index, device: d)
                    if case .input = graph[s].source { plan.use(key, from: -1, to: i); continue }
                    if case .weight = graph[s].source { plan.persistent.insert(key); continue }
                    guard let h = home[s.index] else { preconditionFailure("storage without a home") }
                    if h == d {
                        if isPersistent(s) { plan.persistent.insert(key) } else { plan.use(key, from: i, to: i) }
                        continue
                    }
                    // Produced on another device: an intermediate is copied once and kept until its last use
                    // here; a state may change between partitions, so every partition reading it copies it.
                    let needsCopy = isPersistent(s) ? !plan.transfers[p].contains { $0.storage == s.index }
                                                    : transferred.insert(key).inserted
                    if needsCopy { plan.transfers[p].append((s.index, h, d)) }
                    plan.use(key, from: range.lowerBound, to: i)
                    let source = SlotKey(storage: s.index, device: h)
                    if isPersistent(s) { plan.persistent.insert(source) } else { plan.use(source, from: range.lowerBound, to: range.lowerBound) }
                }
                let out = graph.storage(of: graph.nodes[i].output)
                let key = SlotKey(storage: out.index, device: d)
                if isPersistent(out) { plan.persistent.insert(key) } else { plan.use(key, from: i, to: i) }
            }
        }
        let end = graph.nodes.count
        for o in graph.outputs {
            let s = graph.storage(of: o)
            guard let h = home[s.index] else { continue }
            plan.outputDevice[s.index] = h
            if !isPersistent(s) { plan.use(SlotKey(storage: s.index, device: h), from: end, to: end) }
        }
        return plan
    }
}
