#version 450
// Tessellation that changes nothing: one triangle per patch, from the patch's first three
// control points (the dynamic patch control point count decides where patches start).
layout(vertices = 3) out;
layout(location = 0) in vec3 in_color[];
layout(location = 0) out vec3 out_color[];

void main()
{
    gl_out[gl_InvocationID].gl_Position = gl_in[gl_InvocationID].gl_Position;
    out_color[gl_InvocationID] = in_color[gl_InvocationID];
    if (gl_InvocationID == 0) {
        gl_TessLevelInner[0] = 1.0;
        gl_TessLevelOuter[0] = 1.0;
        gl_TessLevelOuter[1] = 1.0;
        gl_TessLevelOuter[2] = 1.0;
    }
}
