/* Invalid usage a host driver would not survive, sent on purpose: `guest_misuse CASE`. Run
 * only through pvgpu (tests/stack/invalid_usage.sh), which must end the context with a reason
 * naming the command instead of passing the call on. Natively these are undefined behaviour. */
#include "pv_guest_util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void copy(struct pv_guest *g, struct pv_buffer *src, struct pv_buffer *dst, VkBufferCopy region)
{
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    vkCmdCopyBuffer(cmd, src->buffer, dst->buffer, 1, &region);
    pv_one_shot_end(g, cmd);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    static const char *const cases[] = { "signal-binary", "copy-overlap", "copy-outside", "fill-outside" };
    bool known = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        known |= !strcmp(which, cases[i]);
    if (!known) {
        fprintf(stderr, "usage: %s signal-binary|copy-overlap|copy-outside|fill-outside [guest options]\n", argv[0]);
        return 2;
    }
    argv[1] = argv[0];

    struct pv_guest g;
    VkPhysicalDeviceTimelineSemaphoreFeaturesKHR timeline_features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES_KHR,
        .timelineSemaphore = VK_TRUE,
    };
    const char *extensions[] = { VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME };
    struct pv_guest_options options = {
        .name = "misuse",
        .device_extensions = extensions,
        .device_extension_count = 1,
        .device_create_next = &timeline_features,
    };
    pv_guest_init(&g, &options, argc - 1, argv + 1);

    struct pv_buffer a, b;
    VkBufferUsageFlags usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    pv_buffer_create(&g, &a, 65536, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &b, 4096, usage, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    if (!strcmp(which, "signal-binary")) {
        PFN_vkSignalSemaphoreKHR signal =
            (PFN_vkSignalSemaphoreKHR)vkGetDeviceProcAddr(g.device, "vkSignalSemaphoreKHR");
        VkSemaphoreCreateInfo info = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO };
        VkSemaphore binary;
        PV_CHECK(&g, vkCreateSemaphore(g.device, &info, NULL, &binary));
        VkSemaphoreSignalInfoKHR signal_info = {
            .sType = VK_STRUCTURE_TYPE_SEMAPHORE_SIGNAL_INFO_KHR,
            .semaphore = binary,
            .value = 1,
        };
        signal(g.device, &signal_info);
        /* A current driver may send the signal on a ring of its own without waiting, and
         * answer vkDeviceWaitIdle without the host: give the host 5 s to end the context (the
         * driver then aborts on the ring's FATAL bit) before calling the usage accepted. */
        for (int i = 0; i < 500; i++) {
            vkDeviceWaitIdle(g.device);
            usleep(10000);
        }
    } else if (!strcmp(which, "copy-overlap")) {
        copy(&g, &a, &a, (VkBufferCopy){ .srcOffset = 0, .dstOffset = 1024, .size = 4096 });
    } else if (!strcmp(which, "copy-outside")) {
        /* 16 MiB past the end of the 4 KiB destination. */
        copy(&g, &a, &b, (VkBufferCopy){ .srcOffset = 0, .dstOffset = 16u << 20, .size = 4096 });
    } else {
        VkCommandBuffer cmd = pv_one_shot_begin(&g);
        vkCmdFillBuffer(cmd, b.buffer, 4096 - 256, 1u << 20, 0xdeadbeefu);
        pv_one_shot_end(&g, cmd);
    }
    /* Reached only if the host let the call through. */
    pv_fatal(&g, "%s: the host accepted invalid usage", which);
}
