#version 450
// Buffer device address: writes value + i through a pointer passed in push constants.
#extension GL_EXT_buffer_reference : require
layout(local_size_x = 64) in;
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Words {
    uint w[];
};
layout(push_constant) uniform Push {
    Words dst;
    uint value;
} push;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    push.dst.w[i] = push.value + i;
}
