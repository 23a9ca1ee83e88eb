/* Fuzz target: decoded commands run into the host driver. A fresh context of the real renderer
 * (lavapipe in CI: VK_ICD_FILENAMES, set by the runner) gets shared-memory blobs and then Venus
 * command batches on its transport, all from the input:
 *
 *   byte 0        the protocol generation (even: current, odd: 2022)
 *   then records  'B' res_id:u32 size:u32         a plain shared-memory blob (blob_id 0)
 *                 'S' size:u32 bytes[size]        a batch, padded to 4 bytes in the input
 *
 * A recorded session (pvgpu serve --record: the guest's blobs from its vtest stream, then every
 * batch any channel ran, in order) is such an input: tests/fuzz/make_handler_corpus.py converts
 * one. Rings get no worker thread; the device is drained after every batch; the context is
 * destroyed after each input, which also checks that teardown releases whatever the input
 * made. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pv_fuzz.h"
#include "pv_renderer.h"

/* Small bounds, so that hostile sizes hit them fast and a run stays in memory. */
#define HANDLERS_MAX_BLOB (16u << 20)
#define HANDLERS_MAX_BLOBS 64u
#define HANDLERS_MAX_MEMORY (256ull << 20)

/* The Vulkan loader unloads the driver at vkDestroyInstance, every input: memory only the
 * driver's globals still point to would count as a leak, under a stack LeakSanitizer cannot
 * name (scripts/keep-libraries-loaded.c does the same for the sanitizer suite). Defined in the
 * executable, this dlclose takes the loader's calls. */
int dlclose(void *handle);
int dlclose(void *handle)
{
    (void)handle;
    return 0;
}

static uint32_t u32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The host driver: lavapipe unless the runner chose another. */
    if (!getenv("VK_ICD_FILENAMES") && !getenv("VK_DRIVER_FILES"))
        setenv("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct pv_renderer_options options = {
        .generation = (data[0] & 1) ? PV_VENUS_2022 : PV_VENUS_CURRENT,
        .rings_without_workers = true,
        .max_objects = 4096,
        .max_memory_bytes = HANDLERS_MAX_MEMORY,
        .max_blobs = HANDLERS_MAX_BLOBS,
        .max_rings = 4,
    };
    struct pv_context *ctx = pv_context_create(1, "fuzz-handlers", &options);
    if (!ctx)
        pv_fuzz_fail("pv_context_create failed");
    size_t at = 1;
    while (at < size && !pv_context_is_fatal(ctx)) {
        uint8_t kind = data[at++];
        if (kind == 'B' && size - at >= 8) {
            uint32_t res_id = u32_at(data + at), blob_size = u32_at(data + at + 4);
            at += 8;
            int fd = -1;
            if (blob_size <= HANDLERS_MAX_BLOB &&
                pv_context_create_blob(ctx, res_id, PV_BLOB_TYPE_HOST3D, PV_BLOB_FLAG_MAPPABLE, 0,
                                       blob_size, &fd) == 0 && fd >= 0)
                close(fd);
        } else if (kind == 'S' && size - at >= 4) {
            uint32_t len = u32_at(data + at);
            at += 4;
            if (len > size - at)
                len = (uint32_t)(size - at);
            /* The renderer wants its own copy: the transport's read buffer. */
            uint8_t *batch = malloc(len ? len : 1);
            if (!batch)
                pv_fuzz_fail("out of memory");
            memcpy(batch, data + at, len);
            pv_context_submit(ctx, batch, len);
            free(batch);
            /* A recorded session's waits were the guest's polls, which a replay does not repeat
             * until they succeed: without this, a batch freeing memory could run while the work
             * of the previous one still reads it, and lavapipe (the CPU) faults on it. */
            pv_context_wait_idle(ctx);
            at += (len + 3u) & ~3u;
        } else {
            break;
        }
    }
    pv_context_destroy(ctx);
    return 0;
}
