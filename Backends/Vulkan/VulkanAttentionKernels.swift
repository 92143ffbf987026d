import EdgeHAL

/// softmax and the fused attention (Kernels/vulkan/softmax.comp, attention.comp).
enum VulkanAttentionKernels {
    /// One workgroup of 8 (one subgroup) per row: on lavapipe a workgroup's subgroups run one after
    /// another on one thread, so wider groups only add barriers (64 measured 1.5–3× slower).
    static func softmax(_ ins: [TensorDesc], scale: Float) throws -> VulkanDispatch {
        let x = ins[0].shape
        let mask = ins.count > 1 ? ins[1].shape : Shape(1)
        return VulkanDispatch(kernel: "softmax", constants: [8],
                              words: [x[0], x[1], x[2], x[3], mask[1], mask[2], mask[3], ins.count > 1 ? 1 : 0].map(UInt32.init) + [scale.bitPattern],
                              groups: (UInt32(x[1]), UInt32(x[2]), UInt32(x[3])))
    }

    /// One query row per lane (rows ordered kv head, token, head in group, so neighbouring lanes read the
    /// same K/V), each lane walking only the keys its mask leaves visible: on lavapipe an `if` runs both
    /// sides and subgroup operations are scalar loops, so the key loop has neither (measured 7× faster
    /// prefill and 4× faster decode than a lanes-over-D split with per-key reductions). Specialization:
    /// 8 lanes a group, and the row's D/4 blocks, unrolled.
    static func attention(_ ins: [TensorDesc], scale: Float, family: KernelFamily,
                          sharedMemory: Int = VulkanMatMulKernels.tileSharedBytes) throws -> VulkanDispatch {
        let (q, k) = (ins[0].shape, ins[1].shape)
        let mask = ins.count > 3 ? ins[3].shape : Shape(1)
        let words = [q[0], q[1], q[2], q[3], k[1], k[2], k[3], mask[1], mask[2], mask[3], ins.count > 3 ? 1 : 0].map(UInt32.init)
        if family == .gpu, let tile = KernelFamily.attentionQueryTile(d: q[0], tokens: q[1], heads: q[2], batches: q[3], keys: k[1],
                                                                        sharedMemory: sharedMemory) {
            // Prefill (attention_tile.comp): BR tokens of a head a workgroup, each key tile read once for all of them.
            return VulkanDispatch(kernel: ins[1].type == .f16 ? "attention_tile_f16" : "attention_tile_f32",
                                  constants: [128, UInt32(q[0] / 4), UInt32(tile.rows), UInt32(tile.keys)],
                                  words: words + [scale.bitPattern],
                                  groups: (UInt32((q[1] + tile.rows - 1) / tile.rows), UInt32(q[2]), UInt32(q[3])))
        }
        if family == .gpu {
            // A workgroup of 128 a query row (attention_wg.comp): lanes over keys, then over output dims;
            // D / 4 a constant, so the q·k loop unrolls. Few rows over many keys: the keys split too.
            let wg = 128, rows = q[1] * q[2], x = max(1, min(rows, 65535)), y = (rows + x - 1) / x
            let (splits, chunk) = KernelFamily.attentionSplit(rows: rows * q[3], keys: k[1], tile: wg)
            var plan = VulkanDispatch(kernel: ins[1].type == .f16 ? "attention_wg_f16" : "attention_wg_f32", constants: [UInt32(wg), UInt32(q[0] / 4)],
                                      words: words + [scale.bitPattern, UInt32(chunk), UInt32(splits)],
                                      groups: (UInt32(x), UInt32(y), UInt32(q[3] * splits)))
            if splits > 1 {
                plan.scratchBytes = 4 * rows * q[3] * splits * (q[0] + 2)
                plan.merge = [VulkanDispatch(kernel: "attention_merge", words: [UInt32(q[0]), UInt32(rows), UInt32(splits)],
                                             groups: (UInt32(x), UInt32(y), UInt32(q[3])))]
            }
            return plan
        }
        return VulkanDispatch(kernel: ins[1].type == .f16 ? "attention_f16" : "attention_f32", constants: [8, UInt32(q[0] / 4)],
                              words: words + [scale.bitPattern], groups: (UInt32((q[1] * q[2] + 7) / 8), UInt32(q[3]), 1))
    }

    /// Row ranges the kernels handle: attention reads q, k, v in 4-value blocks.
    static func supportsAttention(_ ins: [TensorDesc]) -> Bool {
        ins[1].type == ins[2].type && ins[0].shape[0] % 4 == 0 && ins[0].shape[0] <= 256
    }
}
