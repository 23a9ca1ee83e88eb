/* The Venus command-stream reader and reply writer: bounds-checked scalar, array and handle
 * primitives that the generated codec is built from. Every reader returns false on bad input
 * and records why; nothing here trusts a length it has not checked. */
#ifndef PV_CS_H
#define PV_CS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <vulkan/vulkan.h>

#include "pv_arena.h"
#include "pv_object.h"

struct pv_cs_decoder {
    const uint8_t *cur;
    const uint8_t *end;
    struct pv_arena *arena;            /* decoded structs and arrays of the current command */
    struct pv_object_table *objects;   /* guest id -> host object, for handle lookups */
    const char *command;               /* name of the command being decoded, for errors */
    unsigned chain_depth;              /* pNext recursion guard */
    /* Recent lookups, one per slot of the object type: a recorded command buffer names the
     * same command buffer (and mostly the same layout or pipeline) in every command. Valid
     * while the table has removed nothing since (removals unchanged). */
    struct {
        uint64_t id;
        struct pv_object *object;
    } cache[8];
    uint64_t cache_removals;
    /* The device of the first device-level object the current command named (its device,
     * queue or command buffer): every other device-level object it names must belong to the
     * same device, or the host driver would be handed another device's object. Reset before
     * each command. */
    const struct pv_device *device;
    bool failed;
    char error[256];
};

struct pv_cs_encoder {
    uint8_t *cur;
    uint8_t *end;
    const struct pv_object_table *objects;   /* host handle -> guest id, for handles in replies */
    bool failed;
};

/* Longest pNext chain accepted; real chains are a few dozen structs at most. */
#define PV_CS_MAX_CHAIN_DEPTH 256

bool pv_cs_fail(struct pv_cs_decoder *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static inline __attribute__((always_inline)) size_t pv_cs_remaining(const struct pv_cs_decoder *d)
{
    return (size_t)(d->end - d->cur);
}

static inline __attribute__((always_inline)) bool pv_cs_need(struct pv_cs_decoder *d, size_t n)
{
    if (pv_cs_remaining(d) < n)
        return pv_cs_fail(d, "command truncated (needs %zu bytes, %zu left)", n,
                          pv_cs_remaining(d));
    return true;
}

/* 4-byte slots carry every 32-bit or smaller scalar; the guest leaves padding unzeroed. */
static inline __attribute__((always_inline)) bool pv_cs_u32(struct pv_cs_decoder *d, void *out)
{
    if (!pv_cs_need(d, 4))
        return false;
    memcpy(out, d->cur, 4);
    d->cur += 4;
    return true;
}

static inline __attribute__((always_inline)) bool pv_cs_u64(struct pv_cs_decoder *d, void *out)
{
    if (!pv_cs_need(d, 8))
        return false;
    memcpy(out, d->cur, 8);
    d->cur += 8;
    return true;
}

static inline bool pv_cs_u16(struct pv_cs_decoder *d, uint16_t *out)
{
    uint32_t v;
    if (!pv_cs_u32(d, &v))
        return false;
    *out = (uint16_t)v;
    return true;
}

static inline bool pv_cs_u8(struct pv_cs_decoder *d, uint8_t *out)
{
    uint32_t v;
    if (!pv_cs_u32(d, &v))
        return false;
    *out = (uint8_t)v;
    return true;
}

static inline bool pv_cs_size(struct pv_cs_decoder *d, size_t *out)
{
    uint64_t v;
    if (!pv_cs_u64(d, &v))
        return false;
    if (v > SIZE_MAX)
        return pv_cs_fail(d, "size %llu does not fit the host", (unsigned long long)v);
    *out = (size_t)v;
    return true;
}

/* A pointer to one item: a u64 marker, non-zero meaning present. */
static inline bool pv_cs_marker(struct pv_cs_decoder *d, bool *present)
{
    uint64_t v;
    if (!pv_cs_u64(d, &v))
        return false;
    *present = v != 0;
    return true;
}

/* Array sizes are u64 element counts. The caller passes the least number of wire bytes one
 * element takes, so a huge count is refused before anything is allocated. Elements whose
 * request form is empty (output skeletons) pass 0 and are bounded by the arena instead. */
bool pv_cs_array_size(struct pv_cs_decoder *d, uint64_t *count, size_t min_element_bytes);

/* Zeroed memory from the command's arena; fails the decode when the arena limit is reached. */
void *pv_cs_alloc(struct pv_cs_decoder *d, size_t count, size_t element_size);

/* size bytes, padded to 4 on the wire. */
bool pv_cs_bytes(struct pv_cs_decoder *d, void *out, size_t size);

/* size opaque bytes (push constants, update data, cache blobs), padded to 4 on the wire, left
 * where they are: the host driver reads them during the call. NULL if the command is short. */
static inline const void *pv_cs_bytes_view(struct pv_cs_decoder *d, size_t size)
{
    size_t padded = (size + 3) & ~(size_t)3;
    if (padded < size || !pv_cs_need(d, padded))
        return NULL;
    const void *bytes = d->cur;
    d->cur += padded;
    return bytes;
}

/* count u32 slots into an array of 4-byte elements. */
bool pv_cs_u32_array(struct pv_cs_decoder *d, void *out, size_t count);
bool pv_cs_u64_array(struct pv_cs_decoder *d, void *out, size_t count);

/* A string: u64 size including the NUL, then the bytes padded to 4. Size 0 is NULL. */
bool pv_cs_string(struct pv_cs_decoder *d, const char **out);

/* Fixed-size char arrays (names, descriptions): the wire count must not exceed capacity. */
bool pv_cs_char_array(struct pv_cs_decoder *d, char *out, size_t capacity);

/* An object id of the given type, translated to the host handle. Id 0 is VK_NULL_HANDLE and
 * allowed only where optional. obj_out (may be NULL) receives the host object. */
bool pv_cs_handle_lookup(struct pv_cs_decoder *d, VkObjectType type, bool optional,
                         uint64_t *handle_out, struct pv_object **obj_out);

/* The same, inline for the common case: an id found in the decoder's cache with the right
 * type (recorded commands, one after another on the same command buffer). */
static inline bool pv_cs_handle(struct pv_cs_decoder *d, VkObjectType type, bool optional,
                                uint64_t *handle_out, struct pv_object **obj_out)
{
    if (pv_cs_remaining(d) >= 8) {
        uint64_t id;
        memcpy(&id, d->cur, 8);
        unsigned slot = (unsigned)type & 7;
        struct pv_object *obj = d->cache[slot].object;
        if (id && id == d->cache[slot].id && d->cache_removals == d->objects->removals &&
            obj->type == type && (!obj->device || !d->device || obj->device == d->device)) {
            /* The first handle of a command names its device (pv_cs_handle_lookup does the
             * same), so that the command's later handles are checked against it. */
            if (obj->device && !d->device)
                d->device = obj->device;
            d->cur += 8;
            *handle_out = obj->handle;
            if (obj_out)
                *obj_out = obj;
            return true;
        }
    }
    return pv_cs_handle_lookup(d, type, optional, handle_out, obj_out);
}

/* Reply writing: a full reply stream makes the encoder fail, never overflow. */
static inline void pv_cse_bytes(struct pv_cs_encoder *e, const void *data, size_t size)
{
    size_t padded = (size + 3) & ~(size_t)3;
    if (e->failed || (size_t)(e->end - e->cur) < padded) {
        e->failed = true;
        return;
    }
    if (size)
        memcpy(e->cur, data, size);
    memset(e->cur + size, 0, padded - size);
    e->cur += padded;
}

static inline void pv_cse_u32(struct pv_cs_encoder *e, uint32_t v)
{
    pv_cse_bytes(e, &v, 4);
}

static inline void pv_cse_u64(struct pv_cs_encoder *e, uint64_t v)
{
    pv_cse_bytes(e, &v, 8);
}

/* Handles in replies go back as the guest's ids. */
void pv_cse_handle(struct pv_cs_encoder *e, VkObjectType type, uint64_t handle);

#endif
