#version 450
// The second subpass of renderpass2: the first subpass's color, read as an input attachment, inverted.
layout(input_attachment_index = 0, set = 0, binding = 0) uniform subpassInput in_color;
layout(location = 0) out vec4 out_color;

void main()
{
    out_color = vec4(1.0 - subpassLoad(in_color).rgb, 1.0);
}
