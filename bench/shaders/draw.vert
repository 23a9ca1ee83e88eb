#version 450
// One tiny triangle per draw for the draw-call benchmark: no vertex buffer, the corner comes
// from gl_VertexIndex and the placement (xy) and size (z) from a push constant per draw.
layout(push_constant) uniform Push {
    vec4 offset_scale;
} push;

void main()
{
    vec2 corner = vec2(gl_VertexIndex == 1 ? 1.0 : 0.0, gl_VertexIndex == 2 ? 1.0 : 0.0);
    gl_Position = vec4(push.offset_scale.xy + corner * push.offset_scale.z, 0.0, 1.0);
}
