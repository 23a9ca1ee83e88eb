/* Transfers, clears and resolves, each checked byte for byte:
 *  - vkCmdUpdateBuffer into a zero-filled buffer (and vkCmdCopyBuffer2KHR of the result);
 *  - vkCmdCopyImage of two regions into a cleared image, and of a whole RGBA8 image into a
 *    size-compatible R32_UINT one; the same with vkCmdCopyBufferToImage2KHR, vkCmdCopyImage2KHR,
 *    vkCmdCopyImageToBuffer2KHR, and a mirroring vkCmdBlitImage2KHR (VK_KHR_copy_commands2);
 *  - a 4x multisampled render pass: an indexed quad and an indexed triangle (vkCmdDrawIndexed with
 *    firstIndex and vertexOffset), two rectangles cleared by vkCmdClearAttachments, resolved by
 *    vkCmdResolveImage (and vkCmdResolveImage2KHR): exact colors where all four samples agree, and
 *    the average of the covered standard sample positions (+-1) along the triangle's diagonal;
 *  - vkCmdClearDepthStencilImage on a depth image then loaded by a depth-tested pass (depth and
 *    color read back), and on a two-layer depth/stencil image (both aspects of both layers read
 *    back, one layer's stencil cleared again alone);
 *  - buffer views: a compute shader reads an RGBA8 uniform texel buffer and an R32_UINT storage
 *    texel buffer at offsets into one buffer and writes an R32_UINT storage texel buffer;
 *  - linear images: written through a mapping at the offsets and row pitch that
 *    vkGetImageSubresourceLayout gives, then copied out; and copied into, then read through the
 *    mapping. */
#include "pv_guest_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIZE 64
#define LINEAR_W 37
#define LINEAR_H 23

struct copy2 {
    PFN_vkCmdCopyBuffer2KHR copy_buffer;
    PFN_vkCmdCopyImage2KHR copy_image;
    PFN_vkCmdCopyBufferToImage2KHR buffer_to_image;
    PFN_vkCmdCopyImageToBuffer2KHR image_to_buffer;
    PFN_vkCmdBlitImage2KHR blit;
    PFN_vkCmdResolveImage2KHR resolve;
};

struct vertex {
    float position[3];
    float color[3];
};

static uint8_t pattern_byte(uint32_t x, uint32_t y, uint32_t c)
{
    return (uint8_t)(x * 7 + y * 13 + c * 61 + ((x * y) >> 2));
}

/* The RGBA8 pattern of image A, tightly packed. */
static void fill_pattern(uint8_t *p, uint32_t w, uint32_t h)
{
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (uint32_t c = 0; c < 4; c++)
                p[(y * w + x) * 4 + c] = pattern_byte(x, y, c);
}

/* Any 2D image: samples, tiling, layers, memory flags; a view when view_aspect is not 0. */
static void image_create(struct pv_guest *g, struct pv_image *img, VkFormat format, uint32_t w, uint32_t h,
                         uint32_t layers, VkSampleCountFlagBits samples, VkImageTiling tiling, VkImageUsageFlags usage,
                         VkImageLayout initial, VkMemoryPropertyFlags required, VkImageAspectFlags view_aspect)
{
    memset(img, 0, sizeof(*img));
    img->format = format;
    img->aspect = view_aspect ? view_aspect : VK_IMAGE_ASPECT_COLOR_BIT;
    img->width = w;
    img->height = h;
    img->mip_levels = 1;
    VkImageCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
        .imageType = VK_IMAGE_TYPE_2D,
        .format = format,
        .extent = { w, h, 1 },
        .mipLevels = 1,
        .arrayLayers = layers,
        .samples = samples,
        .tiling = tiling,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
        .initialLayout = initial,
    };
    PV_CHECK(g, vkCreateImage(g->device, &info, NULL, &img->image));
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(g->device, img->image, &req);
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = pv_memory_type(g, req.memoryTypeBits, required, 0),
    };
    PV_CHECK(g, vkAllocateMemory(g->device, &alloc, NULL, &img->memory));
    PV_CHECK(g, vkBindImageMemory(g->device, img->image, img->memory, 0));
    if (!view_aspect)
        return;
    VkImageViewCreateInfo view_info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO,
        .image = img->image,
        .viewType = VK_IMAGE_VIEW_TYPE_2D,
        .format = format,
        .subresourceRange = { view_aspect, 0, 1, 0, 1 },
    };
    PV_CHECK(g, vkCreateImageView(g->device, &view_info, NULL, &img->view));
}

static void barrier(VkCommandBuffer cmd, VkImage image, VkImageAspectFlags aspect, uint32_t layers,
                    VkImageLayout from, VkImageLayout to, VkAccessFlags src_access, VkAccessFlags dst_access,
                    VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage)
{
    VkImageMemoryBarrier b = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = dst_access,
        .oldLayout = from,
        .newLayout = to,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .image = image,
        .subresourceRange = { aspect, 0, 1, 0, layers },
    };
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, NULL, 0, NULL, 1, &b);
}

#define T_STAGE VK_PIPELINE_STAGE_TRANSFER_BIT
#define T_READ VK_ACCESS_TRANSFER_READ_BIT
#define T_WRITE VK_ACCESS_TRANSFER_WRITE_BIT
#define L_SRC VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL
#define L_DST VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL

static void to_host(VkCommandBuffer cmd)
{
    VkMemoryBarrier b = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = T_WRITE,
                          .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
    vkCmdPipelineBarrier(cmd, T_STAGE, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &b, 0, NULL, 0, NULL);
}

static void transfer_to_transfer(VkCommandBuffer cmd)
{
    VkMemoryBarrier b = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = T_WRITE,
                          .dstAccessMask = T_READ | T_WRITE };
    vkCmdPipelineBarrier(cmd, T_STAGE, T_STAGE, 0, 1, &b, 0, NULL, 0, NULL);
}

/* One aspect of one layer (in TRANSFER_SRC_OPTIMAL) tightly into buffer at offset. */
static void copy_out(VkCommandBuffer cmd, VkImage image, VkImageAspectFlags aspect, uint32_t layer, uint32_t w,
                     uint32_t h, VkBuffer buffer, VkDeviceSize offset)
{
    VkBufferImageCopy region = {
        .bufferOffset = offset,
        .imageSubresource = { aspect, 0, layer, 1 },
        .imageExtent = { w, h, 1 },
    };
    vkCmdCopyImageToBuffer(cmd, image, L_SRC, buffer, 1, &region);
}

static unsigned compare_bytes(struct pv_guest *g, const char *what, const uint8_t *got, const uint8_t *want,
                              size_t size)
{
    unsigned bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < size; i++) {
        if (got[i] != want[i] && !bad++)
            first = i;
    }
    pv_expect(g, !bad, "%s: %u bytes differ, first at %zu: %u, want %u", what, bad, first, got[first], want[first]);
    return bad;
}

/* --- vkCmdUpdateBuffer and vkCmdCopyBuffer2KHR --- */
static void test_update_buffer(struct pv_guest *g, const struct copy2 *c2, struct pv_buffer *rb)
{
    uint8_t data[1024];
    for (uint32_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 37 + (i >> 8) + 1);
    const uint32_t marker = 0xfeedc0deu;
    struct pv_buffer buf;
    pv_buffer_create(g, &buf, 4096, VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdFillBuffer(cmd, buf.buffer, 0, 4096, 0);
    transfer_to_transfer(cmd);
    vkCmdUpdateBuffer(cmd, buf.buffer, 64, sizeof(data), data);
    vkCmdUpdateBuffer(cmd, buf.buffer, 4092, 4, &marker);
    if (c2->copy_buffer) {
        transfer_to_transfer(cmd);
        VkBufferCopy2KHR region = { .sType = VK_STRUCTURE_TYPE_BUFFER_COPY_2_KHR, .srcOffset = 64, .dstOffset = 0,
                                    .size = sizeof(data) };
        VkCopyBufferInfo2KHR info = { .sType = VK_STRUCTURE_TYPE_COPY_BUFFER_INFO_2_KHR, .srcBuffer = buf.buffer,
                                      .dstBuffer = rb->buffer, .regionCount = 1, .pRegions = &region };
        c2->copy_buffer(cmd, &info);
    }
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, &buf);
    pv_buffer_invalidate(g, rb);
    uint8_t want[4096] = { 0 };
    memcpy(want + 64, data, sizeof(data));
    memcpy(want + 4092, &marker, 4);
    compare_bytes(g, "vkCmdUpdateBuffer", buf.map, want, sizeof(want));
    pv_digest_hash(g, "update_buffer", buf.map, 4096);
    if (c2->copy_buffer) {
        compare_bytes(g, "vkCmdCopyBuffer2KHR", rb->map, data, sizeof(data));
        pv_digest_hash(g, "copy_buffer2", rb->map, sizeof(data));
    }
    pv_buffer_destroy(g, &buf);
}

/* --- vkCmdCopyImage (and 2KHR), vkCmdBlitImage2KHR --- */
static const VkImageCopy copy_regions[2] = {
    { { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 5, 7, 0 }, { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 20, 30, 0 },
      { 33, 17, 1 } },
    { { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 0, 0, 0 }, { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 0, 0, 0 },
      { 4, 4, 1 } },
};
static const uint8_t copy_clear[4] = { 10, 20, 30, 40 };

static void expected_copy(uint8_t *want)
{
    for (uint32_t y = 0; y < SIZE; y++) {
        for (uint32_t x = 0; x < SIZE; x++) {
            uint8_t *p = want + (y * SIZE + x) * 4;
            memcpy(p, copy_clear, 4);
            for (int r = 1; r >= 0; r--) {
                const VkImageCopy *c = &copy_regions[r];
                if (x >= (uint32_t)c->dstOffset.x && x < c->dstOffset.x + c->extent.width &&
                    y >= (uint32_t)c->dstOffset.y && y < c->dstOffset.y + c->extent.height) {
                    for (uint32_t k = 0; k < 4; k++)
                        p[k] = pattern_byte(x - c->dstOffset.x + c->srcOffset.x, y - c->dstOffset.y + c->srcOffset.y,
                                            k);
                }
            }
        }
    }
}

static void test_copy_image(struct pv_guest *g, const struct copy2 *c2, struct pv_buffer *staging,
                            struct pv_buffer *rb, struct pv_image *a)
{
    const VkDeviceSize image_bytes = SIZE * SIZE * 4;
    const VkImageUsageFlags usage = VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
    struct pv_image b, words;
    pv_image_create(g, &b, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);
    pv_image_create(g, &words, VK_FORMAT_R32_UINT, SIZE, SIZE, 1, usage);

    /* A gets the pattern from staging; B is cleared and gets two regions of A; all of A is copied
     * into the R32_UINT image. Read back: B at 0, the words at image_bytes. */
    fill_pattern(staging->map, SIZE, SIZE);
    pv_buffer_flush(g, staging);
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    barrier(cmd, a->image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkBufferImageCopy upload = { .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                                 .imageExtent = { SIZE, SIZE, 1 } };
    vkCmdCopyBufferToImage(cmd, staging->buffer, a->image, L_DST, 1, &upload);
    barrier(cmd, a->image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
    barrier(cmd, b.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkClearColorValue clear = { .float32 = { copy_clear[0] / 255.0f, copy_clear[1] / 255.0f, copy_clear[2] / 255.0f,
                                             copy_clear[3] / 255.0f } };
    VkImageSubresourceRange range = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1 };
    vkCmdClearColorImage(cmd, b.image, L_DST, &clear, 1, &range);
    barrier(cmd, b.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_DST, T_WRITE, T_WRITE, T_STAGE, T_STAGE);
    vkCmdCopyImage(cmd, a->image, L_SRC, b.image, L_DST, 2, copy_regions);
    barrier(cmd, b.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
    barrier(cmd, words.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkImageCopy whole = { { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 0, 0, 0 }, { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                          { 0, 0, 0 }, { SIZE, SIZE, 1 } };
    vkCmdCopyImage(cmd, a->image, L_SRC, words.image, L_DST, 1, &whole);
    barrier(cmd, words.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
    copy_out(cmd, b.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, SIZE, SIZE, rb->buffer, 0);
    copy_out(cmd, words.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, SIZE, SIZE, rb->buffer, image_bytes);
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, rb);

    uint8_t *want = malloc(image_bytes);
    uint8_t *pattern = malloc(image_bytes);
    if (!want || !pattern)
        pv_fatal(g, "out of memory");
    fill_pattern(pattern, SIZE, SIZE);
    expected_copy(want);
    const uint8_t *got = rb->map;
    compare_bytes(g, "vkCmdCopyImage (two regions into a cleared image)", got, want, image_bytes);
    compare_bytes(g, "vkCmdCopyImage (RGBA8_UNORM into R32_UINT)", got + image_bytes, pattern, image_bytes);
    pv_digest_hash(g, "copy_image", got, image_bytes);
    pv_digest_hash(g, "copy_image_r32ui", got + image_bytes, image_bytes);

    if (c2->copy_image) {
        /* The same through the copy_commands2 entry points: A2 uploaded by
         * vkCmdCopyBufferToImage2KHR, B2 by vkCmdCopyImage2KHR, a mirror by vkCmdBlitImage2KHR,
         * both read back by vkCmdCopyImageToBuffer2KHR. */
        struct pv_image a2, b2, mirror;
        pv_image_create(g, &a2, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);
        pv_image_create(g, &b2, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);
        pv_image_create(g, &mirror, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);
        cmd = pv_one_shot_begin(g);
        barrier(cmd, a2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
                VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
        VkBufferImageCopy2KHR upload2 = { .sType = VK_STRUCTURE_TYPE_BUFFER_IMAGE_COPY_2_KHR,
                                          .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                                          .imageExtent = { SIZE, SIZE, 1 } };
        VkCopyBufferToImageInfo2KHR upload_info = { .sType = VK_STRUCTURE_TYPE_COPY_BUFFER_TO_IMAGE_INFO_2_KHR,
                                                    .srcBuffer = staging->buffer, .dstImage = a2.image,
                                                    .dstImageLayout = L_DST, .regionCount = 1, .pRegions = &upload2 };
        c2->buffer_to_image(cmd, &upload_info);
        barrier(cmd, a2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
        barrier(cmd, b2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
                VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
        vkCmdClearColorImage(cmd, b2.image, L_DST, &clear, 1, &range);
        barrier(cmd, b2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_DST, T_WRITE, T_WRITE, T_STAGE, T_STAGE);
        VkImageCopy2KHR regions2[2];
        for (int r = 0; r < 2; r++) {
            regions2[r] = (VkImageCopy2KHR){ .sType = VK_STRUCTURE_TYPE_IMAGE_COPY_2_KHR,
                                             .srcSubresource = copy_regions[r].srcSubresource,
                                             .srcOffset = copy_regions[r].srcOffset,
                                             .dstSubresource = copy_regions[r].dstSubresource,
                                             .dstOffset = copy_regions[r].dstOffset,
                                             .extent = copy_regions[r].extent };
        }
        VkCopyImageInfo2KHR copy_info = { .sType = VK_STRUCTURE_TYPE_COPY_IMAGE_INFO_2_KHR, .srcImage = a2.image,
                                          .srcImageLayout = L_SRC, .dstImage = b2.image, .dstImageLayout = L_DST,
                                          .regionCount = 2, .pRegions = regions2 };
        c2->copy_image(cmd, &copy_info);
        barrier(cmd, b2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
        barrier(cmd, mirror.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
                VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
        /* Mirrored left to right, 1:1, nearest: dst x = 63 - src x exactly. */
        VkImageBlit2KHR blit = { .sType = VK_STRUCTURE_TYPE_IMAGE_BLIT_2_KHR,
                                 .srcSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                                 .srcOffsets = { { 0, 0, 0 }, { SIZE, SIZE, 1 } },
                                 .dstSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                                 .dstOffsets = { { SIZE, 0, 0 }, { 0, SIZE, 1 } } };
        VkBlitImageInfo2KHR blit_info = { .sType = VK_STRUCTURE_TYPE_BLIT_IMAGE_INFO_2_KHR, .srcImage = a2.image,
                                          .srcImageLayout = L_SRC, .dstImage = mirror.image, .dstImageLayout = L_DST,
                                          .regionCount = 1, .pRegions = &blit, .filter = VK_FILTER_NEAREST };
        c2->blit(cmd, &blit_info);
        barrier(cmd, mirror.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
        VkBufferImageCopy2KHR out2[2] = {
            { .sType = VK_STRUCTURE_TYPE_BUFFER_IMAGE_COPY_2_KHR, .bufferOffset = 0,
              .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, .imageExtent = { SIZE, SIZE, 1 } },
            { .sType = VK_STRUCTURE_TYPE_BUFFER_IMAGE_COPY_2_KHR, .bufferOffset = image_bytes,
              .imageSubresource = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, .imageExtent = { SIZE, SIZE, 1 } },
        };
        VkCopyImageToBufferInfo2KHR out_b2 = { .sType = VK_STRUCTURE_TYPE_COPY_IMAGE_TO_BUFFER_INFO_2_KHR,
                                               .srcImage = b2.image, .srcImageLayout = L_SRC,
                                               .dstBuffer = rb->buffer, .regionCount = 1, .pRegions = &out2[0] };
        c2->image_to_buffer(cmd, &out_b2);
        VkCopyImageToBufferInfo2KHR out_mirror = out_b2;
        out_mirror.srcImage = mirror.image;
        out_mirror.pRegions = &out2[1];
        c2->image_to_buffer(cmd, &out_mirror);
        to_host(cmd);
        pv_one_shot_end(g, cmd);
        pv_buffer_invalidate(g, rb);
        compare_bytes(g, "vkCmdCopyImage2KHR (after vkCmdCopyBufferToImage2KHR, read by vkCmdCopyImageToBuffer2KHR)",
                      got, want, image_bytes);
        for (uint32_t y = 0; y < SIZE; y++)
            for (uint32_t x = 0; x < SIZE; x++)
                memcpy(want + (y * SIZE + x) * 4, pattern + (y * SIZE + (SIZE - 1 - x)) * 4, 4);
        compare_bytes(g, "vkCmdBlitImage2KHR (mirrored, nearest)", got + image_bytes, want, image_bytes);
        pv_digest_hash(g, "copy_image2", got, image_bytes);
        pv_digest_hash(g, "blit_image2", got + image_bytes, image_bytes);
        pv_image_destroy(g, &mirror);
        pv_image_destroy(g, &b2);
        pv_image_destroy(g, &a2);
    }
    free(pattern);
    free(want);
    pv_image_destroy(g, &words);
    pv_image_destroy(g, &b);
}

/* --- 4x MSAA, vkCmdDrawIndexed, vkCmdClearAttachments, vkCmdResolveImage (and 2KHR) --- */
static const float quad_color[3] = { 1.0f, 0.0f, 0.0f };
static const float tri_color[3] = { 0.0f, 1.0f, 0.0f };
static const uint8_t ms_background[4] = { 51, 102, 153, 255 };
static const VkClearRect ms_clear_rects[2] = {
    { { { 8, 40 }, { 16, 16 } }, 0, 1 },
    { { { 44, 20 }, { 8, 8 } }, 0, 1 },
};
/* Triangle corners in pixels: a right angle at (32, 8), the diagonal from (60, 8) to (32, 56). */
static const float tri_px[3][2] = { { 32, 8 }, { 60, 8 }, { 32, 56 } };

static bool in_rect(const VkRect2D *r, uint32_t x, uint32_t y)
{
    return x >= (uint32_t)r->offset.x && x < r->offset.x + r->extent.width && y >= (uint32_t)r->offset.y &&
           y < r->offset.y + r->extent.height;
}

/* Which of the four standard sample positions of pixel (x, y) the triangle covers. No sample
 * lies on an edge: the axis-aligned edges are on pixel boundaries, and 48*(sx-32) + 28*(sy-8) is
 * never 1344 for sample coordinates in eighths (the y term always has a half). */
static int triangle_samples(uint32_t x, uint32_t y)
{
    static const float pos[4][2] = { { 0.375f, 0.125f }, { 0.875f, 0.375f }, { 0.125f, 0.625f }, { 0.625f, 0.875f } };
    int n = 0;
    for (int s = 0; s < 4; s++) {
        float sx = x + pos[s][0], sy = y + pos[s][1];
        if (sx > tri_px[0][0] && sy > tri_px[0][1] && 48.0f * (sx - 32.0f) + 28.0f * (sy - 8.0f) < 1344.0f)
            n++;
    }
    return n;
}

static void test_msaa(struct pv_guest *g, const struct copy2 *c2, struct pv_buffer *rb)
{
    if (!(g->properties.limits.framebufferColorSampleCounts & VK_SAMPLE_COUNT_4_BIT)) {
        pv_digest_text(g, "msaa_resolve", "unsupported");
        return;
    }
    const VkDeviceSize image_bytes = SIZE * SIZE * 4;
    struct pv_image ms, resolved, resolved2;
    image_create(g, &ms, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, VK_SAMPLE_COUNT_4_BIT, VK_IMAGE_TILING_OPTIMAL,
                 VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT, VK_IMAGE_LAYOUT_UNDEFINED, 0,
                 VK_IMAGE_ASPECT_COLOR_BIT);
    const VkImageUsageFlags usage = VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
    pv_image_create(g, &resolved, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);
    pv_image_create(g, &resolved2, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1, usage);

    VkAttachmentDescription attachment = {
        .format = VK_FORMAT_R8G8B8A8_UNORM,
        .samples = VK_SAMPLE_COUNT_4_BIT,
        .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
        .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
        .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
        .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
        .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
        .finalLayout = L_SRC,
    };
    VkAttachmentReference ref = { 0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
    VkSubpassDescription subpass = { .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
                                     .colorAttachmentCount = 1, .pColorAttachments = &ref };
    VkSubpassDependency dependency = {
        .srcSubpass = 0,
        .dstSubpass = VK_SUBPASS_EXTERNAL,
        .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
        .dstStageMask = T_STAGE,
        .srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
        .dstAccessMask = T_READ,
    };
    VkRenderPassCreateInfo pass_info = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, .attachmentCount = 1,
                                         .pAttachments = &attachment, .subpassCount = 1, .pSubpasses = &subpass,
                                         .dependencyCount = 1, .pDependencies = &dependency };
    VkRenderPass pass;
    PV_CHECK(g, vkCreateRenderPass(g->device, &pass_info, NULL, &pass));
    VkFramebuffer framebuffer = pv_framebuffer_create(g, pass, &ms, NULL);
    VkPipelineLayout layout = pv_pipeline_layout_create(g, NULL, 0, 0, 0);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv",
        .fragment_shader = "triangle.frag.spv",
        .bindings = &binding,
        .binding_count = 1,
        .attributes = attributes,
        .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
        .layout = layout,
        .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE,
        .width = SIZE,
        .height = SIZE,
        .samples = VK_SAMPLE_COUNT_4_BIT,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(g, &desc);

    /* Quad (8,8)-(24,24) as vertices 0-3; the triangle as vertices 4-6, drawn with vertexOffset 4
     * from indices 6-8. */
#define NDC(px) ((px) * 2.0f / SIZE - 1.0f)
    struct vertex vertices[7] = {
        { { NDC(8), NDC(8), 0.5f }, { 0 } },  { { NDC(24), NDC(8), 0.5f }, { 0 } },
        { { NDC(24), NDC(24), 0.5f }, { 0 } }, { { NDC(8), NDC(24), 0.5f }, { 0 } },
    };
    for (int i = 0; i < 4; i++)
        memcpy(vertices[i].color, quad_color, sizeof(quad_color));
    for (int i = 0; i < 3; i++) {
        vertices[4 + i] = (struct vertex){ { NDC(tri_px[i][0]), NDC(tri_px[i][1]), 0.5f }, { 0 } };
        memcpy(vertices[4 + i].color, tri_color, sizeof(tri_color));
    }
#undef NDC
    static const uint16_t indices[9] = { 0, 1, 2, 2, 3, 0, 0, 1, 2 };
    struct pv_buffer vb, ib;
    pv_buffer_create(g, &vb, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     0);
    pv_buffer_create(g, &ib, sizeof(indices), VK_BUFFER_USAGE_INDEX_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    memcpy(vb.map, vertices, sizeof(vertices));
    memcpy(ib.map, indices, sizeof(indices));
    pv_buffer_flush(g, &vb);
    pv_buffer_flush(g, &ib);

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    VkClearValue clear = { .color = { .float32 = { 0.2f, 0.4f, 0.6f, 1.0f } } };
    VkRenderPassBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, .renderPass = pass,
                                    .framebuffer = framebuffer, .renderArea = { { 0, 0 }, { SIZE, SIZE } },
                                    .clearValueCount = 1, .pClearValues = &clear };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vb.buffer, &offset);
    vkCmdBindIndexBuffer(cmd, ib.buffer, 0, VK_INDEX_TYPE_UINT16);
    vkCmdDrawIndexed(cmd, 6, 1, 0, 0, 0);
    vkCmdDrawIndexed(cmd, 3, 1, 6, 4, 0);
    VkClearAttachment white = { VK_IMAGE_ASPECT_COLOR_BIT, 0, { .color = { .float32 = { 1, 1, 1, 1 } } } };
    vkCmdClearAttachments(cmd, 1, &white, 2, ms_clear_rects);
    vkCmdEndRenderPass(cmd);
    barrier(cmd, resolved.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkImageResolve resolve = { { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 0, 0, 0 },
                               { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 0, 0, 0 }, { SIZE, SIZE, 1 } };
    vkCmdResolveImage(cmd, ms.image, L_SRC, resolved.image, L_DST, 1, &resolve);
    barrier(cmd, resolved.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
    copy_out(cmd, resolved.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, SIZE, SIZE, rb->buffer, 0);
    if (c2->resolve) {
        barrier(cmd, resolved2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
                VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
        VkImageResolve2KHR resolve2 = { .sType = VK_STRUCTURE_TYPE_IMAGE_RESOLVE_2_KHR,
                                        .srcSubresource = resolve.srcSubresource,
                                        .dstSubresource = resolve.dstSubresource,
                                        .extent = resolve.extent };
        VkResolveImageInfo2KHR info = { .sType = VK_STRUCTURE_TYPE_RESOLVE_IMAGE_INFO_2_KHR, .srcImage = ms.image,
                                        .srcImageLayout = L_SRC, .dstImage = resolved2.image,
                                        .dstImageLayout = L_DST, .regionCount = 1, .pRegions = &resolve2 };
        c2->resolve(cmd, &info);
        barrier(cmd, resolved2.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
        copy_out(cmd, resolved2.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, SIZE, SIZE, rb->buffer, image_bytes);
    }
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, rb);

    const uint8_t *px = rb->map;
    unsigned exact = 0, partial = 0, bad = 0;
    for (uint32_t y = 0; y < SIZE; y++) {
        for (uint32_t x = 0; x < SIZE; x++) {
            const uint8_t *p = px + (y * SIZE + x) * 4;
            uint8_t want[4];
            int tolerance = 0;
            if (in_rect(&ms_clear_rects[0].rect, x, y) || in_rect(&ms_clear_rects[1].rect, x, y)) {
                memset(want, 255, 4);
            } else if (x >= 8 && x < 24 && y >= 8 && y < 24) {
                for (int c = 0; c < 3; c++)
                    want[c] = (uint8_t)(quad_color[c] * 255.0f);
                want[3] = 255;
            } else {
                int k = triangle_samples(x, y);
                for (int c = 0; c < 4; c++) {
                    float t = c < 3 ? tri_color[c] * 255.0f : 255.0f;
                    want[c] = (uint8_t)lroundf((k * t + (4 - k) * ms_background[c]) / 4.0f);
                }
                tolerance = k > 0 && k < 4;
            }
            bool ok = true;
            for (int c = 0; c < 4; c++)
                ok = ok && abs((int)p[c] - (int)want[c]) <= tolerance;
            if (tolerance)
                partial++;
            else
                exact++;
            if (!ok && bad++ < 5)
                pv_expect(g, false, "resolved pixel (%u,%u) is %u,%u,%u,%u, want %u,%u,%u,%u%s", x, y, p[0], p[1],
                          p[2], p[3], want[0], want[1], want[2], want[3], tolerance ? " +- 1" : " exactly");
        }
    }
    pv_expect(g, !bad, "%u resolved pixels wrong", bad);
    pv_expect(g, partial > 20, "only %u pixels along the diagonal are partly covered", partial);
    pv_info(g, "resolve: %u pixels exact, %u partly covered within +-1", exact, partial);
    pv_digest_text(g, "msaa_pixels", "%u exact, %u partial", exact, partial);
    pv_digest_hash(g, "msaa_resolve", px, image_bytes);
    pv_dump_ppm(g, "copies-resolved.ppm", px, SIZE, SIZE);
    if (c2->resolve) {
        compare_bytes(g, "vkCmdResolveImage2KHR against vkCmdResolveImage", px + image_bytes, px, image_bytes);
        pv_digest_hash(g, "msaa_resolve2", px + image_bytes, image_bytes);
    }

    pv_buffer_destroy(g, &ib);
    pv_buffer_destroy(g, &vb);
    vkDestroyPipeline(g->device, pipeline, NULL);
    vkDestroyPipelineLayout(g->device, layout, NULL);
    vkDestroyFramebuffer(g->device, framebuffer, NULL);
    vkDestroyRenderPass(g->device, pass, NULL);
    pv_image_destroy(g, &resolved2);
    pv_image_destroy(g, &resolved);
    pv_image_destroy(g, &ms);
}

/* --- vkCmdClearDepthStencilImage --- */
static bool format_has(struct pv_guest *g, VkFormat format, VkFormatFeatureFlags features)
{
    VkFormatProperties props;
    vkGetPhysicalDeviceFormatProperties(g->physical_device, format, &props);
    return (props.optimalTilingFeatures & features) == features;
}

/* The value a depth format stores for d, as the bytes a copy returns. */
static uint32_t depth_bits(VkFormat format, float d)
{
    switch (format) {
    case VK_FORMAT_D16_UNORM:
    case VK_FORMAT_D16_UNORM_S8_UINT:
        return (uint32_t)lround(d * 65535.0);
    case VK_FORMAT_X8_D24_UNORM_PACK32:
    case VK_FORMAT_D24_UNORM_S8_UINT:
        return (uint32_t)lround(d * 16777215.0);
    default: {
        uint32_t bits;
        memcpy(&bits, &d, 4);
        return bits;
    }
    }
}

static uint32_t depth_texel_size(VkFormat format)
{
    return format == VK_FORMAT_D16_UNORM || format == VK_FORMAT_D16_UNORM_S8_UINT ? 2 : 4;
}

static uint32_t read_depth(VkFormat format, const uint8_t *p)
{
    if (depth_texel_size(format) == 2)
        return p[0] | (uint32_t)p[1] << 8;
    uint32_t v;
    memcpy(&v, p, 4);
    if (format == VK_FORMAT_X8_D24_UNORM_PACK32 || format == VK_FORMAT_D24_UNORM_S8_UINT)
        v &= 0xffffff; /* the top 8 bits of a D24 copy are undefined */
    return v;
}

static void test_depth_clear(struct pv_guest *g, struct pv_buffer *rb)
{
    const VkFormatFeatureFlags transfer = VK_FORMAT_FEATURE_TRANSFER_SRC_BIT | VK_FORMAT_FEATURE_TRANSFER_DST_BIT;
    VkFormat depth_format = VK_FORMAT_UNDEFINED;
    static const VkFormat depth_candidates[] = { VK_FORMAT_D32_SFLOAT, VK_FORMAT_D16_UNORM };
    for (size_t i = 0; i < PV_ARRAY_SIZE(depth_candidates) && !depth_format; i++) {
        if (format_has(g, depth_candidates[i], transfer | VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT))
            depth_format = depth_candidates[i];
    }
    if (!depth_format)
        pv_fatal(g, "neither D32_SFLOAT nor D16_UNORM is a depth attachment that transfers can read and write");

    /* A depth image cleared to 0.375, then loaded by a pass that draws the left half at 0.25
     * and the right half at 0.5 with LESS: only the left half passes. */
    struct pv_image depth, color;
    pv_image_create(g, &depth, depth_format, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
                        VK_IMAGE_USAGE_TRANSFER_DST_BIT);
    pv_image_create(g, &color, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    VkAttachmentDescription attachments[2] = {
        { .format = color.format, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
          .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
          .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE, .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
          .finalLayout = L_SRC },
        { .format = depth_format, .samples = VK_SAMPLE_COUNT_1_BIT, .loadOp = VK_ATTACHMENT_LOAD_OP_LOAD,
          .storeOp = VK_ATTACHMENT_STORE_OP_STORE, .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
          .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
          .initialLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL, .finalLayout = L_SRC },
    };
    VkAttachmentReference color_ref = { 0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
    VkAttachmentReference depth_ref = { 1, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL };
    VkSubpassDescription subpass = { .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
                                     .colorAttachmentCount = 1, .pColorAttachments = &color_ref,
                                     .pDepthStencilAttachment = &depth_ref };
    VkSubpassDependency dependencies[2] = {
        { .srcSubpass = VK_SUBPASS_EXTERNAL, .dstSubpass = 0, .srcStageMask = T_STAGE,
          .dstStageMask = VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT | VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT,
          .srcAccessMask = T_WRITE,
          .dstAccessMask = VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT |
                           VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT },
        { .srcSubpass = 0, .dstSubpass = VK_SUBPASS_EXTERNAL,
          .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT,
          .dstStageMask = T_STAGE,
          .srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT | VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
          .dstAccessMask = T_READ },
    };
    VkRenderPassCreateInfo pass_info = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO, .attachmentCount = 2,
                                         .pAttachments = attachments, .subpassCount = 1, .pSubpasses = &subpass,
                                         .dependencyCount = 2, .pDependencies = dependencies };
    VkRenderPass pass;
    PV_CHECK(g, vkCreateRenderPass(g->device, &pass_info, NULL, &pass));
    VkFramebuffer framebuffer = pv_framebuffer_create(g, pass, &color, &depth);
    VkPipelineLayout layout = pv_pipeline_layout_create(g, NULL, 0, 0, 0);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "triangle.vert.spv", .fragment_shader = "triangle.frag.spv",
        .bindings = &binding, .binding_count = 1, .attributes = attributes, .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, .layout = layout, .render_pass = pass,
        .depth_test = true, .cull_mode = VK_CULL_MODE_NONE, .width = SIZE, .height = SIZE,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(g, &desc);
    struct vertex vertices[12];
    const float halves[2][3] = { { -1.0f, 0.0f, 0.25f }, { 0.0f, 1.0f, 0.5f } };
    for (int h = 0; h < 2; h++) {
        float x0 = halves[h][0], x1 = halves[h][1], z = halves[h][2];
        const float corners[6][2] = { { x0, -1 }, { x1, -1 }, { x1, 1 }, { x0, -1 }, { x1, 1 }, { x0, 1 } };
        for (int i = 0; i < 6; i++)
            vertices[h * 6 + i] = (struct vertex){ { corners[i][0], corners[i][1], z }, { 1.0f, 1.0f, 0.0f } };
    }
    struct pv_buffer vb;
    pv_buffer_create(g, &vb, sizeof(vertices), VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     0);
    memcpy(vb.map, vertices, sizeof(vertices));
    pv_buffer_flush(g, &vb);

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    barrier(cmd, depth.image, VK_IMAGE_ASPECT_DEPTH_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE,
            VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkClearDepthStencilValue depth_clear = { 0.375f, 0 };
    VkImageSubresourceRange depth_range = { VK_IMAGE_ASPECT_DEPTH_BIT, 0, 1, 0, 1 };
    vkCmdClearDepthStencilImage(cmd, depth.image, L_DST, &depth_clear, 1, &depth_range);
    barrier(cmd, depth.image, VK_IMAGE_ASPECT_DEPTH_BIT, 1, L_DST, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
            T_WRITE, VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT | VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
            T_STAGE, VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT | VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT);
    VkClearValue clears[2] = { { .color = { .float32 = { 0, 0, 0, 1 } } }, { .depthStencil = { 1.0f, 0 } } };
    VkRenderPassBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO, .renderPass = pass,
                                    .framebuffer = framebuffer, .renderArea = { { 0, 0 }, { SIZE, SIZE } },
                                    .clearValueCount = 2, .pClearValues = clears };
    vkCmdBeginRenderPass(cmd, &begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkDeviceSize offset = 0;
    vkCmdBindVertexBuffers(cmd, 0, 1, &vb.buffer, &offset);
    vkCmdDraw(cmd, 12, 1, 0, 0);
    vkCmdEndRenderPass(cmd);
    const uint32_t dsize = depth_texel_size(depth_format);
    copy_out(cmd, depth.image, VK_IMAGE_ASPECT_DEPTH_BIT, 0, SIZE, SIZE, rb->buffer, 0);
    copy_out(cmd, color.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, SIZE, SIZE, rb->buffer, SIZE * SIZE * 4);
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, rb);

    const uint8_t *bytes = rb->map;
    const uint32_t want_left = depth_bits(depth_format, 0.25f), want_right = depth_bits(depth_format, 0.375f);
    const int tolerance = depth_format == VK_FORMAT_D32_SFLOAT ? 0 : 1;
    unsigned bad_depth = 0, bad_color = 0;
    for (uint32_t y = 0; y < SIZE; y++) {
        for (uint32_t x = 0; x < SIZE; x++) {
            uint32_t d = read_depth(depth_format, bytes + (y * SIZE + x) * dsize);
            uint32_t want = x < SIZE / 2 ? want_left : want_right;
            if (llabs((long long)d - (long long)want) > tolerance && !bad_depth++)
                pv_expect(g, false, "depth at (%u,%u) is 0x%x, want 0x%x (%s)", x, y, d, want,
                          x < SIZE / 2 ? "drawn at 0.25" : "cleared to 0.375 by vkCmdClearDepthStencilImage");
            const uint8_t *p = bytes + SIZE * SIZE * 4 + (y * SIZE + x) * 4;
            const uint8_t want_color[4] = { x < SIZE / 2 ? 255 : 0, x < SIZE / 2 ? 255 : 0, 0, 255 };
            if (memcmp(p, want_color, 4) && !bad_color++)
                pv_expect(g, false, "color at (%u,%u) is %u,%u,%u,%u, want %u,%u,0,255", x, y, p[0], p[1], p[2], p[3],
                          want_color[0], want_color[1]);
        }
    }
    pv_expect(g, !bad_depth && !bad_color, "%u depth and %u color texels wrong after loading a cleared depth image",
              bad_depth, bad_color);
    pv_digest_hash(g, "depth_cleared_and_tested", bytes, SIZE * SIZE * dsize);
    pv_digest_hash(g, "depth_tested_color", bytes + SIZE * SIZE * 4, SIZE * SIZE * 4);

    pv_buffer_destroy(g, &vb);
    vkDestroyPipeline(g->device, pipeline, NULL);
    vkDestroyPipelineLayout(g->device, layout, NULL);
    vkDestroyFramebuffer(g->device, framebuffer, NULL);
    vkDestroyRenderPass(g->device, pass, NULL);
    pv_image_destroy(g, &color);
    pv_image_destroy(g, &depth);

    /* Depth and stencil: two layers cleared to 0.625 / 0x5a, then layer 1's stencil alone to
     * 0xc3. Both aspects of both layers read back. */
    VkFormat ds_format = VK_FORMAT_UNDEFINED;
    static const VkFormat ds_candidates[] = { VK_FORMAT_D32_SFLOAT_S8_UINT, VK_FORMAT_D24_UNORM_S8_UINT,
                                              VK_FORMAT_D16_UNORM_S8_UINT };
    for (size_t i = 0; i < PV_ARRAY_SIZE(ds_candidates) && !ds_format; i++) {
        if (format_has(g, ds_candidates[i], transfer))
            ds_format = ds_candidates[i];
    }
    if (!ds_format) {
        pv_digest_text(g, "depth_stencil_clear", "unsupported");
        return;
    }
    const uint32_t ds = 32, dts = depth_texel_size(ds_format);
    struct pv_image dsi;
    image_create(g, &dsi, ds_format, ds, ds, 2, VK_SAMPLE_COUNT_1_BIT, VK_IMAGE_TILING_OPTIMAL,
                 VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT, VK_IMAGE_LAYOUT_UNDEFINED, 0, 0);
    const VkImageAspectFlags both = VK_IMAGE_ASPECT_DEPTH_BIT | VK_IMAGE_ASPECT_STENCIL_BIT;
    cmd = pv_one_shot_begin(g);
    barrier(cmd, dsi.image, both, 2, VK_IMAGE_LAYOUT_UNDEFINED, L_DST, 0, T_WRITE, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT,
            T_STAGE);
    VkClearDepthStencilValue ds_clear = { 0.625f, 0x5a };
    VkImageSubresourceRange ds_range = { both, 0, 1, 0, 2 };
    vkCmdClearDepthStencilImage(cmd, dsi.image, L_DST, &ds_clear, 1, &ds_range);
    barrier(cmd, dsi.image, both, 2, L_DST, L_DST, T_WRITE, T_WRITE, T_STAGE, T_STAGE);
    VkClearDepthStencilValue stencil_clear = { 0.0f, 0xc3 };
    VkImageSubresourceRange stencil_range = { VK_IMAGE_ASPECT_STENCIL_BIT, 0, 1, 1, 1 };
    vkCmdClearDepthStencilImage(cmd, dsi.image, L_DST, &stencil_clear, 1, &stencil_range);
    barrier(cmd, dsi.image, both, 2, L_DST, L_SRC, T_WRITE, T_READ, T_STAGE, T_STAGE);
    const VkDeviceSize layer_depth = (VkDeviceSize)ds * ds * dts, layer_stencil = (VkDeviceSize)ds * ds;
    for (uint32_t layer = 0; layer < 2; layer++) {
        copy_out(cmd, dsi.image, VK_IMAGE_ASPECT_DEPTH_BIT, layer, ds, ds, rb->buffer, layer * layer_depth);
        copy_out(cmd, dsi.image, VK_IMAGE_ASPECT_STENCIL_BIT, layer, ds, ds, rb->buffer,
                 2 * layer_depth + layer * layer_stencil);
    }
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, rb);
    const uint32_t want_depth = depth_bits(ds_format, 0.625f);
    unsigned bad = 0;
    for (uint32_t layer = 0; layer < 2; layer++) {
        for (uint32_t i = 0; i < ds * ds; i++) {
            uint32_t d = read_depth(ds_format, bytes + layer * layer_depth + i * dts);
            uint8_t s = bytes[2 * layer_depth + layer * layer_stencil + i];
            uint8_t want_s = layer ? 0xc3 : 0x5a;
            if ((llabs((long long)d - (long long)want_depth) > (ds_format == VK_FORMAT_D32_SFLOAT_S8_UINT ? 0 : 1) ||
                 s != want_s) &&
                !bad++)
                pv_expect(g, false, "layer %u texel %u: depth 0x%x stencil 0x%02x, want 0x%x and 0x%02x", layer, i, d, s,
                          want_depth, want_s);
        }
    }
    pv_expect(g, !bad, "%u depth/stencil texels wrong after vkCmdClearDepthStencilImage", bad);
    pv_digest_hash(g, "stencil_cleared", bytes + 2 * layer_depth, 2 * layer_stencil);
    pv_digest_text(g, "depth_stencil_clear", "depth 0x%x, stencil 0x5a and 0xc3", want_depth);
    pv_image_destroy(g, &dsi);
}

/* --- buffer views in a compute shader --- */
static void test_buffer_views(struct pv_guest *g)
{
    const uint32_t n = 256;
    VkDeviceSize align = g->properties.limits.minTexelBufferOffsetAlignment;
    VkDeviceSize rgba_offset = align > 256 ? align : 256;
    VkDeviceSize words_offset = (rgba_offset + n * 4 + align - 1) / align * align;
    VkDeviceSize in_size = words_offset + n * 4;
    struct pv_buffer in, out;
    pv_buffer_create(g, &in, in_size, VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(g, &out, n * 4, VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    uint8_t *bytes = in.map;
    for (VkDeviceSize i = 0; i < in_size; i++)
        bytes[i] = (uint8_t)(i * 131 + (i >> 7) + 3);
    memset(out.map, 0, n * 4);
    pv_buffer_flush(g, &in);
    pv_buffer_flush(g, &out);

    VkBufferViewCreateInfo view_info = { .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO, .buffer = in.buffer,
                                         .format = VK_FORMAT_R8G8B8A8_UNORM, .offset = rgba_offset, .range = n * 4 };
    VkBufferView rgba_view, words_view, out_view;
    PV_CHECK(g, vkCreateBufferView(g->device, &view_info, NULL, &rgba_view));
    view_info.format = VK_FORMAT_R32_UINT;
    view_info.offset = words_offset;
    PV_CHECK(g, vkCreateBufferView(g->device, &view_info, NULL, &words_view));
    view_info.buffer = out.buffer;
    view_info.offset = 0;
    view_info.range = VK_WHOLE_SIZE;
    PV_CHECK(g, vkCreateBufferView(g->device, &view_info, NULL, &out_view));

    VkDescriptorSetLayoutBinding bindings[3] = {
        { 0, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 1, VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 2, VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
    };
    VkDescriptorSetLayoutCreateInfo set_layout_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                        .bindingCount = 3, .pBindings = bindings };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(g, vkCreateDescriptorSetLayout(g->device, &set_layout_info, NULL, &set_layout));
    VkPipelineLayout layout = pv_pipeline_layout_create(g, &set_layout, 1, 0, 0);
    VkPipeline pipeline = pv_compute_pipeline_create(g, "texel_buffers.comp.spv", layout);
    VkDescriptorPoolSize sizes[2] = { { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 1 },
                                      { VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, 2 } };
    VkDescriptorPoolCreateInfo pool_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                             .poolSizeCount = 2, .pPoolSizes = sizes };
    VkDescriptorPool pool;
    PV_CHECK(g, vkCreateDescriptorPool(g->device, &pool_info, NULL, &pool));
    VkDescriptorSetAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = pool, .descriptorSetCount = 1, .pSetLayouts = &set_layout };
    VkDescriptorSet set;
    PV_CHECK(g, vkAllocateDescriptorSets(g->device, &alloc, &set));
    VkBufferView views[3] = { rgba_view, words_view, out_view };
    VkWriteDescriptorSet writes[3];
    for (uint32_t i = 0; i < 3; i++) {
        writes[i] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                            .dstBinding = i, .descriptorCount = 1,
                                            .descriptorType = bindings[i].descriptorType,
                                            .pTexelBufferView = &views[i] };
    }
    vkUpdateDescriptorSets(g->device, 3, writes, 0, NULL);

    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
    vkCmdDispatch(cmd, n / 64, 1, 1);
    pv_cmd_buffer_barrier(cmd, out.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, &out);
    const uint32_t *got = out.map;
    unsigned bad = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t packed, word;
        memcpy(&packed, bytes + rgba_offset + i * 4, 4);
        memcpy(&word, bytes + words_offset + i * 4, 4);
        uint32_t want = packed ^ word ^ (i * 2654435769u);
        if (got[i] != want && !bad++)
            pv_expect(g, false, "texel buffers: out[%u] = %08x, want %08x", i, got[i], want);
    }
    pv_expect(g, !bad, "texel buffers: %u of %u words wrong", bad, n);
    pv_digest_hash(g, "texel_buffers", got, n * 4);

    vkDestroyDescriptorPool(g->device, pool, NULL);
    vkDestroyPipeline(g->device, pipeline, NULL);
    vkDestroyPipelineLayout(g->device, layout, NULL);
    vkDestroyDescriptorSetLayout(g->device, set_layout, NULL);
    vkDestroyBufferView(g->device, out_view, NULL);
    vkDestroyBufferView(g->device, words_view, NULL);
    vkDestroyBufferView(g->device, rgba_view, NULL);
    pv_buffer_destroy(g, &out);
    pv_buffer_destroy(g, &in);
}

/* --- linear images and vkGetImageSubresourceLayout --- */
static void test_linear(struct pv_guest *g, struct pv_buffer *rb, const struct pv_image *a)
{
    VkImageFormatProperties props;
    VkResult r = vkGetPhysicalDeviceImageFormatProperties(
        g->physical_device, VK_FORMAT_R8G8B8A8_UNORM, VK_IMAGE_TYPE_2D, VK_IMAGE_TILING_LINEAR,
        VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT, 0, &props);
    if (r == VK_ERROR_FORMAT_NOT_SUPPORTED || props.maxExtent.width < LINEAR_W || props.maxExtent.height < LINEAR_H) {
        pv_digest_text(g, "linear_image", "unsupported");
        return;
    }
    PV_CHECK(g, r);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkImageUsageFlags usage = VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
    struct pv_image src, dst;
    image_create(g, &src, VK_FORMAT_R8G8B8A8_UNORM, LINEAR_W, LINEAR_H, 1, VK_SAMPLE_COUNT_1_BIT,
                 VK_IMAGE_TILING_LINEAR, usage, VK_IMAGE_LAYOUT_PREINITIALIZED, host, 0);
    image_create(g, &dst, VK_FORMAT_R8G8B8A8_UNORM, LINEAR_W, LINEAR_H, 1, VK_SAMPLE_COUNT_1_BIT,
                 VK_IMAGE_TILING_LINEAR, usage, VK_IMAGE_LAYOUT_UNDEFINED, host, 0);
    VkImageSubresource sub = { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0 };
    VkSubresourceLayout src_layout, dst_layout;
    vkGetImageSubresourceLayout(g->device, src.image, &sub, &src_layout);
    vkGetImageSubresourceLayout(g->device, dst.image, &sub, &dst_layout);
    VkMemoryRequirements src_req, dst_req;
    vkGetImageMemoryRequirements(g->device, src.image, &src_req);
    vkGetImageMemoryRequirements(g->device, dst.image, &dst_req);
    const VkSubresourceLayout *layouts[2] = { &src_layout, &dst_layout };
    const VkMemoryRequirements *reqs[2] = { &src_req, &dst_req };
    for (int i = 0; i < 2; i++) {
        const VkSubresourceLayout *l = layouts[i];
        pv_expect(g, l->rowPitch >= LINEAR_W * 4 && l->size >= l->rowPitch * (LINEAR_H - 1) + LINEAR_W * 4 &&
                         l->offset + l->size <= reqs[i]->size,
                  "linear image %d: layout offset %llu size %llu rowPitch %llu does not fit %ux%u RGBA8 in %llu bytes",
                  i, (unsigned long long)l->offset, (unsigned long long)l->size, (unsigned long long)l->rowPitch,
                  LINEAR_W, LINEAR_H, (unsigned long long)reqs[i]->size);
    }
    pv_info(g, "linear %ux%u RGBA8: offset %llu, size %llu, rowPitch %llu", LINEAR_W, LINEAR_H,
            (unsigned long long)src_layout.offset, (unsigned long long)src_layout.size,
            (unsigned long long)src_layout.rowPitch);

    /* Written through the mapping at the layout's offset and pitch, copied out tightly. */
    uint8_t *map;
    PV_CHECK(g, vkMapMemory(g->device, src.memory, 0, VK_WHOLE_SIZE, 0, (void **)&map));
    memset(map, 0xcd, src_layout.offset + src_layout.size);
    for (uint32_t y = 0; y < LINEAR_H; y++)
        for (uint32_t x = 0; x < LINEAR_W; x++)
            for (uint32_t c = 0; c < 4; c++)
                map[src_layout.offset + y * src_layout.rowPitch + x * 4 + c] = pattern_byte(x + 11, y + 3, c);
    vkUnmapMemory(g->device, src.memory);

    /* Into the other: a region of A (3, 5) .. (3 + 37, 5 + 23), then read through its mapping. */
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    barrier(cmd, src.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_PREINITIALIZED, L_SRC,
            VK_ACCESS_HOST_WRITE_BIT, T_READ, VK_PIPELINE_STAGE_HOST_BIT, T_STAGE);
    copy_out(cmd, src.image, VK_IMAGE_ASPECT_COLOR_BIT, 0, LINEAR_W, LINEAR_H, rb->buffer, 0);
    barrier(cmd, dst.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_GENERAL, 0,
            T_WRITE, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, T_STAGE);
    VkImageCopy region = { { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 }, { 3, 5, 0 }, { VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1 },
                           { 0, 0, 0 }, { LINEAR_W, LINEAR_H, 1 } };
    vkCmdCopyImage(cmd, a->image, L_SRC, dst.image, VK_IMAGE_LAYOUT_GENERAL, 1, &region);
    barrier(cmd, dst.image, VK_IMAGE_ASPECT_COLOR_BIT, 1, VK_IMAGE_LAYOUT_GENERAL, VK_IMAGE_LAYOUT_GENERAL, T_WRITE,
            VK_ACCESS_HOST_READ_BIT, T_STAGE, VK_PIPELINE_STAGE_HOST_BIT);
    to_host(cmd);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, rb);

    uint8_t want[LINEAR_W * LINEAR_H * 4], got[LINEAR_W * LINEAR_H * 4];
    for (uint32_t y = 0; y < LINEAR_H; y++)
        for (uint32_t x = 0; x < LINEAR_W; x++)
            for (uint32_t c = 0; c < 4; c++)
                want[(y * LINEAR_W + x) * 4 + c] = pattern_byte(x + 11, y + 3, c);
    compare_bytes(g, "linear image written through its mapping, copied out", rb->map, want, sizeof(want));
    pv_digest_hash(g, "linear_written", rb->map, sizeof(want));

    PV_CHECK(g, vkMapMemory(g->device, dst.memory, 0, VK_WHOLE_SIZE, 0, (void **)&map));
    for (uint32_t y = 0; y < LINEAR_H; y++) {
        memcpy(got + y * LINEAR_W * 4, map + dst_layout.offset + y * dst_layout.rowPitch, LINEAR_W * 4);
        for (uint32_t x = 0; x < LINEAR_W; x++)
            for (uint32_t c = 0; c < 4; c++)
                want[(y * LINEAR_W + x) * 4 + c] = pattern_byte(x + 3, y + 5, c);
    }
    vkUnmapMemory(g->device, dst.memory);
    compare_bytes(g, "linear image copied into, read through its mapping", got, want, sizeof(want));
    pv_digest_hash(g, "linear_read", got, sizeof(got));
    pv_digest_text(g, "linear_layout", "offset %llu size %llu rowPitch %llu",
                   (unsigned long long)src_layout.offset, (unsigned long long)src_layout.size,
                   (unsigned long long)src_layout.rowPitch);
    pv_image_destroy(g, &dst);
    pv_image_destroy(g, &src);
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "copies" };
    pv_guest_init_instance(&g, &options, argc, argv);
    const char *extensions[1];
    bool has_copy2 = pv_has_device_extension(&g, VK_KHR_COPY_COMMANDS_2_EXTENSION_NAME);
    if (has_copy2) {
        extensions[0] = VK_KHR_COPY_COMMANDS_2_EXTENSION_NAME;
        options.device_extensions = extensions;
        options.device_extension_count = 1;
    }
    pv_guest_create_device(&g, &options);
    struct copy2 c2 = { 0 };
    if (has_copy2) {
        c2.copy_buffer = (PFN_vkCmdCopyBuffer2KHR)vkGetDeviceProcAddr(g.device, "vkCmdCopyBuffer2KHR");
        c2.copy_image = (PFN_vkCmdCopyImage2KHR)vkGetDeviceProcAddr(g.device, "vkCmdCopyImage2KHR");
        c2.buffer_to_image = (PFN_vkCmdCopyBufferToImage2KHR)vkGetDeviceProcAddr(g.device, "vkCmdCopyBufferToImage2KHR");
        c2.image_to_buffer = (PFN_vkCmdCopyImageToBuffer2KHR)vkGetDeviceProcAddr(g.device, "vkCmdCopyImageToBuffer2KHR");
        c2.blit = (PFN_vkCmdBlitImage2KHR)vkGetDeviceProcAddr(g.device, "vkCmdBlitImage2KHR");
        c2.resolve = (PFN_vkCmdResolveImage2KHR)vkGetDeviceProcAddr(g.device, "vkCmdResolveImage2KHR");
        if (!c2.copy_buffer || !c2.copy_image || !c2.buffer_to_image || !c2.image_to_buffer || !c2.blit || !c2.resolve)
            pv_fatal(&g, "VK_KHR_copy_commands2 is exposed but an entry point is missing");
    } else {
        pv_digest_text(&g, "copy_commands2", "unsupported");
    }

    struct pv_buffer staging, rb;
    pv_buffer_create(&g, &staging, SIZE * SIZE * 4, VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &rb, 2 * SIZE * SIZE * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    struct pv_image a;
    pv_image_create(&g, &a, VK_FORMAT_R8G8B8A8_UNORM, SIZE, SIZE, 1,
                    VK_IMAGE_USAGE_TRANSFER_SRC_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT);

    test_update_buffer(&g, &c2, &rb);
    test_copy_image(&g, &c2, &staging, &rb, &a);
    test_msaa(&g, &c2, &rb);
    test_depth_clear(&g, &rb);
    test_buffer_views(&g);
    test_linear(&g, &rb, &a);

    pv_image_destroy(&g, &a);
    pv_buffer_destroy(&g, &rb);
    pv_buffer_destroy(&g, &staging);
    return pv_guest_finish(&g);
}
