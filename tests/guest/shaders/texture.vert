#version 450
// A textured quad, placed by a push-constant matrix.
layout(push_constant) uniform Push {
    mat4 transform;
} push;
layout(location = 0) in vec2 in_position;
layout(location = 1) in vec2 in_uv;
layout(location = 0) out vec2 out_uv;

void main()
{
    gl_Position = push.transform * vec4(in_position, 0.0, 1.0);
    out_uv = in_uv;
}
