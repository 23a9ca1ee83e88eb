/* Two subpasses and a secondary command buffer, through VK_KHR_create_renderpass2 and through the
 * 1.0 entry points. Subpass 0 clears attachment A inside the render area and draws a flat-colored
 * triangle (scissored to the render area); subpass 1 reads A as an input attachment and writes its
 * inverse into attachment B, which is loaded (cleared beforehand by vkCmdClearColorImage). The
 * render area (8,8)-(56,56) is smaller than the 64x64 framebuffer.
 *
 * Pass 1: vkCreateRenderPass2KHR, vkCmdBeginRenderPass2KHR, vkCmdNextSubpass2KHR with subpass 1
 * recorded into a secondary command buffer run by vkCmdExecuteCommands, vkCmdEndRenderPass2KHR.
 * Pass 2: vkCreateRenderPass, vkCmdBeginRenderPass, vkCmdNextSubpass, vkCmdEndRenderPass, inline.
 * Checks, for both: A and B untouched outside the render area, A is the clear color or the
 * triangle's color inside it (the triangle where its edges are more than a pixel away), B is
 * exactly 255 - A there; both passes give identical images. vkGetRenderAreaGranularity is
 * asked for both render passes (at least 1x1, at most the framebuffer). */
#include "pv_guest_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 64
#define AREA_X 8
#define AREA_Y 8
#define AREA_W 48
#define AREA_H 48

struct vertex {
    float position[3];
    float color[3];
};

struct rp2 {
    PFN_vkCreateRenderPass2KHR create;
    PFN_vkCmdBeginRenderPass2KHR begin;
    PFN_vkCmdNextSubpass2KHR next;
    PFN_vkCmdEndRenderPass2KHR end;
};

/* Pre-pass contents (vkCmdClearColorImage), the in-pass clear of A, the triangle. */
static const uint8_t a_before[4] = { 204, 204, 204, 255 };
static const uint8_t b_before[4] = { 102, 102, 102, 102 };
static const uint8_t a_clear[4] = { 0, 51, 102, 255 };
static const uint8_t tri_rgb[3] = { 255, 153, 51 };
/* Triangle corners in pixels (it reaches outside the render area). */
static const float tri_px[3][2] = { { 4, 4 }, { 60, 30 }, { 20, 60 } };

static VkClearColorValue unorm(const uint8_t c[4])
{
    return (VkClearColorValue){ .float32 = { c[0] / 255.0f, c[1] / 255.0f, c[2] / 255.0f, c[3] / 255.0f } };
}

/* Signed distance-ish test of pixel center (x, y) against the triangle: 1 inside by more than
 * a pixel, -1 outside by more than a pixel, 0 near an edge. */
static int triangle_side(uint32_t x, uint32_t y)
{
    float px = x + 0.5f, py = y + 0.5f;
    int inside = 1;
    for (int e = 0; e < 3; e++) {
        const float *p0 = tri_px[e], *p1 = tri_px[(e + 1) % 3];
        float ex = p1[0] - p0[0], ey = p1[1] - p0[1];
        float len = sqrtf(ex * ex + ey * ey);
        /* Corners are clockwise on screen (y down), so inside is where the cross product is
         * positive. */
        float d = (ex * (py - p0[1]) - ey * (px - p0[0])) / len;
        if (d < -1.0f)
            return -1;
        if (d < 1.0f)
            inside = 0;
    }
    return inside;
}

static bool in_area(uint32_t x, uint32_t y)
{
    return x >= AREA_X && x < AREA_X + AREA_W && y >= AREA_Y && y < AREA_Y + AREA_H;
}

/* The attachment descriptions, references and dependencies shared by both versions. */
static const VkAttachmentDescription attachments[2] = {
    { .format = VK_FORMAT_R8G8B8A8_UNORM, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
      .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
      .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE, .initialLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
      .finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL },
    { .format = VK_FORMAT_R8G8B8A8_UNORM, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_LOAD,
      .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
      .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE, .initialLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
      .finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL },
};
static const VkSubpassDependency dependencies[3] = {
    { .srcSubpass = VK_SUBPASS_EXTERNAL, .dstSubpass = 0, .srcStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT,
      .dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT },
    { .srcSubpass = 0, .dstSubpass = 1, .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
      .dstStageMask = VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, .srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_INPUT_ATTACHMENT_READ_BIT, .dependencyFlags = VK_DEPENDENCY_BY_REGION_BIT },
    /* Also after subpass 1's input attachment reads: A's transition to its final layout. */
    { .srcSubpass = 1, .dstSubpass = VK_SUBPASS_EXTERNAL,
      .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT,
      .dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT, .srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
      .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT },
};

static VkRenderPass create_pass_v1(struct pv_guest *g)
{
    VkAttachmentReference a_out = { 0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
    VkAttachmentReference a_in = { 0, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL };
    VkAttachmentReference b_out = { 1, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
    VkSubpassDescription subpasses[2] = {
        { .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS, .colorAttachmentCount = 1, .pColorAttachments = &a_out },
        { .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS, .inputAttachmentCount = 1, .pInputAttachments = &a_in,
          .colorAttachmentCount = 1, .pColorAttachments = &b_out },
    };
    VkRenderPassCreateInfo info = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, .attachmentCount = 2,
                                    .pAttachments = attachments, .subpassCount = 2, .pSubpasses = subpasses,
                                    .dependencyCount = 3, .pDependencies = dependencies };
    VkRenderPass pass;
    PV_CHECK(g, vkCreateRenderPass(g->device, &info, NULL, &pass));
    return pass;
}

static VkRenderPass create_pass_v2(struct pv_guest *g, const struct rp2 *f)
{
    VkAttachmentDescription2KHR atts[2];
    for (int i = 0; i < 2; i++) {
        atts[i] = (VkAttachmentDescription2KHR){
            .sType = VK_STRUCTURE_TYPE_ATTACHMENT_DESCRIPTION_2_KHR,
            .format = attachments[i].format,
            .samples = attachments[i].samples,
            .loadOp = attachments[i].loadOp,
            .storeOp = attachments[i].storeOp,
            .stencilLoadOp = attachments[i].stencilLoadOp,
            .stencilStoreOp = attachments[i].stencilStoreOp,
            .initialLayout = attachments[i].initialLayout,
            .finalLayout = attachments[i].finalLayout,
        };
    }
    VkAttachmentReference2KHR a_out = { .sType = VK_STRUCTURE_TYPE_ATTACHMENT_REFERENCE_2_KHR, .attachment = 0,
                                        .layout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
                                        .aspectMask = VK_IMAGE_ASPECT_COLOR_BIT };
    VkAttachmentReference2KHR a_in = { .sType = VK_STRUCTURE_TYPE_ATTACHMENT_REFERENCE_2_KHR, .attachment = 0,
                                       .layout = VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL,
                                       .aspectMask = VK_IMAGE_ASPECT_COLOR_BIT };
    VkAttachmentReference2KHR b_out = { .sType = VK_STRUCTURE_TYPE_ATTACHMENT_REFERENCE_2_KHR, .attachment = 1,
                                        .layout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
                                        .aspectMask = VK_IMAGE_ASPECT_COLOR_BIT };
    VkSubpassDescription2KHR subpasses[2] = {
        { .sType = VK_STRUCTURE_TYPE_SUBPASS_DESCRIPTION_2_KHR, .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
          .colorAttachmentCount = 1, .pColorAttachments = &a_out },
        { .sType = VK_STRUCTURE_TYPE_SUBPASS_DESCRIPTION_2_KHR, .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
          .inputAttachmentCount = 1, .pInputAttachments = &a_in, .colorAttachmentCount = 1,
          .pColorAttachments = &b_out },
    };
    VkSubpassDependency2KHR deps[3];
    for (int i = 0; i < 3; i++) {
        deps[i] = (VkSubpassDependency2KHR){
            .sType = VK_STRUCTURE_TYPE_SUBPASS_DEPENDENCY_2_KHR,
            .srcSubpass = dependencies[i].srcSubpass,
            .dstSubpass = dependencies[i].dstSubpass,
            .srcStageMask = dependencies[i].srcStageMask,
            .dstStageMask = dependencies[i].dstStageMask,
            .srcAccessMask = dependencies[i].srcAccessMask,
            .dstAccessMask = dependencies[i].dstAccessMask,
            .dependencyFlags = dependencies[i].dependencyFlags,
        };
    }
    VkRenderPassCreateInfo2KHR info = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO_2_KHR, .attachmentCount = 2,
                                        .pAttachments = atts, .subpassCount = 2, .pSubpasses = subpasses,
                                        .dependencyCount = 3, .pDependencies = deps };
    VkRenderPass pass;
    PV_CHECK(g, f->create(g->device, &info, NULL, &pass));
    return pass;
}

struct scene {
    struct pv_image a, b;
    VkDescriptorSetLayout set_layout;
    VkDescriptorPool pool;
    VkDescriptorSet set;
    VkPipelineLayout draw_layout, invert_layout;
    struct pv_buffer vertices;
    struct pv_buffer readback;
};

static void record_subpass1(VkCommandBuffer cmd, const struct scene *s, VkPipeline invert)
{
    VkViewport viewport = { 0, 0, SIZE, SIZE, 0, 1 };
    VkRect2D area = { { AREA_X, AREA_Y }, { AREA_W, AREA_H } };
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, invert);
    vkCmdSetViewport(cmd, 0, 1, &viewport);
    vkCmdSetScissor(cmd, 0, 1, &area);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, s->invert_layout, 0, 1, &s->set, 0, NULL);
    vkCmdDraw(cmd, 3, 1, 0, 0);
}

/* Runs the scene with one render pass; returns A then B, read back, in s->readback. */
static void run_scene(struct pv_guest *g, struct scene *s, VkRenderPass pass, const struct rp2 *f, bool version2,
                      const char *label)
{
    VkExtent2D granularity = { 0, 0 };
    vkGetRenderAreaGranularity(g->device, pass, &granularity);
    pv_expect(g, granularity.width >= 1 && granularity.height >= 1 && granularity.width <= SIZE &&
                     granularity.height <= SIZE,
              "%s: render area granularity %ux%u", label, granularity.width, granularity.height);
    char key[64];
    snprintf(key, sizeof(key), "%s_granularity", label);
    pv_digest_text(g, key, "%ux%u", granularity.width, granularity.height);

    VkImageView views[2] = { s->a.view, s->b.view };
    VkFramebufferCreateInfo fb_info = { .sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO, .renderPass = pass,
                                        .attachmentCount = 2, .pAttachments = views, .width = SIZE, .height = SIZE,
                                        .layers = 1 };
    VkFramebuffer framebuffer;
    PV_CHECK(g, vkCreateFramebuffer(g->device, &fb_info, NULL, &framebuffer));

    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv", .fragment_shader = "triangle.frag.spv",
        .bindings = &binding, .binding_count = 1, .attributes = attributes, .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .layout = s->draw_layout, .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE, .dynamic_viewport = true, .width = SIZE, .height = SIZE, .subpass = 0,
    };
    VkPipeline draw = pv_graphics_pipeline_create(g, &desc);
    desc = (struct pv_graphics_pipeline_desc){
        .vertex_shader = "fullscreen.vert.spv", .fragment_shader = "invert_input.frag.spv",
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .layout = s->invert_layout, .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE, .dynamic_viewport = true, .width = SIZE, .height = SIZE, .subpass = 1,
    };
    VkPipeline invert = pv_graphics_pipeline_create(g, &desc);

    /* Subpass 1 in a secondary command buffer for the version-2 pass. */
    VkCommandBuffer secondary = VK_NULL_HANDLE;
    if (version2) {
        VkCommandBufferAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                              .commandPool = g->command_pool,
                                              .level = VK_COMMAND_BUFFER_LEVEL_SECONDARY, .commandBufferCount = 1 };
        PV_CHECK(g, vkAllocateCommandBuffers(g->device, &alloc, &secondary));
        VkCommandBufferInheritanceInfo inheritance = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO,
                                                       .renderPass = pass, .subpass = 1, .framebuffer = framebuffer };
        VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                           .flags = VK_COMMAND_BUFFER_USAGE_RENDER_PASS_CONTINUE_BIT |
                                                    VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
                                           .pInheritanceInfo = &inheritance };
        PV_CHECK(g, vkBeginCommandBuffer(secondary, &begin));
        record_subpass1(secondary, s, invert);
        PV_CHECK(g, vkEndCommandBuffer(secondary));
    }

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    /* Both attachments get their "before" contents, then go to COLOR_ATTACHMENT_OPTIMAL. */
    VkClearColorValue a_value = unorm(a_before), b_value = unorm(b_before);
    VkImageSubresourceRange range = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 };
    const struct pv_image *images[2] = { &s->a, &s->b };
    const VkClearColorValue *values[2] = { &a_value, &b_value };
    for (int i = 0; i < 2; i++) {
        pv_cmd_image_barrier(cmd, images[i], 0, 1, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0,
                             VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
                             VK_PIPELINE_STAGE_TRANSFER_BIT);
        vkCmdClearColorImage(cmd, images[i]->image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, values[i], 1, &range);
        pv_cmd_image_barrier(cmd, images[i], 0, 1, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                             VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                             VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                             VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT);
    }
    VkClearValue clears[2] = { { .color = unorm(a_clear) }, { .color = { .float32 = { 0, 0, 0, 0 } } } };
    VkRenderPassBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, .renderPass = pass,
                                    .framebuffer = framebuffer,
                                    .renderArea = { { AREA_X, AREA_Y }, { AREA_W, AREA_H } },
                                    .clearValueCount = 2, .pClearValues = clears };
    VkSubpassBeginInfoKHR inline_begin = { .sType = VK_STRUCTURE_TYPE_SUBPASS_BEGIN_INFO_KHR,
                                           .contents = VK_SUBPASS_CONTENTS_INLINE };
    VkSubpassBeginInfoKHR secondary_begin = { .sType = VK_STRUCTURE_TYPE_SUBPASS_BEGIN_INFO_KHR,
                                              .contents = VK_SUBPASS_CONTENTS_SECONDARY_COMMAND_BUFFERS };
    VkSubpassEndInfoKHR end_info = { .sType = VK_STRUCTURE_TYPE_SUBPASS_END_INFO_KHR };
    if (version2)
        f->begin(cmd, &begin, &inline_begin);
    else
        vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    VkViewport viewport = { 0, 0, SIZE, SIZE, 0, 1 };
    VkRect2D area = { { AREA_X, AREA_Y }, { AREA_W, AREA_H } };
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, draw);
    vkCmdSetViewport(cmd, 0, 1, &viewport);
    vkCmdSetScissor(cmd, 0, 1, &area);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &s->vertices.buffer, &offset);
    vkCmdDraw(cmd, 3, 1, 0, 0);
    if (version2) {
        f->next(cmd, &secondary_begin, &end_info);
        vkCmdExecuteCommands(cmd, 1, &secondary);
        f->end(cmd, &end_info);
    } else {
        vkCmdNextSubpass(cmd, VK_SUBPASS_CONTENTS_INLINE);
        record_subpass1(cmd, s, invert);
        vkCmdEndRenderPass(cmd);
    }
    pv_cmd_copy_image_to_buffer(cmd, &s->a, 0, s->readback.buffer, 0);
    pv_cmd_copy_image_to_buffer(cmd, &s->b, 0, s->readback.buffer, SIZE * SIZE * 4);
    pv_cmd_buffer_barrier(cmd, s->readback.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, &s->readback);

    if (secondary)
        vkFreeCommandBuffers(g->device, g->command_pool, 1, &secondary);
    vkDestroyPipeline(g->device, invert, NULL);
    vkDestroyPipeline(g->device, draw, NULL);
    vkDestroyFramebuffer(g->device, framebuffer, NULL);
}

static void check_scene(struct pv_guest *g, const uint8_t *a, const uint8_t *b, const char *label)
{
    unsigned bad = 0, triangle = 0, cleared = 0;
    for (uint32_t y = 0; y < SIZE; y++) {
        for (uint32_t x = 0; x < SIZE; x++) {
            const uint8_t *pa = a + (y * SIZE + x) * 4, *pb = b + (y * SIZE + x) * 4;
            bool ok;
            const char *why;
            if (!in_area(x, y)) {
                ok = !memcmp(pa, a_before, 4) && !memcmp(pb, b_before, 4);
                why = "outside the render area: A and B as before the pass";
            } else {
                bool is_tri = pa[0] == tri_rgb[0] && pa[1] == tri_rgb[1] && pa[2] == tri_rgb[2] && pa[3] == 255;
                bool is_clear = !memcmp(pa, a_clear, 4);
                int side = triangle_side(x, y);
                triangle += is_tri;
                cleared += is_clear;
                ok = (is_tri || is_clear) && (side == 0 || (side > 0) == is_tri) && pb[0] == 255 - pa[0] &&
                     pb[1] == 255 - pa[1] && pb[2] == 255 - pa[2] && pb[3] == 255;
                why = "inside: A the clear color or the triangle's, B = 255 - A";
            }
            if (!ok && bad++ < 5)
                pv_expect(g, false, "%s: pixel (%u,%u): A %u,%u,%u,%u B %u,%u,%u,%u (%s)", label, x, y, pa[0], pa[1],
                          pa[2], pa[3], pb[0], pb[1], pb[2], pb[3], why);
        }
    }
    pv_expect(g, !bad, "%s: %u pixels wrong", label, bad);
    pv_expect(g, triangle > 500 && cleared > 300, "%s: %u triangle and %u cleared pixels in the render area", label,
              triangle, cleared);
    char key[64];
    snprintf(key, sizeof(key), "%s_pixels", label);
    pv_digest_text(g, key, "%u triangle, %u cleared", triangle, cleared);
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "renderpass2" };
    pv_guest_init_instance(&g, &options, argc, argv);
    bool has_rp2 = pv_has_device_extension(&g, VK_KHR_CREATE_RENDERPASS_2_EXTENSION_NAME);
    const char *extensions[] = { VK_KHR_CREATE_RENDERPASS_2_EXTENSION_NAME };
    if (has_rp2) {
        options.device_extensions = extensions;
        options.device_extension_count = 1;
    }
    pv_guest_create_device(&g, &options);
    struct rp2 f = { 0 };
    if (has_rp2) {
        f.create = (PFN_vkCreateRenderPass2KHR)vkGetDeviceProcAddr(g.device, "vkCreateRenderPass2KHR");
        f.begin = (PFN_vkCmdBeginRenderPass2KHR)vkGetDeviceProcAddr(g.device, "vkCmdBeginRenderPass2KHR");
        f.next = (PFN_vkCmdNextSubpass2KHR)vkGetDeviceProcAddr(g.device, "vkCmdNextSubpass2KHR");
        f.end = (PFN_vkCmdEndRenderPass2KHR)vkGetDeviceProcAddr(g.device, "vkCmdEndRenderPass2KHR");
        if (!f.create || !f.begin || !f.next || !f.end)
            pv_fatal(&g, "VK_KHR_create_renderpass2 is exposed but an entry point is missing");
    }

    struct scene s;
    memset(&s, 0, sizeof(s));
    pv_image_create(&g, &s.a, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT |
                        VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    pv_image_create(&g, &s.b, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
                        VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    VkDescriptorSetLayoutBinding binding = { 0, VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT, 1, VK_SHADER_STAGE_FRAGMENT_BIT,
                                             NULL };
    VkDescriptorSetLayoutCreateInfo set_layout_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                        .bindingCount = 1, .pBindings = &binding };
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &s.set_layout));
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT, 1 };
    VkDescriptorPoolCreateInfo pool_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                             .poolSizeCount = 1, .pPoolSizes = &pool_size };
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &s.pool));
    VkDescriptorSetAllocateInfo set_alloc = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                              .descriptorPool = s.pool, .descriptorSetCount = 1,
                                              .pSetLayouts = &s.set_layout };
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &set_alloc, &s.set));
    VkDescriptorImageInfo input = { VK_NULL_HANDLE, s.a.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL };
    VkWriteDescriptorSet write = { .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = s.set, .dstBinding = 0,
                                   .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_INPUT_ATTACHMENT,
                                   .pImageInfo = &input };
    vkUpdateDescriptorSets(g.device, 1, &write, 0, NULL);
    s.draw_layout = pv_pipeline_layout_create(&g, NULL, 0, 0, 0);
    s.invert_layout = pv_pipeline_layout_create(&g, &s.set_layout, 1, 0, 0);

    struct vertex vertices[3];
    for (int i = 0; i < 3; i++) {
        vertices[i] = (struct vertex){ { tri_px[i][0] * 2.0f / SIZE - 1.0f, tri_px[i][1] * 2.0f / SIZE - 1.0f, 0.5f },
                                       { tri_rgb[0] / 255.0f, tri_rgb[1] / 255.0f, tri_rgb[2] / 255.0f } };
    }
    pv_buffer_create(&g, &s.vertices, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(s.vertices.map, vertices, sizeof(vertices));
    pv_buffer_flush(&g, &s.vertices);
    pv_buffer_create(&g, &s.readback, 2 * SIZE * SIZE * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    uint8_t *v2_pixels = malloc(2 * SIZE * SIZE * 4);
    if (!v2_pixels)
        pv_fatal(&g, "out of memory");

    if (has_rp2) {
        VkRenderPass pass = create_pass_v2(&g, &f);
        run_scene(&g, &s, pass, &f, true, "renderpass2");
        memcpy(v2_pixels, s.readback.map, 2 * SIZE * SIZE * 4);
        check_scene(&g, v2_pixels, v2_pixels + SIZE * SIZE * 4, "renderpass2");
        pv_digest_hash(&g, "renderpass2_a", v2_pixels, SIZE * SIZE * 4);
        pv_digest_hash(&g, "renderpass2_b", v2_pixels + SIZE * SIZE * 4, SIZE * SIZE * 4);
        pv_dump_ppm(&g, "renderpass2-b.ppm", v2_pixels + SIZE * SIZE * 4, SIZE, SIZE);
        vkDestroyRenderPass(g.device, pass, NULL);
    } else {
        pv_digest_text(&g, "renderpass2", "unsupported");
    }

    VkRenderPass pass = create_pass_v1(&g);
    run_scene(&g, &s, pass, NULL, false, "renderpass1");
    const uint8_t *v1_pixels = s.readback.map;
    check_scene(&g, v1_pixels, v1_pixels + SIZE * SIZE * 4, "renderpass1");
    pv_digest_hash(&g, "renderpass1_a", v1_pixels, SIZE * SIZE * 4);
    pv_digest_hash(&g, "renderpass1_b", v1_pixels + SIZE * SIZE * 4, SIZE * SIZE * 4);
    if (has_rp2)
        pv_expect(&g, !memcmp(v1_pixels, v2_pixels, 2 * SIZE * SIZE * 4),
                  "the 1.0 render pass and the renderpass2 one give different images");
    vkDestroyRenderPass(g.device, pass, NULL);

    free(v2_pixels);
    pv_buffer_destroy(&g, &s.readback);
    pv_buffer_destroy(&g, &s.vertices);
    vkDestroyPipelineLayout(g.device, s.invert_layout, NULL);
    vkDestroyPipelineLayout(g.device, s.draw_layout, NULL);
    vkDestroyDescriptorPool(g.device, s.pool, NULL);
    vkDestroyDescriptorSetLayout(g.device, s.set_layout, NULL);
    pv_image_destroy(&g, &s.b);
    pv_image_destroy(&g, &s.a);
    return pv_guest_finish(&g);
}
