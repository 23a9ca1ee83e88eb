#version 450
// Buffer views: reads an RGBA8_UNORM uniform texel buffer and an R32_UINT storage texel buffer,
// writes an R32_UINT storage texel buffer. out[i] = packed bytes of in_rgba[i] ^ in_words[i] ^ hash(i).
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) uniform samplerBuffer in_rgba;
layout(set = 0, binding = 1, r32ui) uniform readonly uimageBuffer in_words;
layout(set = 0, binding = 2, r32ui) uniform writeonly uimageBuffer out_words;

void main()
{
    int i = int(gl_GlobalInvocationID.x);
    uvec4 b = uvec4(round(texelFetch(in_rgba, i) * 255.0));
    uint packed = b.x | (b.y << 8) | (b.z << 16) | (b.w << 24);
    uint w = imageLoad(in_words, i).x;
    imageStore(out_words, i, uvec4(packed ^ w ^ (uint(i) * 2654435769u)));
}
