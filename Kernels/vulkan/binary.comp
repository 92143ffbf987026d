#version 450
// a ∘ b with b repeated to a's shape (ggml's broadcast: b's index is each of a's modulo b's extent),
// swiglu silu(a)·b and geglu gelu(a)·b (same shapes). f32 only.
// Push constants after the contract words: uint ne[4] (a and out), uint be[4] (b), uint op (0 add, 1 mul, 2 swiglu, 3 geglu).
// Dispatch: x = min(ceil(n / 64), 4096), n = ne0·ne1·ne2·ne3; grid-stride loop.
layout(local_size_x = 64) in;
layout(binding = 0) uniform usamplerBuffer A;
layout(binding = 1) uniform usamplerBuffer B;
layout(binding = 8) writeonly buffer Y { float y[]; };
layout(push_constant) uniform PC { uint in_off[6]; uint out_off; uint ne[4]; uint be[4]; uint op; } pc;
#include "common.glsl"

void main() {
    uint n = pc.ne[0] * pc.ne[1] * pc.ne[2] * pc.ne[3];
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        uint i0 = i % pc.ne[0], r = i / pc.ne[0];
        uint i1 = r % pc.ne[1]; r /= pc.ne[1];
        uint i2 = r % pc.ne[2], i3 = r / pc.ne[2];
        uint j = ((i3 % pc.be[3]) * pc.be[2] + i2 % pc.be[2]) * pc.be[1] + i1 % pc.be[1];
        j = j * pc.be[0] + i0 % pc.be[0];
        float a = f32_at(A, pc.in_off[0] + 4u * i);
        float b = f32_at(B, pc.in_off[1] + 4u * j);
        float v;
        if (pc.op == 0u) v = a + b;
        else if (pc.op == 1u) v = a * b;
        else if (pc.op == 2u) v = a / (1.0 + exp(-a)) * b;
        else v = gelu(a) * b;
        y[pc.out_off + i] = v;
    }
}
