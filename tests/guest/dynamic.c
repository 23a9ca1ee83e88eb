/* Dynamic rendering and dynamic state, each checked by its effect on pixels (and on depth and
 * stencil values read back). Every case renders one or more 64x64 frames with
 * vkCmdBeginRenderingKHR / vkCmdEndRenderingKHR (VK_KHR_dynamic_rendering; a render pass where
 * that is not exposed) into an RGBA8 color and a depth/stencil attachment, then reads all three
 * back.
 *
 * VK_EXT_extended_dynamic_state: cull mode x front face (which of a counter-clockwise and a
 * clockwise triangle survive), primitive topology (list, strip, fan of the same four vertices),
 * viewport and scissor with count (quadrants), depth test / write / compare op (colors and depth
 * values), stencil test and ops (with the 1.0 compare mask, write mask and reference: colors and
 * stencil values), depth bounds test (when the device has depthBounds; otherwise the disabled test
 * must change nothing), vkCmdBindVertexBuffers2EXT with a dynamic stride (every other vertex).
 * VK_EXT_extended_dynamic_state2: primitive restart (a strip through index 0xffff with restart on
 * and off), rasterizer discard, depth bias enable (with the 1.0 vkCmdSetDepthBias), logic op
 * (XOR, AND, COPY_INVERTED, a frame each) and patch control points (3 or 6 per patch through a pass-through
 * tessellation). 1.0 dynamic state: line width (1 and 5 pixel rows), blend constants (exact
 * colors), and VK_EXT_line_rasterization's line stipple (Bresenham, exact dash pattern).
 *
 * What the device does not expose is reported as "digest NAME unsupported" (identical natively
 * and through pvgpu, which share the host ICD). */
#include "pv_guest_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 64
#define MAX_VERTICES 1024
#define RESTART_VERTICES 65536
#define COLOR_BYTES (SIZE * SIZE * 4)
#define DEPTH_OFFSET COLOR_BYTES
#define STENCIL_OFFSET (2 * COLOR_BYTES)

struct vertex {
    float position[3];
    float color[3];
};

struct fns {
    PFN_vkCmdBeginRenderingKHR begin_rendering;
    PFN_vkCmdEndRenderingKHR end_rendering;
    PFN_vkCmdSetCullModeEXT cull_mode;
    PFN_vkCmdSetFrontFaceEXT front_face;
    PFN_vkCmdSetPrimitiveTopologyEXT topology;
    PFN_vkCmdSetViewportWithCountEXT viewport;
    PFN_vkCmdSetScissorWithCountEXT scissor;
    PFN_vkCmdBindVertexBuffers2EXT bind_vertex_buffers;
    PFN_vkCmdSetDepthTestEnableEXT depth_test;
    PFN_vkCmdSetDepthWriteEnableEXT depth_write;
    PFN_vkCmdSetDepthCompareOpEXT depth_compare;
    PFN_vkCmdSetDepthBoundsTestEnableEXT depth_bounds_test;
    PFN_vkCmdSetStencilTestEnableEXT stencil_test;
    PFN_vkCmdSetStencilOpEXT stencil_op;
    PFN_vkCmdSetRasterizerDiscardEnableEXT rasterizer_discard;
    PFN_vkCmdSetDepthBiasEnableEXT depth_bias;
    PFN_vkCmdSetPrimitiveRestartEnableEXT primitive_restart;
    PFN_vkCmdSetLogicOpEXT logic_op;
    PFN_vkCmdSetPatchControlPointsEXT patch_control_points;
    PFN_vkCmdSetLineStippleEXT line_stipple;
};

struct ctx {
    struct pv_guest *g;
    struct fns f;
    bool dynamic_rendering, eds1, eds2, eds2_logic_op, eds2_patch, wide_lines, depth_bounds, stipple;
    VkFormat ds_format;
    struct pv_image color, ds;
    VkRenderPass pass; /* only without dynamic rendering */
    VkFramebuffer framebuffer;
    VkPipelineLayout layout;
    VkPipeline main, blend, lines, stippled, logic, tess;
    struct pv_buffer vb, restart_vb, ib, rb;
    struct vertex *vertices; /* vb.map */
    uint32_t cursor;
    uint8_t want[COLOR_BYTES];
};

static const float RED[3] = { 1, 0, 0 }, GREEN[3] = { 0, 1, 0 }, BLUE[3] = { 0, 0, 1 }, YELLOW[3] = { 1, 1, 0 },
                   WHITE[3] = { 1, 1, 1 };
static const uint8_t RED8[4] = { 255, 0, 0, 255 }, GREEN8[4] = { 0, 255, 0, 255 }, BLUE8[4] = { 0, 0, 255, 255 },
                     YELLOW8[4] = { 255, 255, 0, 255 }, BLACK8[4] = { 0, 0, 0, 255 };

static float ndc(float px)
{
    return px * 2.0f / SIZE - 1.0f;
}

/* Vertices are written into the mapped vertex buffer while recording; each frame starts at 0. */
static uint32_t add_vertex(struct ctx *c, float x, float y, float z, const float color[3])
{
    if (c->cursor >= MAX_VERTICES)
        pv_fatal(c->g, "vertex buffer full");
    c->vertices[c->cursor] = (struct vertex){ { ndc(x), ndc(y), z }, { color[0], color[1], color[2] } };
    return c->cursor++;
}

/* An axis-aligned rectangle in pixels as two triangles (6 vertices); returns the first. */
static uint32_t add_rect(struct ctx *c, float x0, float y0, float x1, float y1, float z, const float color[3])
{
    uint32_t first = add_vertex(c, x0, y0, z, color);
    add_vertex(c, x1, y0, z, color);
    add_vertex(c, x1, y1, z, color);
    add_vertex(c, x0, y0, z, color);
    add_vertex(c, x1, y1, z, color);
    add_vertex(c, x0, y1, z, color);
    return first;
}

static void draw_rect(struct ctx *c, VkCommandBuffer cmd, float x0, float y0, float x1, float y1, float z,
                      const float color[3])
{
    vkCmdDraw(cmd, 6, 1, add_rect(c, x0, y0, x1, y1, z, color), 0);
}

/* --- expected images --- */
static void want_fill(struct ctx *c, int x0, int y0, int x1, int y1, const uint8_t rgba[4])
{
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            memcpy(c->want + (y * SIZE + x) * 4, rgba, 4);
}

static const uint8_t *pixel(const struct ctx *c, int x, int y)
{
    return (const uint8_t *)c->rb.map + (y * SIZE + x) * 4;
}

static bool pixel_is(const struct ctx *c, int x, int y, const uint8_t rgba[4])
{
    return !memcmp(pixel(c, x, y), rgba, 4);
}

static unsigned compare_frame(struct ctx *c, const char *label)
{
    unsigned bad = 0;
    for (int y = 0; y < SIZE; y++) {
        for (int x = 0; x < SIZE; x++) {
            const uint8_t *p = pixel(c, x, y), *w = c->want + (y * SIZE + x) * 4;
            if (memcmp(p, w, 4) && bad++ < 3)
                pv_expect(c->g, false, "%s: pixel (%d,%d) is %u,%u,%u,%u, want %u,%u,%u,%u", label, x, y, p[0], p[1],
                          p[2], p[3], w[0], w[1], w[2], w[3]);
        }
    }
    pv_expect(c->g, !bad, "%s: %u pixels wrong", label, bad);
    return bad;
}

/* Depth at (x, y) as a float in [0, 1]; D24 as its 24-bit value / (2^24 - 1). */
static double depth_at(const struct ctx *c, int x, int y)
{
    uint32_t v;
    memcpy(&v, (const uint8_t *)c->rb.map + DEPTH_OFFSET + (y * SIZE + x) * 4, 4);
    if (c->ds_format == VK_FORMAT_D24_UNORM_S8_UINT)
        return (v & 0xffffff) / 16777215.0;
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static uint8_t stencil_at(const struct ctx *c, int x, int y)
{
    return ((const uint8_t *)c->rb.map)[STENCIL_OFFSET + y * SIZE + x];
}

/* The depth a format stores for d, compared with what was read back. */
static bool depth_is(const struct ctx *c, int x, int y, double want)
{
    double got = depth_at(c, x, y);
    if (c->ds_format == VK_FORMAT_D24_UNORM_S8_UINT)
        return fabs(got - want) <= 1.5 / 16777215.0;
    return got == (double)(float)want;
}

static unsigned check_depth_rect(struct ctx *c, const char *label, int x0, int y0, int x1, int y1, double want)
{
    unsigned bad = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (!depth_is(c, x, y, want) && !bad++)
                pv_expect(c->g, false, "%s: depth at (%d,%d) is %.9g, want %.9g", label, x, y, depth_at(c, x, y), want);
    pv_expect(c->g, !bad, "%s: %u depth values wrong in (%d,%d)-(%d,%d)", label, bad, x0, y0, x1, y1);
    return bad;
}

static unsigned check_stencil_rect(struct ctx *c, const char *label, int x0, int y0, int x1, int y1, uint8_t want)
{
    unsigned bad = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (stencil_at(c, x, y) != want && !bad++)
                pv_expect(c->g, false, "%s: stencil at (%d,%d) is 0x%02x, want 0x%02x", label, x, y,
                          stencil_at(c, x, y), want);
    pv_expect(c->g, !bad, "%s: %u stencil values wrong in (%d,%d)-(%d,%d)", label, bad, x0, y0, x1, y1);
    return bad;
}

static void digest_frame(struct ctx *c, const char *key, bool depth, bool stencil)
{
    char k[96];
    snprintf(k, sizeof(k), "%s.color", key);
    pv_digest_hash(c->g, k, c->rb.map, COLOR_BYTES);
    if (depth) {
        snprintf(k, sizeof(k), "%s.depth", key);
        pv_digest_hash(c->g, k, (const uint8_t *)c->rb.map + DEPTH_OFFSET, COLOR_BYTES);
    }
    if (stencil) {
        snprintf(k, sizeof(k), "%s.stencil", key);
        pv_digest_hash(c->g, k, (const uint8_t *)c->rb.map + STENCIL_OFFSET, SIZE * SIZE);
    }
}

/* --- frames --- */
static VkCommandBuffer begin_frame(struct ctx *c, const float clear_rgba[4], float clear_depth, uint32_t clear_stencil)
{
    c->cursor = 0;
    VkCommandBuffer cmd = pv_one_shot_begin(c->g);
    pv_cmd_image_barrier(cmd, &c->color, 0, 1, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, 0,
                         VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT);
    pv_cmd_image_barrier(cmd, &c->ds, 0, 1, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
                         0, VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT | VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT | VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT);
    VkClearValue color_clear = { .color = { .float32 = { clear_rgba[0], clear_rgba[1], clear_rgba[2], clear_rgba[3] } } };
    VkClearValue ds_clear = { .depthStencil = { clear_depth, clear_stencil } };
    if (c->dynamic_rendering) {
        VkRenderingAttachmentInfoKHR color = {
            .sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO_KHR,
            .imageView = c->color.view,
            .imageLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
            .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
            .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
            .clearValue = color_clear,
        };
        VkRenderingAttachmentInfoKHR ds = {
            .sType = VK_STRUCTURE_TYPE_RENDERING_ATTACHMENT_INFO_KHR,
            .imageView = c->ds.view,
            .imageLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
            .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
            .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
            .clearValue = ds_clear,
        };
        VkRenderingInfoKHR info = {
            .sType = VK_STRUCTURE_TYPE_RENDERING_INFO_KHR,
            .renderArea = { { 0, 0 }, { SIZE, SIZE } },
            .layerCount = 1,
            .colorAttachmentCount = 1,
            .pColorAttachments = &color,
            .pDepthAttachment = &ds,
            .pStencilAttachment = &ds,
        };
        c->f.begin_rendering(cmd, &info);
    } else {
        VkClearValue clears[2] = { color_clear, ds_clear };
        VkRenderPassBeginInfo info = {
            .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            .renderPass = c->pass,
            .framebuffer = c->framebuffer,
            .renderArea = { { 0, 0 }, { SIZE, SIZE } },
            .clearValueCount = 2,
            .pClearValues = clears,
        };
        vkCmdBeginRenderPass(cmd, &info, VK_SUBPASS_CONTENTS_INLINE);
    }
    return cmd;
}

/* Ends the frame, reads color, depth and stencil back into c->rb, submits and waits. */
static void end_frame(struct ctx *c, VkCommandBuffer cmd)
{
    if (c->dynamic_rendering)
        c->f.end_rendering(cmd);
    else
        vkCmdEndRenderPass(cmd);
    pv_cmd_image_barrier(cmd, &c->color, 0, 1, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
                         VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                         VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT);
    pv_cmd_image_barrier(cmd, &c->ds, 0, 1, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
                         VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
                         VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkBufferImageCopy regions[3] = {
        { .bufferOffset = 0, .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, .imageExtent = { SIZE, SIZE, 1 } },
        { .bufferOffset = DEPTH_OFFSET, .imageSubresource = { VK_IMAGE_ASPECT_DEPTH_BIT, 0, 0, 1 },
          .imageExtent = { SIZE, SIZE, 1 } },
        { .bufferOffset = STENCIL_OFFSET, .imageSubresource = { VK_IMAGE_ASPECT_STENCIL_BIT, 0, 0, 1 },
          .imageExtent = { SIZE, SIZE, 1 } },
    };
    vkCmdCopyImageToBuffer(cmd, c->color.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, c->rb.buffer, 1, &regions[0]);
    vkCmdCopyImageToBuffer(cmd, c->ds.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, c->rb.buffer, 2, &regions[1]);
    pv_cmd_buffer_barrier(cmd, c->rb.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_buffer_flush(c->g, &c->vb);
    pv_one_shot_end(c->g, cmd);
    pv_buffer_invalidate(c->g, &c->rb);
}

static const float black[4] = { 0, 0, 0, 1 };

/* Binds the main pipeline with every dynamic state at a neutral value and the vertex buffer
 * (stride 24) through vkCmdBindVertexBuffers2EXT. */
static void bind_main(struct ctx *c, VkCommandBuffer cmd)
{
    const struct fns *f = &c->f;
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, c->main);
    VkViewport viewport = { 0, 0, SIZE, SIZE, 0, 1 };
    VkRect2D scissor = { { 0, 0 }, { SIZE, SIZE } };
    f->viewport(cmd, 1, &viewport);
    f->scissor(cmd, 1, &scissor);
    f->cull_mode(cmd, VK_CULL_MODE_NONE);
    f->front_face(cmd, VK_FRONT_FACE_COUNTER_CLOCKWISE);
    f->topology(cmd, VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST);
    f->depth_test(cmd, VK_FALSE);
    f->depth_write(cmd, VK_FALSE);
    f->depth_compare(cmd, VK_COMPARE_OP_LESS);
    f->depth_bounds_test(cmd, VK_FALSE);
    f->stencil_test(cmd, VK_FALSE);
    f->stencil_op(cmd, VK_STENCIL_FACE_FRONT_AND_BACK, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP,
                  VK_COMPARE_OP_ALWAYS);
    vkCmdSetDepthBias(cmd, 0.0f, 0.0f, 0.0f);
    vkCmdSetStencilCompareMask(cmd, VK_STENCIL_FACE_FRONT_AND_BACK, 0xff);
    vkCmdSetStencilWriteMask(cmd, VK_STENCIL_FACE_FRONT_AND_BACK, 0xff);
    vkCmdSetStencilReference(cmd, VK_STENCIL_FACE_FRONT_AND_BACK, 0);
    vkCmdSetDepthBounds(cmd, 0.0f, 1.0f);
    if (c->eds2) {
        f->rasterizer_discard(cmd, VK_FALSE);
        f->depth_bias(cmd, VK_FALSE);
        f->primitive_restart(cmd, VK_FALSE);
    }
    VkDeviceSize offset = 0, stride = sizeof(struct vertex);
    f->bind_vertex_buffers(cmd, 0, 1, &c->vb.buffer, &offset, NULL, &stride);
}

/* Binds one of the 1.0-style pipelines (viewport and scissor dynamic) and the vertex buffer. */
static void bind_plain(struct ctx *c, VkCommandBuffer cmd, VkPipeline pipeline)
{
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkViewport viewport = { 0, 0, SIZE, SIZE, 0, 1 };
    VkRect2D scissor = { { 0, 0 }, { SIZE, SIZE } };
    vkCmdSetViewport(cmd, 0, 1, &viewport);
    vkCmdSetScissor(cmd, 0, 1, &scissor);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &c->vb.buffer, &offset);
}

/* --- cases --- */

/* A counter-clockwise triangle on the left (front-facing with FRONT_FACE_COUNTER_CLOCKWISE:
 * positive area by the spec's formula in framebuffer coordinates) and a clockwise one on the
 * right, under five cull mode / front face pairs. */
static void case_cull(struct ctx *c)
{
    static const struct {
        VkCullModeFlags cull;
        VkFrontFace front;
        bool left, right;
    } steps[5] = {
        { VK_CULL_MODE_NONE, VK_FRONT_FACE_COUNTER_CLOCKWISE, true, true },
        { VK_CULL_MODE_BACK_BIT, VK_FRONT_FACE_COUNTER_CLOCKWISE, true, false },
        { VK_CULL_MODE_BACK_BIT, VK_FRONT_FACE_CLOCKWISE, false, true },
        { VK_CULL_MODE_FRONT_BIT, VK_FRONT_FACE_CLOCKWISE, true, false },
        { VK_CULL_MODE_FRONT_AND_BACK, VK_FRONT_FACE_COUNTER_CLOCKWISE, false, false },
    };
    char seen[32] = "";
    uint64_t hash = PV_FNV_OFFSET;
    for (int s = 0; s < 5; s++) {
        VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
        bind_main(c, cmd);
        c->f.cull_mode(cmd, steps[s].cull);
        c->f.front_face(cmd, steps[s].front);
        uint32_t first = add_vertex(c, 4, 4, 0.5f, RED);
        add_vertex(c, 4, 28, 0.5f, RED);
        add_vertex(c, 28, 4, 0.5f, RED);
        add_vertex(c, 36, 4, 0.5f, GREEN);
        add_vertex(c, 60, 4, 0.5f, GREEN);
        add_vertex(c, 36, 28, 0.5f, GREEN);
        vkCmdDraw(cmd, 6, 1, first, 0);
        end_frame(c, cmd);
        bool left = pixel_is(c, 8, 8, RED8), right = pixel_is(c, 40, 8, GREEN8);
        bool left_bg = pixel_is(c, 8, 8, BLACK8), right_bg = pixel_is(c, 40, 8, BLACK8);
        pv_expect(c->g, (left ? !left_bg : left_bg) && (right ? !right_bg : right_bg) && left == steps[s].left &&
                            right == steps[s].right && pixel_is(c, 60, 60, BLACK8),
                  "cull mode 0x%x, front face %s: counter-clockwise triangle %s, clockwise %s; want %s and %s",
                  steps[s].cull, steps[s].front == VK_FRONT_FACE_CLOCKWISE ? "CW" : "CCW",
                  left ? "drawn" : left_bg ? "culled" : "wrong color", right ? "drawn" : right_bg ? "culled" : "wrong color",
                  steps[s].left ? "drawn" : "culled", steps[s].right ? "drawn" : "culled");
        strcat(seen, left ? "1" : "0");
        strcat(seen, right ? "1" : "0");
        strcat(seen, s < 4 ? "," : "");
        hash = pv_fnv1a64(hash, c->rb.map, COLOR_BYTES);
    }
    pv_digest_text(c->g, "cull_front_face", "%s fnv64:%016llx", seen, (unsigned long long)hash);
}

/* The same four vertices as a list (one triangle), a strip (the square) and a fan. */
static void case_topology(struct ctx *c)
{
    static const struct {
        VkPrimitiveTopology topology;
        uint32_t count;
        const char *name;
        bool at_52_20, at_20_52;
    } steps[3] = {
        { VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, 3, "list", false, false },
        { VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP, 4, "strip", true, true },
        { VK_PRIMITIVE_TOPOLOGY_TRIANGLE_FAN, 4, "fan", false, true },
    };
    uint64_t hash = PV_FNV_OFFSET;
    for (int s = 0; s < 3; s++) {
        VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
        bind_main(c, cmd);
        c->f.topology(cmd, steps[s].topology);
        uint32_t first = add_vertex(c, 8, 8, 0.5f, WHITE);
        add_vertex(c, 56, 8, 0.5f, WHITE);
        add_vertex(c, 8, 56, 0.5f, WHITE);
        add_vertex(c, 56, 56, 0.5f, WHITE);
        vkCmdDraw(cmd, steps[s].count, 1, first, 0);
        end_frame(c, cmd);
        static const uint8_t white8[4] = { 255, 255, 255, 255 };
        bool a = pixel_is(c, 52, 20, white8), b = pixel_is(c, 20, 52, white8);
        pv_expect(c->g, pixel_is(c, 16, 16, white8) && a == steps[s].at_52_20 && b == steps[s].at_20_52 &&
                            (a || pixel_is(c, 52, 20, BLACK8)) && (b || pixel_is(c, 20, 52, BLACK8)) &&
                            pixel_is(c, 60, 60, BLACK8),
                  "topology %s: (16,16) %s, (52,20) %s, (20,52) %s; want covered, %s, %s", steps[s].name,
                  pixel_is(c, 16, 16, white8) ? "covered" : "empty", a ? "covered" : "empty", b ? "covered" : "empty",
                  steps[s].at_52_20 ? "covered" : "empty", steps[s].at_20_52 ? "covered" : "empty");
        hash = pv_fnv1a64(hash, c->rb.map, COLOR_BYTES);
    }
    pv_digest_text(c->g, "topology", "fnv64:%016llx", (unsigned long long)hash);
}

/* Two full-screen quads: red through viewport (0,0,32,64) and scissor (0,0,64,32), green through
 * viewport (32,32,32,32) and a full scissor. */
static void case_viewport_scissor(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    VkViewport vp1 = { 0, 0, 32, 64, 0, 1 }, vp2 = { 32, 32, 32, 32, 0, 1 };
    VkRect2D sc1 = { { 0, 0 }, { 64, 32 } }, sc2 = { { 0, 0 }, { SIZE, SIZE } };
    c->f.viewport(cmd, 1, &vp1);
    c->f.scissor(cmd, 1, &sc1);
    draw_rect(c, cmd, 0, 0, SIZE, SIZE, 0.5f, RED);
    c->f.viewport(cmd, 1, &vp2);
    c->f.scissor(cmd, 1, &sc2);
    draw_rect(c, cmd, 0, 0, SIZE, SIZE, 0.5f, GREEN);
    end_frame(c, cmd);
    want_fill(c, 0, 0, SIZE, SIZE, BLACK8);
    want_fill(c, 0, 0, 32, 32, RED8);
    want_fill(c, 32, 32, 64, 64, GREEN8);
    compare_frame(c, "viewport and scissor with count");
    digest_frame(c, "viewport_scissor", false, false);
}

/* Depth cleared to 0.5. Top left: z 0.7 fails LESS, then passes GREATER (writes 0.7). Top right:
 * z 0.3 passes LESS without writing, then z 0.4 passes LESS (0.4 < 0.5) and writes. Bottom: z 0.9
 * with the depth test off: drawn, depth unchanged. */
static void case_depth(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 0.5f, 0);
    bind_main(c, cmd);
    c->f.depth_test(cmd, VK_TRUE);
    c->f.depth_write(cmd, VK_TRUE);
    c->f.depth_compare(cmd, VK_COMPARE_OP_LESS);
    draw_rect(c, cmd, 0, 0, 32, 48, 0.7f, GREEN);
    c->f.depth_compare(cmd, VK_COMPARE_OP_GREATER);
    draw_rect(c, cmd, 0, 0, 32, 48, 0.7f, RED);
    c->f.depth_compare(cmd, VK_COMPARE_OP_LESS);
    c->f.depth_write(cmd, VK_FALSE);
    draw_rect(c, cmd, 32, 0, 64, 48, 0.3f, GREEN);
    c->f.depth_write(cmd, VK_TRUE);
    draw_rect(c, cmd, 32, 0, 64, 48, 0.4f, BLUE);
    c->f.depth_test(cmd, VK_FALSE);
    draw_rect(c, cmd, 0, 48, 64, 64, 0.9f, YELLOW);
    end_frame(c, cmd);
    want_fill(c, 0, 0, 32, 48, RED8);
    want_fill(c, 32, 0, 64, 48, BLUE8);
    want_fill(c, 0, 48, 64, 64, YELLOW8);
    compare_frame(c, "depth test, write and compare op");
    check_depth_rect(c, "depth: GREATER wrote 0.7", 0, 0, 32, 48, 0.7);
    check_depth_rect(c, "depth: write off, then 0.4 written", 32, 0, 64, 48, 0.4);
    check_depth_rect(c, "depth: test off leaves the clear value", 0, 48, 64, 64, 0.5);
    digest_frame(c, "depth", true, false);
}

/* Stencil cleared to 0. Left half: ALWAYS/REPLACE with reference 0xa5 through write mask 0x0f
 * (stores 0x05). Top: EQUAL 0x05, no writes: green on the left only. Bottom: EQUAL with reference
 * 0x15 through compare mask 0x0f (passes where 0x05), pass op INCREMENT_AND_CLAMP, fail op REPLACE:
 * blue and 0x06 on the left, 0x15 on the right. */
static void case_stencil(struct ctx *c)
{
    const VkStencilFaceFlags both = VK_STENCIL_FACE_FRONT_AND_BACK;
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    c->f.stencil_test(cmd, VK_TRUE);
    c->f.stencil_op(cmd, both, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_REPLACE, VK_STENCIL_OP_KEEP, VK_COMPARE_OP_ALWAYS);
    vkCmdSetStencilReference(cmd, both, 0xa5);
    vkCmdSetStencilWriteMask(cmd, both, 0x0f);
    draw_rect(c, cmd, 0, 0, 32, 64, 0.5f, RED);
    c->f.stencil_op(cmd, both, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_COMPARE_OP_EQUAL);
    vkCmdSetStencilReference(cmd, both, 0x05);
    vkCmdSetStencilWriteMask(cmd, both, 0x00);
    draw_rect(c, cmd, 0, 0, 64, 32, 0.5f, GREEN);
    c->f.stencil_op(cmd, both, VK_STENCIL_OP_REPLACE, VK_STENCIL_OP_INCREMENT_AND_CLAMP, VK_STENCIL_OP_KEEP,
                    VK_COMPARE_OP_EQUAL);
    vkCmdSetStencilReference(cmd, both, 0x15);
    vkCmdSetStencilCompareMask(cmd, both, 0x0f);
    vkCmdSetStencilWriteMask(cmd, both, 0xff);
    draw_rect(c, cmd, 0, 32, 64, 64, 0.5f, BLUE);
    end_frame(c, cmd);
    want_fill(c, 0, 0, SIZE, SIZE, BLACK8);
    want_fill(c, 0, 0, 32, 32, GREEN8);
    want_fill(c, 0, 32, 32, 64, BLUE8);
    compare_frame(c, "stencil test, ops, masks and reference");
    check_stencil_rect(c, "stencil: 0xa5 through write mask 0x0f", 0, 0, 32, 32, 0x05);
    check_stencil_rect(c, "stencil: untouched", 32, 0, 64, 32, 0x00);
    check_stencil_rect(c, "stencil: passed through compare mask 0x0f, incremented", 0, 32, 32, 64, 0x06);
    check_stencil_rect(c, "stencil: failed, fail op REPLACE with 0x15", 32, 32, 64, 64, 0x15);
    digest_frame(c, "stencil", false, true);
}

/* Depth cleared to 1: left half at 0.3, right half at 0.8. Then, depth test off, a green
 * full-screen quad with the depth bounds test on for [0.2, 0.5]: only the left half passes. Without
 * the depthBounds feature the test stays off (the bounds are still set) and both halves turn green. */
static void case_depth_bounds(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    c->f.depth_test(cmd, VK_TRUE);
    c->f.depth_write(cmd, VK_TRUE);
    draw_rect(c, cmd, 0, 0, 32, 64, 0.3f, RED);
    draw_rect(c, cmd, 32, 0, 64, 64, 0.8f, RED);
    c->f.depth_test(cmd, VK_FALSE);
    vkCmdSetDepthBounds(cmd, 0.2f, 0.5f);
    c->f.depth_bounds_test(cmd, c->depth_bounds ? VK_TRUE : VK_FALSE);
    draw_rect(c, cmd, 0, 0, 64, 64, 0.5f, GREEN);
    end_frame(c, cmd);
    want_fill(c, 0, 0, 32, 64, GREEN8);
    want_fill(c, 32, 0, 64, 64, c->depth_bounds ? RED8 : GREEN8);
    compare_frame(c, c->depth_bounds ? "depth bounds [0.2, 0.5]" : "depth bounds set but the test disabled");
    check_depth_rect(c, "depth bounds frame", 0, 0, 32, 64, 0.3);
    check_depth_rect(c, "depth bounds frame", 32, 0, 64, 64, 0.8);
    if (c->depth_bounds)
        digest_frame(c, "depth_bounds", true, false);
    else
        pv_digest_text(c->g, "depth_bounds", "unsupported");
}

/* vkCmdBindVertexBuffers2EXT with stride 48 over 24-byte vertices: vertices 0, 2, 4 of six (the
 * odd ones are blue decoys far away) make the red triangle (8,8) (40,8) (8,40). */
static void case_vertex_stride(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    uint32_t first = add_vertex(c, 8, 8, 0.5f, RED);
    add_vertex(c, 60, 60, 0.5f, BLUE);
    add_vertex(c, 40, 8, 0.5f, RED);
    add_vertex(c, 62, 30, 0.5f, BLUE);
    add_vertex(c, 8, 40, 0.5f, RED);
    add_vertex(c, 30, 62, 0.5f, BLUE);
    VkDeviceSize offset = first * sizeof(struct vertex), size = 6 * sizeof(struct vertex), stride = 2 * sizeof(struct vertex);
    c->f.bind_vertex_buffers(cmd, 0, 1, &c->vb.buffer, &offset, &size, &stride);
    vkCmdDraw(cmd, 3, 1, 0, 0);
    end_frame(c, cmd);
    unsigned red = 0, other = 0;
    for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < SIZE; x++)
            red += pixel_is(c, x, y, RED8), other += !pixel_is(c, x, y, RED8) && !pixel_is(c, x, y, BLACK8);
    pv_expect(c->g, pixel_is(c, 12, 12, RED8) && pixel_is(c, 30, 30, BLACK8) && pixel_is(c, 50, 50, BLACK8) &&
                        !other && red > 512 - 40 && red < 512 + 40,
              "vertex stride 48: (12,12) %s, %u red pixels (want about 512), %u of another color", 
              pixel_is(c, 12, 12, RED8) ? "red" : "not red", red, other);
    pv_digest_u64(c->g, "vertex_stride.red_pixels", red);
    digest_frame(c, "vertex_stride", false, false);
}

/* A strip 0 1 2 3 0xffff 4 5 6 7 over two squares; vertex 0xffff exists, at (32, 4). With
 * restart the gap between the squares stays empty; without it the strip runs through (32, 4)
 * and covers (32, 20). */
static void case_primitive_restart(struct ctx *c)
{
    uint64_t hash = PV_FNV_OFFSET;
    for (int restart = 1; restart >= 0; restart--) {
        VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
        bind_main(c, cmd);
        c->f.topology(cmd, VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP);
        c->f.primitive_restart(cmd, restart ? VK_TRUE : VK_FALSE);
        VkDeviceSize offset = 0, stride = sizeof(struct vertex);
        c->f.bind_vertex_buffers(cmd, 0, 1, &c->restart_vb.buffer, &offset, NULL, &stride);
        vkCmdBindIndexBuffer(cmd, c->ib.buffer, 0, VK_INDEX_TYPE_UINT16);
        vkCmdDrawIndexed(cmd, 9, 1, 0, 0, 0);
        end_frame(c, cmd);
        unsigned gap = 0;
        for (int y = 0; y < SIZE; y++)
            for (int x = 29; x < 35; x++)
                gap += !pixel_is(c, x, y, BLACK8);
        bool ok = pixel_is(c, 16, 32, RED8) && pixel_is(c, 48, 32, RED8) &&
                  (restart ? gap == 0 : pixel_is(c, 32, 20, RED8));
        pv_expect(c->g, ok, "primitive restart %s: squares %s/%s, %u pixels in the gap, (32,20) %s",
                  restart ? "on" : "off", pixel_is(c, 16, 32, RED8) ? "drawn" : "missing",
                  pixel_is(c, 48, 32, RED8) ? "drawn" : "missing", gap, pixel_is(c, 32, 20, RED8) ? "covered" : "empty");
        char key[64];
        snprintf(key, sizeof(key), "primitive_restart_%s.gap_pixels", restart ? "on" : "off");
        pv_digest_u64(c->g, key, gap);
        hash = pv_fnv1a64(hash, c->rb.map, COLOR_BYTES);
    }
    pv_digest_text(c->g, "primitive_restart", "fnv64:%016llx", (unsigned long long)hash);
}

/* A red full-screen quad with rasterizer discard on (nothing), then a green left half with it off. */
static void case_rasterizer_discard(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    c->f.rasterizer_discard(cmd, VK_TRUE);
    draw_rect(c, cmd, 0, 0, SIZE, SIZE, 0.5f, RED);
    c->f.rasterizer_discard(cmd, VK_FALSE);
    draw_rect(c, cmd, 0, 0, 32, SIZE, 0.5f, GREEN);
    end_frame(c, cmd);
    want_fill(c, 0, 0, SIZE, SIZE, BLACK8);
    want_fill(c, 0, 0, 32, SIZE, GREEN8);
    compare_frame(c, "rasterizer discard");
    digest_frame(c, "rasterizer_discard", false, false);
}

/* Depth cleared to 1, a red quad at 0.5 everywhere. vkCmdSetDepthBias(-1000): with depth bias on
 * a green left half at 0.5 passes LESS (and stores a bit less than 0.5); with it off (same bias
 * values) a blue right half at 0.5 fails. */
static void case_depth_bias(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_main(c, cmd);
    c->f.depth_test(cmd, VK_TRUE);
    c->f.depth_write(cmd, VK_TRUE);
    draw_rect(c, cmd, 0, 0, SIZE, SIZE, 0.5f, RED);
    vkCmdSetDepthBias(cmd, -1000.0f, 0.0f, 0.0f);
    c->f.depth_bias(cmd, VK_TRUE);
    draw_rect(c, cmd, 0, 0, 32, SIZE, 0.5f, GREEN);
    c->f.depth_bias(cmd, VK_FALSE);
    draw_rect(c, cmd, 32, 0, SIZE, SIZE, 0.5f, BLUE);
    end_frame(c, cmd);
    want_fill(c, 0, 0, 32, SIZE, GREEN8);
    want_fill(c, 32, 0, SIZE, SIZE, RED8);
    compare_frame(c, "depth bias enable");
    check_depth_rect(c, "depth bias off", 32, 0, SIZE, SIZE, 0.5);
    double biased = depth_at(c, 0, 0);
    unsigned uneven = 0;
    for (int y = 0; y < SIZE; y++)
        for (int x = 0; x < 32; x++)
            uneven += depth_at(c, x, y) != biased;
    pv_expect(c->g, biased < 0.5 && biased > 0.49 && !uneven,
              "depth bias -1000: biased depth %.9g (want just under 0.5), %u texels differ", biased, uneven);
    digest_frame(c, "depth_bias", true, false);
}

/* Lines (1.0 vkCmdSetLineWidth): a red line of width 1 along row 16's centre, a green one of
 * width 5 (without wideLines: 1) along row 40's centre; column 32 is checked row by row. */
static void case_line_width(struct ctx *c)
{
    float wide = c->wide_lines ? 5.0f : 1.0f;
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_plain(c, cmd, c->lines);
    uint32_t first = add_vertex(c, 8, 16.5f, 0.5f, RED);
    add_vertex(c, 56, 16.5f, 0.5f, RED);
    add_vertex(c, 8, 40.5f, 0.5f, GREEN);
    add_vertex(c, 56, 40.5f, 0.5f, GREEN);
    vkCmdSetLineWidth(cmd, 1.0f);
    vkCmdDraw(cmd, 2, 1, first, 0);
    vkCmdSetLineWidth(cmd, wide);
    vkCmdDraw(cmd, 2, 1, first + 2, 0);
    end_frame(c, cmd);
    int half = (int)wide / 2;
    unsigned bad = 0;
    for (int x = 20; x <= 32; x += 12) {
        for (int y = 0; y < SIZE; y++) {
            const uint8_t *want = y == 16 ? RED8 : (y >= 40 - half && y <= 40 + half) ? GREEN8 : BLACK8;
            if (!pixel_is(c, x, y, want) && bad++ < 3)
                pv_expect(c->g, false, "line widths 1 and %g: pixel (%d,%d) is %u,%u,%u, want %u,%u,%u", wide, x, y,
                          pixel(c, x, y)[0], pixel(c, x, y)[1], pixel(c, x, y)[2], want[0], want[1], want[2]);
        }
    }
    pv_expect(c->g, !bad, "line widths: %u pixels wrong in columns 20 and 32", bad);
    if (!c->wide_lines)
        pv_digest_text(c->g, "wide_lines", "unsupported");
    digest_frame(c, "line_width", false, false);
}

/* Blending src * CONSTANT_COLOR (alpha * CONSTANT_ALPHA) + dst * 0 of white: the top half shows
 * the constants (0.2, 0.4, 0.6, 0.8), the bottom half (1, 0, 0.6, 0.2). */
static void case_blend_constants(struct ctx *c)
{
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_plain(c, cmd, c->blend);
    const float top[4] = { 0.2f, 0.4f, 0.6f, 0.8f }, bottom[4] = { 1.0f, 0.0f, 0.6f, 0.2f };
    vkCmdSetBlendConstants(cmd, top);
    draw_rect(c, cmd, 0, 0, SIZE, 32, 0.5f, WHITE);
    vkCmdSetBlendConstants(cmd, bottom);
    draw_rect(c, cmd, 0, 32, SIZE, SIZE, 0.5f, WHITE);
    end_frame(c, cmd);
    const uint8_t top8[4] = { 51, 102, 153, 204 }, bottom8[4] = { 255, 0, 153, 51 };
    want_fill(c, 0, 0, SIZE, 32, top8);
    want_fill(c, 0, 32, SIZE, SIZE, bottom8);
    compare_frame(c, "blend constants");
    digest_frame(c, "blend_constants", false, false);
}

/* Logic ops on a cleared (0x0f, 0x3c, 0x5a, 0x80) with source (0xf0, 0xcc, 0xaa, 0xff): XOR,
 * AND and COPY_INVERTED, one frame each (lavapipe 22.3 keeps the first logic op set in a frame
 * for all of its draws, natively too), the source drawn over the top two thirds. */
static void case_logic_op(struct ctx *c)
{
    if (!c->logic) {
        pv_digest_text(c->g, "logic_op", "unsupported");
        return;
    }
    const float clear[4] = { 0x0f / 255.0f, 0x3c / 255.0f, 0x5a / 255.0f, 0x80 / 255.0f };
    const float src[3] = { 0xf0 / 255.0f, 0xcc / 255.0f, 0xaa / 255.0f };
    const uint8_t clear8[4] = { 0x0f, 0x3c, 0x5a, 0x80 };
    static const struct {
        VkLogicOp op;
        const char *name;
        uint8_t result[4];
    } steps[3] = {
        { VK_LOGIC_OP_XOR, "XOR", { 0xff, 0xf0, 0xf0, 0x7f } },
        { VK_LOGIC_OP_AND, "AND", { 0x00, 0x0c, 0x0a, 0x80 } },
        { VK_LOGIC_OP_COPY_INVERTED, "COPY_INVERTED", { 0x0f, 0x33, 0x55, 0x00 } },
    };
    uint64_t hash = PV_FNV_OFFSET;
    for (int s = 0; s < 3; s++) {
        VkCommandBuffer cmd = begin_frame(c, clear, 1.0f, 0);
        bind_plain(c, cmd, c->logic);
        c->f.logic_op(cmd, steps[s].op);
        draw_rect(c, cmd, 0, 0, SIZE, 42, 0.5f, src);
        end_frame(c, cmd);
        want_fill(c, 0, 0, SIZE, 42, steps[s].result);
        want_fill(c, 0, 42, SIZE, SIZE, clear8);
        char label[64];
        snprintf(label, sizeof(label), "logic op %s", steps[s].name);
        compare_frame(c, label);
        hash = pv_fnv1a64(hash, c->rb.map, COLOR_BYTES);
    }
    pv_digest_text(c->g, "logic_op", "fnv64:%016llx", (unsigned long long)hash);
}

/* Bresenham stippled lines across the whole width: pattern 0x00ff with factor 1 along row 16 and
 * 0x3333 with factor 2 along row 40. Fragment x is the x-th of its line, so it is lit when bit
 * (x / factor) % 16 of the pattern is set. */
static void case_line_stipple(struct ctx *c)
{
    if (!c->stippled) {
        pv_digest_text(c->g, "line_stipple", "unsupported");
        return;
    }
    VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
    bind_plain(c, cmd, c->stippled);
    uint32_t first = add_vertex(c, 0, 16.5f, 0.5f, RED);
    add_vertex(c, SIZE, 16.5f, 0.5f, RED);
    add_vertex(c, 0, 40.5f, 0.5f, GREEN);
    add_vertex(c, SIZE, 40.5f, 0.5f, GREEN);
    c->f.line_stipple(cmd, 1, 0x00ff);
    vkCmdDraw(cmd, 2, 1, first, 0);
    c->f.line_stipple(cmd, 2, 0x3333);
    vkCmdDraw(cmd, 2, 1, first + 2, 0);
    end_frame(c, cmd);
    want_fill(c, 0, 0, SIZE, SIZE, BLACK8);
    for (int x = 0; x < SIZE; x++) {
        if ((0x00ff >> (x % 16)) & 1)
            want_fill(c, x, 16, x + 1, 17, RED8);
        if ((0x3333 >> ((x / 2) % 16)) & 1)
            want_fill(c, x, 40, x + 1, 41, GREEN8);
    }
    compare_frame(c, "line stipple");
    digest_frame(c, "line_stipple", false, false);
}

/* Six vertices, two triangles, through a tessellation that draws each patch's first three
 * control points: with 3 control points per patch both triangles appear, with 6 only the first. */
static void case_patch_control_points(struct ctx *c)
{
    if (!c->tess) {
        pv_digest_text(c->g, "patch_control_points", "unsupported");
        return;
    }
    uint64_t hash = PV_FNV_OFFSET;
    for (uint32_t points = 3; points <= 6; points += 3) {
        VkCommandBuffer cmd = begin_frame(c, black, 1.0f, 0);
        bind_plain(c, cmd, c->tess);
        c->f.patch_control_points(cmd, points);
        uint32_t first = add_vertex(c, 4, 4, 0.5f, RED);
        add_vertex(c, 4, 28, 0.5f, RED);
        add_vertex(c, 28, 4, 0.5f, RED);
        add_vertex(c, 36, 36, 0.5f, GREEN);
        add_vertex(c, 36, 60, 0.5f, GREEN);
        add_vertex(c, 60, 36, 0.5f, GREEN);
        vkCmdDraw(cmd, 6, 1, first, 0);
        end_frame(c, cmd);
        bool second = pixel_is(c, 40, 40, GREEN8);
        pv_expect(c->g, pixel_is(c, 8, 8, RED8) && second == (points == 3) && (second || pixel_is(c, 40, 40, BLACK8)),
                  "%u control points per patch: first triangle %s, second %s; want drawn, %s", points,
                  pixel_is(c, 8, 8, RED8) ? "drawn" : "missing", second ? "drawn" : "missing",
                  points == 3 ? "drawn" : "missing");
        hash = pv_fnv1a64(hash, c->rb.map, COLOR_BYTES);
    }
    pv_digest_text(c->g, "patch_control_points", "fnv64:%016llx", (unsigned long long)hash);
}

/* --- set-up --- */
struct pipeline_desc {
    const char *tcs, *tes;
    VkPrimitiveTopology topology;
    const VkDynamicState *dynamic;
    uint32_t dynamic_count;
    bool with_count; /* viewport and scissor WITH_COUNT (count 0 in the create info) */
    const VkPipelineColorBlendAttachmentState *blend;
    bool logic_op;
    const void *raster_next;
};

static VkPipeline create_pipeline(struct ctx *c, const struct pipeline_desc *d)
{
    struct pv_guest *g = c->g;
    VkShaderModule modules[4] = { pv_shader_load(g, "triangle.vert.spv"), pv_shader_load(g, "triangle.frag.spv"),
                                  d->tcs ? pv_shader_load(g, d->tcs) : VK_NULL_HANDLE,
                                  d->tes ? pv_shader_load(g, d->tes) : VK_NULL_HANDLE };
    VkPipelineShaderStageCreateInfo stages[4] = {
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_VERTEX_BIT,
          .module = modules[0], .pName = "main" },
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_FRAGMENT_BIT,
          .module = modules[1], .pName = "main" },
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
          .stage = VK_SHADER_STAGE_TESSELLATION_CONTROL_BIT, .module = modules[2], .pName = "main" },
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
          .stage = VK_SHADER_STAGE_TESSELLATION_EVALUATION_BIT, .module = modules[3], .pName = "main" },
    };
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    VkPipelineVertexInputStateCreateInfo vertex_input = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO,
        .vertexBindingDescriptionCount = 1,
        .pVertexBindingDescriptions = &binding,
        .vertexAttributeDescriptionCount = 2,
        .pVertexAttributeDescriptions = attributes,
    };
    VkPipelineInputAssemblyStateCreateInfo input_assembly = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
        .topology = d->topology,
    };
    VkPipelineTessellationStateCreateInfo tessellation = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_TESSELLATION_STATE_CREATE_INFO,
        .patchControlPoints = 3,
    };
    VkPipelineViewportStateCreateInfo viewport = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
        .viewportCount = d->with_count ? 0 : 1,
        .scissorCount = d->with_count ? 0 : 1,
    };
    VkPipelineRasterizationStateCreateInfo raster = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
        .pNext = d->raster_next,
        .polygonMode = VK_POLYGON_MODE_FILL,
        .cullMode = VK_CULL_MODE_NONE,
        .frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE,
        .lineWidth = 1.0f,
    };
    VkPipelineMultisampleStateCreateInfo multisample = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
        .rasterizationSamples = VK_SAMPLE_COUNT_1_BIT,
    };
    VkPipelineDepthStencilStateCreateInfo depth = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO,
        .depthCompareOp = VK_COMPARE_OP_ALWAYS,
        .front = { VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_COMPARE_OP_ALWAYS, 0xff, 0xff, 0 },
        .back = { VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_STENCIL_OP_KEEP, VK_COMPARE_OP_ALWAYS, 0xff, 0xff, 0 },
        .maxDepthBounds = 1.0f,
    };
    VkPipelineColorBlendAttachmentState plain = {
        .colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT |
                          VK_COLOR_COMPONENT_A_BIT,
    };
    VkPipelineColorBlendStateCreateInfo blend = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
        .logicOpEnable = d->logic_op,
        .logicOp = VK_LOGIC_OP_COPY,
        .attachmentCount = 1,
        .pAttachments = d->blend ? d->blend : &plain,
    };
    VkPipelineDynamicStateCreateInfo dynamic = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
        .dynamicStateCount = d->dynamic_count,
        .pDynamicStates = d->dynamic,
    };
    VkFormat color_format = c->color.format;
    VkPipelineRenderingCreateInfoKHR rendering = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RENDERING_CREATE_INFO_KHR,
        .colorAttachmentCount = 1,
        .pColorAttachmentFormats = &color_format,
        .depthAttachmentFormat = c->ds_format,
        .stencilAttachmentFormat = c->ds_format,
    };
    VkGraphicsPipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO,
        .pNext = c->dynamic_rendering ? &rendering : NULL,
        .stageCount = d->tcs ? 4 : 2,
        .pStages = stages,
        .pVertexInputState = &vertex_input,
        .pInputAssemblyState = &input_assembly,
        .pTessellationState = d->tcs ? &tessellation : NULL,
        .pViewportState = &viewport,
        .pRasterizationState = &raster,
        .pMultisampleState = &multisample,
        .pDepthStencilState = &depth,
        .pColorBlendState = &blend,
        .pDynamicState = &dynamic,
        .layout = c->layout,
        .renderPass = c->dynamic_rendering ? VK_NULL_HANDLE : c->pass,
    };
    VkPipeline pipeline;
    PV_CHECK(g, vkCreateGraphicsPipelines(g->device, VK_NULL_HANDLE, 1, &info, NULL, &pipeline));
    for (int i = 0; i < 4; i++)
        if (modules[i])
            vkDestroyShaderModule(g->device, modules[i], NULL);
    return pipeline;
}

static PFN_vkVoidFunction device_proc(struct pv_guest *g, const char *name)
{
    PFN_vkVoidFunction f = vkGetDeviceProcAddr(g->device, name);
    if (!f)
        pv_fatal(g, "%s missing although its extension is enabled", name);
    return f;
}

static void create_pipelines(struct ctx *c)
{
    static const VkDynamicState main_states[] = {
        VK_DYNAMIC_STATE_VIEWPORT_WITH_COUNT_EXT, VK_DYNAMIC_STATE_SCISSOR_WITH_COUNT_EXT,
        VK_DYNAMIC_STATE_CULL_MODE_EXT, VK_DYNAMIC_STATE_FRONT_FACE_EXT, VK_DYNAMIC_STATE_PRIMITIVE_TOPOLOGY_EXT,
        VK_DYNAMIC_STATE_VERTEX_INPUT_BINDING_STRIDE_EXT, VK_DYNAMIC_STATE_DEPTH_TEST_ENABLE_EXT,
        VK_DYNAMIC_STATE_DEPTH_WRITE_ENABLE_EXT, VK_DYNAMIC_STATE_DEPTH_COMPARE_OP_EXT,
        VK_DYNAMIC_STATE_DEPTH_BOUNDS_TEST_ENABLE_EXT, VK_DYNAMIC_STATE_STENCIL_TEST_ENABLE_EXT,
        VK_DYNAMIC_STATE_STENCIL_OP_EXT, VK_DYNAMIC_STATE_DEPTH_BIAS, VK_DYNAMIC_STATE_STENCIL_COMPARE_MASK,
        VK_DYNAMIC_STATE_STENCIL_WRITE_MASK, VK_DYNAMIC_STATE_STENCIL_REFERENCE, VK_DYNAMIC_STATE_DEPTH_BOUNDS,
        /* extended_dynamic_state2, only with it */
        VK_DYNAMIC_STATE_RASTERIZER_DISCARD_ENABLE_EXT, VK_DYNAMIC_STATE_DEPTH_BIAS_ENABLE_EXT,
        VK_DYNAMIC_STATE_PRIMITIVE_RESTART_ENABLE_EXT,
    };
    if (c->eds1) {
        struct pipeline_desc d = { .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .dynamic = main_states,
                                   .dynamic_count = PV_ARRAY_SIZE(main_states) - (c->eds2 ? 0 : 3),
                                   .with_count = true };
        c->main = create_pipeline(c, &d);
    }
    static const VkDynamicState blend_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR,
                                                   VK_DYNAMIC_STATE_BLEND_CONSTANTS };
    VkPipelineColorBlendAttachmentState constant = {
        .blendEnable = VK_TRUE,
        .srcColorBlendFactor = VK_BLEND_FACTOR_CONSTANT_COLOR,
        .dstColorBlendFactor = VK_BLEND_FACTOR_ZERO,
        .colorBlendOp = VK_BLEND_OP_ADD,
        .srcAlphaBlendFactor = VK_BLEND_FACTOR_CONSTANT_ALPHA,
        .dstAlphaBlendFactor = VK_BLEND_FACTOR_ZERO,
        .alphaBlendOp = VK_BLEND_OP_ADD,
        .colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT |
                          VK_COLOR_COMPONENT_A_BIT,
    };
    c->blend = create_pipeline(c, &(struct pipeline_desc){ .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
                                                           .dynamic = blend_states, .dynamic_count = 3,
                                                           .blend = &constant });
    static const VkDynamicState line_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR,
                                                  VK_DYNAMIC_STATE_LINE_WIDTH };
    c->lines = create_pipeline(c, &(struct pipeline_desc){ .topology = VK_PRIMITIVE_TOPOLOGY_LINE_LIST,
                                                           .dynamic = line_states, .dynamic_count = 3 });
    if (c->stipple) {
        static const VkDynamicState stipple_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR,
                                                         VK_DYNAMIC_STATE_LINE_STIPPLE_EXT };
        VkPipelineRasterizationLineStateCreateInfoEXT line = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_LINE_STATE_CREATE_INFO_EXT,
            .lineRasterizationMode = VK_LINE_RASTERIZATION_MODE_BRESENHAM_EXT,
            .stippledLineEnable = VK_TRUE,
            .lineStippleFactor = 1,
            .lineStipplePattern = 0xffff,
        };
        c->stippled = create_pipeline(c, &(struct pipeline_desc){ .topology = VK_PRIMITIVE_TOPOLOGY_LINE_LIST,
                                                                  .dynamic = stipple_states, .dynamic_count = 3,
                                                                  .raster_next = &line });
    }
    if (c->eds2_logic_op) {
        static const VkDynamicState logic_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR,
                                                       VK_DYNAMIC_STATE_LOGIC_OP_EXT };
        c->logic = create_pipeline(c, &(struct pipeline_desc){ .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
                                                               .dynamic = logic_states, .dynamic_count = 3,
                                                               .logic_op = true });
    }
    if (c->eds2_patch) {
        static const VkDynamicState patch_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR,
                                                       VK_DYNAMIC_STATE_PATCH_CONTROL_POINTS_EXT };
        c->tess = create_pipeline(c, &(struct pipeline_desc){ .tcs = "passthrough.tesc.spv",
                                                              .tes = "passthrough.tese.spv",
                                                              .topology = VK_PRIMITIVE_TOPOLOGY_PATCH_LIST,
                                                              .dynamic = patch_states, .dynamic_count = 3 });
    }
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "dynamic" };
    pv_guest_init_instance(&g, &options, argc, argv);
    struct ctx *c = calloc(1, sizeof(*c));
    if (!c)
        pv_fatal(&g, "out of memory");
    c->g = &g;

    /* What the device has: extensions, then their features. */
    bool has_dr = pv_has_device_extension(&g, VK_KHR_DYNAMIC_RENDERING_EXTENSION_NAME) &&
                  pv_has_device_extension(&g, VK_KHR_DEPTH_STENCIL_RESOLVE_EXTENSION_NAME) &&
                  pv_has_device_extension(&g, VK_KHR_CREATE_RENDERPASS_2_EXTENSION_NAME);
    bool has_eds1 = pv_has_device_extension(&g, VK_EXT_EXTENDED_DYNAMIC_STATE_EXTENSION_NAME);
    bool has_eds2 = pv_has_device_extension(&g, VK_EXT_EXTENDED_DYNAMIC_STATE_2_EXTENSION_NAME);
    bool has_lines = pv_has_device_extension(&g, VK_EXT_LINE_RASTERIZATION_EXTENSION_NAME);
    VkPhysicalDeviceDynamicRenderingFeaturesKHR dr = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DYNAMIC_RENDERING_FEATURES_KHR };
    VkPhysicalDeviceExtendedDynamicStateFeaturesEXT eds1 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTENDED_DYNAMIC_STATE_FEATURES_EXT };
    VkPhysicalDeviceExtendedDynamicState2FeaturesEXT eds2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTENDED_DYNAMIC_STATE_2_FEATURES_EXT };
    VkPhysicalDeviceLineRasterizationFeaturesEXT lines = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_LINE_RASTERIZATION_FEATURES_EXT };
    VkPhysicalDeviceFeatures2 features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    void **next = &features.pNext;
#define CHAIN(has, s) do { if (has) { *next = &(s); next = &(s).pNext; } } while (0)
    CHAIN(has_dr, dr);
    CHAIN(has_eds1, eds1);
    CHAIN(has_eds2, eds2);
    CHAIN(has_lines, lines);
    vkGetPhysicalDeviceFeatures2(g.physical_device, &features);
    c->dynamic_rendering = has_dr && dr.dynamicRendering;
    c->eds1 = has_eds1 && eds1.extendedDynamicState;
    c->eds2 = c->eds1 && has_eds2 && eds2.extendedDynamicState2;
    c->eds2_logic_op = c->eds2 && eds2.extendedDynamicState2LogicOp && features.features.logicOp;
    c->eds2_patch = c->eds2 && eds2.extendedDynamicState2PatchControlPoints && features.features.tessellationShader;
    c->wide_lines = features.features.wideLines;
    c->depth_bounds = features.features.depthBounds;
    c->stipple = has_lines && lines.bresenhamLines && lines.stippledBresenhamLines;

    /* Enable exactly those. */
    VkPhysicalDeviceFeatures2 enable = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2 };
    enable.features.wideLines = c->wide_lines;
    enable.features.depthBounds = c->depth_bounds;
    enable.features.logicOp = c->eds2_logic_op;
    enable.features.tessellationShader = c->eds2_patch;
    VkPhysicalDeviceDynamicRenderingFeaturesKHR dr_on = { .sType = dr.sType, .dynamicRendering = VK_TRUE };
    VkPhysicalDeviceExtendedDynamicStateFeaturesEXT eds1_on = { .sType = eds1.sType, .extendedDynamicState = VK_TRUE };
    VkPhysicalDeviceExtendedDynamicState2FeaturesEXT eds2_on = {
        .sType = eds2.sType, .extendedDynamicState2 = VK_TRUE, .extendedDynamicState2LogicOp = c->eds2_logic_op,
        .extendedDynamicState2PatchControlPoints = c->eds2_patch };
    VkPhysicalDeviceLineRasterizationFeaturesEXT lines_on = { .sType = lines.sType, .bresenhamLines = VK_TRUE,
                                                              .stippledBresenhamLines = VK_TRUE };
    const char *extensions[8];
    uint32_t extension_count = 0;
    next = &enable.pNext;
    if (c->dynamic_rendering) {
        extensions[extension_count++] = VK_KHR_CREATE_RENDERPASS_2_EXTENSION_NAME;
        extensions[extension_count++] = VK_KHR_DEPTH_STENCIL_RESOLVE_EXTENSION_NAME;
        extensions[extension_count++] = VK_KHR_DYNAMIC_RENDERING_EXTENSION_NAME;
        CHAIN(true, dr_on);
    }
    if (c->eds1) {
        extensions[extension_count++] = VK_EXT_EXTENDED_DYNAMIC_STATE_EXTENSION_NAME;
        CHAIN(true, eds1_on);
    }
    if (c->eds2) {
        extensions[extension_count++] = VK_EXT_EXTENDED_DYNAMIC_STATE_2_EXTENSION_NAME;
        CHAIN(true, eds2_on);
    }
    if (c->stipple) {
        extensions[extension_count++] = VK_EXT_LINE_RASTERIZATION_EXTENSION_NAME;
        CHAIN(true, lines_on);
    }
#undef CHAIN
    options.device_extensions = extensions;
    options.device_extension_count = extension_count;
    options.device_create_next = &enable;
    pv_guest_create_device(&g, &options);
    pv_info(&g, "dynamic rendering %d, extended_dynamic_state %d, extended_dynamic_state2 %d (logic op %d, patch "
                "control points %d), wide lines %d, depth bounds %d, stippled Bresenham lines %d",
            c->dynamic_rendering, c->eds1, c->eds2, c->eds2_logic_op, c->eds2_patch, c->wide_lines, c->depth_bounds,
            c->stipple);

    struct fns *f = &c->f;
    if (c->dynamic_rendering) {
        f->begin_rendering = (PFN_vkCmdBeginRenderingKHR)device_proc(&g, "vkCmdBeginRenderingKHR");
        f->end_rendering = (PFN_vkCmdEndRenderingKHR)device_proc(&g, "vkCmdEndRenderingKHR");
    }
    if (c->eds1) {
        f->cull_mode = (PFN_vkCmdSetCullModeEXT)device_proc(&g, "vkCmdSetCullModeEXT");
        f->front_face = (PFN_vkCmdSetFrontFaceEXT)device_proc(&g, "vkCmdSetFrontFaceEXT");
        f->topology = (PFN_vkCmdSetPrimitiveTopologyEXT)device_proc(&g, "vkCmdSetPrimitiveTopologyEXT");
        f->viewport = (PFN_vkCmdSetViewportWithCountEXT)device_proc(&g, "vkCmdSetViewportWithCountEXT");
        f->scissor = (PFN_vkCmdSetScissorWithCountEXT)device_proc(&g, "vkCmdSetScissorWithCountEXT");
        f->bind_vertex_buffers = (PFN_vkCmdBindVertexBuffers2EXT)device_proc(&g, "vkCmdBindVertexBuffers2EXT");
        f->depth_test = (PFN_vkCmdSetDepthTestEnableEXT)device_proc(&g, "vkCmdSetDepthTestEnableEXT");
        f->depth_write = (PFN_vkCmdSetDepthWriteEnableEXT)device_proc(&g, "vkCmdSetDepthWriteEnableEXT");
        f->depth_compare = (PFN_vkCmdSetDepthCompareOpEXT)device_proc(&g, "vkCmdSetDepthCompareOpEXT");
        f->depth_bounds_test = (PFN_vkCmdSetDepthBoundsTestEnableEXT)device_proc(&g, "vkCmdSetDepthBoundsTestEnableEXT");
        f->stencil_test = (PFN_vkCmdSetStencilTestEnableEXT)device_proc(&g, "vkCmdSetStencilTestEnableEXT");
        f->stencil_op = (PFN_vkCmdSetStencilOpEXT)device_proc(&g, "vkCmdSetStencilOpEXT");
    }
    if (c->eds2) {
        f->rasterizer_discard =
            (PFN_vkCmdSetRasterizerDiscardEnableEXT)device_proc(&g, "vkCmdSetRasterizerDiscardEnableEXT");
        f->depth_bias = (PFN_vkCmdSetDepthBiasEnableEXT)device_proc(&g, "vkCmdSetDepthBiasEnableEXT");
        f->primitive_restart =
            (PFN_vkCmdSetPrimitiveRestartEnableEXT)device_proc(&g, "vkCmdSetPrimitiveRestartEnableEXT");
    }
    if (c->eds2_logic_op)
        f->logic_op = (PFN_vkCmdSetLogicOpEXT)device_proc(&g, "vkCmdSetLogicOpEXT");
    if (c->eds2_patch)
        f->patch_control_points = (PFN_vkCmdSetPatchControlPointsEXT)device_proc(&g, "vkCmdSetPatchControlPointsEXT");
    if (c->stipple)
        f->line_stipple = (PFN_vkCmdSetLineStippleEXT)device_proc(&g, "vkCmdSetLineStippleEXT");

    /* Attachments: RGBA8 and a depth/stencil format that transfers can read. */
    static const VkFormat ds_candidates[] = { VK_FORMAT_D32_SFLOAT_S8_UINT, VK_FORMAT_D24_UNORM_S8_UINT };
    for (size_t i = 0; i < PV_ARRAY_SIZE(ds_candidates) && !c->ds_format; i++) {
        VkFormatProperties props;
        vkGetPhysicalDeviceFormatProperties(g.physical_device, ds_candidates[i], &props);
        VkFormatFeatureFlags want = VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT | VK_FORMAT_FEATURE_TRANSFER_SRC_BIT;
        if ((props.optimalTilingFeatures & want) == want)
            c->ds_format = ds_candidates[i];
    }
    if (!c->ds_format)
        pv_fatal(&g, "no depth/stencil attachment format (D32_SFLOAT_S8_UINT, D24_UNORM_S8_UINT) transfers can read");
    pv_image_create(&g, &c->color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    pv_image_create(&g, &c->ds, c->ds_format, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    if (!c->dynamic_rendering) {
        pv_digest_text(&g, "dynamic_rendering", "unsupported");
        VkAttachmentDescription attachments[2] = {
            { .format = c->color.format, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
              .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
              .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
              .initialLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL,
              .finalLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL },
            { .format = c->ds_format, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
              .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
              .stencilStoreOp = VK_ATTACHMENT_STORE_OP_STORE,
              .initialLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
              .finalLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL },
        };
        VkAttachmentReference color_ref = { 0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
        VkAttachmentReference ds_ref = { 1, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL };
        VkSubpassDescription subpass = { .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
                                         .colorAttachmentCount = 1, .pColorAttachments = &color_ref,
                                         .pDepthStencilAttachment = &ds_ref };
        VkRenderPassCreateInfo info = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, .attachmentCount = 2,
                                        .pAttachments = attachments, .subpassCount = 1, .pSubpasses = &subpass };
        PV_CHECK(&g, vkCreateRenderPass(g.device, &info, NULL, &c->pass));
        c->framebuffer = pv_framebuffer_create(&g, c->pass, &c->color, &c->ds);
    }
    c->layout = pv_pipeline_layout_create(&g, NULL, 0, 0, 0);
    create_pipelines(c);

    pv_buffer_create(&g, &c->vb, MAX_VERTICES * sizeof(struct vertex), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    c->vertices = c->vb.map;
    pv_buffer_create(&g, &c->rb, 2 * COLOR_BYTES + SIZE * SIZE, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    if (c->eds2) {
        /* Two squares as strips (vertices 0-3 and 4-7) and vertex 0xffff at (32, 4). */
        pv_buffer_create(&g, &c->restart_vb, RESTART_VERTICES * sizeof(struct vertex),
                         VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
        struct vertex *v = c->restart_vb.map;
        memset(v, 0, RESTART_VERTICES * sizeof(struct vertex));
        const float corners[8][2] = { { 4, 8 }, { 28, 8 }, { 4, 56 }, { 28, 56 },
                                      { 36, 8 }, { 60, 8 }, { 36, 56 }, { 60, 56 } };
        for (int i = 0; i < 8; i++)
            v[i] = (struct vertex){ { ndc(corners[i][0]), ndc(corners[i][1]), 0.5f }, { 1, 0, 0 } };
        v[0xffff] = (struct vertex){ { ndc(32), ndc(4), 0.5f }, { 1, 0, 0 } };
        pv_buffer_flush(&g, &c->restart_vb);
        static const uint16_t indices[9] = { 0, 1, 2, 3, 0xffff, 4, 5, 6, 7 };
        pv_buffer_create(&g, &c->ib, sizeof(indices), VK_BUFFER_USAGE_INDEX_BUFFER_BIT,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
        memcpy(c->ib.map, indices, sizeof(indices));
        pv_buffer_flush(&g, &c->ib);
    }

    if (c->eds1) {
        case_cull(c);
        case_topology(c);
        case_viewport_scissor(c);
        case_depth(c);
        case_stencil(c);
        case_depth_bounds(c);
        case_vertex_stride(c);
    } else {
        pv_digest_text(&g, "extended_dynamic_state", "unsupported");
    }
    if (c->eds2) {
        case_primitive_restart(c);
        case_rasterizer_discard(c);
        case_depth_bias(c);
    } else {
        pv_digest_text(&g, "extended_dynamic_state2", "unsupported");
    }
    case_line_width(c);
    case_blend_constants(c);
    case_logic_op(c);
    case_line_stipple(c);
    case_patch_control_points(c);

    VkPipeline pipelines[6] = { c->main, c->blend, c->lines, c->stippled, c->logic, c->tess };
    for (int i = 0; i < 6; i++)
        if (pipelines[i])
            vkDestroyPipeline(g.device, pipelines[i], NULL);
    vkDestroyPipelineLayout(g.device, c->layout, NULL);
    if (c->pass) {
        vkDestroyFramebuffer(g.device, c->framebuffer, NULL);
        vkDestroyRenderPass(g.device, c->pass, NULL);
    }
    if (c->eds2) {
        pv_buffer_destroy(&g, &c->ib);
        pv_buffer_destroy(&g, &c->restart_vb);
    }
    pv_buffer_destroy(&g, &c->rb);
    pv_buffer_destroy(&g, &c->vb);
    pv_image_destroy(&g, &c->ds);
    pv_image_destroy(&g, &c->color);
    free(c);
    return pv_guest_finish(&g);
}
