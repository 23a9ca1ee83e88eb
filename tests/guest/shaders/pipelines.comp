#version 450
// out[i] = in[i] * mul + add + workgroup id * 0x10000 (the workgroup id shows a dispatch base).
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) readonly buffer In { uint in_words[]; };
layout(set = 0, binding = 1) writeonly buffer Out { uint out_words[]; };
layout(push_constant) uniform Push {
    uint mul;
    uint add;
} push;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    out_words[i] = in_words[i] * push.mul + push.add + gl_WorkGroupID.x * 0x10000u;
}
