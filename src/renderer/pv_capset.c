/* The Venus capset the guest driver reads before anything else, and the command table
 * listing. Pure functions: transports call them before any context exists. */
#include <string.h>

#include "pv_context.h"

struct pv_venus_capset {
    uint32_t wire_format_version;
    uint32_t vk_xml_version;
    uint32_t vk_ext_command_serialization_spec_version;
    uint32_t vk_mesa_venus_protocol_spec_version;
    uint32_t supports_blob_id_0;
    uint32_t vk_extension_mask1[32];
    uint32_t allow_vk_wait_syncs;
};

size_t pv_renderer_fill_capset(uint32_t capset_id, uint32_t version, void *buf, size_t size)
{
    if (capset_id != PV_CAPSET_VENUS || version != 0 || size < sizeof(struct pv_venus_capset))
        return 0;
    struct pv_venus_capset caps = {
        .wire_format_version = 0,
        /* The registry the codec was generated from; the driver caps it at its own. */
        .vk_xml_version = VK_HEADER_VERSION_COMPLETE,
        .vk_ext_command_serialization_spec_version = 0,
        .vk_mesa_venus_protocol_spec_version = PV_VENUS_PROTOCOL_SPEC_VERSION,
        /* Shared memory is a HOST3D blob with id 0: saves the guest a round trip per shmem. */
        .supports_blob_id_0 = 1,
        /* The guest waits on fences through feedback slots and host-side waits. */
        .allow_vk_wait_syncs = 1,
    };
    memcpy(caps.vk_extension_mask1, pv_venus_extension_mask, sizeof(caps.vk_extension_mask1));
    memcpy(buf, &caps, sizeof(caps));
    return sizeof(caps);
}

void pv_renderer_print_commands(FILE *out)
{
    for (uint32_t i = 0; i < PV_COMMAND_COUNT; i++) {
        const struct pv_command_info *info = &pv_command_table[i];
        fprintf(out, "%u %s %s\n", i, info->name, info->status);
    }
}
