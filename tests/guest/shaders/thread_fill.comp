#version 450
// One command buffer's share of the multi-threaded program: count words at offset, each a
// function of (thread, command buffer, index) so that any misplaced or missing dispatch shows.
layout(local_size_x = 64) in;
layout(set = 0, binding = 0) buffer Out { uint values[]; };
layout(push_constant) uniform Push {
    uint thread_index;
    uint buffer_index;
    uint offset;
    uint count;
} push;

void main()
{
    uint i = gl_GlobalInvocationID.x;
    if (i < push.count)
        values[push.offset + i] = (push.thread_index << 24) ^ (push.buffer_index << 16) ^ (i * 40503u);
}
