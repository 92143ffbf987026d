"""Writes the quantize fixtures with the gguf PyPI package (gguf-py 0.19.0):
tiny-f32.gguf, a small llama-shaped model with F32 weights, and tiny-f32.TYPE.blocks, what
gguf-py's own quantizer makes of each 2-D tensor (concatenated in file order)."""
import numpy as np
import gguf

rng = np.random.default_rng(2026)
tensors = {
    "token_embd.weight": rng.standard_normal((40, 64), dtype=np.float32),
    "blk.0.attn_norm.weight": rng.uniform(0.5, 1.5, 64).astype(np.float32),
    "blk.0.attn_q.weight": (rng.standard_normal((64, 64)) * 0.1).astype(np.float32),
    "blk.0.ffn_down.weight": (rng.standard_cauchy((64, 96)) * 0.01).astype(np.float32),
    "output_norm.weight": rng.uniform(0.5, 1.5, 64).astype(np.float32),
}
w = gguf.GGUFWriter("tiny-f32.gguf", "llama")
w.add_block_count(1)
w.add_embedding_length(64)
w.add_string("general.name", "quantize fixture")
for name, data in tensors.items():
    w.add_tensor(name, data)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
types = {"q4_0": gguf.GGMLQuantizationType.Q4_0, "q4_1": gguf.GGMLQuantizationType.Q4_1,
         "q5_0": gguf.GGMLQuantizationType.Q5_0, "q5_1": gguf.GGMLQuantizationType.Q5_1,
         "q8_0": gguf.GGMLQuantizationType.Q8_0}
for name, qtype in types.items():
    blob = b"".join(gguf.quants.quantize(d, qtype).tobytes() for d in tensors.values() if d.ndim == 2)
    open(f"tiny-f32.{name}.blocks", "wb").write(blob)
