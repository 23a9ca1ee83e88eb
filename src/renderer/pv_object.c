/* The guest-id -> host-object table (see pv_object.h). Two open-addressing tables share one
 * capacity: ids forward, (type, host handle) backward. */
#include "pv_object.h"

#include <stdlib.h>

/* A removed entry: keeps probe chains intact until the next rehash. */
static struct pv_object pv_tombstone;
#define TOMBSTONE (&pv_tombstone)

static size_t mix(uint64_t v)
{
    /* Ids and handles are addresses: mix the alignment zeros away. */
    v ^= v >> 33;
    v *= 0xff51afd7ed558ccdULL;
    v ^= v >> 33;
    return (size_t)v;
}

static size_t hash_handle(VkObjectType type, uint64_t handle)
{
    return mix(handle ^ ((uint64_t)type << 56));
}

void pv_object_table_init(struct pv_object_table *t)
{
    t->slots = NULL;
    t->handle_slots = NULL;
    t->capacity = 0;
    t->count = 0;
    t->used = 0;
    t->handle_used = 0;
}

void pv_object_table_finish(struct pv_object_table *t)
{
    free(t->slots);
    free(t->handle_slots);
    pv_object_table_init(t);
}

static void place(struct pv_object **slots, size_t capacity, size_t hash, struct pv_object *obj)
{
    size_t j = hash & (capacity - 1);
    while (slots[j])
        j = (j + 1) & (capacity - 1);
    slots[j] = obj;
}

static bool rehash(struct pv_object_table *t, size_t capacity)
{
    struct pv_object **slots = calloc(capacity, sizeof(*slots));
    struct pv_object **handle_slots = calloc(capacity, sizeof(*handle_slots));
    if (!slots || !handle_slots) {
        free(slots);
        free(handle_slots);
        return false;
    }
    for (size_t i = 0; i < t->capacity; i++) {
        struct pv_object *obj = t->slots[i];
        if (obj && obj != TOMBSTONE)
            place(slots, capacity, mix(obj->id), obj);
        obj = t->handle_slots[i];
        if (obj && obj != TOMBSTONE)
            place(handle_slots, capacity, hash_handle(obj->type, obj->handle), obj);
    }
    free(t->slots);
    free(t->handle_slots);
    t->slots = slots;
    t->handle_slots = handle_slots;
    t->capacity = capacity;
    t->used = t->count;
    t->handle_used = t->count;
    return true;
}

bool pv_object_table_insert(struct pv_object_table *t, struct pv_object *obj)
{
    if (obj->id == 0 || pv_object_table_lookup(t, obj->id))
        return false;
    size_t used = t->used > t->handle_used ? t->used : t->handle_used;
    if ((used + 1) * 4 >= t->capacity * 3) {
        size_t capacity = t->capacity ? t->capacity : 64;
        while ((t->count + 1) * 2 >= capacity)
            capacity *= 2;
        if (!rehash(t, capacity))
            return false;
    }
    size_t i = mix(obj->id) & (t->capacity - 1);
    while (t->slots[i] && t->slots[i] != TOMBSTONE)
        i = (i + 1) & (t->capacity - 1);
    if (!t->slots[i])
        t->used++;
    t->slots[i] = obj;

    i = hash_handle(obj->type, obj->handle) & (t->capacity - 1);
    while (t->handle_slots[i] && t->handle_slots[i] != TOMBSTONE)
        i = (i + 1) & (t->capacity - 1);
    if (!t->handle_slots[i])
        t->handle_used++;
    t->handle_slots[i] = obj;
    t->count++;
    return true;
}

static size_t find_slot(const struct pv_object_table *t, uint64_t id)
{
    if (!t->capacity || id == 0)
        return SIZE_MAX;
    size_t i = mix(id) & (t->capacity - 1);
    while (t->slots[i]) {
        if (t->slots[i] != TOMBSTONE && t->slots[i]->id == id)
            return i;
        i = (i + 1) & (t->capacity - 1);
    }
    return SIZE_MAX;
}

struct pv_object *pv_object_table_lookup(const struct pv_object_table *t, uint64_t id)
{
    size_t i = find_slot(t, id);
    return i == SIZE_MAX ? NULL : t->slots[i];
}

void pv_object_table_remove(struct pv_object_table *t, uint64_t id)
{
    size_t i = find_slot(t, id);
    if (i == SIZE_MAX)
        return;
    struct pv_object *obj = t->slots[i];
    t->slots[i] = TOMBSTONE;
    /* The reverse entry is this very object, wherever equal handles put it. */
    size_t j = hash_handle(obj->type, obj->handle) & (t->capacity - 1);
    while (t->handle_slots[j]) {
        if (t->handle_slots[j] == obj) {
            t->handle_slots[j] = TOMBSTONE;
            break;
        }
        j = (j + 1) & (t->capacity - 1);
    }
    t->count--;
    t->removals++;
}

struct pv_object *pv_object_table_find_handle(const struct pv_object_table *t, VkObjectType type,
                                              uint64_t handle)
{
    if (!t->capacity)
        return NULL;
    size_t i = hash_handle(type, handle) & (t->capacity - 1);
    while (t->handle_slots[i]) {
        struct pv_object *obj = t->handle_slots[i];
        if (obj != TOMBSTONE && obj->type == type && obj->handle == handle)
            return obj;
        i = (i + 1) & (t->capacity - 1);
    }
    return NULL;
}

void pv_object_table_foreach(const struct pv_object_table *t,
                             void (*fn)(struct pv_object *obj, void *data), void *data)
{
    for (size_t i = 0; i < t->capacity; i++) {
        struct pv_object *obj = t->slots[i];
        if (obj && obj != TOMBSTONE)
            fn(obj, data);
    }
}
const char *pv_object_type_name(VkObjectType type)
{
    switch (type) {
    case VK_OBJECT_TYPE_INSTANCE: return "VkInstance";
    case VK_OBJECT_TYPE_PHYSICAL_DEVICE: return "VkPhysicalDevice";
    case VK_OBJECT_TYPE_DEVICE: return "VkDevice";
    case VK_OBJECT_TYPE_QUEUE: return "VkQueue";
    case VK_OBJECT_TYPE_SEMAPHORE: return "VkSemaphore";
    case VK_OBJECT_TYPE_COMMAND_BUFFER: return "VkCommandBuffer";
    case VK_OBJECT_TYPE_FENCE: return "VkFence";
    case VK_OBJECT_TYPE_DEVICE_MEMORY: return "VkDeviceMemory";
    case VK_OBJECT_TYPE_BUFFER: return "VkBuffer";
    case VK_OBJECT_TYPE_IMAGE: return "VkImage";
    case VK_OBJECT_TYPE_EVENT: return "VkEvent";
    case VK_OBJECT_TYPE_QUERY_POOL: return "VkQueryPool";
    case VK_OBJECT_TYPE_BUFFER_VIEW: return "VkBufferView";
    case VK_OBJECT_TYPE_IMAGE_VIEW: return "VkImageView";
    case VK_OBJECT_TYPE_SHADER_MODULE: return "VkShaderModule";
    case VK_OBJECT_TYPE_PIPELINE_CACHE: return "VkPipelineCache";
    case VK_OBJECT_TYPE_PIPELINE_LAYOUT: return "VkPipelineLayout";
    case VK_OBJECT_TYPE_RENDER_PASS: return "VkRenderPass";
    case VK_OBJECT_TYPE_PIPELINE: return "VkPipeline";
    case VK_OBJECT_TYPE_DESCRIPTOR_SET_LAYOUT: return "VkDescriptorSetLayout";
    case VK_OBJECT_TYPE_SAMPLER: return "VkSampler";
    case VK_OBJECT_TYPE_DESCRIPTOR_POOL: return "VkDescriptorPool";
    case VK_OBJECT_TYPE_DESCRIPTOR_SET: return "VkDescriptorSet";
    case VK_OBJECT_TYPE_FRAMEBUFFER: return "VkFramebuffer";
    case VK_OBJECT_TYPE_COMMAND_POOL: return "VkCommandPool";
    case VK_OBJECT_TYPE_SAMPLER_YCBCR_CONVERSION: return "VkSamplerYcbcrConversion";
    case VK_OBJECT_TYPE_DESCRIPTOR_UPDATE_TEMPLATE: return "VkDescriptorUpdateTemplate";
    case VK_OBJECT_TYPE_PRIVATE_DATA_SLOT: return "VkPrivateDataSlot";
    default: return "object";
    }
}
