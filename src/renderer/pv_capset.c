/* The Venus capset the guest driver reads before anything else, and the command table
 * listing. Pure functions: transports call them before any context exists. */
#include <string.h>

#include "pv_context.h"

/* The capset as the guest reads it; the 2022 generation reads the fields up to
 * allow_vk_wait_syncs and ignores the rest. */
struct pv_venus_capset {
    uint32_t wire_format_version;
    uint32_t vk_xml_version;
    uint32_t vk_ext_command_serialization_spec_version;
    uint32_t vk_mesa_venus_protocol_spec_version;
    uint32_t supports_blob_id_0;
    uint32_t vk_extension_mask1[32];
    uint32_t allow_vk_wait_syncs;
    uint32_t supports_multiple_timelines;
    uint32_t use_guest_vram;
};

/* The Vulkan version the guest may use: 1.3, whose commands this host serves and tests; the
 * guest caps its device version with it. The patch level is the registry's: the guest caps it
 * at the host driver's own. */
#define PV_SERVED_VK_XML_VERSION VK_MAKE_API_VERSION(0, 1, 3, VK_HEADER_VERSION)

/* VK_MESA_venus_protocol spec versions. 100000 is the 2022 generation's experimental protocol
 * (the feature query, the large ring). For current guests each spec version adds a feature
 * they then rely on: 2 is ring priority (VkRingPriorityInfoMESA, served); 3, host image copy,
 * is not served. */
#define PV_VENUS_SPEC_2022 100000
#define PV_VENUS_SPEC_CURRENT 2

const char *pv_venus_generation_name(enum pv_venus_generation generation)
{
    return generation == PV_VENUS_2022 ? "wire format 0 (Mesa 22.x)"
                                       : "wire format 1 (current Mesa)";
}

size_t pv_renderer_fill_capset(uint32_t capset_id, uint32_t version,
                               enum pv_venus_generation generation, void *buf, size_t size)
{
    if (capset_id != PV_CAPSET_VENUS || version != 0 || size < sizeof(struct pv_venus_capset))
        return 0;
    bool current = generation != PV_VENUS_2022;
    struct pv_venus_capset caps = {
        .wire_format_version = current ? 1 : 0,
        .vk_xml_version = PV_SERVED_VK_XML_VERSION,
        .vk_ext_command_serialization_spec_version = current ? 1 : 0,
        .vk_mesa_venus_protocol_spec_version = current ? PV_VENUS_SPEC_CURRENT : PV_VENUS_SPEC_2022,
        /* Shared memory is a HOST3D blob with id 0: saves the guest a round trip per shmem. */
        .supports_blob_id_0 = 1,
        /* The guest waits on fences through feedback slots and host-side waits. */
        .allow_vk_wait_syncs = 1,
        /* Each queue gets its own timeline (ring index) for the transport's fences. */
        .supports_multiple_timelines = current ? 1 : 0,
        /* The host makes blobs; the guest never has to carve them out of its own memory. */
        .use_guest_vram = 0,
    };
    memcpy(caps.vk_extension_mask1, pv_venus_extension_mask, sizeof(caps.vk_extension_mask1));
    size_t out = current ? sizeof(caps) : offsetof(struct pv_venus_capset, use_guest_vram);
    memcpy(buf, &caps, out);
    return out;
}

void pv_renderer_print_commands(FILE *out)
{
    for (uint32_t i = 0; i < PV_COMMAND_COUNT; i++) {
        const struct pv_command_info *info = &pv_command_table[i];
        if (!info->name)
            continue;
        fprintf(out, "%u %s %s\n", i, info->name, info->status);
    }
}
