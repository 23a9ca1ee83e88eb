/* Device memory and the blobs that share it with the guest.
 *
 * Host-visible memory must be the very bytes the guest maps. The portable way, which needs
 * nothing Linux-specific from the host driver: allocate shared memory here (a memfd), map it,
 * import the mapping into Vulkan with VK_EXT_external_memory_host, and hand the same memfd to
 * the guest as the memory's blob. Memory that is not host-visible is allocated as usual. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pv_device.h"
#include "pv_log.h"

struct pv_device_memory {
    struct pv_object base;
    struct pv_blob *shm;   /* host-visible memory: the shared pages; NULL otherwise */
    VkDeviceSize size;     /* as counted against the context's memory limit */
};

static void memory_release(struct pv_context *ctx, struct pv_object *obj)
{
    struct pv_device_memory *mem = (struct pv_device_memory *)obj;
    ctx->memory_bytes -= mem->size;
    /* The host handle is gone by now; the pages may live on in a blob the guest holds. */
    if (mem->shm)
        pv_blob_unref(mem->shm);
    free(mem);
}

static struct pv_blob *shm_create(size_t size)
{
    int fd = memfd_create("pvgpu-memory", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    struct pv_blob *blob = map == MAP_FAILED ? NULL : calloc(1, sizeof(*blob));
    if (!blob) {
        if (map != MAP_FAILED)
            munmap(map, size);
        close(fd);
        return NULL;
    }
    blob->refs = 1;
    blob->map = map;
    blob->size = size;
    blob->fd = fd;
    return blob;
}

/* The guest's chain minus what this host cannot honour for imported memory: export requests
 * (the blob is the export) and dedicated-allocation hints (not allowed with an import). The
 * links of the decoded chain are rewritten in place. */
static const void *filter_chain(const void *chain)
{
    VkBaseOutStructure *head = NULL, *tail = NULL;
    for (VkBaseOutStructure *s = (VkBaseOutStructure *)chain; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_EXPORT_MEMORY_ALLOCATE_INFO ||
            s->sType == VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO)
            continue;
        if (tail)
            tail->pNext = s;
        else
            head = s;
        tail = s;
    }
    if (tail)
        tail->pNext = NULL;
    return head;
}

void pv_handle_vkAllocateMemory(struct pv_context *ctx, struct pv_args_vkAllocateMemory *a)
{
    struct pv_device *device = a->device_object->device;
    const VkMemoryAllocateInfo *info = a->pAllocateInfo;
    const VkPhysicalDeviceMemoryProperties *props = &device->memory_properties;
    if (info->memoryTypeIndex >= props->memoryTypeCount) {
        pv_context_set_fatal(ctx, "vkAllocateMemory: memory type %u of %u", info->memoryTypeIndex,
                             props->memoryTypeCount);
        return;
    }
    for (const VkBaseInStructure *s = info->pNext; s; s = s->pNext) {
        if (s->sType == VK_STRUCTURE_TYPE_IMPORT_MEMORY_RESOURCE_INFO_MESA) {
            /* Only a transport with guest VRAM or dma-buf import sends it; vtest has neither. */
            a->ret = VK_ERROR_INVALID_EXTERNAL_HANDLE;
            return;
        }
    }
    if (info->allocationSize > ctx->options.max_memory_bytes - ctx->memory_bytes) {
        pv_log("context %u (%s): vkAllocateMemory of %llu bytes passes the context's limit of "
               "%llu bytes", ctx->id, ctx->name, (unsigned long long)info->allocationSize,
               (unsigned long long)ctx->options.max_memory_bytes);
        a->ret = VK_ERROR_OUT_OF_DEVICE_MEMORY;
        return;
    }
    struct pv_device_memory *mem = calloc(1, sizeof(*mem));
    if (!mem) {
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    VkMemoryAllocateInfo host_info = *info;
    VkImportMemoryHostPointerInfoEXT import = {
        .sType = VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT,
        .handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
    };
    const bool host_visible = props->memoryTypes[info->memoryTypeIndex].propertyFlags &
                              VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    if (host_visible) {
        if (!device->host_pointer_alignment) {
            /* Nothing to share the memory with the guest through. */
            free(mem);
            a->ret = VK_ERROR_OUT_OF_DEVICE_MEMORY;
            return;
        }
        VkDeviceSize align = device->host_pointer_alignment;
        if (info->allocationSize == 0 || info->allocationSize > SIZE_MAX - align) {
            free(mem);
            a->ret = VK_ERROR_OUT_OF_DEVICE_MEMORY;
            return;
        }
        VkDeviceSize size = (info->allocationSize + align - 1) & ~(align - 1);
        mem->shm = shm_create((size_t)size);
        if (!mem->shm) {
            pv_log("context %u (%s): no shared memory for a %llu-byte allocation: %s", ctx->id,
                   ctx->name, (unsigned long long)size, strerror(errno));
            free(mem);
            a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
            return;
        }
        VkMemoryHostPointerPropertiesEXT pointer_props = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT,
        };
        if (device->get_memory_host_pointer_properties(
                device->handle, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT,
                mem->shm->map, &pointer_props) != VK_SUCCESS ||
            !(pointer_props.memoryTypeBits & (1u << info->memoryTypeIndex))) {
            pv_log("context %u (%s): memory type %u cannot import shared memory", ctx->id,
                   ctx->name, info->memoryTypeIndex);
            pv_blob_unref(mem->shm);
            free(mem);
            a->ret = VK_ERROR_OUT_OF_DEVICE_MEMORY;
            return;
        }
        import.pHostPointer = mem->shm->map;
        import.pNext = filter_chain(info->pNext);
        host_info.pNext = &import;
        host_info.allocationSize = size;
    }
    VkDeviceMemory handle = VK_NULL_HANDLE;
    a->ret = device->dispatch.vkAllocateMemory(a->device, &host_info, NULL, &handle);
    if (a->ret != VK_SUCCESS) {
        if (mem->shm)
            pv_blob_unref(mem->shm);
        free(mem);
        return;
    }
    mem->size = info->allocationSize;
    ctx->memory_bytes += mem->size;
    /* what resources are bound inside (pv_bind.c): the guest's size, not the host's rounding */
    mem->base.size = info->allocationSize;
    mem->base.id = a->pMemory_id;
    mem->base.type = VK_OBJECT_TYPE_DEVICE_MEMORY;
    mem->base.handle = (uint64_t)handle;
    mem->base.instance = device->base.instance;
    mem->base.device = device;
    mem->base.release = memory_release;
    if (!pv_context_add_object(ctx, &mem->base)) {
        device->dispatch.vkFreeMemory(a->device, handle, NULL);
        memory_release(ctx, &mem->base);
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    *a->pMemory = handle;
}

void pv_handle_vkFreeMemory(struct pv_context *ctx, struct pv_args_vkFreeMemory *a)
{
    struct pv_device *device = a->device_object->device;
    device->dispatch.vkFreeMemory(a->device, a->memory, NULL);
    if (a->memory_object)
        pv_context_forget_object(ctx, a->memory_object);
}

struct pv_blob *pv_device_memory_blob(struct pv_context *ctx, uint64_t memory_id, uint64_t size)
{
    struct pv_object *obj = pv_object_table_lookup(&ctx->objects, memory_id);
    if (!obj || obj->type != VK_OBJECT_TYPE_DEVICE_MEMORY) {
        pv_log("context %u (%s): blob of unknown memory 0x%llx", ctx->id, ctx->name,
               (unsigned long long)memory_id);
        return NULL;
    }
    struct pv_device_memory *mem = (struct pv_device_memory *)obj;
    if (!mem->shm) {
        pv_log("context %u (%s): memory 0x%llx is not host-visible", ctx->id, ctx->name,
               (unsigned long long)memory_id);
        return NULL;
    }
    if (mem->shm->res_id) {
        pv_log("context %u (%s): memory 0x%llx already has blob %u", ctx->id, ctx->name,
               (unsigned long long)memory_id, mem->shm->res_id);
        return NULL;
    }
    if (size > mem->shm->size) {
        pv_log("context %u (%s): blob of %llu bytes for %zu bytes of memory", ctx->id, ctx->name,
               (unsigned long long)size, mem->shm->size);
        return NULL;
    }
    return mem->shm;
}

/* The host never maps memory through Vulkan: the pages are shared directly, and every
 * host-visible type the guest sees is coherent. These have nothing to do. */
void pv_handle_vkUnmapMemory(struct pv_context *ctx, struct pv_args_vkUnmapMemory *a)
{
    (void)ctx;
    (void)a;
}

void pv_handle_vkUnmapMemory2(struct pv_context *ctx, struct pv_args_vkUnmapMemory2 *a)
{
    (void)ctx;
    a->ret = VK_SUCCESS;
}

void pv_handle_vkFlushMappedMemoryRanges(struct pv_context *ctx,
                                         struct pv_args_vkFlushMappedMemoryRanges *a)
{
    (void)ctx;
    a->ret = VK_SUCCESS;
}

void pv_handle_vkInvalidateMappedMemoryRanges(struct pv_context *ctx,
                                              struct pv_args_vkInvalidateMappedMemoryRanges *a)
{
    (void)ctx;
    a->ret = VK_SUCCESS;
}
