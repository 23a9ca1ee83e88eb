/* Malformed-stream cases on resources and the ranges commands name inside them: a buffer bound
 * past the end of its memory, copies between buffers and images outside either, indirect
 * arguments past their buffer, push constants past the layout's range. The host driver turns
 * each of these into plain memory accesses; the host must refuse them before they reach it.
 * Before the host checked them, these were recorded or bound without a word. */
#define _GNU_SOURCE
#include "pv_test_malformed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BUFFER_ID 0x00005eedb00000b0ull
#define SMALL_BUFFER_ID 0x00005eedb10000b1ull
#define MEMORY_ID 0x00005eedc00000c0ull
#define IMAGE_ID 0x00005eedd00000d0ull
#define POOL_ID 0x00005eede00000e0ull
#define COMMAND_BUFFER_ID 0x00005eedf00000f0ull
#define LAYOUT_ID 0x00005eed0a00000aull

#define BUFFER_SIZE 4096u      /* a 16x16 RGBA8 image's worth of texels, four times over */
#define SMALL_BUFFER_SIZE 512u /* half a 16x16 RGBA8 image */
#define MEMORY_SIZE 65536u
#define IMAGE_SIZE 16u
#define PUSH_SIZE 16u          /* the layout's push constant range: bytes 0-15 */

enum {
    CMD_vkAllocateMemory = 21,
    CMD_vkBindBufferMemory = 28,
    CMD_vkCreateBuffer = 50,
    CMD_vkCreateImage = 54,
    CMD_vkCreatePipelineLayout = 68,
    CMD_vkCreateCommandPool = 85,
    CMD_vkAllocateCommandBuffers = 88,
    CMD_vkBeginCommandBuffer = 90,
    CMD_vkCmdDrawIndirect = 108,
    CMD_vkCmdDispatchIndirect = 111,
    CMD_vkCmdCopyImage = 113,
    CMD_vkCmdCopyBufferToImage = 115,
    CMD_vkCmdPushConstants = 132,
};
#define STYPE_MEMORY_ALLOCATE_INFO 5u
#define STYPE_BUFFER_CREATE_INFO 12u
#define STYPE_IMAGE_CREATE_INFO 14u
#define STYPE_PIPELINE_LAYOUT_CREATE_INFO 30u
#define STYPE_COMMAND_POOL_CREATE_INFO 39u
#define STYPE_COMMAND_BUFFER_ALLOCATE_INFO 40u
#define STYPE_COMMAND_BUFFER_BEGIN_INFO 42u
#define USAGE_TRANSFER_SRC_DST_INDIRECT 0x103u
#define FORMAT_R8G8B8A8_UNORM 37u
#define ASPECT_COLOR 1u
#define LAYOUT_TRANSFER_DST 7u
#define LAYOUT_GENERAL 1u
#define STAGE_VERTEX 1u

static void encode_create_buffer(struct pv_test_cs *cs, uint64_t id, uint64_t size)
{
    pv_test_cs_command(cs, CMD_vkCreateBuffer, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_BUFFER_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u64(cs, size);
    pv_test_cs_u32(cs, USAGE_TRANSFER_SRC_DST_INDIRECT);
    pv_test_cs_u32(cs, 0);        /* sharingMode */
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndexCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pBuffer */
    pv_test_cs_handle(cs, id);
}

/* MEMORY_ID of MEMORY_SIZE bytes (type 0), and buffers of BUFFER_SIZE and SMALL_BUFFER_SIZE. */
static void encode_resources(struct pv_test_cs *cs)
{
    encode_create_buffer(cs, BUFFER_ID, BUFFER_SIZE);
    encode_create_buffer(cs, SMALL_BUFFER_ID, SMALL_BUFFER_SIZE);
    pv_test_cs_command(cs, CMD_vkAllocateMemory, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pAllocateInfo */
    pv_test_cs_u32(cs, STYPE_MEMORY_ALLOCATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u64(cs, MEMORY_SIZE);
    pv_test_cs_u32(cs, 0);        /* memoryTypeIndex */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pMemory */
    pv_test_cs_handle(cs, MEMORY_ID);
}

/* A 16x16 RGBA8 image of one mip level and layer, a command pool and a command buffer in the
 * recording state. */
static void encode_recording(struct pv_test_cs *cs)
{
    pv_test_cs_command(cs, CMD_vkCreateImage, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_IMAGE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 1);        /* VK_IMAGE_TYPE_2D */
    pv_test_cs_u32(cs, FORMAT_R8G8B8A8_UNORM);
    pv_test_cs_u32(cs, IMAGE_SIZE);
    pv_test_cs_u32(cs, IMAGE_SIZE);
    pv_test_cs_u32(cs, 1);        /* depth */
    pv_test_cs_u32(cs, 1);        /* mipLevels */
    pv_test_cs_u32(cs, 1);        /* arrayLayers */
    pv_test_cs_u32(cs, 1);        /* samples */
    pv_test_cs_u32(cs, 0);        /* VK_IMAGE_TILING_OPTIMAL */
    pv_test_cs_u32(cs, 3);        /* TRANSFER_SRC | TRANSFER_DST */
    pv_test_cs_u32(cs, 0);        /* sharingMode */
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndexCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, 0);        /* initialLayout */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pImage */
    pv_test_cs_handle(cs, IMAGE_ID);

    pv_test_cs_command(cs, CMD_vkCreateCommandPool, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_COMMAND_POOL_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndex */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);
    pv_test_cs_handle(cs, POOL_ID);

    pv_test_cs_command(cs, CMD_vkAllocateCommandBuffers, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_handle(cs, POOL_ID);
    pv_test_cs_u32(cs, 0);        /* VK_COMMAND_BUFFER_LEVEL_PRIMARY */
    pv_test_cs_u32(cs, 1);
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);

    pv_test_cs_command(cs, CMD_vkBeginCommandBuffer, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_COMMAND_BUFFER_BEGIN_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_marker(cs, false); /* pInheritanceInfo */
}

/* A pipeline layout with push constants [0, PUSH_SIZE) for the vertex stage. */
static void encode_layout(struct pv_test_cs *cs)
{
    pv_test_cs_command(cs, CMD_vkCreatePipelineLayout, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_PIPELINE_LAYOUT_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 0);        /* setLayoutCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, 1);        /* pushConstantRangeCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_u32(cs, STAGE_VERTEX);
    pv_test_cs_u32(cs, 0);        /* offset */
    pv_test_cs_u32(cs, PUSH_SIZE);
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);
    pv_test_cs_handle(cs, LAYOUT_ID);
}

static int start_resources(struct pv_test_guest *guest)
{
    return pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_resources);
}

static int start_recording(struct pv_test_guest *guest)
{
    return start_resources(guest) || pv_malformed_submit_setup(guest, encode_recording);
}

/* Binding. */

struct bind_args {
    uint64_t buffer;
    uint64_t offset;
};

static void encode_bind(struct pv_test_cs *cs, const void *arg)
{
    const struct bind_args *b = arg;
    pv_test_cs_command(cs, CMD_vkBindBufferMemory, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_handle(cs, b->buffer);
    pv_test_cs_handle(cs, MEMORY_ID);
    pv_test_cs_u64(cs, b->offset);
}

static int case_bind_past_end(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_resources(guest))
        return -1;
    static const struct bind_args args = { BUFFER_ID, 4 * MEMORY_SIZE };
    expect->starts = "vkBindBufferMemory: ";
    expect->contains[0] = "of memory";
    expect->id = MEMORY_ID;
    return pv_malformed_send_one(guest, encode_bind, &args);
}

static int case_bind_overhang(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_resources(guest))
        return -1;
    /* starts inside the memory, ends BUFFER_SIZE / 2 past it */
    static const struct bind_args args = { BUFFER_ID, MEMORY_SIZE - BUFFER_SIZE / 2 };
    expect->starts = "vkBindBufferMemory: ";
    expect->contains[0] = "of memory";
    expect->id = BUFFER_ID;
    return pv_malformed_send_one(guest, encode_bind, &args);
}

/* Image copies: one region of a buffer into the image, or of the image into itself. */

struct copy_args {
    uint64_t buffer;
    uint32_t mip_level;
    int32_t x, y;
    uint32_t width, height;
};

static void encode_copy_buffer_to_image(struct pv_test_cs *cs, const void *arg)
{
    const struct copy_args *c = arg;
    pv_test_cs_command(cs, CMD_vkCmdCopyBufferToImage, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_handle(cs, c->buffer);
    pv_test_cs_handle(cs, IMAGE_ID);
    pv_test_cs_u32(cs, LAYOUT_TRANSFER_DST);
    pv_test_cs_u32(cs, 1);        /* regionCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_u64(cs, 0);        /* bufferOffset */
    pv_test_cs_u32(cs, 0);        /* bufferRowLength: tightly packed */
    pv_test_cs_u32(cs, 0);        /* bufferImageHeight */
    pv_test_cs_u32(cs, ASPECT_COLOR);
    pv_test_cs_u32(cs, c->mip_level);
    pv_test_cs_u32(cs, 0);        /* baseArrayLayer */
    pv_test_cs_u32(cs, 1);        /* layerCount */
    pv_test_cs_u32(cs, (uint32_t)c->x);
    pv_test_cs_u32(cs, (uint32_t)c->y);
    pv_test_cs_u32(cs, 0);
    pv_test_cs_u32(cs, c->width);
    pv_test_cs_u32(cs, c->height);
    pv_test_cs_u32(cs, 1);
}

static void encode_copy_image(struct pv_test_cs *cs, const void *arg)
{
    const struct copy_args *c = arg;
    pv_test_cs_command(cs, CMD_vkCmdCopyImage, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_handle(cs, IMAGE_ID);
    pv_test_cs_u32(cs, LAYOUT_GENERAL);
    pv_test_cs_handle(cs, IMAGE_ID);
    pv_test_cs_u32(cs, LAYOUT_GENERAL);
    pv_test_cs_u32(cs, 1);
    pv_test_cs_array_size(cs, 1);
    for (int side = 0; side < 2; side++) {
        pv_test_cs_u32(cs, ASPECT_COLOR);
        pv_test_cs_u32(cs, side ? c->mip_level : 0);
        pv_test_cs_u32(cs, 0);
        pv_test_cs_u32(cs, 1);
        pv_test_cs_u32(cs, side ? (uint32_t)c->x : 0);
        pv_test_cs_u32(cs, side ? (uint32_t)c->y : 0);
        pv_test_cs_u32(cs, 0);
    }
    pv_test_cs_u32(cs, c->width);
    pv_test_cs_u32(cs, c->height);
    pv_test_cs_u32(cs, 1);
}

static int case_copy_outside_image(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest))
        return -1;
    static const struct copy_args args = { BUFFER_ID, 0, 8, 8, IMAGE_SIZE, IMAGE_SIZE };
    expect->starts = "vkCmdCopyBufferToImage: ";
    expect->contains[0] = "outside image";
    expect->id = IMAGE_ID;
    return pv_malformed_send_one(guest, encode_copy_buffer_to_image, &args);
}

static int case_copy_buffer_short(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest))
        return -1;
    /* the whole image, 1024 bytes, from a 512-byte buffer */
    static const struct copy_args args = { SMALL_BUFFER_ID, 0, 0, 0, IMAGE_SIZE, IMAGE_SIZE };
    expect->starts = "vkCmdCopyBufferToImage: ";
    expect->contains[0] = "past buffer";
    expect->id = SMALL_BUFFER_ID;
    return pv_malformed_send_one(guest, encode_copy_buffer_to_image, &args);
}

static int case_copy_image_mip(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest))
        return -1;
    /* into mip level 1 of an image of one level */
    static const struct copy_args args = { 0, 1, 0, 0, 4, 4 };
    expect->starts = "vkCmdCopyImage: ";
    expect->contains[0] = "mip level 1";
    expect->id = IMAGE_ID;
    return pv_malformed_send_one(guest, encode_copy_image, &args);
}

/* Indirect arguments and push constants. */

struct indirect_args {
    uint64_t offset;
    uint32_t count, stride;
};

static void encode_draw_indirect(struct pv_test_cs *cs, const void *arg)
{
    const struct indirect_args *d = arg;
    pv_test_cs_command(cs, CMD_vkCmdDrawIndirect, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_handle(cs, SMALL_BUFFER_ID);
    pv_test_cs_u64(cs, d->offset);
    pv_test_cs_u32(cs, d->count);
    pv_test_cs_u32(cs, d->stride);
}

static void encode_dispatch_indirect(struct pv_test_cs *cs, const void *arg)
{
    const struct indirect_args *d = arg;
    pv_test_cs_command(cs, CMD_vkCmdDispatchIndirect, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_handle(cs, SMALL_BUFFER_ID);
    pv_test_cs_u64(cs, d->offset);
}

struct push_args {
    uint32_t offset, size;
};

static void encode_push_constants(struct pv_test_cs *cs, const void *arg)
{
    const struct push_args *p = arg;
    static const uint8_t values[256];
    pv_test_cs_command(cs, CMD_vkCmdPushConstants, 0);
    pv_test_cs_handle(cs, COMMAND_BUFFER_ID);
    pv_test_cs_handle(cs, LAYOUT_ID);
    pv_test_cs_u32(cs, STAGE_VERTEX);
    pv_test_cs_u32(cs, p->offset);
    pv_test_cs_u32(cs, p->size);
    pv_test_cs_array_size(cs, p->size);
    pv_test_cs_bytes(cs, values, p->size);
}

static int case_draw_indirect_past(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest))
        return -1;
    /* 32 draws 16 bytes apart: 512 bytes from offset 16 of a 512-byte buffer */
    static const struct indirect_args args = { 16, 32, 16 };
    expect->starts = "vkCmdDrawIndirect: ";
    expect->contains[0] = "reach past buffer";
    expect->id = SMALL_BUFFER_ID;
    return pv_malformed_send_one(guest, encode_draw_indirect, &args);
}

static int case_dispatch_indirect_past(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest))
        return -1;
    static const struct indirect_args args = { SMALL_BUFFER_SIZE - 8, 1, 0 };
    expect->starts = "vkCmdDispatchIndirect: ";
    expect->contains[0] = "reach past buffer";
    expect->id = SMALL_BUFFER_ID;
    return pv_malformed_send_one(guest, encode_dispatch_indirect, &args);
}

static int case_push_past_layout(struct pv_test_guest *guest, struct expectation *expect)
{
    if (start_recording(guest) || pv_malformed_submit_setup(guest, encode_layout))
        return -1;
    /* 128 bytes is every device's minimum limit; the layout has 16 */
    static const struct push_args args = { 8, 120 };
    expect->starts = "vkCmdPushConstants: ";
    expect->contains[0] = "reach past";
    return pv_malformed_send_one(guest, encode_push_constants, &args);
}

const struct test_case pv_malformed_resource_cases[] = {
    { "pvm-bind-past-end", "(3) vkBindBufferMemory at an offset past the end of the memory",
      case_bind_past_end, GEN_BOTH, NULL },
    { "pvm-bind-overhang", "(3) vkBindBufferMemory of a buffer that ends past its memory",
      case_bind_overhang, GEN_BOTH, NULL },
    { "pvm-copy-outside-image", "(3) vkCmdCopyBufferToImage of texels (8,8)+16x16 into a 16x16 image",
      case_copy_outside_image, GEN_BOTH, NULL },
    { "pvm-copy-buffer-short", "(3) vkCmdCopyBufferToImage of 1024 bytes from a 512-byte buffer",
      case_copy_buffer_short, GEN_BOTH, NULL },
    { "pvm-copy-image-mip", "(3) vkCmdCopyImage into mip level 1 of a one-level image",
      case_copy_image_mip, GEN_BOTH, NULL },
    { "pvm-draw-indirect-past", "(3) vkCmdDrawIndirect of 32 draws whose last reaches past the buffer",
      case_draw_indirect_past, GEN_BOTH, NULL },
    { "pvm-dispatch-indirect-past", "(3) vkCmdDispatchIndirect at 8 bytes before the buffer's end",
      case_dispatch_indirect_past, GEN_BOTH, NULL },
    { "pvm-push-past-layout", "(3) vkCmdPushConstants of bytes 8-127 with a layout of 16",
      case_push_past_layout, GEN_BOTH, NULL },
};
const size_t pv_malformed_resource_case_count =
    sizeof(pv_malformed_resource_cases) / sizeof(pv_malformed_resource_cases[0]);

/* The valid side: a buffer bound at the very end of its memory, copies, indirect arguments and
 * push constants that reach exactly to the last texel or byte, run without the context going
 * fatal. */
static void encode_valid(struct pv_test_cs *cs, const void *arg)
{
    (void)arg;
    static const struct bind_args bind = { BUFFER_ID, MEMORY_SIZE - BUFFER_SIZE };
    static const struct copy_args whole = { BUFFER_ID, 0, 0, 0, IMAGE_SIZE, IMAGE_SIZE };
    static const struct copy_args corner = { SMALL_BUFFER_ID, 0, 8, 8, 8, 8 };
    static const struct copy_args self = { 0, 0, 8, 8, 8, 8 };
    encode_bind(cs, &bind);
    encode_copy_buffer_to_image(cs, &whole);
    encode_copy_buffer_to_image(cs, &corner);
    encode_copy_image(cs, &self);
    static const struct indirect_args draws = { 16, 31, 16 };
    static const struct indirect_args dispatch = { SMALL_BUFFER_SIZE - 12, 1, 0 };
    static const struct push_args push = { 8, 8 };
    encode_draw_indirect(cs, &draws);
    encode_dispatch_indirect(cs, &dispatch);
    encode_layout(cs);
    encode_push_constants(cs, &push);
}

int pv_malformed_resource_positive(struct pv_test_guest *guest)
{
    if (start_recording(guest))
        return -1;
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    encode_valid(&cs, NULL);
    int ret = pv_test_guest_call(guest, &cs, 0, &reply);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 8);
        const uint32_t type = pv_test_read_u32(&r), result = pv_test_read_u32(&r);
        if (type != CMD_vkBindBufferMemory || result != 0)
            ret = pv_test_fail("vkBindBufferMemory reply: type %u result %d", type, (int32_t)result);
    }
    /* a round trip after the copies: a fatal context would not answer */
    if (ret == 0 && pv_test_vtest_roundtrip(&guest->vtest))
        ret = pv_test_fail("the host did not answer after the valid copies");
    pv_test_cs_fini(&cs);
    return ret;
}
