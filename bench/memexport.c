/* Which host-visible memory types of the host driver can be exported as an fd that another
 * process maps: the path that would let a guest map a type the driver takes no host pages into
 * (src/renderer/pv_memory_types.h). Run natively on the host driver; one line per host-visible
 * type: "result memexport type=N flags=0x.. handle=dma_buf|opaque_fd export=yes|no mmap=ok|ERRNO
 * same_bytes=yes|no". */
#define _GNU_SOURCE
#include "pv_guest_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PROBE_SIZE (1u << 20)

static void probe(struct pv_guest *g, uint32_t type, VkExternalMemoryHandleTypeFlagBits handle, const char *name)
{
    const VkMemoryPropertyFlags flags = g->memory_properties.memoryTypes[type].propertyFlags;
    const VkExportMemoryAllocateInfo export_info = {
        .sType = VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO, .handleTypes = handle,
    };
    const VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &export_info,
        .allocationSize = PROBE_SIZE, .memoryTypeIndex = type,
    };
    VkDeviceMemory memory;
    VkResult r = vkAllocateMemory(g->device, &alloc, NULL, &memory);
    if (r != VK_SUCCESS) {
        printf("result memexport type=%u flags=0x%x handle=%s export=no reason=%s\n", type, flags, name,
               pv_result_name(r));
        return;
    }
    PFN_vkGetMemoryFdKHR get_fd = (PFN_vkGetMemoryFdKHR)vkGetDeviceProcAddr(g->device, "vkGetMemoryFdKHR");
    const VkMemoryGetFdInfoKHR fd_info = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_GET_FD_INFO_KHR, .memory = memory, .handleType = handle,
    };
    int fd = -1;
    r = get_fd ? get_fd(g->device, &fd_info, &fd) : VK_ERROR_EXTENSION_NOT_PRESENT;
    if (r != VK_SUCCESS) {
        printf("result memexport type=%u flags=0x%x handle=%s export=no reason=%s\n", type, flags, name,
               pv_result_name(r));
        vkFreeMemory(g->device, memory, NULL);
        return;
    }
    uint32_t *shared = mmap(NULL, PROBE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const char *mapped = shared == MAP_FAILED ? strerror(errno) : "ok";
    const char *same = "n/a";
    if (shared != MAP_FAILED) {
        for (uint32_t i = 0; i < PROBE_SIZE / 4; i++)
            shared[i] = i * 2654435761u;
        void *map;
        PV_CHECK(g, vkMapMemory(g->device, memory, 0, VK_WHOLE_SIZE, 0, &map));
        same = memcmp(map, shared, PROBE_SIZE) ? "no" : "yes";
        vkUnmapMemory(g->device, memory);
        munmap(shared, PROBE_SIZE);
    }
    printf("result memexport type=%u flags=0x%x handle=%s export=yes mmap=%s same_bytes=%s\n", type, flags, name,
           mapped, same);
    vkFreeMemory(g->device, memory, NULL);
    close(fd);
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "memexport" };
    pv_guest_init_instance(&g, &options, argc, argv);
    const char *extensions[3];
    uint32_t count = 0;
    static const char *const wanted[] = { VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME,
                                          VK_EXT_EXTERNAL_MEMORY_DMA_BUF_EXTENSION_NAME };
    for (size_t i = 0; i < PV_ARRAY_SIZE(wanted); i++) {
        if (pv_has_device_extension(&g, wanted[i]))
            extensions[count++] = wanted[i];
    }
    options.device_extensions = extensions;
    options.device_extension_count = count;
    VkPhysicalDeviceDriverProperties driver = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
    VkPhysicalDeviceProperties2 properties = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                               .pNext = &driver };
    vkGetPhysicalDeviceProperties2(g.physical_device, &properties);
    if (driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE) {
        /* lavapipe 22.3 crashes in vkFreeMemory of memory allocated for export; it imports
         * host pages into its only type anyway. */
        printf("result memexport n/a reason=lavapipe\n");
        pv_guest_create_device(&g, &options);
        return pv_guest_finish(&g);
    }
    pv_guest_create_device(&g, &options);
    const bool fd = count >= 1 && !strcmp(extensions[0], VK_KHR_EXTERNAL_MEMORY_FD_EXTENSION_NAME);
    const bool dma_buf = count == 2;
    pv_info(&g, "external_memory_fd %s, external_memory_dma_buf %s", fd ? "yes" : "no", dma_buf ? "yes" : "no");
    for (uint32_t type = 0; type < g.memory_properties.memoryTypeCount; type++) {
        if (!(g.memory_properties.memoryTypes[type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) || !fd)
            continue;
        if (dma_buf)
            probe(&g, type, VK_EXTERNAL_MEMORY_HANDLE_TYPE_DMA_BUF_BIT_EXT, "dma_buf");
        probe(&g, type, VK_EXTERNAL_MEMORY_HANDLE_TYPE_OPAQUE_FD_BIT, "opaque_fd");
    }
    return pv_guest_finish(&g);
}
