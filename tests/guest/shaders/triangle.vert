#version 450
// Position (z is depth) and color per vertex: the triangle, indirect-draw and query programs.
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_color;
layout(location = 0) out vec3 out_color;

void main()
{
    gl_Position = vec4(in_position, 1.0);
    out_color = in_color;
}
