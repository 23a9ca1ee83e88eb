#version 450
// y = a * x + y over n floats; the grid is two-dimensional because n / 256 work groups exceed
// the 65535 a single dimension is guaranteed to allow.
layout(local_size_x = 256) in;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(push_constant) uniform Push {
    float a;
    uint n;
} push;

void main()
{
    uint row = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    uint i = gl_GlobalInvocationID.y * row + gl_GlobalInvocationID.x;
    if (i < push.n)
        y[i] = push.a * x[i] + y[i];
}
