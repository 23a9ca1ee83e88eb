/* A textured quad with mipmaps: a 256x256 checkerboard is uploaded through a staging buffer, its
 * eight smaller levels are generated with linear vkCmdBlitImage, and two quads sample it with a
 * trilinear sampler. Checks every texel of every level (the checkerboard's 16-texel squares
 * survive exactly down to level 4, below that every texel is the average) and the quad drawn at
 * exactly level 2's size against level 2. */
#include "pv_guest_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TEX_SIZE 256
#define TEX_LEVELS 9
#define SQUARE 16
#define VIEW 64

/* Chosen so that the average of the two is exact: 150,150,150,255. */
static const uint8_t checker_a[4] = { 250, 200, 50, 255 };
static const uint8_t checker_b[4] = { 50, 100, 250, 255 };
static const uint8_t checker_mean[4] = { 150, 150, 150, 255 };

struct vertex {
    float position[2];
    float uv[2];
};

/* The expected texel of a level in which the checkerboard is still resolved. */
static const uint8_t *checker_texel(uint32_t level, uint32_t x, uint32_t y)
{
    uint32_t square = SQUARE >> level;
    return ((x / square) + (y / square)) % 2 ? checker_b : checker_a;
}

static int max_channel_difference(const uint8_t *a, const uint8_t *b)
{
    int worst = 0;
    for (int c = 0; c < 4; c++) {
        int d = abs((int)a[c] - (int)b[c]);
        worst = d > worst ? d : worst;
    }
    return worst;
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "texture" };
    pv_guest_init(&g, &options, argc, argv);

    VkFormatProperties format_props;
    vkGetPhysicalDeviceFormatProperties(g.physical_device, VK_FORMAT_R8G8B8A8_UNORM, &format_props);
    VkFormatFeatureFlags needed = VK_FORMAT_FEATURE_BLIT_SRC_BIT | VK_FORMAT_FEATURE_BLIT_DST_BIT |
                                  VK_FORMAT_FEATURE_SAMPLED_IMAGE_FILTER_LINEAR_BIT;
    if ((format_props.optimalTilingFeatures & needed) != needed)
        pv_fatal(&g, "R8G8B8A8_UNORM lacks blit or linear filtering (features 0x%x)",
                 format_props.optimalTilingFeatures);

    /* Level 0 through a staging buffer. */
    struct pv_buffer staging;
    pv_buffer_create(&g, &staging, TEX_SIZE * TEX_SIZE * 4, VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    uint8_t *texels = staging.map;
    for (uint32_t y = 0; y < TEX_SIZE; y++)
        for (uint32_t x = 0; x < TEX_SIZE; x++)
            memcpy(texels + (y * TEX_SIZE + x) * 4, checker_texel(0, x, y), 4);
    pv_buffer_flush(&g, &staging);

    struct pv_image texture;
    pv_image_create(&g, &texture, VK_FORMAT_R8G8B8A8_UNORM, TEX_SIZE, TEX_SIZE, TEX_LEVELS,
                    VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    VkDeviceSize level_offsets[TEX_LEVELS], levels_size = 0;
    for (uint32_t l = 0; l < TEX_LEVELS; l++) {
        level_offsets[l] = levels_size;
        levels_size += pv_image_level_size(&texture, l);
    }
    struct pv_buffer levels_readback;
    pv_buffer_create(&g, &levels_readback, levels_size, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    pv_cmd_image_barrier(cmd, &texture, 0, TEX_LEVELS, VK_IMAGE_LAYOUT_UNDEFINED,
                         VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
                         VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkBufferImageCopy upload = {
        .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
        .imageExtent = { TEX_SIZE, TEX_SIZE, 1 },
    };
    vkCmdCopyBufferToImage(cmd, staging.buffer, texture.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &upload);
    for (uint32_t l = 1; l < TEX_LEVELS; l++) {
        pv_cmd_image_barrier(cmd, &texture, l - 1, 1, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                             VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                             VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_TRANSFER_BIT);
        int32_t src = TEX_SIZE >> (l - 1), dst = TEX_SIZE >> l;
        VkImageBlit blit = {
            .srcSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, l - 1, 0, 1 },
            .srcOffsets = { { 0, 0, 0 }, { src, src, 1 } },
            .dstSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, l, 0, 1 },
            .dstOffsets = { { 0, 0, 0 }, { dst, dst, 1 } },
        };
        vkCmdBlitImage(cmd, texture.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, texture.image,
                       VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &blit, VK_FILTER_LINEAR);
    }
    pv_cmd_image_barrier(cmd, &texture, TEX_LEVELS - 1, 1, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                         VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                         VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    for (uint32_t l = 0; l < TEX_LEVELS; l++)
        pv_cmd_copy_image_to_buffer(cmd, &texture, l, levels_readback.buffer, level_offsets[l]);
    pv_cmd_buffer_barrier(cmd, levels_readback.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_cmd_image_barrier(cmd, &texture, 0, TEX_LEVELS, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                         VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL, VK_ACCESS_TRANSFER_READ_BIT,
                         VK_ACCESS_SHADER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &levels_readback);

    const uint8_t *levels = levels_readback.map;
    for (uint32_t l = 0; l < TEX_LEVELS; l++) {
        uint32_t size = TEX_SIZE >> l;
        unsigned bad = 0;
        int worst = 0;
        for (uint32_t y = 0; y < size; y++) {
            for (uint32_t x = 0; x < size; x++) {
                const uint8_t *t = levels + level_offsets[l] + (y * size + x) * 4;
                bool resolved = (SQUARE >> l) >= 1;
                /* Averages of exact values: rounding may differ by one. */
                int d = max_channel_difference(t, resolved ? checker_texel(l, x, y) : checker_mean);
                if (d > (resolved ? 0 : 1))
                    bad++;
                worst = d > worst ? d : worst;
            }
        }
        pv_expect(&g, !bad, "level %u: %u of %u texels wrong (worst channel off by %d)", l, bad, size * size, worst);
    }
    pv_digest_hash(&g, "levels", levels, levels_size);

    /* Draw: the left 64x64 quad samples exactly level 2 (256 / 64 = 4 texels per pixel); the
     * right one is tilted in perspective, so its level of detail varies across it. */
    struct pv_image color;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, 2 * VIEW, VIEW, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    VkRenderPass pass = pv_render_pass_create(&g, color.format, VK_FORMAT_UNDEFINED,
                                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&g, pass, &color, NULL);

    VkSamplerCreateInfo sampler_info = {
        .sType = VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO,
        .magFilter = VK_FILTER_LINEAR,
        .minFilter = VK_FILTER_LINEAR,
        .mipmapMode = VK_SAMPLER_MIPMAP_MODE_LINEAR,
        .addressModeU = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE,
        .addressModeV = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE,
        .addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE,
        .maxLod = VK_LOD_CLAMP_NONE,
    };
    VkSampler sampler;
    PV_CHECK(&g, vkCreateSampler(g.device, &sampler_info, NULL, &sampler));
    VkDescriptorSetLayoutBinding sampler_binding = { 0, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1,
                                                     VK_SHADER_STAGE_FRAGMENT_BIT, NULL };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 1,
        .pBindings = &sampler_binding,
    };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1 };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool descriptor_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &descriptor_pool));
    VkDescriptorSetAllocateInfo set_alloc = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = descriptor_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &set_layout,
    };
    VkDescriptorSet set;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &set_alloc, &set));
    VkDescriptorImageInfo image_info = { sampler, texture.view, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL };
    VkWriteDescriptorSet write = {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = 0,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER,
        .pImageInfo = &image_info,
    };
    vkUpdateDescriptorSets(g.device, 1, &write, 0, NULL);

    VkPipelineLayout layout = pv_pipeline_layout_create(&g, &set_layout, 1, sizeof(pv_mat4), VK_SHADER_STAGE_VERTEX_BIT);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(struct vertex, uv) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "texture.vert.spv",
        .fragment_shader = "texture.frag.spv",
        .bindings = &binding,
        .binding_count = 1,
        .attributes = attributes,
        .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP,
        .layout = layout,
        .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE,
        .dynamic_viewport = true,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&g, &desc);

    static const struct vertex quad[4] = {
        { { -1, -1 }, { 0, 0 } },
        { { -1, 1 }, { 0, 1 } },
        { { 1, -1 }, { 1, 0 } },
        { { 1, 1 }, { 1, 1 } },
    };
    struct pv_buffer vertex_buffer;
    pv_buffer_create(&g, &vertex_buffer, sizeof(quad), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vertex_buffer.map, quad, sizeof(quad));
    pv_buffer_flush(&g, &vertex_buffer);

    pv_mat4 straight = pv_mat4_identity();
    pv_mat4 tilted = pv_mat4_multiply(pv_mat4_perspective(1.0f, 1.0f, 0.1f, 10.0f),
                                      pv_mat4_multiply(pv_mat4_translate(0.0f, 0.0f, -2.2f),
                                                       pv_mat4_multiply(pv_mat4_rotate(1.0f, 1.0f, 0.0f, 0.0f),
                                                                        pv_mat4_rotate(0.4f, 0.0f, 0.0f, 1.0f))));
    cmd = pv_one_shot_begin(&g);
    VkClearValue clear = { .color = { .float32 = { 0.0f, 0.0f, 0.0f, 1.0f } } };
    VkRenderPassBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
        .renderPass = pass,
        .framebuffer = framebuffer,
        .renderArea = { { 0, 0 }, { 2 * VIEW, VIEW } },
        .clearValueCount = 1,
        .pClearValues = &clear,
    };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, layout, 0, 1, &set, 0, NULL);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vertex_buffer.buffer, &offset);
    for (int view = 0; view < 2; view++) {
        VkViewport viewport = { (float)(view * VIEW), 0, VIEW, VIEW, 0, 1 };
        VkRect2D scissor = { { view * VIEW, 0 }, { VIEW, VIEW } };
        vkCmdSetViewport(cmd, 0, 1, &viewport);
        vkCmdSetScissor(cmd, 0, 1, &scissor);
        vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof(pv_mat4), view ? &tilted : &straight);
        vkCmdDraw(cmd, 4, 1, 0, 0);
    }
    vkCmdEndRenderPass(cmd);
    pv_one_shot_end(&g, cmd);

    struct pv_buffer readback;
    pv_buffer_create(&g, &readback, pv_image_level_size(&color, 0), VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    const uint8_t *pixels = pv_image_readback(&g, &color, 0, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                                              VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
                                              VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, &readback);
    /* Pixel centres land on level 2's texel centres, so even bilinear filtering returns the
     * texel; allow one step for how the device rounds the level of detail. */
    unsigned bad = 0, tilted_black = 0;
    int worst = 0;
    for (uint32_t y = 0; y < VIEW; y++) {
        for (uint32_t x = 0; x < VIEW; x++) {
            int d = max_channel_difference(pixels + (y * 2 * VIEW + x) * 4, checker_texel(2, x, y));
            bad += d > 1;
            worst = d > worst ? d : worst;
            const uint8_t *p = pixels + (y * 2 * VIEW + VIEW + x) * 4;
            tilted_black += !p[0] && !p[1] && !p[2];
        }
    }
    pv_expect(&g, !bad, "straight quad: %u of %u pixels differ from level 2 (worst channel off by %d)", bad,
              VIEW * VIEW, worst);
    /* The tilted quad covers part of its viewport only. */
    pv_expect(&g, tilted_black > 200 && tilted_black < VIEW * VIEW - 200,
              "tilted quad: %u of %u pixels left at the clear color", tilted_black, VIEW * VIEW);
    pv_digest_u64(&g, "tilted_background_pixels", tilted_black);
    pv_digest_hash(&g, "image", pixels, 2 * VIEW * VIEW * 4);
    pv_dump_ppm(&g, "texture.ppm", pixels, 2 * VIEW, VIEW);

    pv_buffer_destroy(&g, &readback);
    pv_buffer_destroy(&g, &vertex_buffer);
    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyDescriptorPool(g.device, descriptor_pool, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    vkDestroySampler(g.device, sampler, NULL);
    vkDestroyFramebuffer(g.device, framebuffer, NULL);
    vkDestroyRenderPass(g.device, pass, NULL);
    pv_image_destroy(&g, &color);
    pv_buffer_destroy(&g, &levels_readback);
    pv_image_destroy(&g, &texture);
    pv_buffer_destroy(&g, &staging);
    return pv_guest_finish(&g);
}
