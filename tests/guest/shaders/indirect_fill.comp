#version 450
// Fills out[i] with a value derived from i only; run through vkCmdDispatchIndirect.
layout(local_size_x = 64) in;
layout(set = 0, binding = 1) buffer Out { uint values[]; };

void main()
{
    uint i = gl_GlobalInvocationID.x;
    values[i] = (i * 2654435761u) ^ (i >> 3) ^ 0x5bd1e995u;
}
