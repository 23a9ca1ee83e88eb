/* A depth-tested rotating cube, like vkcube but offscreen: 60 frames of 256x256 with two frames
 * in flight, each with its own uniform buffer, descriptor set, command buffer, fence and
 * readback buffer. Every frame is hashed. The faces are drawn front first and back last with
 * culling off, so only a working depth test leaves the front face's color in the middle of
 * frame 0. */
#include "pv_guest_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 256
#define FRAMES 60
#define IN_FLIGHT 2

struct vertex {
    float position[3];
    float color[3];
};

/* Face order: +z (towards the camera at frame 0) first, -z last. */
static const float face_colors[6][3] = {
    { 1, 0, 0 }, /* +z red */
    { 0, 0, 1 }, /* +x blue */
    { 1, 1, 0 }, /* -x yellow */
    { 1, 0, 1 }, /* +y magenta */
    { 0, 1, 1 }, /* -y cyan */
    { 0, 1, 0 }, /* -z green */
};

static void build_cube(struct vertex out[36])
{
    /* Per face: the normal axis and sign; corners span the other two axes. */
    static const int faces[6][2] = { { 2, 1 }, { 0, 1 }, { 0, -1 }, { 1, 1 }, { 1, -1 }, { 2, -1 } };
    static const float corners[6][2] = { { -1, -1 }, { 1, -1 }, { 1, 1 }, { -1, -1 }, { 1, 1 }, { -1, 1 } };
    int n = 0;
    for (int f = 0; f < 6; f++) {
        int axis = faces[f][0], u = (axis + 1) % 3, v = (axis + 2) % 3;
        for (int c = 0; c < 6; c++, n++) {
            out[n].position[axis] = (float)faces[f][1];
            out[n].position[u] = corners[c][0];
            out[n].position[v] = corners[c][1];
            memcpy(out[n].color, face_colors[f], sizeof(out[n].color));
        }
    }
}

static pv_mat4 frame_mvp(int frame)
{
    float angle = (float)frame * (2.0f * 3.14159265f / FRAMES);
    pv_mat4 model = pv_mat4_rotate(angle, 0.3f, 1.0f, 0.2f);
    pv_mat4 view = pv_mat4_translate(0.0f, 0.0f, -5.0f);
    pv_mat4 projection = pv_mat4_perspective(45.0f * 3.14159265f / 180.0f, 1.0f, 0.1f, 100.0f);
    return pv_mat4_multiply(projection, pv_mat4_multiply(view, model));
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "cube" };
    pv_guest_init(&g, &options, argc, argv);

    struct vertex vertices[36];
    build_cube(vertices);
    struct pv_buffer vertex_buffer;
    pv_buffer_create(&g, &vertex_buffer, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vertex_buffer.map, vertices, sizeof(vertices));
    pv_buffer_flush(&g, &vertex_buffer);

    struct pv_image color, depth;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    pv_image_create(&g, &depth, pv_depth_format(&g), SIZE, SIZE, 1, VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT);
    VkRenderPass pass = pv_render_pass_create(&g, color.format, depth.format, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&g, pass, &color, &depth);

    VkDescriptorSetLayoutBinding ubo_binding = { 0, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, 1, VK_SHADER_STAGE_VERTEX_BIT,
                                                 NULL };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 1,
        .pBindings = &ubo_binding,
    };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    VkPipelineLayout layout = pv_pipeline_layout_create(&g, &set_layout, 1, 0, 0);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "cube.vert.spv",
        .fragment_shader = "cube.frag.spv",
        .bindings = &binding,
        .binding_count = 1,
        .attributes = attributes,
        .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
        .layout = layout,
        .render_pass = pass,
        .depth_test = true,
        .cull_mode = VK_CULL_MODE_NONE,
        .width = SIZE,
        .height = SIZE,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&g, &desc);

    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, IN_FLIGHT };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = IN_FLIGHT,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool descriptor_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &descriptor_pool));
    VkCommandPoolCreateInfo command_pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = g.queue_family,
    };
    VkCommandPool command_pool;
    PV_CHECK(&g, vkCreateCommandPool(g.device, &command_pool_info, NULL, &command_pool));

    struct slot {
        struct pv_buffer uniforms, readback;
        VkDescriptorSet set;
        VkCommandBuffer cmd;
        VkFence fence;
        int frame; /* in flight, or -1 */
    } slots[IN_FLIGHT];
    for (int s = 0; s < IN_FLIGHT; s++) {
        struct slot *sl = &slots[s];
        sl->frame = -1;
        pv_buffer_create(&g, &sl->uniforms, sizeof(pv_mat4), VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
        pv_buffer_create(&g, &sl->readback, pv_image_level_size(&color, 0), VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        VkDescriptorSetAllocateInfo set_alloc = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = descriptor_pool,
            .descriptorSetCount = 1,
            .pSetLayouts = &set_layout,
        };
        PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &set_alloc, &sl->set));
        VkDescriptorBufferInfo buffer_info = { sl->uniforms.buffer, 0, sizeof(pv_mat4) };
        VkWriteDescriptorSet write = {
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = sl->set,
            .dstBinding = 0,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
            .pBufferInfo = &buffer_info,
        };
        vkUpdateDescriptorSets(g.device, 1, &write, 0, NULL);
        VkCommandBufferAllocateInfo cmd_alloc = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = command_pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        PV_CHECK(&g, vkAllocateCommandBuffers(g.device, &cmd_alloc, &sl->cmd));
        VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
        PV_CHECK(&g, vkCreateFence(g.device, &fence_info, NULL, &sl->fence));
    }

    const uint8_t background[4] = { 51, 51, 51, 255 };
    uint64_t frame_hashes[FRAMES];
    unsigned face_pixels[FRAMES];
    double start = pv_now_seconds();
    for (int frame = 0; frame < FRAMES + IN_FLIGHT; frame++) {
        struct slot *sl = &slots[frame % IN_FLIGHT];
        if (sl->frame >= 0) {
            /* Collect the frame this slot rendered IN_FLIGHT frames ago. */
            pv_wait_fence(&g, sl->fence);
            PV_CHECK(&g, vkResetFences(g.device, 1, &sl->fence));
            pv_buffer_invalidate(&g, &sl->readback);
            const uint8_t *pixels = sl->readback.map;
            int done = sl->frame;
            frame_hashes[done] = pv_fnv1a64(PV_FNV_OFFSET, pixels, SIZE * SIZE * 4);
            unsigned covered = 0;
            for (uint32_t i = 0; i < SIZE * SIZE; i++)
                covered += memcmp(pixels + i * 4, background, 4) != 0;
            face_pixels[done] = covered;
            const uint8_t *centre = pixels + (SIZE / 2 * SIZE + SIZE / 2) * 4;
            bool centre_is_face = false;
            for (int f = 0; f < 6; f++) {
                bool same = centre[3] == 255;
                for (int c = 0; c < 3; c++)
                    same = same && centre[c] == (uint8_t)(face_colors[f][c] * 255.0f);
                centre_is_face = centre_is_face || same;
            }
            pv_expect(&g, centre_is_face, "frame %d: centre pixel %u,%u,%u,%u is no face color", done, centre[0],
                      centre[1], centre[2], centre[3]);
            pv_expect(&g, !memcmp(pixels, background, 4) &&
                              !memcmp(pixels + (SIZE * SIZE - 1) * 4, background, 4),
                      "frame %d: corners are not the background", done);
            /* The cube's silhouette covers 23000 to 28000 pixels as it turns. */
            pv_expect(&g, covered > 15000 && covered < 40000, "frame %d: %u pixels covered", done, covered);
            if (done == 0) {
                pv_expect(&g, centre[0] == 255 && centre[1] == 0 && centre[2] == 0,
                          "frame 0: centre pixel %u,%u,%u is not the front face's red (depth test)", centre[0],
                          centre[1], centre[2]);
                pv_digest_text(&g, "frame0_centre", "%u,%u,%u,%u", centre[0], centre[1], centre[2], centre[3]);
                pv_dump_ppm(&g, "cube-frame0.ppm", pixels, SIZE, SIZE);
            }
            if (done == FRAMES / 4)
                pv_dump_ppm(&g, "cube-frame15.ppm", pixels, SIZE, SIZE);
            sl->frame = -1;
        }
        if (frame >= FRAMES)
            continue;

        pv_mat4 mvp = frame_mvp(frame);
        memcpy(sl->uniforms.map, &mvp, sizeof(mvp));
        pv_buffer_flush(&g, &sl->uniforms);
        PV_CHECK(&g, vkResetCommandBuffer(sl->cmd, 0));
        VkCommandBufferBeginInfo begin_info = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        };
        PV_CHECK(&g, vkBeginCommandBuffer(sl->cmd, &begin_info));
        VkClearValue clears[2] = {
            { .color = { .float32 = { 0.2f, 0.2f, 0.2f, 1.0f } } },
            { .depthStencil = { 1.0f, 0 } },
        };
        VkRenderPassBeginInfo pass_begin = {
            .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            .renderPass = pass,
            .framebuffer = framebuffer,
            .renderArea = { { 0, 0 }, { SIZE, SIZE } },
            .clearValueCount = 2,
            .pClearValues = clears,
        };
        vkCmdBeginRenderPass(sl->cmd, &pass_begin, VK_SUBPASS_CONTENTS_INLINE);
        vkCmdBindPipeline(sl->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
        vkCmdBindDescriptorSets(sl->cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, layout, 0, 1, &sl->set, 0, NULL);
        VkDeviceSize offset = 0;
        vkCmdBindVertexBuffers(sl->cmd, 0, 1, &vertex_buffer.buffer, &offset);
        vkCmdDraw(sl->cmd, 36, 1, 0, 0);
        vkCmdEndRenderPass(sl->cmd);
        pv_cmd_copy_image_to_buffer(sl->cmd, &color, 0, sl->readback.buffer, 0);
        pv_cmd_buffer_barrier(sl->cmd, sl->readback.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                              VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
        PV_CHECK(&g, vkEndCommandBuffer(sl->cmd));
        VkSubmitInfo submit = {
            .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
            .commandBufferCount = 1,
            .pCommandBuffers = &sl->cmd,
        };
        PV_CHECK(&g, vkQueueSubmit(g.queue, 1, &submit, sl->fence));
        sl->frame = frame;
    }
    double elapsed = pv_now_seconds() - start;
    pv_info(&g, "%d frames in %.3f s (%.1f frames/s)", FRAMES, elapsed, FRAMES / elapsed);

    /* Consecutive frames must differ: the uniform buffer reached the device each frame. */
    unsigned repeated = 0;
    for (int f = 1; f < FRAMES; f++)
        repeated += frame_hashes[f] == frame_hashes[f - 1];
    pv_expect(&g, !repeated, "%u frames identical to the frame before", repeated);

    pv_digest_u64(&g, "frames", FRAMES);
    pv_digest_text(&g, "frame0", "%016llx", (unsigned long long)frame_hashes[0]);
    pv_digest_text(&g, "frame59", "%016llx", (unsigned long long)frame_hashes[FRAMES - 1]);
    pv_digest_hash(&g, "all_frames", frame_hashes, sizeof(frame_hashes));
    pv_digest_hash(&g, "covered_pixels", face_pixels, sizeof(face_pixels));

    for (int s = 0; s < IN_FLIGHT; s++) {
        vkDestroyFence(g.device, slots[s].fence, NULL);
        pv_buffer_destroy(&g, &slots[s].uniforms);
        pv_buffer_destroy(&g, &slots[s].readback);
    }
    vkDestroyCommandPool(g.device, command_pool, NULL);
    vkDestroyDescriptorPool(g.device, descriptor_pool, NULL);
    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    vkDestroyFramebuffer(g.device, framebuffer, NULL);
    vkDestroyRenderPass(g.device, pass, NULL);
    pv_image_destroy(&g, &depth);
    pv_image_destroy(&g, &color);
    pv_buffer_destroy(&g, &vertex_buffer);
    return pv_guest_finish(&g);
}
