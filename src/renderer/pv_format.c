/* Texel block sizes of the formats the host checks copies of (see pv_image.h): the core
 * formats, the ASTC HDR formats and the small 16-bit ones; values from the Vulkan
 * specification's format compatibility classes. */
#include "pv_image.h"

static bool block(struct pv_format_block *out, uint32_t bytes, uint32_t width, uint32_t height)
{
    *out = (struct pv_format_block){ bytes, width, height };
    return true;
}

/* ASTC block shapes, in the order of the formats (UNORM, SRGB pairs in the core range; one
 * SFLOAT each in VK_EXT_texture_compression_astc_hdr). */
static const uint8_t astc_shapes[14][2] = {
    { 4, 4 },  { 5, 4 },  { 5, 5 },  { 6, 5 },   { 6, 6 },   { 8, 5 },   { 8, 6 },
    { 8, 8 },  { 10, 5 }, { 10, 6 }, { 10, 8 },  { 10, 10 }, { 12, 10 }, { 12, 12 },
};

/* Depth/stencil formats: the bytes of each aspect in a buffer, and of the whole texel. */
static bool depth_stencil(VkFormat format, VkImageAspectFlags aspect, struct pv_format_block *out)
{
    uint32_t depth, stencil;
    switch (format) {
    case VK_FORMAT_D16_UNORM: depth = 2, stencil = 0; break;
    case VK_FORMAT_X8_D24_UNORM_PACK32: depth = 4, stencil = 0; break;
    case VK_FORMAT_D32_SFLOAT: depth = 4, stencil = 0; break;
    case VK_FORMAT_S8_UINT: depth = 0, stencil = 1; break;
    case VK_FORMAT_D16_UNORM_S8_UINT: depth = 2, stencil = 1; break;
    case VK_FORMAT_D24_UNORM_S8_UINT: depth = 4, stencil = 1; break;
    case VK_FORMAT_D32_SFLOAT_S8_UINT: depth = 4, stencil = 1; break;
    default: return false;
    }
    if (aspect == VK_IMAGE_ASPECT_DEPTH_BIT)
        return depth && block(out, depth, 1, 1);
    if (aspect == VK_IMAGE_ASPECT_STENCIL_BIT)
        return stencil && block(out, stencil, 1, 1);
    /* whole texels, as image copies move them: at most 8 bytes (D32S8 padded) */
    return aspect == 0 && block(out, depth + stencil <= 4 ? 4 : 8, 1, 1);
}

bool pv_format_block(VkFormat format, VkImageAspectFlags aspect, struct pv_format_block *out)
{
    const int f = (int)format;
    if (f >= VK_FORMAT_D16_UNORM && f <= VK_FORMAT_D32_SFLOAT_S8_UINT)
        return depth_stencil(format, aspect, out);
    if (aspect && aspect != VK_IMAGE_ASPECT_COLOR_BIT)
        return false;
    if (f == VK_FORMAT_R4G4_UNORM_PACK8) return block(out, 1, 1, 1);
    if (f <= VK_FORMAT_A1R5G5B5_UNORM_PACK16 && f >= VK_FORMAT_R4G4B4A4_UNORM_PACK16)
        return block(out, 2, 1, 1);
    if (f >= VK_FORMAT_R8_UNORM && f <= VK_FORMAT_R8_SRGB) return block(out, 1, 1, 1);
    if (f >= VK_FORMAT_R8G8_UNORM && f <= VK_FORMAT_R8G8_SRGB) return block(out, 2, 1, 1);
    if (f >= VK_FORMAT_R8G8B8_UNORM && f <= VK_FORMAT_B8G8R8_SRGB) return block(out, 3, 1, 1);
    if (f >= VK_FORMAT_R8G8B8A8_UNORM && f <= VK_FORMAT_A2B10G10R10_SINT_PACK32)
        return block(out, 4, 1, 1);
    if (f >= VK_FORMAT_R16_UNORM && f <= VK_FORMAT_R16_SFLOAT) return block(out, 2, 1, 1);
    if (f >= VK_FORMAT_R16G16_UNORM && f <= VK_FORMAT_R16G16_SFLOAT) return block(out, 4, 1, 1);
    if (f >= VK_FORMAT_R16G16B16_UNORM && f <= VK_FORMAT_R16G16B16_SFLOAT)
        return block(out, 6, 1, 1);
    if (f >= VK_FORMAT_R16G16B16A16_UNORM && f <= VK_FORMAT_R16G16B16A16_SFLOAT)
        return block(out, 8, 1, 1);
    if (f >= VK_FORMAT_R32_UINT && f <= VK_FORMAT_R64G64B64A64_SFLOAT) {
        /* four sizes of 32-bit, then of 64-bit components, three formats each */
        static const uint8_t bytes[8] = { 4, 8, 12, 16, 8, 16, 24, 32 };
        return block(out, bytes[(f - VK_FORMAT_R32_UINT) / 3], 1, 1);
    }
    if (f == VK_FORMAT_B10G11R11_UFLOAT_PACK32 || f == VK_FORMAT_E5B9G9R9_UFLOAT_PACK32)
        return block(out, 4, 1, 1);
    if (f >= VK_FORMAT_BC1_RGB_UNORM_BLOCK && f <= VK_FORMAT_BC1_RGBA_SRGB_BLOCK)
        return block(out, 8, 4, 4);
    if (f >= VK_FORMAT_BC2_UNORM_BLOCK && f <= VK_FORMAT_BC3_SRGB_BLOCK)
        return block(out, 16, 4, 4);
    if (f == VK_FORMAT_BC4_UNORM_BLOCK || f == VK_FORMAT_BC4_SNORM_BLOCK)
        return block(out, 8, 4, 4);
    if (f >= VK_FORMAT_BC5_UNORM_BLOCK && f <= VK_FORMAT_BC7_SRGB_BLOCK)
        return block(out, 16, 4, 4);
    if (f >= VK_FORMAT_ETC2_R8G8B8_UNORM_BLOCK && f <= VK_FORMAT_ETC2_R8G8B8A1_SRGB_BLOCK)
        return block(out, 8, 4, 4);
    if (f == VK_FORMAT_ETC2_R8G8B8A8_UNORM_BLOCK || f == VK_FORMAT_ETC2_R8G8B8A8_SRGB_BLOCK)
        return block(out, 16, 4, 4);
    if (f == VK_FORMAT_EAC_R11_UNORM_BLOCK || f == VK_FORMAT_EAC_R11_SNORM_BLOCK)
        return block(out, 8, 4, 4);
    if (f == VK_FORMAT_EAC_R11G11_UNORM_BLOCK || f == VK_FORMAT_EAC_R11G11_SNORM_BLOCK)
        return block(out, 16, 4, 4);
    if (f >= VK_FORMAT_ASTC_4x4_UNORM_BLOCK && f <= VK_FORMAT_ASTC_12x12_SRGB_BLOCK) {
        const uint8_t *shape = astc_shapes[(f - VK_FORMAT_ASTC_4x4_UNORM_BLOCK) / 2];
        return block(out, 16, shape[0], shape[1]);
    }
    if (f >= VK_FORMAT_ASTC_4x4_SFLOAT_BLOCK && f <= VK_FORMAT_ASTC_12x12_SFLOAT_BLOCK) {
        const uint8_t *shape = astc_shapes[f - VK_FORMAT_ASTC_4x4_SFLOAT_BLOCK];
        return block(out, 16, shape[0], shape[1]);
    }
    if (f == VK_FORMAT_A4R4G4B4_UNORM_PACK16 || f == VK_FORMAT_A4B4G4R4_UNORM_PACK16 ||
        f == VK_FORMAT_A1B5G5R5_UNORM_PACK16)
        return block(out, 2, 1, 1);
    if (f == VK_FORMAT_A8_UNORM)
        return block(out, 1, 1, 1);
    return false;
}
