/// Which shape of kernels a GPU-API backend (Vulkan, OpenCL) gives a device. CPU-type drivers (lavapipe,
/// PoCL) run a workgroup's invocations as a few SIMD vectors on one core, so the `cpu` family gives each
/// invocation whole rows; a GPU runs thousands of lanes and wants consecutive lanes on consecutive
/// memory and rows split over groups of lanes, so the `gpu` family does that. Chosen from the probed
/// device kind; each backend's environment switch (`EDGEHAL_VULKAN_KERNELS`, `EDGEHAL_OPENCL_KERNELS`
/// = gpu|cpu) forces one, so CI runs both families on the CPU-type drivers. Devices name theirs in
/// their features (`kernels=…`).
public enum KernelFamily: String, Sendable, CaseIterable {
    case cpu, gpu

    /// The family `variable` forces, nil when it is unset or names none (then the device kind decides).
    public static func forced(by variable: String) -> KernelFamily? {
        EdgeHALEnvironment.value(variable).flatMap { KernelFamily(rawValue: $0.lowercased()) }
    }

    /// The family for a device of `kind`: GPUs (discrete or integrated) get `gpu`, everything else `cpu`.
    public static func forKind(_ kind: DeviceKind) -> KernelFamily {
        kind == .gpu || kind == .integrated ? .gpu : .cpu
    }

    /// The `gpu` family's mat-vec split (Vulkan's mul_mat_vec.comp, OpenCL's mul_mat_vec.cl): lanes a row
    /// of `k` values, at least two 8-value parts a lane, a power of two from 8 to 32 — 32 from k = 512, one
    /// NVIDIA warp (Vulkan then reduces a row with subgroupAdd). An H200 ran the earlier 32-values-a-lane
    /// kernels within ±8 % at 16, 32 or 64 lanes, and 1.5–2× slower at 8.
    public static func matVecLanes(k: Int) -> Int {
        var lanes = 8
        while lanes < 32 && lanes * 2 < k / 8 { lanes *= 2 }
        return lanes
    }

    /// Whether this family's mat-vec runs the fused op of `signature` — `mul_mat_add` (the residual added as the
    /// mat-vec writes), `rms_norm_mul_mat` (the activations normed as it loads them) and `mul_mat_glu` (two
    /// matrices' rows over the same loaded activations, the glu applied as they are written): the `gpu` family's, for
    /// N ≤ 8 columns. Each API adds its own checks (weight types; Vulkan, that every input fits one binding).
    public func matVecFuses(_ signature: OpSignature) -> Bool {
        self == .gpu && signature.inputs.count > 1 && signature.inputs[1].shape[1] <= 8
    }

    /// The largest power of two ≤ `n` (1 for n < 2): work-group widths and tile sizes.
    public static func powerOfTwo(atMost n: Int) -> Int {
        var p = 1
        while p * 2 <= n { p *= 2 }
        return p
    }

    /// The most parts a row's keys split into: the merge kernels keep one weight a part in a 256-float array.
    public static let maxAttentionSplits = 256

    /// The workgroups a split decode attention aims for: 256, or `EDGEHAL_ATTENTION_SPLIT` (0: never split —
    /// for measuring what the split is worth on a device; scripts/device-run.sh's `fusions` step).
    public static var attentionSplitTarget: Int { Int(EdgeHALEnvironment.value("EDGEHAL_ATTENTION_SPLIT") ?? "") ?? 256 }

    /// Whether the `gpu` family's prefill attention tiles its queries (a workgroup a tile of tokens, each key tile
    /// read once for all of them; Vulkan's attention_tile.comp) rather than giving every query row a workgroup
    /// that reads all its keys. `EDGEHAL_ATTENTION_TILE=0` turns it off, to measure what it is worth on a device.
    public static var attentionQueryTiles: Bool { EdgeHALEnvironment.value("EDGEHAL_ATTENTION_TILE") != "0" }

    /// The `gpu` family's prefill attention tile for a workgroup of 128 (Vulkan's attention_tile.comp, OpenCL's
    /// attention_tile.cl): `rows` tokens of a head a workgroup, `keys` keys a tile — powers of two with BR·⌈D/4⌉ ≤ 512
    /// (four output vec4s an invocation), BC·D ≤ 4096 (or BC = 8), BR ≤ 16, BC ≤ 64, halved (BC first) until the shared arrays (q rows,
    /// padded k/v rows, BR·BC scores, three floats a token) fit `sharedMemory`: D = 64 gives 16 × 64 in 26 KiB,
    /// 128 16 × 32, 256 8 × 16, all within the 32 KiB that lavapipe and every OpenCL 1.2 GPU have. Nil — the row
    /// kernel — where tiles are off, nothing fits, a tile would hold fewer than 4 tokens (it must read K and V at
    /// least 4× less often to pay), or its workgroups are too few for the keys (where the row kernel's split
    /// spreads a long cache wider: `attentionSplit` at the tiles' count asks for more than one part).
    public static func attentionQueryTile(d: Int, tokens: Int, heads: Int, batches: Int = 1, keys: Int,
                                          sharedMemory: Int) -> (rows: Int, keys: Int)? {
        guard attentionQueryTiles, d > 0 else { return nil }
        let d4 = (d + 3) / 4
        // Powers of two, so halving stays ≥ its floor.
        var (br, bc) = (powerOfTwo(atMost: min(16, max(1, 512 / d4))), powerOfTwo(atMost: min(64, max(8, 4096 / d))))
        func bytes() -> Int { 16 * (br * d4 + bc * (d4 + 1)) + 4 * (br * bc + 3 * br + 1) }
        while bytes() > sharedMemory && bc > 8 { bc /= 2 }
        while bytes() > sharedMemory && br > 1 { br /= 2 }
        guard bytes() <= sharedMemory, min(tokens, br) >= 4,
              attentionSplit(rows: (tokens + br - 1) / br * heads * batches, keys: keys, tile: 128).splits == 1 else { return nil }
        return (br, bc)
    }

    /// The `gpu` family's split of a query row's keys over workgroups (flash-decoding; Vulkan's attention_wg.comp,
    /// OpenCL's attention_wg.cl): a workgroup walks its keys `tile` at a time (its width), so a decode step — a
    /// few dozen rows, one workgroup each — leaves most of a GPU idle while a long cache streams through a few
    /// cores. Keys are split into chunks of whole tiles until `rows` × splits reaches `target` workgroups (about
    /// two a compute unit on a 132-SM card), each chunk's partial softmax joined by a merge pass. Fewer than
    /// `minTiles` tiles of keys, or enough rows: no split — the merge is one more dispatch and barrier, which
    /// costs about what a workgroup takes for a tile (a guess from session 3's H200 profile, 3–4 µs a dispatch
    /// in a barrier-bound decode step; not measured for this kernel), so a split must save several tiles.
    /// Returns the split count (≤ target) and the keys a chunk holds.
    public static func attentionSplit(rows: Int, keys: Int, tile: Int, target: Int = attentionSplitTarget,
                                      minTiles: Int = 4) -> (splits: Int, chunk: Int) {
        let tiles = max(1, (keys + tile - 1) / tile)
        guard tiles >= minTiles else { return (1, tiles * tile) }
        let wanted = max(1, min(tiles, (target + max(1, rows) - 1) / max(1, rows), maxAttentionSplits))
        let chunk = (tiles + wanted - 1) / wanted * tile
        return (max(1, (keys + chunk - 1) / chunk), chunk)
    }
}
