#version 450
// Transform feedback capture: each vertex's position and color into buffer 0 (32 bytes a vertex).
// Used with rasterizer discard and no fragment shader.
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_color;
layout(location = 0, xfb_buffer = 0, xfb_offset = 0, xfb_stride = 32) out vec4 captured_position;
layout(location = 1, xfb_buffer = 0, xfb_offset = 16) out vec4 captured_color;

void main()
{
    gl_Position = vec4(in_position, 1.0);
    captured_position = vec4(in_position, 1.0);
    captured_color = vec4(in_color, 1.0);
}
