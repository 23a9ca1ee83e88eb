/* Uploads and readbacks of 256 MiB through mapped memory: the host memcpys a generated pattern
 * into a mapped host-visible buffer chunk by chunk, the device copies it to a device-local
 * buffer; the host clears the mapped buffer, the device copies the data back, and every byte is
 * compared with the pattern. A second mapping of one chunk at an offset must see the same
 * bytes. Throughput is printed for information only. */
#include "pv_guest_util.h"

#include <stdlib.h>
#include <string.h>

#define TOTAL (256ull * 1024 * 1024)
#define CHUNK (1024 * 1024)
#define CHUNKS (TOTAL / CHUNK)
#define PROBE_CHUNK 37

/* Chunk i's bytes: xorshift64 seeded by i, so a misplaced chunk never matches. */
static void generate_chunk(uint64_t index, uint64_t *out)
{
    uint64_t state = 0x9e3779b97f4a7c15ull * (index + 1);
    for (size_t i = 0; i < CHUNK / sizeof(uint64_t); i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out[i] = state;
    }
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "upload" };
    pv_guest_init(&g, &options, argc, argv);

    uint64_t *scratch = malloc(CHUNK);
    if (!scratch)
        pv_fatal(&g, "out of memory");
    struct pv_buffer host, device;
    pv_buffer_create(&g, &host, TOTAL, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    pv_buffer_create(&g, &device, TOTAL, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, 0,
                     VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    pv_info(&g, "host buffer memory flags 0x%x, device buffer memory flags 0x%x", host.memory_flags,
            device.memory_flags);

    double t0 = pv_now_seconds();
    for (uint64_t c = 0; c < CHUNKS; c++) {
        generate_chunk(c, scratch);
        memcpy((char *)host.map + c * CHUNK, scratch, CHUNK);
    }
    pv_buffer_flush(&g, &host);
    double t1 = pv_now_seconds();

    VkBufferCopy whole = { 0, 0, TOTAL };
    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    vkCmdCopyBuffer(cmd, host.buffer, device.buffer, 1, &whole);
    pv_one_shot_end(&g, cmd);
    double t2 = pv_now_seconds();

    /* Clear the host copy so that the readback must bring every byte back. */
    memset(host.map, 0, TOTAL);
    pv_buffer_flush(&g, &host);
    double t3 = pv_now_seconds();
    cmd = pv_one_shot_begin(&g);
    vkCmdCopyBuffer(cmd, device.buffer, host.buffer, 1, &whole);
    pv_cmd_buffer_barrier(cmd, host.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &host);
    double t4 = pv_now_seconds();

    unsigned bad_chunks = 0;
    for (uint64_t c = 0; c < CHUNKS; c++) {
        generate_chunk(c, scratch);
        if (memcmp((char *)host.map + c * CHUNK, scratch, CHUNK) && !bad_chunks++)
            pv_expect(&g, false, "chunk %llu (offset %llu MiB) differs after the round trip (first bad chunk)",
                      (unsigned long long)c, (unsigned long long)c);
    }
    double t5 = pv_now_seconds();
    pv_expect(&g, !bad_chunks, "%u of %llu MiB differ after the round trip", bad_chunks, (unsigned long long)CHUNKS);
    const double mib = (double)TOTAL / (1024 * 1024);
    pv_info(&g, "memcpy into the mapping %.0f MiB/s, device upload copy %.0f MiB/s, device readback copy %.0f MiB/s, "
            "verify %.0f MiB/s", mib / (t1 - t0), mib / (t2 - t1), mib / (t4 - t3), mib / (t5 - t4));
    pv_digest_u64(&g, "bytes", TOTAL);
    pv_digest_hash(&g, "readback", host.map, TOTAL);

    /* A second mapping: one chunk at an offset. */
    vkUnmapMemory(g.device, host.memory);
    void *probe = NULL;
    PV_CHECK(&g, vkMapMemory(g.device, host.memory, (VkDeviceSize)PROBE_CHUNK * CHUNK, CHUNK, 0, &probe));
    if (!(host.memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) {
        VkMappedMemoryRange range = { .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = host.memory,
                                      .offset = (VkDeviceSize)PROBE_CHUNK * CHUNK, .size = CHUNK };
        PV_CHECK(&g, vkInvalidateMappedMemoryRanges(g.device, 1, &range));
    }
    generate_chunk(PROBE_CHUNK, scratch);
    pv_expect(&g, !memcmp(probe, scratch, CHUNK), "a mapping at offset %d MiB does not show chunk %d", PROBE_CHUNK,
              PROBE_CHUNK);
    vkUnmapMemory(g.device, host.memory);
    host.map = NULL;

    free(scratch);
    pv_buffer_destroy(&g, &device);
    pv_buffer_destroy(&g, &host);
    return pv_guest_finish(&g);
}
