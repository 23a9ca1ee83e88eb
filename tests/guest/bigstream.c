/* Big command streams: command buffers whose encoding is far larger than the ring, so the Venus
 * driver sends them from shared memory through vkExecuteCommandStreamsMESA instead of inline.
 * 20000 vkCmdUpdateBuffer calls, each writing its own word, in one command buffer; then a second
 * command buffer of 20000 vkCmdFillBuffer calls over the same words. Every word is checked. */
#include "pv_guest_util.h"

#include <stdio.h>
#include <string.h>

#define WORDS 20000u

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "bigstream" };
    pv_guest_init(&g, &options, argc, argv);

    struct pv_buffer buffer;
    pv_buffer_create(&g, &buffer, WORDS * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    memset(buffer.map, 0, WORDS * 4);
    pv_buffer_flush(&g, &buffer);

    /* Each update writes a value no neighbour shares, so a lost, repeated or reordered command
     * shows in the words. */
    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    for (uint32_t i = 0; i < WORDS; i++) {
        uint32_t value = i * 2654435761u + 1;
        vkCmdUpdateBuffer(cmd, buffer.buffer, (VkDeviceSize)i * 4, 4, &value);
    }
    pv_cmd_buffer_barrier(cmd, buffer.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &buffer);
    const uint32_t *words = buffer.map;
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < WORDS; i++)
        wrong += words[i] != i * 2654435761u + 1;
    pv_expect(&g, wrong == 0, "%u of %u updated words are wrong", wrong, WORDS);
    pv_digest_hash(&g, "updates", buffer.map, WORDS * 4);

    /* Fills of odd words only, after a barrier: the even words keep their updates. */
    cmd = pv_one_shot_begin(&g);
    for (uint32_t i = 1; i < WORDS; i += 2)
        vkCmdFillBuffer(cmd, buffer.buffer, (VkDeviceSize)i * 4, 4, 0xf0000000u | i);
    pv_cmd_buffer_barrier(cmd, buffer.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &buffer);
    wrong = 0;
    for (uint32_t i = 0; i < WORDS; i++) {
        uint32_t expect = i % 2 ? 0xf0000000u | i : i * 2654435761u + 1;
        wrong += words[i] != expect;
    }
    pv_expect(&g, wrong == 0, "%u of %u words are wrong after the fills", wrong, WORDS);
    pv_digest_hash(&g, "fills", buffer.map, WORDS * 4);

    pv_buffer_destroy(&g, &buffer);
    return pv_guest_finish(&g);
}
