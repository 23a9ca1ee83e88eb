#version 450
// The rotating cube: one model-view-projection matrix per frame from a uniform buffer, one flat
// color per face (flat, so that a face's pixels are exactly its color).
layout(set = 0, binding = 0) uniform Frame {
    mat4 mvp;
} frame;
layout(location = 0) in vec3 in_position;
layout(location = 1) in vec3 in_color;
layout(location = 0) flat out vec3 out_color;

void main()
{
    gl_Position = frame.mvp * vec4(in_position, 1.0);
    out_color = in_color;
}
