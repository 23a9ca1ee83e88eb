/* Guest objects: the id the guest chose, the host handle it stands for, and its type, checked
 * at every lookup so that a mistyped id is an error rather than memory corruption. */
#ifndef PV_OBJECT_H
#define PV_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vulkan/vulkan.h>

struct pv_instance;
struct pv_device;

struct pv_context;
struct pv_pool;

struct pv_object {
    uint64_t id;                    /* the guest's id: its driver object's address */
    VkObjectType type;
    uint64_t handle;                /* host handle; dispatchable handles are pointers */
    struct pv_instance *instance;   /* instance-level dispatch; set for every object */
    struct pv_device *device;       /* device-level dispatch; NULL above the device */

    /* Command buffers and descriptor sets live in a pool and die with it. */
    struct pv_pool *pool;
    struct pv_object *pool_prev, *pool_next;

    /* What the host checks guest commands against: a buffer's or memory's size, whether a semaphore was
     * created as a timeline (only those take the timeline commands). */
    uint64_t size;
    bool timeline;
    /* A query pool's queries, and the values each query's result holds (before availability
     * and status; PV_QUERY_VALUES_UNKNOWN for types this host does not size): the host driver
     * indexes its pool with the guest's query numbers and writes results where it is told. */
    uint32_t query_count;
    uint32_t query_values;

    /* Releases what the object owns besides its host handle; NULL: a plain free(). */
    void (*release)(struct pv_context *ctx, struct pv_object *obj);
};

#define PV_QUERY_VALUES_UNKNOWN UINT32_MAX

/* A command or descriptor pool: knows its children, which the host frees implicitly. */
struct pv_pool {
    struct pv_object base;
    struct pv_object *children;
};

/* Open-addressing hash tables from guest id to object, and from (type, host handle) back to
 * the object for handles the host returns. The tables do not own the objects. */
struct pv_object_table {
    struct pv_object **slots;
    struct pv_object **handle_slots;
    size_t capacity;   /* power of two, of both tables */
    size_t count;      /* live objects */
    size_t used;       /* live objects plus tombstones, in the larger of the two */
    size_t handle_used;
    uint64_t removals; /* counts removals, so that a cached lookup knows it is still good */
};

void pv_object_table_init(struct pv_object_table *t);
void pv_object_table_finish(struct pv_object_table *t);

/* Fails (false) for id 0, an id already live, or out of memory. */
bool pv_object_table_insert(struct pv_object_table *t, struct pv_object *obj);
void pv_object_table_remove(struct pv_object_table *t, uint64_t id);
struct pv_object *pv_object_table_lookup(const struct pv_object_table *t, uint64_t id);

/* Reverse lookup, for handles the host returns and for pools named inside structs. */
struct pv_object *pv_object_table_find_handle(const struct pv_object_table *t, VkObjectType type,
                                              uint64_t handle);

/* Calls fn for every live object (the table must not change meanwhile). */
void pv_object_table_foreach(const struct pv_object_table *t,
                             void (*fn)(struct pv_object *obj, void *data), void *data);

const char *pv_object_type_name(VkObjectType type);

#endif
