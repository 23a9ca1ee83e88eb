/* What the host records of an image at creation, to check the regions commands name against
 * it, and the texel block sizes of the formats whose layout the host knows. */
#ifndef PV_IMAGE_H
#define PV_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "pv_device.h"

struct pv_image {
    struct pv_object base;
    VkImageType type;
    VkFormat format;
    VkExtent3D extent;
    uint32_t mip_levels;
    uint32_t array_layers;
    VkImageCreateFlags flags;
};

/* A texel block: its bytes, and its width and height in texels (1 x 1 for uncompressed
 * formats). */
struct pv_format_block {
    uint32_t bytes;
    uint32_t width, height;
};

/* The block of format as a copy to or from a buffer lays out aspect (a single aspect; 0: the
 * whole texel, for image-to-image copies). False where the host does not know the layout
 * (multi-planar and vendor formats): such copies are refused rather than guessed at. */
bool pv_format_block(VkFormat format, VkImageAspectFlags aspect, struct pv_format_block *out);

#endif
