/* Image transfer commands, checked before they are recorded: copies between images, blits,
 * resolves and copies between buffers and images. A host driver turns their regions into
 * memory operations on the images' and buffers' storage without looking at them (a software
 * rasterizer into plain memcpy), so a mip level, layer or texel range past the image, or a
 * buffer range past the buffer, would read or write the host's memory. Every region is checked
 * against what the image recorded at creation (pv_image.h) and the buffer's size. */
#include <stdio.h>

#include "pv_image.h"

static uint64_t round_up(uint64_t value, uint32_t to)
{
    return (value + to - 1) / to * to;
}

static uint64_t blocks(uint64_t texels, uint32_t per_block)
{
    return (texels + per_block - 1) / per_block;
}

/* The texels of one region of one image: where it starts and how large it is. */
struct image_box {
    int32_t x, y, z;
    uint64_t width, height, depth;
};

/* Whether a subresource's mip level and layers exist, and box lies in that mip level (whole
 * blocks at its edges); else the context is fatal, naming the region. */
static bool box_within(struct pv_context *ctx, const char *command, uint32_t region,
                       const struct pv_image *image, const VkImageSubresourceLayers *sub,
                       const struct image_box *box, const struct pv_format_block *block)
{
    char what[96] = "";
    const uint32_t level = sub->mipLevel;
    uint32_t layers = sub->layerCount;
    if (layers == VK_REMAINING_ARRAY_LAYERS && sub->baseArrayLayer < image->array_layers)
        layers = image->array_layers - sub->baseArrayLayer;
    if (level >= image->mip_levels) {
        snprintf(what, sizeof(what), "mip level %u of %u", level, image->mip_levels);
    } else if (!layers || sub->baseArrayLayer > image->array_layers ||
               layers > image->array_layers - sub->baseArrayLayer) {
        snprintf(what, sizeof(what), "layers %u+%u of %u", sub->baseArrayLayer, layers,
                 image->array_layers);
    } else {
        const uint64_t width = image->extent.width >> level ? image->extent.width >> level : 1;
        const uint64_t height = image->extent.height >> level ? image->extent.height >> level : 1;
        const uint64_t depth = image->extent.depth >> level ? image->extent.depth >> level : 1;
        /* A 3D image's region spans its depth; any other image's spans its layers (its depth
         * is the layer count, or 1, when the other image of a copy is 3D). */
        const bool z_ok = image->type == VK_IMAGE_TYPE_3D
                              ? box->z >= 0 && box->depth <= depth - (uint64_t)box->z &&
                                    (uint64_t)box->z <= depth
                              : box->z == 0 && (box->depth == 1 || box->depth == layers);
        if (box->x < 0 || box->y < 0 || !z_ok || !box->width || !box->height || !box->depth ||
            (uint64_t)box->x + box->width > round_up(width, block->width) ||
            (uint64_t)box->y + box->height > round_up(height, block->height))
            snprintf(what, sizeof(what), "texels (%d,%d,%d)+(%llu,%llu,%llu) of %llux%llux%llu",
                     box->x, box->y, box->z, (unsigned long long)box->width,
                     (unsigned long long)box->height, (unsigned long long)box->depth,
                     (unsigned long long)width, (unsigned long long)height,
                     (unsigned long long)depth);
    }
    if (!what[0])
        return true;
    pv_context_set_fatal(ctx, "%s: region %u names %s, outside image 0x%llx", command, region,
                         what, (unsigned long long)image->base.id);
    return false;
}

/* The image's block, or the context is fatal: copies of formats whose layout the host does
 * not know are refused. */
static bool image_block(struct pv_context *ctx, const char *command, const struct pv_image *image,
                        VkImageAspectFlags aspect, struct pv_format_block *block)
{
    if (!image) {
        /* a handle the decoder translated always has its object; kept for safety */
        pv_context_set_fatal(ctx, "%s: an image of the command is gone", command);
        return false;
    }
    if (pv_format_block(image->format, aspect, block))
        return true;
    pv_context_set_fatal(ctx, "%s: this host does not check copies of format %d (aspect 0x%x) "
                         "and refuses them", command, (int)image->format, aspect);
    return false;
}

static struct image_box box_of(VkOffset3D offset, VkExtent3D extent)
{
    return (struct image_box){ offset.x, offset.y, offset.z, extent.width, extent.height,
                               extent.depth };
}

/* One image-to-image region (copy or resolve): the extent is in the source's texels; the
 * destination covers the same blocks, in its own block size. */
static bool image_pair_region(struct pv_context *ctx, const char *command, uint32_t i,
                              const struct pv_image *src, const VkImageSubresourceLayers *src_sub,
                              VkOffset3D src_offset, const struct pv_image *dst,
                              const VkImageSubresourceLayers *dst_sub, VkOffset3D dst_offset,
                              VkExtent3D extent)
{
    struct pv_format_block src_block, dst_block;
    if (!image_block(ctx, command, src, 0, &src_block) ||
        !image_block(ctx, command, dst, 0, &dst_block))
        return false;
    struct image_box src_box = box_of(src_offset, extent);
    struct image_box dst_box = box_of(dst_offset, extent);
    dst_box.width = blocks(extent.width, src_block.width) * dst_block.width;
    dst_box.height = blocks(extent.height, src_block.height) * dst_block.height;
    return box_within(ctx, command, i, src, src_sub, &src_box, &src_block) &&
           box_within(ctx, command, i, dst, dst_sub, &dst_box, &dst_block);
}

/* One blit region: both corners of each side inside its image (blits may mirror, so the
 * corners come in either order). */
static bool blit_side(struct pv_context *ctx, const char *command, uint32_t i,
                      const struct pv_image *image, const VkImageSubresourceLayers *sub,
                      const VkOffset3D offsets[2])
{
    const VkOffset3D *a = &offsets[0], *b = &offsets[1];
    struct image_box box = {
        a->x < b->x ? a->x : b->x, a->y < b->y ? a->y : b->y, a->z < b->z ? a->z : b->z,
        (uint64_t)((int64_t)a->x - b->x < 0 ? (int64_t)b->x - a->x : (int64_t)a->x - b->x),
        (uint64_t)((int64_t)a->y - b->y < 0 ? (int64_t)b->y - a->y : (int64_t)a->y - b->y),
        (uint64_t)((int64_t)a->z - b->z < 0 ? (int64_t)b->z - a->z : (int64_t)a->z - b->z),
    };
    /* An empty blit does nothing; only its corners must be in the image. */
    box.width += !box.width;
    box.height += !box.height;
    box.depth += !box.depth;
    struct pv_format_block block;
    if (!image_block(ctx, command, image, 0, &block))
        return false;
    const struct pv_format_block texel = { block.bytes, 1, 1 };
    return box_within(ctx, command, i, image, sub, &box, &texel);
}

/* One buffer-image region: the image side as above, and the buffer bytes it reads or writes
 * inside the buffer. */
static bool buffer_image_region(struct pv_context *ctx, const char *command, uint32_t i,
                                const struct pv_object *buffer, const struct pv_image *image,
                                VkDeviceSize buffer_offset, uint32_t row_length,
                                uint32_t image_height, const VkImageSubresourceLayers *sub,
                                VkOffset3D offset, VkExtent3D extent)
{
    struct pv_format_block block;
    if (!image_block(ctx, command, image, sub->aspectMask, &block))
        return false;
    if (!buffer) {
        pv_context_set_fatal(ctx, "%s: the buffer of the command is gone", command);
        return false;
    }
    struct image_box box = box_of(offset, extent);
    if (!box_within(ctx, command, i, image, sub, &box, &block))
        return false;
    uint32_t layers = sub->layerCount == VK_REMAINING_ARRAY_LAYERS
                          ? image->array_layers - sub->baseArrayLayer
                          : sub->layerCount;
    /* Rows and slices in blocks; the last row holds only the region's width. Every value is
     * below 2^32, so no product of two overflows, and the sums are checked. */
    const uint64_t row = blocks(row_length ? row_length : extent.width, block.width);
    const uint64_t slice = blocks(image_height ? image_height : extent.height, block.height);
    const uint64_t slices = (uint64_t)extent.depth * (image->type == VK_IMAGE_TYPE_3D ? 1 : layers);
    const uint64_t rows = (slices - 1) * slice + blocks(extent.height, block.height) - 1;
    uint64_t span, end;
    if (row < blocks(extent.width, block.width) || slice < blocks(extent.height, block.height) ||
        __builtin_mul_overflow(rows, row, &span) ||
        __builtin_add_overflow(span, blocks(extent.width, block.width), &span) ||
        __builtin_mul_overflow(span, (uint64_t)block.bytes, &span) ||
        __builtin_add_overflow(span, buffer_offset, &end) || end > buffer->size) {
        pv_context_set_fatal(ctx, "%s: region %u reaches past buffer 0x%llx of %llu bytes "
                             "(offset %llu, rows of %u, images of %u texels)", command, i,
                             (unsigned long long)buffer->id, (unsigned long long)buffer->size,
                             (unsigned long long)buffer_offset, row_length, image_height);
        return false;
    }
    return true;
}

/* The handles inside the *2 commands' info structs, back to their objects. */
static const struct pv_image *image_of(struct pv_context *ctx, VkImage handle)
{
    return (const struct pv_image *)pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_IMAGE,
                                                                 (uint64_t)handle);
}

static const struct pv_object *buffer_of(struct pv_context *ctx, VkBuffer handle)
{
    return pv_context_object_for_handle(ctx, VK_OBJECT_TYPE_BUFFER, (uint64_t)handle);
}

bool pv_check_vkCmdCopyImage(struct pv_context *ctx, const struct pv_args_vkCmdCopyImage *a)
{
    const struct pv_image *src = (const struct pv_image *)a->srcImage_object;
    const struct pv_image *dst = (const struct pv_image *)a->dstImage_object;
    for (uint32_t i = 0; i < a->regionCount; i++) {
        const VkImageCopy *r = &a->pRegions[i];
        if (!image_pair_region(ctx, "vkCmdCopyImage", i, src, &r->srcSubresource, r->srcOffset,
                               dst, &r->dstSubresource, r->dstOffset, r->extent))
            return false;
    }
    return true;
}

bool pv_check_vkCmdCopyImage2(struct pv_context *ctx, const struct pv_args_vkCmdCopyImage2 *a)
{
    const VkCopyImageInfo2 *info = a->pCopyImageInfo;
    const struct pv_image *src = image_of(ctx, info->srcImage), *dst = image_of(ctx, info->dstImage);
    for (uint32_t i = 0; i < info->regionCount; i++) {
        const VkImageCopy2 *r = &info->pRegions[i];
        if (!image_pair_region(ctx, "vkCmdCopyImage2", i, src, &r->srcSubresource, r->srcOffset,
                               dst, &r->dstSubresource, r->dstOffset, r->extent))
            return false;
    }
    return true;
}

bool pv_check_vkCmdResolveImage(struct pv_context *ctx, const struct pv_args_vkCmdResolveImage *a)
{
    const struct pv_image *src = (const struct pv_image *)a->srcImage_object;
    const struct pv_image *dst = (const struct pv_image *)a->dstImage_object;
    for (uint32_t i = 0; i < a->regionCount; i++) {
        const VkImageResolve *r = &a->pRegions[i];
        if (!image_pair_region(ctx, "vkCmdResolveImage", i, src, &r->srcSubresource,
                               r->srcOffset, dst, &r->dstSubresource, r->dstOffset, r->extent))
            return false;
    }
    return true;
}

bool pv_check_vkCmdResolveImage2(struct pv_context *ctx,
                                 const struct pv_args_vkCmdResolveImage2 *a)
{
    const VkResolveImageInfo2 *info = a->pResolveImageInfo;
    const struct pv_image *src = image_of(ctx, info->srcImage), *dst = image_of(ctx, info->dstImage);
    for (uint32_t i = 0; i < info->regionCount; i++) {
        const VkImageResolve2 *r = &info->pRegions[i];
        if (!image_pair_region(ctx, "vkCmdResolveImage2", i, src, &r->srcSubresource,
                               r->srcOffset, dst, &r->dstSubresource, r->dstOffset, r->extent))
            return false;
    }
    return true;
}

bool pv_check_vkCmdBlitImage(struct pv_context *ctx, const struct pv_args_vkCmdBlitImage *a)
{
    const struct pv_image *src = (const struct pv_image *)a->srcImage_object;
    const struct pv_image *dst = (const struct pv_image *)a->dstImage_object;
    for (uint32_t i = 0; i < a->regionCount; i++) {
        const VkImageBlit *r = &a->pRegions[i];
        if (!blit_side(ctx, "vkCmdBlitImage", i, src, &r->srcSubresource, r->srcOffsets) ||
            !blit_side(ctx, "vkCmdBlitImage", i, dst, &r->dstSubresource, r->dstOffsets))
            return false;
    }
    return true;
}

bool pv_check_vkCmdBlitImage2(struct pv_context *ctx, const struct pv_args_vkCmdBlitImage2 *a)
{
    const VkBlitImageInfo2 *info = a->pBlitImageInfo;
    const struct pv_image *src = image_of(ctx, info->srcImage), *dst = image_of(ctx, info->dstImage);
    for (uint32_t i = 0; i < info->regionCount; i++) {
        const VkImageBlit2 *r = &info->pRegions[i];
        if (!blit_side(ctx, "vkCmdBlitImage2", i, src, &r->srcSubresource, r->srcOffsets) ||
            !blit_side(ctx, "vkCmdBlitImage2", i, dst, &r->dstSubresource, r->dstOffsets))
            return false;
    }
    return true;
}

#define BUFFER_IMAGE_REGION(command, buffer, image, r)                                            \
    buffer_image_region(ctx, command, i, buffer, image, (r)->bufferOffset, (r)->bufferRowLength, \
                        (r)->bufferImageHeight, &(r)->imageSubresource, (r)->imageOffset,        \
                        (r)->imageExtent)

bool pv_check_vkCmdCopyBufferToImage(struct pv_context *ctx,
                                     const struct pv_args_vkCmdCopyBufferToImage *a)
{
    const struct pv_image *image = (const struct pv_image *)a->dstImage_object;
    for (uint32_t i = 0; i < a->regionCount; i++) {
        if (!BUFFER_IMAGE_REGION("vkCmdCopyBufferToImage", a->srcBuffer_object, image,
                                 &a->pRegions[i]))
            return false;
    }
    return true;
}

bool pv_check_vkCmdCopyImageToBuffer(struct pv_context *ctx,
                                     const struct pv_args_vkCmdCopyImageToBuffer *a)
{
    const struct pv_image *image = (const struct pv_image *)a->srcImage_object;
    for (uint32_t i = 0; i < a->regionCount; i++) {
        if (!BUFFER_IMAGE_REGION("vkCmdCopyImageToBuffer", a->dstBuffer_object, image,
                                 &a->pRegions[i]))
            return false;
    }
    return true;
}

bool pv_check_vkCmdCopyBufferToImage2(struct pv_context *ctx,
                                      const struct pv_args_vkCmdCopyBufferToImage2 *a)
{
    const VkCopyBufferToImageInfo2 *info = a->pCopyBufferToImageInfo;
    const struct pv_object *buffer = buffer_of(ctx, info->srcBuffer);
    const struct pv_image *image = image_of(ctx, info->dstImage);
    for (uint32_t i = 0; i < info->regionCount; i++) {
        if (!BUFFER_IMAGE_REGION("vkCmdCopyBufferToImage2", buffer, image, &info->pRegions[i]))
            return false;
    }
    return true;
}

bool pv_check_vkCmdCopyImageToBuffer2(struct pv_context *ctx,
                                      const struct pv_args_vkCmdCopyImageToBuffer2 *a)
{
    const VkCopyImageToBufferInfo2 *info = a->pCopyImageToBufferInfo;
    const struct pv_object *buffer = buffer_of(ctx, info->dstBuffer);
    const struct pv_image *image = image_of(ctx, info->srcImage);
    for (uint32_t i = 0; i < info->regionCount; i++) {
        if (!BUFFER_IMAGE_REGION("vkCmdCopyImageToBuffer2", buffer, image, &info->pRegions[i]))
            return false;
    }
    return true;
}
