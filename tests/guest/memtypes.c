/* Every memory type the device offers, in sizes from 4 KiB up to --max-size MiB (default 64;
 * 1024 on a GPU host): a buffer of each size is bound to memory of that type and checked both
 * ways. A host-visible type is mapped, written and read back, then the device copies it out to
 * a staging buffer (the device sees what the guest wrote) and copies new data in (the guest's
 * mapping sees what the device wrote). Any other type goes through the staging buffer in and
 * out. Sizes past half the type's heap or maxMemoryAllocationSize, and types no buffer may use,
 * are reported as skipped. An uncached mapping (a GPU's BAR window) is read back only at every
 * 1024th word and in its first and last 64 KiB: host reads of such memory run at a few MB/s,
 * and the device copies check every word anyway. Digests: per type and size, the outcome (the data depends only on
 * the size, so a type that changes its host access keeps its digests). */
#include "pv_guest_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const VkDeviceSize sizes[] = {
    4ull << 10, 64ull << 10, 1ull << 20, 16ull << 20, 64ull << 20, 256ull << 20, 1ull << 30,
};

static void fill(uint32_t *words, VkDeviceSize size, uint32_t seed)
{
    for (VkDeviceSize i = 0; i < size / 4; i++)
        words[i] = (uint32_t)i * 2654435761u ^ seed;
}

/* The index of the first word that differs from the pattern, or size / 4 when none does; a
 * sparse check looks at every 1024th word and the first and last 16K words only. */
static VkDeviceSize first_mismatch(const uint32_t *words, VkDeviceSize size, uint32_t seed, bool sparse)
{
    const VkDeviceSize n = size / 4, edge = 16384;
    for (VkDeviceSize i = 0; i < n; i++) {
        if (sparse && i >= edge && i + edge < n && i % 1024)
            continue;
        if (words[i] != ((uint32_t)i * 2654435761u ^ seed))
            return i;
    }
    return n;
}

static void copy(struct pv_guest *g, VkBuffer from, VkBuffer to, VkDeviceSize size)
{
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    const VkBufferCopy region = { 0, 0, size };
    vkCmdCopyBuffer(cmd, from, to, 1, &region);
    pv_cmd_buffer_barrier(cmd, to, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(g, cmd);
}

static void range_sync(struct pv_guest *g, VkDeviceMemory memory, bool coherent, bool flush)
{
    if (coherent)
        return;
    const VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = memory, .size = VK_WHOLE_SIZE,
    };
    PV_CHECK(g, flush ? vkFlushMappedMemoryRanges(g->device, 1, &range)
                      : vkInvalidateMappedMemoryRanges(g->device, 1, &range));
}

/* One type and size; returns the outcome for the digest. */
static const char *check_one(struct pv_guest *g, uint32_t type, VkDeviceSize size, struct pv_buffer *staging)
{
    const VkMemoryPropertyFlags flags = g->memory_properties.memoryTypes[type].propertyFlags;
    const VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    };
    VkBuffer buffer;
    PV_CHECK(g, vkCreateBuffer(g->device, &info, NULL, &buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(g->device, buffer, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        vkDestroyBuffer(g->device, buffer, NULL);
        return "skipped (not for buffers)";
    }
    const VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VkDeviceMemory memory;
    VkResult r = vkAllocateMemory(g->device, &alloc, NULL, &memory);
    if (r != VK_SUCCESS) {
        vkDestroyBuffer(g->device, buffer, NULL);
        pv_expect(g, false, "type %u (flags 0x%x): vkAllocateMemory of %llu bytes: %s", type, flags,
                  (unsigned long long)req.size, pv_result_name(r));
        return "allocation failed";
    }
    PV_CHECK(g, vkBindBufferMemory(g->device, buffer, memory, 0));
    const char *outcome = "ok";
    uint32_t *staged = staging->map;
    const uint32_t seed = (uint32_t)(size >> 10) * 7919u;
    if (flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
        const bool coherent = flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        const bool cached = flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        void *map;
        PV_CHECK(g, vkMapMemory(g->device, memory, 0, VK_WHOLE_SIZE, 0, &map));
        fill(map, size, seed);
        range_sync(g, memory, coherent, true);
        range_sync(g, memory, coherent, false);
        VkDeviceSize bad = first_mismatch(map, size, seed, !cached);
        if (!pv_expect(g, bad == size / 4, "type %u, %llu bytes: word %llu reads back wrong through the mapping",
                       type, (unsigned long long)size, (unsigned long long)bad))
            outcome = "mapping reads back wrong";
        memset(staged, 0, size);
        copy(g, buffer, staging->buffer, size);
        pv_buffer_invalidate(g, staging);
        bad = first_mismatch(staged, size, seed, false);
        if (!pv_expect(g, bad == size / 4, "type %u, %llu bytes: the device read word %llu wrong", type,
                       (unsigned long long)size, (unsigned long long)bad))
            outcome = "device reads wrong";
        fill(staged, size, ~seed);
        pv_buffer_flush(g, staging);
        copy(g, staging->buffer, buffer, size);
        range_sync(g, memory, coherent, false);
        bad = first_mismatch(map, size, ~seed, !cached);
        if (!pv_expect(g, bad == size / 4, "type %u, %llu bytes: word %llu the device wrote reads wrong "
                       "through the mapping", type, (unsigned long long)size, (unsigned long long)bad))
            outcome = "device writes not seen";
        vkUnmapMemory(g->device, memory);
    } else {
        fill(staged, size, seed);
        pv_buffer_flush(g, staging);
        copy(g, staging->buffer, buffer, size);
        memset(staged, 0, size);
        pv_buffer_flush(g, staging);
        copy(g, buffer, staging->buffer, size);
        pv_buffer_invalidate(g, staging);
        VkDeviceSize bad = first_mismatch(staged, size, seed, false);
        if (!pv_expect(g, bad == size / 4, "type %u, %llu bytes: word %llu comes back wrong through the device",
                       type, (unsigned long long)size, (unsigned long long)bad))
            outcome = "device copy wrong";
    }
    vkDestroyBuffer(g->device, buffer, NULL);
    vkFreeMemory(g->device, memory, NULL);
    return outcome;
}

int main(int argc, char **argv)
{
    /* --max-size MiB is this program's own; the rest are the common guest options. */
    unsigned long max_mib = 64;
    int kept = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--max-size") && i + 1 < argc)
            max_mib = strtoul(argv[++i], NULL, 10);
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    const VkDeviceSize max_size = (VkDeviceSize)max_mib << 20;

    struct pv_guest g;
    const struct pv_guest_options options = { .name = "memtypes" };
    pv_guest_init(&g, &options, argc, argv);

    VkPhysicalDeviceMaintenance3Properties maintenance3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 properties = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &maintenance3,
    };
    vkGetPhysicalDeviceProperties2(g.physical_device, &properties);

    VkDeviceSize largest = 0;
    for (size_t s = 0; s < PV_ARRAY_SIZE(sizes); s++) {
        if (sizes[s] <= max_size)
            largest = sizes[s];
    }
    struct pv_buffer staging;
    pv_buffer_create(&g, &staging, largest,
                     VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

    const VkPhysicalDeviceMemoryProperties *mp = &g.memory_properties;
    for (uint32_t type = 0; type < mp->memoryTypeCount; type++) {
        const VkMemoryType *t = &mp->memoryTypes[type];
        const VkDeviceSize heap = mp->memoryHeaps[t->heapIndex].size;
        pv_info(&g, "type %u: flags 0x%x, heap %u (%llu MiB)", type, t->propertyFlags, t->heapIndex,
                (unsigned long long)(heap >> 20));
        for (size_t s = 0; s < PV_ARRAY_SIZE(sizes) && sizes[s] <= max_size; s++) {
            const char *outcome;
            double start = pv_now_seconds();
            if (sizes[s] > heap / 2)
                outcome = "skipped (over half the heap)";
            else if (sizes[s] > maintenance3.maxMemoryAllocationSize)
                outcome = "skipped (over maxMemoryAllocationSize)";
            else
                outcome = check_one(&g, type, sizes[s], &staging);
            char key[64];
            snprintf(key, sizeof(key), "type%u_%lluKiB", type, (unsigned long long)(sizes[s] >> 10));
            pv_digest_text(&g, key, "%s", outcome);
            pv_info(&g, "type %u, %llu KiB: %s in %.3f s", type, (unsigned long long)(sizes[s] >> 10),
                    outcome, pv_now_seconds() - start);
        }
    }
    pv_buffer_destroy(&g, &staging);
    return pv_guest_finish(&g);
}
