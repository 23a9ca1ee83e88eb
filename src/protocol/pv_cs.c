/* Bounds-checked readers and writers of the Venus wire format (see pv_cs.h). */
#include "pv_cs.h"

#include <stdarg.h>
#include <stdio.h>

#include "pv_object.h"

bool pv_cs_fail(struct pv_cs_decoder *d, const char *fmt, ...)
{
    if (!d->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->error, sizeof(d->error), fmt, ap);
        va_end(ap);
        d->failed = true;
    }
    /* Once failed, nothing more is read. */
    d->cur = d->end;
    return false;
}

bool pv_cs_array_size(struct pv_cs_decoder *d, uint64_t *count, size_t min_element_bytes)
{
    if (!pv_cs_u64(d, count))
        return false;
    if (min_element_bytes && *count > pv_cs_remaining(d) / min_element_bytes)
        return pv_cs_fail(d, "array of %llu elements overruns the command (%zu bytes left)",
                          (unsigned long long)*count, pv_cs_remaining(d));
    return true;
}

void *pv_cs_alloc(struct pv_cs_decoder *d, size_t count, size_t element_size)
{
    if (element_size && count > SIZE_MAX / element_size) {
        pv_cs_fail(d, "allocation of %zu x %zu bytes overflows", count, element_size);
        return NULL;
    }
    void *p = pv_arena_alloc(d->arena, count * element_size);
    if (!p)
        pv_cs_fail(d, "decoding needs more than the per-command limit of %zu bytes",
                   d->arena->limit);
    return p;
}

bool pv_cs_bytes(struct pv_cs_decoder *d, void *out, size_t size)
{
    size_t padded = (size + 3) & ~(size_t)3;
    if (padded < size || !pv_cs_need(d, padded))
        return false;
    if (size)
        memcpy(out, d->cur, size);
    d->cur += padded;
    return true;
}

bool pv_cs_u32_array(struct pv_cs_decoder *d, void *out, size_t count)
{
    if (count > pv_cs_remaining(d) / 4)
        return pv_cs_fail(d, "array of %zu words overruns the command", count);
    return pv_cs_bytes(d, out, count * 4);
}

bool pv_cs_u64_array(struct pv_cs_decoder *d, void *out, size_t count)
{
    if (count > pv_cs_remaining(d) / 8)
        return pv_cs_fail(d, "array of %zu u64 overruns the command", count);
    return pv_cs_bytes(d, out, count * 8);
}

bool pv_cs_string(struct pv_cs_decoder *d, const char **out)
{
    uint64_t size;
    if (!pv_cs_array_size(d, &size, 0))
        return false;
    if (size == 0) {
        *out = NULL;
        return true;
    }
    if (size > pv_cs_remaining(d))
        return pv_cs_fail(d, "string of %llu bytes overruns the command",
                          (unsigned long long)size);
    char *s = pv_cs_alloc(d, (size_t)size, 1);
    if (!s || !pv_cs_bytes(d, s, (size_t)size))
        return false;
    s[size - 1] = '\0';   /* the guest's terminator is not trusted */
    *out = s;
    return true;
}

bool pv_cs_char_array(struct pv_cs_decoder *d, char *out, size_t capacity)
{
    uint64_t size;
    if (!pv_cs_array_size(d, &size, 0))
        return false;
    if (size > capacity)
        return pv_cs_fail(d, "string of %llu bytes for %zu", (unsigned long long)size, capacity);
    if (!pv_cs_bytes(d, out, (size_t)size))
        return false;
    if (capacity)
        out[size ? size - 1 : 0] = '\0';
    return true;
}

bool pv_cs_handle_lookup(struct pv_cs_decoder *d, VkObjectType type, bool optional,
                         uint64_t *handle_out, struct pv_object **obj_out)
{
    uint64_t id;
    if (!pv_cs_u64(d, &id))
        return false;
    if (id == 0) {
        if (!optional)
            return pv_cs_fail(d, "null %s where one is required", pv_object_type_name(type));
        *handle_out = 0;
        if (obj_out)
            *obj_out = NULL;
        return true;
    }
    if (d->cache_removals != d->objects->removals) {
        memset(d->cache, 0, sizeof(d->cache));
        d->cache_removals = d->objects->removals;
    }
    unsigned slot = (unsigned)type & 7;
    struct pv_object *obj;
    if (d->cache[slot].id == id) {
        obj = d->cache[slot].object;
    } else {
        obj = pv_object_table_lookup(d->objects, id);
        if (obj) {
            d->cache[slot].id = id;
            d->cache[slot].object = obj;
        }
    }
    if (!obj)
        return pv_cs_fail(d, "unknown %s id 0x%llx", pv_object_type_name(type),
                          (unsigned long long)id);
    if (obj->type != type)
        return pv_cs_fail(d, "id 0x%llx is a %s, not a %s", (unsigned long long)id,
                          pv_object_type_name(obj->type), pv_object_type_name(type));
    if (obj->device && d->device && obj->device != d->device)
        return pv_cs_fail(d, "%s 0x%llx belongs to another VkDevice than the command's",
                          pv_object_type_name(type), (unsigned long long)id);
    if (obj->device && !d->device)
        d->device = obj->device;
    *handle_out = obj->handle;
    if (obj_out)
        *obj_out = obj;
    return true;
}

void pv_cse_handle(struct pv_cs_encoder *e, VkObjectType type, uint64_t handle)
{
    uint64_t id = 0;
    if (handle) {
        struct pv_object *obj = pv_object_table_find_handle(e->objects, type, handle);
        if (obj)
            id = obj->id;
    }
    pv_cse_u64(e, id);
}
