/// Places tensors with known lifetimes in one arena so that tensors alive at the same
/// time never overlap; peak bytes are known before anything runs.
public struct BufferPlan: Sendable {
    public struct Request: Sendable {
        public var byteCount: Int
        /// First and last step (inclusive) at which the bytes must hold the tensor.
        public var firstStep: Int
        public var lastStep: Int
        public init(byteCount: Int, firstStep: Int, lastStep: Int) {
            self.byteCount = byteCount
            self.firstStep = firstStep
            self.lastStep = lastStep
        }
    }

    public let offsets: [Int]
    public let peakBytes: Int
    /// What the tensors would take without reuse, for reports.
    public let unsharedBytes: Int

    /// Greedy best-fit by decreasing size, each tensor at the lowest offset free for its whole lifetime
    /// and `hold` steps after it: so the next few ops' outputs never land on the bytes an op just read. A GPU
    /// backend that runs independent dispatches together (Vulkan's barriers only between dependent ones)
    /// must otherwise wait for that read to finish before the write — a barrier between two ops that do not
    /// depend on each other. Measured on SmolLM2's decode graph under the Vulkan GPU family: with no hold,
    /// rope k's output took q's bytes as rope q read them, one barrier more in every layer. Devices that run
    /// nodes one by one keep 0 (``Device/arenaHold``): for them a hold only grows the arena.
    public init(_ requests: [Request], alignment: Int = 256, hold: Int = 0) {
        func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        var placed: [(offset: Int, end: Int, first: Int, last: Int)] = []
        var offsets = [Int](repeating: 0, count: requests.count)
        var peak = 0
        let order = requests.indices.sorted { (requests[$0].byteCount, -$0) > (requests[$1].byteCount, -$1) }
        for i in order {
            let r = requests[i]
            let size = aligned(max(r.byteCount, 1))
            let conflicts = placed.filter { $0.first <= r.lastStep + hold && r.firstStep <= $0.last + hold }
                .sorted { $0.offset < $1.offset }
            var offset = 0
            // Moving past one conflict can run into an earlier-sorted one: rescan until nothing overlaps.
            var moved = true
            while moved {
                moved = false
                for c in conflicts where c.offset < offset + size && offset < c.end {
                    offset = c.end
                    moved = true
                }
            }
            offsets[i] = offset
            placed.append((offset, offset + size, r.firstStep, r.lastStep))
            peak = max(peak, offset + size)
        }
        self.offsets = offsets
        peakBytes = peak
        unsharedBytes = requests.reduce(0) { $0 + aligned(max($1.byteCount, 1)) }
    }
}
