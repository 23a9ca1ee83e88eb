/* Fuzz target: the generated decoder of every Venus command. The input is a command stream,
 * walked like pv_context_execute walks one (type, flags, arguments), but each command only goes
 * through its decode_only entry: arguments into arena memory, handles looked up in an object
 * table that holds fake objects of every type at a few known ids, nothing executed. Besides the
 * sanitizers it checks the decoder's contract: success exactly when no error is recorded, an
 * error message on failure, and never a read past the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pv_arena.h"
#include "pv_cs.h"
#include "pv_fuzz.h"
#include "pv_object.h"
#include "pv_venus_gen.h"

/* Per-command allocation limit: lower than a real context's, so that hostile counts hit it. */
#define FUZZ_ARENA_LIMIT (64u << 20)
/* Fake objects per type: ids FUZZ_OBJECT_ID(type index, 1..FUZZ_OBJECTS_PER_TYPE). */
#define FUZZ_OBJECTS_PER_TYPE 3
#define FUZZ_OBJECT_ID(type_index, k) (((uint64_t)(type_index) + 1) << 8 | (k))

static const VkObjectType object_types[] = {
    VK_OBJECT_TYPE_INSTANCE, VK_OBJECT_TYPE_PHYSICAL_DEVICE, VK_OBJECT_TYPE_DEVICE,
    VK_OBJECT_TYPE_QUEUE, VK_OBJECT_TYPE_SEMAPHORE, VK_OBJECT_TYPE_COMMAND_BUFFER,
    VK_OBJECT_TYPE_FENCE, VK_OBJECT_TYPE_DEVICE_MEMORY, VK_OBJECT_TYPE_BUFFER,
    VK_OBJECT_TYPE_IMAGE, VK_OBJECT_TYPE_EVENT, VK_OBJECT_TYPE_QUERY_POOL,
    VK_OBJECT_TYPE_BUFFER_VIEW, VK_OBJECT_TYPE_IMAGE_VIEW, VK_OBJECT_TYPE_SHADER_MODULE,
    VK_OBJECT_TYPE_PIPELINE_CACHE, VK_OBJECT_TYPE_PIPELINE_LAYOUT, VK_OBJECT_TYPE_RENDER_PASS,
    VK_OBJECT_TYPE_PIPELINE, VK_OBJECT_TYPE_DESCRIPTOR_SET_LAYOUT, VK_OBJECT_TYPE_SAMPLER,
    VK_OBJECT_TYPE_DESCRIPTOR_POOL, VK_OBJECT_TYPE_DESCRIPTOR_SET, VK_OBJECT_TYPE_FRAMEBUFFER,
    VK_OBJECT_TYPE_COMMAND_POOL, VK_OBJECT_TYPE_SAMPLER_YCBCR_CONVERSION,
    VK_OBJECT_TYPE_DESCRIPTOR_UPDATE_TEMPLATE, VK_OBJECT_TYPE_PRIVATE_DATA_SLOT,
};
#define OBJECT_TYPE_COUNT (sizeof(object_types) / sizeof(object_types[0]))

/* Process-wide and never changed by decoding, so built once. Pools are the largest object
 * kind, so every fake object is one. */
static struct pv_object_table objects;
static struct pv_pool fake_objects[OBJECT_TYPE_COUNT][FUZZ_OBJECTS_PER_TYPE];
static struct pv_arena arena;
/* PVGPU_FUZZ_VERBOSE=1: one line per decoded command, for make_corpus.py and for debugging. */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pv_object_table_init(&objects);
    for (size_t t = 0; t < OBJECT_TYPE_COUNT; t++) {
        for (unsigned k = 0; k < FUZZ_OBJECTS_PER_TYPE; k++) {
            struct pv_object *obj = &fake_objects[t][k].base;
            obj->id = FUZZ_OBJECT_ID(t, k + 1);
            obj->type = object_types[t];
            /* Host handles nobody dereferences: decoding only looks them up. */
            obj->handle = 0xf000000000000000ull | obj->id;
            if (!pv_object_table_insert(&objects, obj))
                pv_fuzz_fail("cannot insert fake object 0x%llx", (unsigned long long)obj->id);
        }
    }
    pv_arena_init(&arena, FUZZ_ARENA_LIMIT);
    const char *env = getenv("PVGPU_FUZZ_VERBOSE");
    verbose = env && *env && strcmp(env, "0") != 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_cs_decoder d = {
        .cur = data,
        .end = data + size,
        .arena = &arena,
        .objects = &objects,
    };
    while (d.cur < d.end) {
        uint32_t type, flags;
        if (!pv_cs_u32(&d, &type) || !pv_cs_u32(&d, &flags))
            break;
        if (type >= PV_COMMAND_COUNT || (flags & ~(uint32_t)VK_COMMAND_GENERATE_REPLY_BIT_EXT))
            break;
        const struct pv_command_info *info = &pv_command_table[type];
        if (!info->name)
            break; /* a number no command has */
        if (!info->decode_only) {
            if (info->dispatch && strcmp(info->status, "undecodable") != 0)
                pv_fuzz_fail("%s is dispatched but has no decode_only entry", info->name);
            break;
        }
        d.command = info->name;
        d.device = NULL;
        const uint8_t *before = d.cur;
        bool ok = info->decode_only(&d);
        if (d.cur < before || d.cur > d.end)
            pv_fuzz_fail("%s: the decoder left the stream (%p not in [%p, %p])", info->name,
                         (const void *)d.cur, (const void *)before, (const void *)d.end);
        if (ok == d.failed)
            pv_fuzz_fail("%s: decode returned %s but the failed flag is %s (\"%s\")",
                         info->name, ok ? "success" : "failure", d.failed ? "set" : "clear",
                         d.error);
        if (!ok && !d.error[0])
            pv_fuzz_fail("%s: decode failed without saying why", info->name);
        /* Not reset between commands (pv_context_execute does not either), so it must be
         * back at zero after every command that decoded. */
        if (verbose)
            fprintf(stderr, "decode: %s at %zu: %s%s\n", info->name,
                    (size_t)(before - 8 - data), ok ? "ok" : "failed: ", ok ? "" : d.error);
        if (ok && d.chain_depth != 0)
            pv_fuzz_fail("%s: pNext depth %u left over", info->name, d.chain_depth);
        pv_arena_reset(&arena);
        if (!ok)
            break;
    }
    return 0;
}
