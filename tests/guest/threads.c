/* Many threads recording at once: four threads, each with its own command pool, record eight
 * command buffers each (compute dispatch with push constants, vkCmdFillBuffer,
 * vkCmdUpdateBuffer) starting together; the main thread submits all 32 in one vkQueueSubmit
 * (one VkSubmitInfo per thread). Two rounds, the second after resetting the pools and
 * re-recording. Every word written is checked. */
#include "pv_guest_util.h"

#include <pthread.h>
#include <string.h>

#define THREADS 4
#define PER_THREAD 8
#define ROUNDS 2
#define WORDS_PER_BUFFER 4096
#define SLOTS (THREADS * PER_THREAD)

struct shared {
    struct pv_guest *g;
    VkPipeline pipeline;
    VkPipelineLayout layout;
    VkDescriptorSet set;
    struct pv_buffer *markers, *records;
    pthread_barrier_t start;
};

struct worker {
    struct shared *shared;
    uint32_t index;
    uint32_t round;
    VkCommandPool pool;
    VkCommandBuffer cmds[PER_THREAD];
    VkResult result;
    const char *failed_call;
};

struct push {
    uint32_t thread_index, buffer_index, offset, count;
};

static uint32_t buffer_tag(uint32_t k, uint32_t round) { return k | round << 8; }

static uint32_t expected_word(uint32_t thread, uint32_t k, uint32_t round, uint32_t i)
{
    return (thread << 24) ^ (buffer_tag(k, round) << 16) ^ (i * 40503u);
}

static uint32_t expected_marker(uint32_t thread, uint32_t k, uint32_t round)
{
    return 0x1000u * thread + k + round * 0x100000u;
}

#define WORKER_CHECK(w, call)                                                                                          \
    do {                                                                                                               \
        VkResult r_ = (call);                                                                                          \
        if (r_ != VK_SUCCESS) {                                                                                        \
            (w)->result = r_;                                                                                          \
            (w)->failed_call = #call;                                                                                  \
            return NULL;                                                                                               \
        }                                                                                                              \
    } while (0)

static void *record(void *data)
{
    struct worker *w = data;
    struct shared *s = w->shared;
    VkDevice device = s->g->device;
    pthread_barrier_wait(&s->start);
    if (w->round == 0) {
        VkCommandPoolCreateInfo pool_info = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
            .queueFamilyIndex = s->g->queue_family,
        };
        WORKER_CHECK(w, vkCreateCommandPool(device, &pool_info, NULL, &w->pool));
        VkCommandBufferAllocateInfo alloc = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = w->pool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = PER_THREAD,
        };
        WORKER_CHECK(w, vkAllocateCommandBuffers(device, &alloc, w->cmds));
    } else {
        WORKER_CHECK(w, vkResetCommandPool(device, w->pool, 0));
    }
    for (uint32_t k = 0; k < PER_THREAD; k++) {
        VkCommandBuffer cmd = w->cmds[k];
        uint32_t slot = w->index * PER_THREAD + k;
        VkCommandBufferBeginInfo begin = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
            .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
        };
        WORKER_CHECK(w, vkBeginCommandBuffer(cmd, &begin));
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipeline);
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->layout, 0, 1, &s->set, 0, NULL);
        struct push push = { w->index, buffer_tag(k, w->round), slot * WORDS_PER_BUFFER, WORDS_PER_BUFFER };
        vkCmdPushConstants(cmd, s->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), &push);
        vkCmdDispatch(cmd, WORDS_PER_BUFFER / 64, 1, 1);
        vkCmdFillBuffer(cmd, s->markers->buffer, slot * 4, 4, expected_marker(w->index, k, w->round));
        uint32_t record[4] = { w->index, k, w->round, 0xc0ffee00u + slot };
        vkCmdUpdateBuffer(cmd, s->records->buffer, slot * sizeof(record), sizeof(record), record);
        VkMemoryBarrier barrier = {
            .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
            .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
        };
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
        WORKER_CHECK(w, vkEndCommandBuffer(cmd));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "threads" };
    pv_guest_init(&g, &options, argc, argv);

    struct pv_buffer out, markers, records;
    const VkDeviceSize out_size = (VkDeviceSize)SLOTS * WORDS_PER_BUFFER * 4;
    pv_buffer_create(&g, &out, out_size, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    pv_buffer_create(&g, &markers, SLOTS * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    pv_buffer_create(&g, &records, SLOTS * 16, VK_BUFFER_USAGE_TRANSFER_DST_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_HOST_CACHED_BIT);

    VkDescriptorSetLayoutBinding binding = { 0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 1,
        .pBindings = &binding,
    };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    VkPipelineLayout layout = pv_pipeline_layout_create(&g, &set_layout, 1, sizeof(struct push),
                                                        VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline pipeline = pv_compute_pipeline_create(&g, "thread_fill.comp.spv", layout);
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1 };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool descriptor_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &descriptor_pool));
    VkDescriptorSetAllocateInfo set_alloc = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = descriptor_pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &set_layout,
    };
    VkDescriptorSet set;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &set_alloc, &set));
    VkDescriptorBufferInfo buffer_info = { out.buffer, 0, VK_WHOLE_SIZE };
    VkWriteDescriptorSet write = {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = 0,
        .descriptorCount = 1,
        .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = &buffer_info,
    };
    vkUpdateDescriptorSets(g.device, 1, &write, 0, NULL);

    struct shared shared = {
        .g = &g, .pipeline = pipeline, .layout = layout, .set = set, .markers = &markers, .records = &records,
    };
    struct worker workers[THREADS];
    memset(workers, 0, sizeof(workers));
    VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkFence fence;
    PV_CHECK(&g, vkCreateFence(g.device, &fence_info, NULL, &fence));
    uint64_t round_hashes[ROUNDS];

    for (uint32_t round = 0; round < ROUNDS; round++) {
        memset(out.map, 0, out.size);
        memset(markers.map, 0, markers.size);
        memset(records.map, 0, records.size);
        pv_buffer_flush(&g, &out);
        pv_buffer_flush(&g, &markers);
        pv_buffer_flush(&g, &records);

        if (pthread_barrier_init(&shared.start, NULL, THREADS))
            pv_fatal(&g, "pthread_barrier_init failed");
        pthread_t tids[THREADS];
        for (uint32_t t = 0; t < THREADS; t++) {
            workers[t].shared = &shared;
            workers[t].index = t;
            workers[t].round = round;
            if (pthread_create(&tids[t], NULL, record, &workers[t]))
                pv_fatal(&g, "pthread_create failed");
        }
        for (uint32_t t = 0; t < THREADS; t++)
            pthread_join(tids[t], NULL);
        pthread_barrier_destroy(&shared.start);
        for (uint32_t t = 0; t < THREADS; t++) {
            if (workers[t].result != VK_SUCCESS)
                pv_fatal(&g, "thread %u: %s returned %s", t, workers[t].failed_call,
                         pv_result_name(workers[t].result));
        }

        VkSubmitInfo submits[THREADS];
        for (uint32_t t = 0; t < THREADS; t++) {
            submits[t] = (VkSubmitInfo){
                .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
                .commandBufferCount = PER_THREAD,
                .pCommandBuffers = workers[t].cmds,
            };
        }
        PV_CHECK(&g, vkQueueSubmit(g.queue, THREADS, submits, fence));
        pv_wait_fence(&g, fence);
        PV_CHECK(&g, vkResetFences(g.device, 1, &fence));
        pv_buffer_invalidate(&g, &out);
        pv_buffer_invalidate(&g, &markers);
        pv_buffer_invalidate(&g, &records);

        const uint32_t *words = out.map, *marker_words = markers.map, *record_words = records.map;
        unsigned bad_words = 0, bad_markers = 0, bad_records = 0;
        for (uint32_t t = 0; t < THREADS; t++) {
            for (uint32_t k = 0; k < PER_THREAD; k++) {
                uint32_t slot = t * PER_THREAD + k;
                for (uint32_t i = 0; i < WORDS_PER_BUFFER; i++) {
                    uint32_t want = expected_word(t, k, round, i), got = words[slot * WORDS_PER_BUFFER + i];
                    if (got != want && !bad_words++)
                        pv_expect(&g, false, "round %u thread %u buffer %u word %u: %08x, want %08x", round, t, k, i,
                                  got, want);
                }
                bad_markers += marker_words[slot] != expected_marker(t, k, round);
                const uint32_t *r = record_words + slot * 4;
                bad_records += r[0] != t || r[1] != k || r[2] != round || r[3] != 0xc0ffee00u + slot;
            }
        }
        pv_expect(&g, !bad_words, "round %u: %u of %u words wrong", round, bad_words, SLOTS * WORDS_PER_BUFFER);
        pv_expect(&g, !bad_markers, "round %u: %u of %u fill markers wrong", round, bad_markers, SLOTS);
        pv_expect(&g, !bad_records, "round %u: %u of %u updated records wrong", round, bad_records, SLOTS);
        round_hashes[round] = pv_fnv1a64(PV_FNV_OFFSET, words, out.size);
        round_hashes[round] = pv_fnv1a64(round_hashes[round], marker_words, markers.size);
        round_hashes[round] = pv_fnv1a64(round_hashes[round], record_words, records.size);
    }
    pv_digest_text(&g, "threads", "%d x %d command buffers, %d rounds", THREADS, PER_THREAD, ROUNDS);
    pv_digest_hash(&g, "rounds", round_hashes, sizeof(round_hashes));

    for (uint32_t t = 0; t < THREADS; t++)
        vkDestroyCommandPool(g.device, workers[t].pool, NULL);
    vkDestroyFence(g.device, fence, NULL);
    vkDestroyDescriptorPool(g.device, descriptor_pool, NULL);
    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    pv_buffer_destroy(&g, &records);
    pv_buffer_destroy(&g, &markers);
    pv_buffer_destroy(&g, &out);
    return pv_guest_finish(&g);
}
