/* Clear + readback: vkCmdClearColorImage on whole images and on one mip level, copied to a
 * host-visible buffer and checked texel by texel. The smallest program that needs memory,
 * command buffers, submission and a fence to work through the stack. */
#include "pv_guest_util.h"

#include <stdio.h>
#include <string.h>

#define SIZE 128

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "clear" };
    pv_guest_init(&g, &options, argc, argv);

    /* An RGBA8 image with two mip levels, cleared whole to A and then level 1 to B, and a
     * 32-bit integer image cleared to values no float path could produce. */
    struct pv_image color, integer;
    pv_image_create(&g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 2,
                    VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    pv_image_create(&g, &integer, VK_FORMAT_R32G32B32A32_UINT, 16, 16, 1,
                    VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    const VkDeviceSize level0 = pv_image_level_size(&color, 0), level1 = pv_image_level_size(&color, 1);
    const VkDeviceSize integer_size = pv_image_level_size(&integer, 0);
    struct pv_buffer readback;
    pv_buffer_create(&g, &readback, level0 + level1 + integer_size, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(readback.map, 0x5a, readback.size);
    pv_buffer_flush(&g, &readback);

    const VkClearColorValue color_a = { .float32 = { 0.25f, 0.5f, 0.75f, 1.0f } };
    const VkClearColorValue color_b = { .float32 = { 1.0f, 0.0f, 0.2f, 0.6f } };
    const VkClearColorValue integer_value = { .uint32 = { 0xdeadbeefu, 0x01234567u, 0xfffffffeu, 7u } };
    const uint8_t expect_a[4] = { 64, 128, 191, 255 }; /* round(x * 255) */
    const uint8_t expect_b[4] = { 255, 0, 51, 153 };

    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    pv_cmd_image_barrier(cmd, &color, 0, 2, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0,
                         VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    pv_cmd_image_barrier(cmd, &integer, 0, 1, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0,
                         VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkImageSubresourceRange all = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 2, 0, 1 };
    VkImageSubresourceRange mip1 = { VK_IMAGE_ASPECT_COLOR_BIT, 1, 1, 0, 1 };
    VkImageSubresourceRange integer_range = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 };
    vkCmdClearColorImage(cmd, color.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &color_a, 1, &all);
    /* The second clear of level 1 must land after the first. */
    pv_cmd_image_barrier(cmd, &color, 1, 1, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                         VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_TRANSFER_WRITE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT);
    vkCmdClearColorImage(cmd, color.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &color_b, 1, &mip1);
    vkCmdClearColorImage(cmd, integer.image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, &integer_value, 1, &integer_range);
    pv_cmd_image_barrier(cmd, &color, 0, 2, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
                         VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_TRANSFER_BIT);
    pv_cmd_image_barrier(cmd, &integer, 0, 1, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL,
                         VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_TRANSFER_WRITE_BIT,
                         VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    pv_cmd_copy_image_to_buffer(cmd, &color, 0, readback.buffer, 0);
    pv_cmd_copy_image_to_buffer(cmd, &color, 1, readback.buffer, level0);
    pv_cmd_copy_image_to_buffer(cmd, &integer, 0, readback.buffer, level0 + level1);
    pv_cmd_buffer_barrier(cmd, readback.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &readback);

    const uint8_t *bytes = readback.map;
    unsigned bad0 = 0, bad1 = 0, bad_integer = 0;
    for (VkDeviceSize i = 0; i < level0; i += 4) {
        if (memcmp(bytes + i, expect_a, 4) && !bad0++)
            pv_expect(&g, false, "level 0 texel %llu is %u,%u,%u,%u, want %u,%u,%u,%u", (unsigned long long)i / 4,
                      bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3],
                      expect_a[0], expect_a[1], expect_a[2], expect_a[3]);
    }
    for (VkDeviceSize i = 0; i < level1; i += 4) {
        const uint8_t *t = bytes + level0 + i;
        if (memcmp(t, expect_b, 4) && !bad1++)
            pv_expect(&g, false, "level 1 texel %llu is %u,%u,%u,%u, want %u,%u,%u,%u", (unsigned long long)i / 4,
                      t[0], t[1], t[2], t[3], expect_b[0], expect_b[1], expect_b[2], expect_b[3]);
    }
    for (VkDeviceSize i = 0; i < integer_size; i += 16) {
        uint32_t t[4];
        memcpy(t, bytes + level0 + level1 + i, sizeof(t));
        if (memcmp(t, integer_value.uint32, sizeof(t)) && !bad_integer++)
            pv_expect(&g, false, "integer texel %llu is %08x,%08x,%08x,%08x", (unsigned long long)i / 16, t[0], t[1],
                      t[2], t[3]);
    }
    pv_expect(&g, !bad0, "%u of %u level-0 texels wrong", bad0, SIZE * SIZE);
    pv_expect(&g, !bad1, "%u of %u level-1 texels wrong", bad1, SIZE * SIZE / 4);
    pv_expect(&g, !bad_integer, "%u of 256 integer texels wrong", bad_integer);

    pv_digest_text(&g, "level0_texel0", "%u,%u,%u,%u", bytes[0], bytes[1], bytes[2], bytes[3]);
    pv_digest_text(&g, "level1_texel0", "%u,%u,%u,%u", bytes[level0], bytes[level0 + 1], bytes[level0 + 2],
                   bytes[level0 + 3]);
    pv_digest_hash(&g, "readback", readback.map, readback.size);
    pv_dump_ppm(&g, "clear.ppm", bytes, SIZE, SIZE);
    pv_dump_raw(&g, "clear-integer.raw", bytes + level0 + level1, integer_size);

    pv_buffer_destroy(&g, &readback);
    pv_image_destroy(&g, &integer);
    pv_image_destroy(&g, &color);
    return pv_guest_finish(&g);
}
