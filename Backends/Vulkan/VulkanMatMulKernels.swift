import EdgeHAL
import EdgeHALGPU

/// The dequantizing kernels: mul_mat and get_rows, one SPIR-V variant per weight type.
public enum VulkanMatMulKernels {
    /// Geometry measured on lavapipe (Kernels/vulkan/mul_mat.comp): a mat-vec takes 4 rows per invocation,
    /// lanes on consecutive rows, 32 invocations a group (64 once that still leaves ≥ 16 groups). A mat-mul
    /// reuses each dequantized weight chunk across columns and each activation chunk across rows: lavapipe
    /// has no fused multiply-add and a texel fetch costs ~40 instructions, so reuse is the only lever —
    /// 16 rows × 8 columns per invocation (8 a group) from N = 8 (1.3–1.7× faster than 8 × 4; larger tiles
    /// gain 5–8 % for seconds of JIT), 8 × 4 below.
    static func mulMat(_ op: Op = .mulMat, _ ins: [TensorDesc], _ out: TensorDesc, family: KernelFamily, matVec tuning: MatVecTuning = .init(),
                       storageRange: Int = Int(UInt32.max), sharedMemory: Int = tileSharedBytes, int8: Bool = false) throws -> VulkanDispatch {
        let (a, b) = (ins[0], ins[1])
        let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
        // Every mul_mat kernel's push words (Kernels/vulkan/mul_mat.comp's header).
        let words = [k, m, n, b.shape[2], b.shape[3], b.shape[2] / a.shape[2], b.shape[3] / a.shape[3], a.shape[2], a.rowBytes].map(UInt32.init)
        let batches = UInt32(b.shape[2] * b.shape[3])
        // With integer dot products, every quantized weight type's products take int8 activations (int_parts.glsl).
        let i8 = int8 && a.type.isQuantized
        // The fused ops exist only in the GPU family's mat-vec (VulkanKernels.supports): another kernel would drop r or the norm.
        guard op == .mulMat || (family == .gpu && n <= 8 && fitStorage(ins, range: storageRange)) else {
            throw VulkanError("\(op.name) runs only on the GPU family's mat-vec (N ≤ 8, inputs within one storage binding)")
        }
        if family == .gpu && n > 8 && fitStorage(ins, range: storageRange) && sharedMemory >= tileSharedBytes {
            // 128 × 16·TN tiles of out through shared memory (Kernels/vulkan/mul_mat_tile.comp): TN = 8 (128 columns) where
            // that still makes 128 workgroups (about one a compute unit on a 132-SM card), else 4 (64 columns), so a
            // 2048-row projection of a 512-token prompt still spreads over 128 workgroups.
            let tiles128 = (m + 127) / 128 * ((n + 127) / 128) * Int(batches)
            let tn = tuning.tileColumns ?? (tiles128 >= 128 ? 8 : 4)
            // int8: the tile of Kernels/vulkan/mul_mat_tile_i8.comp over quantize_q8's bytes of the activations.
            var plan = VulkanDispatch(kernel: "mul_mat_tile_\(i8 ? "i8_" : "")\(a.type.rawValue)", constants: [UInt32(tn)], words: words,
                                      groups: (UInt32((m + 127) / 128), UInt32((n + 16 * tn - 1) / (16 * tn)), batches))
            if i8 { plan.quantize(k: k, columns: n * Int(batches), norm: false) }
            return plan
        }
        if family == .gpu && n <= 8 && fitStorage(ins, range: storageRange) {
            // mul_mat_add's r (input 2) is added as the mat-vec writes, rms_norm_mul_mat's norm weight (input 2)
            // scales the activations as they are loaded: the residual word and the NORM constant say which.
            // mul_mat_glu runs the _glu variant (its up matrix the last input), the activation in the residual word.
            // mul_mat_rows runs the _rows variant (_rows_f16 into an f16 cache), its words after the mat-vec's.
            let fused = GPUOpArguments.matVec(op)
            var heads: (words: [UInt32], f16: Bool)?
            if case .mulMatRows(let p) = op { heads = (GPUOpArguments.heads(p, ins), p.dstInput.map { ins[$0].type == .f16 } ?? false) }
            return matVec(a, b, words: words + [fused.residual, (fused.normEps ?? 0).bitPattern] + (heads?.words ?? []),
                          norm: fused.normEps != nil, glu: fused.glu, heads: heads.map { $0.f16 ? "rows_f16_" : "rows_" },
                          int8: i8 ? sharedMemory : nil, batches: batches, tuning: tuning)
        }
        // The lavapipe family's kernel; also a GPU's for a matrix larger than one storage binding reaches
        // (texel views reach further: lavapipe's 128 MiB storage range against 512 MiB of R32 texels, as
        // Gemma 3's 262 144-row output matrix needs), where the texel fetches cost speed, not correctness.
        let (wg, rows, cols) = n == 1 ? (m / 256 >= 16 ? 64 : 32, 4, 1) : n < 8 ? (16, 8, min(4, n)) : (8, 16, 8)
        return VulkanDispatch(kernel: "mul_mat_\(a.type.rawValue)", constants: [UInt32(wg), UInt32(rows), UInt32(cols)], words: words,
                              groups: (UInt32((m + wg * rows - 1) / (wg * rows)), UInt32((n + cols - 1) / cols), batches))
    }

    /// Shared memory mul_mat_tile.comp declares (two 32 × 128 float tiles): a device with less (Vulkan guarantees
    /// 16 KiB) runs the first family's mat-mul for prefill instead.
    static let tileSharedBytes = 32 << 10

    /// Whether every input fits one storage binding of `range` bytes wherever it starts (a binding's base is
    /// aligned down by less than 256 bytes): what the GPU family's mat-vec needs.
    static func fitStorage(_ ins: [TensorDesc], range: Int) -> Bool {
        ins.allSatisfy { $0.byteCount <= range - 256 }
    }

    /// The GPU family's mat-vec (Kernels/vulkan/mul_mat_vec.comp): LANES invocations a row, each taking
    /// every LANES-th 8-value part (4 to a 32-value block), at least two parts a lane: 32 lanes (one NVIDIA
    /// subgroup, reduced by subgroupAdd) from K = 512, 8 or 16 below; 128 invocations a group; all N ≤ 8
    /// columns in one pass, so each weight part is dequantized once.
    /// `heads` (mul_mat_rows): the variant's infix; a lane group takes rope pairs then, so rows is even.
    /// `int8` (the device's shared memory in bytes): the `_i8_` variant, after quantize_q8 (XQ, constant 5, = 1), or
    /// with `int8InWorkgroup` quantizing the activations in each workgroup where they fit that shared memory beside
    /// the reduction's sums (XQ: the code words).
    static func matVec(_ a: TensorDesc, _ b: TensorDesc, words: [UInt32], norm: Bool, glu: Bool = false, heads: String? = nil,
                       int8 sharedMemory: Int? = nil, batches: UInt32, tuning: MatVecTuning) -> VulkanDispatch {
        let (k, m, n) = (a.shape[0], a.shape[1], b.shape[1])
        let lanes = tuning.lanes ?? KernelFamily.matVecLanes(k: k)
        let least = heads == nil ? 1 : 2
        var wg = max(lanes, tuning.workgroup ?? 128), rows = max(least, tuning.rows ?? 1)
        // The kernel's shared sums (`partial`: wg × COLS × (rows·(1 + GLU) + NORM) floats) stay within the 16 KiB every
        // Vulkan device has (lavapipe 32, NVIDIA 48): a tuning asking for more gets fewer rows, then a narrower group.
        func sharedBytes() -> Int { 4 * wg * max(1, n) * (rows * (glu ? 2 : 1) + (norm ? 1 : 0)) }
        while sharedBytes() > 16 << 10 && rows > least { rows /= 2 }
        while sharedBytes() > 16 << 10 && wg > lanes { wg /= 2 }
        let rowGroups = (m + rows * wg / lanes - 1) / (rows * wg / lanes)
        let x = max(1, min(rowGroups, 65535))   // no rows: y = 0, nothing is dispatched
        var plan = VulkanDispatch(kernel: "mul_mat_vec_\(glu ? "glu_" : "")\(heads ?? "")\(sharedMemory != nil ? "i8_" : "")\(a.type.rawValue)",
                                  constants: [UInt32(wg), UInt32(lanes), UInt32(max(1, n)), UInt32(rows), norm ? 1 : 0],
                                  words: words, groups: (UInt32(x), UInt32((rowGroups + x - 1) / x), batches))
        if let sharedMemory {
            let codeWords = max(1, n) * k / 4
            if tuning.int8InWorkgroup && 4 * (codeWords + codeWords / 8 + 1) + sharedBytes() <= sharedMemory {
                plan.constants.append(UInt32(codeWords))
            } else {
                plan.constants.append(1)
                plan.quantize(k: k, columns: n * Int(batches), norm: norm)
            }
        }
        return plan
    }

    /// Overrides of the mat-vec geometry for measuring on a device (`EDGEHAL_VULKAN_MATVEC=lanes=32,wg=256,rows=4`;
    /// scripts/device-run.sh's `tune` step): lanes a power of two from 1 to 64, wg one from lanes to 1024,
    /// rows (a lane group's rows sharing each activation chunk) 1, 2, 4 or 8; the prefill tile's tn, 4 or 8; and
    /// i8, 0, 1 or 2 (the int8 products, `int8`). `storageRange` (bytes, no
    /// variable) lowers the device's maxStorageBufferRange as the mat-vec sees it, so tests on lavapipe run
    /// the fallback a large matrix takes.
    public struct MatVecTuning: Sendable {
        public var lanes: Int?, workgroup: Int?, rows: Int?, storageRange: Int?
        /// The int8 products (mat-vec and prefill tile) on (true) or off (false) where the device can run them; nil: on
        /// where its integer dot products are accelerated (`int-dot-fast`). `EDGEHAL_VULKAN_MATVEC=i8=1` or `i8=0`; `i8=2` turns it on with
        /// the activations quantized in each workgroup where they fit its shared memory (`int8InWorkgroup`) instead
        /// of by quantize_q8: no dispatch and barrier stage of its own, but every workgroup reads all of b (4·K bytes
        /// a column, from cache) — more than its weight rows at 4 rows a group, less from 8 — so the device run
        /// (scripts/device-run.sh's tune step) decides, not a guess.
        /// Columns an invocation of the prefill tile computes (4 or 8: tiles of 64 or 128 columns).
        public var tileColumns: Int?
        public var int8: Bool?
        public var int8InWorkgroup = false

        public init(lanes: Int? = nil, workgroup: Int? = nil, rows: Int? = nil, storageRange: Int? = nil, tileColumns: Int? = nil,
                    int8: Bool? = nil, int8InWorkgroup: Bool = false) {
            (self.lanes, self.workgroup, self.rows, self.storageRange, self.tileColumns) = (lanes, workgroup, rows, storageRange, tileColumns)
            (self.int8, self.int8InWorkgroup) = (int8, int8InWorkgroup)
        }

        public static var forced: MatVecTuning { parse(EdgeHALEnvironment.value("EDGEHAL_VULKAN_MATVEC") ?? "") }

        static func parse(_ text: String) -> MatVecTuning {
            var t = MatVecTuning()
            for item in text.split(separator: ",") {
                let kv = item.split(separator: "=")
                if kv.count == 2 && kv[0] == "i8", let v = Int(kv[1]), (0...2).contains(v) { (t.int8, t.int8InWorkgroup) = (v > 0, v == 2); continue }
                guard kv.count == 2, let v = Int(kv[1]), v > 0, v & (v - 1) == 0 else { continue }
                switch kv[0] {
                case "lanes" where v <= 64: t.lanes = v
                case "wg" where v <= 1024: t.workgroup = v
                case "rows" where v <= 8: t.rows = v
                case "tn" where v == 4 || v == 8: t.tileColumns = v
                default: continue
                }
            }
            return t
        }
    }

    static func getRows(_ ins: [TensorDesc], _ out: TensorDesc) throws -> VulkanDispatch {
        let table = ins[0]
        let (k, rows, n) = (table.shape[0], table.shape[1], ins[1].shape[0])
        let items = table.type.isQuantized ? k / 32 * n : k * n
        return VulkanDispatch(kernel: "get_rows_\(table.type.rawValue)", words: [UInt32(k), UInt32(rows), UInt32(n), UInt32(table.rowBytes)],
                              groups: (VulkanKernels.strided(items), 1, 1))
    }
}
