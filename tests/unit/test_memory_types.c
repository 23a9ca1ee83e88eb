/* The memory types the guest sees (src/renderer/pv_memory_types.c) on layouts this machine's
 * driver does not have: a discrete GPU whose BAR type cannot take host pages, a host without
 * VK_EXT_external_memory_host, and one that can share everything (lavapipe). */
#include <string.h>

#include "pv_memory_types.h"
#include "pv_test_tap.h"

#define DL VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT
#define HV VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT
#define HC VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
#define CA VK_MEMORY_PROPERTY_HOST_CACHED_BIT

/* A layout as NVIDIA's driver reports it on a discrete GPU: VRAM, system memory (coherent,
 * cached), and the BAR window (device-local and host-visible), in their heaps. */
static VkPhysicalDeviceMemoryProperties discrete_gpu(void)
{
    VkPhysicalDeviceMemoryProperties p;
    memset(&p, 0, sizeof(p));
    static const VkMemoryPropertyFlags flags[] = { 0, DL, DL, HV | HC, HV | HC | CA, DL | HV | HC };
    static const uint32_t heaps[] = { 1, 0, 0, 1, 1, 2 };
    p.memoryTypeCount = 6;
    for (uint32_t i = 0; i < p.memoryTypeCount; i++)
        p.memoryTypes[i] = (VkMemoryType){ flags[i], heaps[i] };
    p.memoryHeapCount = 3;
    p.memoryHeaps[0] = (VkMemoryHeap){ 140ull << 30, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT };
    p.memoryHeaps[1] = (VkMemoryHeap){ 64ull << 30, 0 };
    p.memoryHeaps[2] = (VkMemoryHeap){ 256ull << 20, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT };
    return p;
}

int main(void)
{
    /* The BAR type (5) cannot import; system memory (3, 4) can. */
    VkPhysicalDeviceMemoryProperties p = discrete_gpu();
    const VkPhysicalDeviceMemoryProperties host = p;
    uint32_t changed = pv_memory_types_for_guest(&p, (1u << 3) | (1u << 4));
    check(changed == 1u << 5, "only the BAR type changes (changed 0x%x)", changed);
    check(p.memoryTypes[5].propertyFlags == DL, "the BAR type is device-local only (0x%x)",
          p.memoryTypes[5].propertyFlags);
    check(p.memoryTypes[5].heapIndex == 2, "it keeps its heap");
    bool others_same = p.memoryTypeCount == host.memoryTypeCount;
    for (uint32_t i = 0; i < 5; i++)
        others_same = others_same && !memcmp(&p.memoryTypes[i], &host.memoryTypes[i],
                                             sizeof(VkMemoryType));
    check(others_same, "the other types keep their flags and heaps, at the same indices");
    check(!memcmp(p.memoryHeaps, host.memoryHeaps, sizeof(p.memoryHeaps)) &&
          p.memoryHeapCount == host.memoryHeapCount, "the heaps are the host's");

    /* Types that are not host-visible never change, whatever the mask says. */
    p = discrete_gpu();
    changed = pv_memory_types_for_guest(&p, 0);
    check(changed == ((1u << 3) | (1u << 4) | (1u << 5)),
          "a host that shares nothing loses every host-visible type (changed 0x%x)", changed);
    bool none_visible = true;
    for (uint32_t i = 0; i < p.memoryTypeCount; i++)
        none_visible = none_visible && !(p.memoryTypes[i].propertyFlags & PV_HOST_ACCESS_FLAGS);
    check(none_visible, "and the guest sees no host access on any type");
    check(p.memoryTypes[1].propertyFlags == DL && p.memoryTypes[0].propertyFlags == 0,
          "device-local and plain types are untouched");

    /* lavapipe: one type, everything shareable. */
    VkPhysicalDeviceMemoryProperties lvp;
    memset(&lvp, 0, sizeof(lvp));
    lvp.memoryTypeCount = 1;
    lvp.memoryTypes[0] = (VkMemoryType){ DL | HV | HC | CA, 0 };
    lvp.memoryHeapCount = 1;
    lvp.memoryHeaps[0] = (VkMemoryHeap){ 2ull << 30, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT };
    changed = pv_memory_types_for_guest(&lvp, ~0u);
    check(changed == 0 && lvp.memoryTypes[0].propertyFlags == (DL | HV | HC | CA),
          "a host that shares everything is passed through unchanged");

    /* A cached, non-coherent type (as some integrated GPUs have) would need flushes the host
     * does not carry out: it is offered without host access, the coherent one stays. */
    VkPhysicalDeviceMemoryProperties cached;
    memset(&cached, 0, sizeof(cached));
    cached.memoryTypeCount = 3;
    cached.memoryTypes[0] = (VkMemoryType){ DL, 0 };
    cached.memoryTypes[1] = (VkMemoryType){ DL | HV | HC, 0 };
    cached.memoryTypes[2] = (VkMemoryType){ DL | HV | CA, 0 };
    cached.memoryHeapCount = 1;
    cached.memoryHeaps[0] = (VkMemoryHeap){ 2ull << 30, VK_MEMORY_HEAP_DEVICE_LOCAL_BIT };
    changed = pv_memory_types_for_guest(&cached, ~0u);
    check(changed == 1u << 2 && cached.memoryTypes[2].propertyFlags == DL &&
              cached.memoryTypes[1].propertyFlags == (DL | HV | HC),
          "a non-coherent host-visible type loses its host access (changed 0x%x, flags 0x%x)",
          changed, cached.memoryTypes[2].propertyFlags);
    return tap_done();
}
