#version 450
// The benchmark's rotating cube: the model-view-projection matrix comes in a push constant, so
// that no uniform buffer has to be mapped (the reference host's runs map nothing). One flat
// color per face, as in tests/guest/shaders/cube.vert.
layout(push_constant) uniform Push {
    mat4 mvp;
} push;
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_color;
layout(location = 0) flat out vec3 out_color;

void main()
{
    gl_Position = push.mvp * vec4(in_position, 1.0);
    out_color = in_color;
}
