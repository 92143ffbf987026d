import EdgeHAL

/// Which dispatches of a command buffer need a barrier before them: only those that read or write
/// bytes an earlier dispatch since the last barrier wrote, or write bytes one of them read. The q, k
/// and v projections of a layer (and its gate and up) read the same activations and write separate
/// tensors, so they run without barriers between them; a barrier after each dispatch serialises the
/// GPU on every op of a decode step. Ranges are the tensors' bytes in their buffers; arena slots
/// reused for another tensor (BufferPlan) overlap and so keep their barrier. (The validation layer's
/// synchronization checks, VK_LAYER_ENABLES=…SYNCHRONIZATION_VALIDATION…, see each descriptor's whole
/// range — a texel view runs to the end of its buffer — and so report hazards between disjoint tensors.)
struct VulkanHazards {
    private struct Access { var buffer: ObjectIdentifier; var bytes: Range<Int> }
    private var written: [Access] = []
    private var read: [Access] = []
    private(set) var barriers = 0

    /// A tensor's bytes widened to whole 16-byte texels: kernels fetch inputs a texel at a time.
    private static func range(_ slice: BufferSlice) -> Access {
        let end = slice.offset + max(1, slice.desc.byteCount)
        return Access(buffer: ObjectIdentifier(slice.buffer), bytes: (slice.offset & ~15)..<((end + 15) & ~15))
    }

    private static func overlaps(_ a: [Access], _ b: [Access]) -> Bool {
        a.contains { x in b.contains { $0.buffer == x.buffer && $0.bytes.overlaps(x.bytes) } }
    }

    /// Whether `node` must wait for the dispatches recorded since the last barrier; records its accesses.
    mutating func needsBarrier(before node: PartitionNode) -> Bool {
        let reads = node.inputs.map(Self.range), writes = [Self.range(node.output)]
        let barrier = Self.overlaps(reads + writes, written) || Self.overlaps(writes, read)
        if barrier {
            barriers += 1
            written = []
            read = []
        }
        written += writes
        read += reads
        return barrier
    }
}
