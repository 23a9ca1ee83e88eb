#version 450
// Writes the arguments of the indirect dispatch that follows (a VkDispatchIndirectCommand at
// offset 0) from the element count in the push constants: the device decides the grid size.
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) buffer Args { uint dispatch[4]; };
layout(push_constant) uniform Push {
    uint element_count;
    uint group_size;
} push;

void main()
{
    dispatch[0] = (push.element_count + push.group_size - 1) / push.group_size;
    dispatch[1] = 1;
    dispatch[2] = 1;
    dispatch[3] = 0xa5a5a5a5u; // marker, checked by the host
}
