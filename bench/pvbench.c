/* pvbench: one benchmark workload per run, headless Vulkan 1.1, the same binary natively, through
 * the reference host and through pvgpu. bench/run.py runs it every way and builds the table.
 *
 * Output: "info ..." lines for people and exactly one "result WORKLOAD key=value ..." line that
 * run.py parses, then PASS/FAIL as in tests/guest. With --no-map nothing is ever mapped and no
 * host-visible allocation is small enough for the Venus driver to pool it (a pool is mapped at
 * once): the reference host on lavapipe drops a guest at its first mapped allocation. */
#define _GNU_SOURCE
#include "pv_guest_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The Venus driver (22.3) suballocates host-visible allocations of 64 KiB or less from a pool
 * that it maps at once; anything larger is mapped only on vkMapMemory. Every host-visible
 * allocation here is at least this large, in every mode, so that all runs allocate alike. */
#define BENCH_MIN_HOST_VISIBLE_ALLOCATION (128u * 1024)

struct bench_options {
    const char *workload;
    uint64_t size;       /* 0: the workload's default */
    uint32_t iterations; /* 0: the workload's default */
    bool no_map;
    const char *call;    /* roundtrip: query, semaphore or fence */
    double seconds;      /* idle: the longest it stays */
    const char *stop_file;
    const char *shader_dir;
    int memory_type;     /* upload: the mapped buffer's memory type; -1: chosen by its flags */
};

struct bench {
    struct pv_guest g;
    struct bench_options o;
    VkCommandPool pool; /* resettable command buffers for the timed loops */
};

struct bench_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    VkMemoryPropertyFlags flags;
    uint32_t type;
    void *map; /* when mapped */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double percentile_us(const uint64_t *sorted, uint32_t n, double p)
{
    uint32_t rank = (uint32_t)ceil(p / 100.0 * n);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)sorted[rank - 1] / 1000.0;
}

static double mean_us(const uint64_t *samples, uint32_t n)
{
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += (double)samples[i];
    return n ? sum / n / 1000.0 : 0;
}

/* A memory type with all of required, trying first with preferred and without avoided. */
static uint32_t bench_memory_type(struct bench *b, uint32_t type_bits, VkMemoryPropertyFlags required,
                                  VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoided)
{
    const VkPhysicalDeviceMemoryProperties *mp = &b->g.memory_properties;
    const struct {
        VkMemoryPropertyFlags want, avoid;
    } passes[] = {
        { required | preferred, avoided }, { required | preferred, 0 }, { required, avoided }, { required, 0 },
    };
    for (size_t p = 0; p < PV_ARRAY_SIZE(passes); p++) {
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
            VkMemoryPropertyFlags flags = mp->memoryTypes[i].propertyFlags;
            if ((type_bits & (1u << i)) && (flags & passes[p].want) == passes[p].want && !(flags & passes[p].avoid))
                return i;
        }
    }
    pv_fatal(&b->g, "no memory type in bits 0x%x with flags 0x%x", type_bits, required);
}

/* A buffer in memory type `type`, or (type < 0) in the first type with the flags asked for. */
static void bench_buffer_create_in(struct bench *b, struct bench_buffer *buf, VkDeviceSize size,
                                   VkBufferUsageFlags usage, int type_wanted, VkMemoryPropertyFlags required,
                                   VkMemoryPropertyFlags preferred, VkMemoryPropertyFlags avoided, bool map)
{
    if (map && b->o.no_map)
        pv_fatal(&b->g, "internal error: a mapped buffer with --no-map");
    memset(buf, 0, sizeof(*buf));
    buf->size = size;
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    PV_CHECK(&b->g, vkCreateBuffer(b->g.device, &info, NULL, &buf->buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(b->g.device, buf->buffer, &req);
    if (type_wanted >= 0 && !(req.memoryTypeBits & (1u << type_wanted)))
        pv_fatal(&b->g, "memory type %d cannot hold this buffer (types 0x%x)", type_wanted, req.memoryTypeBits);
    uint32_t type = type_wanted >= 0 ? (uint32_t)type_wanted
                                     : bench_memory_type(b, req.memoryTypeBits, required, preferred, avoided);
    buf->type = type;
    buf->flags = b->g.memory_properties.memoryTypes[type].propertyFlags;
    VkMemoryAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    if ((buf->flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && alloc.allocationSize < BENCH_MIN_HOST_VISIBLE_ALLOCATION)
        alloc.allocationSize = BENCH_MIN_HOST_VISIBLE_ALLOCATION;
    PV_CHECK(&b->g, vkAllocateMemory(b->g.device, &alloc, NULL, &buf->memory));
    PV_CHECK(&b->g, vkBindBufferMemory(b->g.device, buf->buffer, buf->memory, 0));
    if (map)
        PV_CHECK(&b->g, vkMapMemory(b->g.device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->map));
}

static void bench_buffer_create(struct bench *b, struct bench_buffer *buf, VkDeviceSize size, VkBufferUsageFlags usage,
                                VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred,
                                VkMemoryPropertyFlags avoided, bool map)
{
    bench_buffer_create_in(b, buf, size, usage, -1, required, preferred, avoided, map);
}

static void bench_buffer_destroy(struct bench *b, struct bench_buffer *buf)
{
    if (buf->map)
        vkUnmapMemory(b->g.device, buf->memory);
    vkDestroyBuffer(b->g.device, buf->buffer, NULL);
    vkFreeMemory(b->g.device, buf->memory, NULL);
    memset(buf, 0, sizeof(*buf));
}

static void bench_buffer_sync(struct bench *b, struct bench_buffer *buf, bool to_device)
{
    if (buf->flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
        return;
    VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = buf->memory, .size = VK_WHOLE_SIZE,
    };
    if (to_device)
        PV_CHECK(&b->g, vkFlushMappedMemoryRanges(b->g.device, 1, &range));
    else
        PV_CHECK(&b->g, vkInvalidateMappedMemoryRanges(b->g.device, 1, &range));
}

static VkCommandBuffer bench_command_buffer(struct bench *b)
{
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = b->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer cmd;
    PV_CHECK(&b->g, vkAllocateCommandBuffers(b->g.device, &alloc, &cmd));
    return cmd;
}

static VkFence bench_fence(struct bench *b)
{
    VkFenceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkFence fence;
    PV_CHECK(&b->g, vkCreateFence(b->g.device, &info, NULL, &fence));
    return fence;
}

static void begin(struct bench *b, VkCommandBuffer cmd, VkCommandBufferUsageFlags flags)
{
    VkCommandBufferBeginInfo info = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO, .flags = flags };
    PV_CHECK(&b->g, vkBeginCommandBuffer(cmd, &info));
}

/* Submits cmd, waits for the fence and resets it: the per-iteration step of every loop here. */
static void submit_and_wait(struct bench *b, VkCommandBuffer cmd, VkFence fence)
{
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = cmd ? 1 : 0,
        .pCommandBuffers = &cmd,
    };
    PV_CHECK(&b->g, vkQueueSubmit(b->g.queue, 1, &submit, fence));
    pv_wait_fence(&b->g, fence);
    PV_CHECK(&b->g, vkResetFences(b->g.device, 1, &fence));
}

static uint64_t *alloc_samples(struct bench *b, uint32_t n)
{
    uint64_t *samples = calloc(n ? n : 1, sizeof(*samples));
    if (!samples)
        pv_fatal(&b->g, "out of memory for %u samples", n);
    return samples;
}

/* ---- round trip: one call that needs the host's reply, timed call by call ---- */

static int run_roundtrip(struct bench *b)
{
    const uint32_t n = b->o.size ? (uint32_t)b->o.size : 20000;
    const uint32_t warmup = 200;
    const char *call = b->o.call ? b->o.call : "query";
    VkDevice device = b->g.device;
    VkQueryPool query_pool = VK_NULL_HANDLE;
    VkSemaphore semaphore = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    /* The extension's entry point: the device is Vulkan 1.1, where the core name may be absent. */
    PFN_vkGetSemaphoreCounterValueKHR get_counter_value = NULL;
    const char *call_name;

    if (!strcmp(call, "query")) {
        /* A query made available once; every vkGetQueryPoolResults (no WAIT bit) then asks the
         * host, which the 22.3 driver always does: it keeps no copy of query results. */
        bool timestamps = b->g.queue_family_properties.timestampValidBits != 0;
        VkQueryPoolCreateInfo info = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = timestamps ? VK_QUERY_TYPE_TIMESTAMP : VK_QUERY_TYPE_OCCLUSION,
            .queryCount = 1,
        };
        PV_CHECK(&b->g, vkCreateQueryPool(device, &info, NULL, &query_pool));
        VkCommandBuffer cmd = pv_one_shot_begin(&b->g);
        vkCmdResetQueryPool(cmd, query_pool, 0, 1);
        if (timestamps) {
            vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool, 0);
        } else {
            vkCmdBeginQuery(cmd, query_pool, 0, 0);
            vkCmdEndQuery(cmd, query_pool, 0);
        }
        pv_one_shot_end(&b->g, cmd);
        call_name = timestamps ? "vkGetQueryPoolResults(timestamp)" : "vkGetQueryPoolResults(occlusion)";
    } else if (!strcmp(call, "semaphore")) {
        VkSemaphoreTypeCreateInfo type_info = {
            .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
            .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
            .initialValue = 7,
        };
        VkSemaphoreCreateInfo info = { .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, .pNext = &type_info };
        PV_CHECK(&b->g, vkCreateSemaphore(device, &info, NULL, &semaphore));
        get_counter_value =
            (PFN_vkGetSemaphoreCounterValueKHR)vkGetDeviceProcAddr(device, "vkGetSemaphoreCounterValueKHR");
        if (!get_counter_value)
            pv_fatal(&b->g, "vkGetSemaphoreCounterValueKHR missing");
        call_name = "vkGetSemaphoreCounterValue";
    } else if (!strcmp(call, "fence")) {
        /* With the driver's fence feedback this is answered in the guest, without the host. */
        VkFenceCreateInfo info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, .flags = VK_FENCE_CREATE_SIGNALED_BIT };
        PV_CHECK(&b->g, vkCreateFence(device, &info, NULL, &fence));
        call_name = "vkGetFenceStatus";
    } else {
        pv_fatal(&b->g, "unknown --call '%s' (query, semaphore, fence)", call);
    }

    uint64_t *samples = alloc_samples(b, n);
    unsigned bad = 0;
    for (uint32_t i = 0; i < warmup + n; i++) {
        VkResult result;
        uint64_t value = 0, start = now_ns();
        if (query_pool)
            result = vkGetQueryPoolResults(device, query_pool, 0, 1, sizeof(value), &value, sizeof(value),
                                           VK_QUERY_RESULT_64_BIT);
        else if (semaphore)
            result = get_counter_value(device, semaphore, &value);
        else
            result = vkGetFenceStatus(device, fence);
        uint64_t end = now_ns();
        if (result != VK_SUCCESS || (semaphore && value != 7))
            bad++;
        if (i >= warmup)
            samples[i - warmup] = end - start;
    }
    if (bad)
        pv_fatal(&b->g, "%u of %u calls of %s did not return VK_SUCCESS (and the value)", bad, warmup + n, call_name);
    double mean = mean_us(samples, n);
    qsort(samples, n, sizeof(*samples), compare_u64);
    printf("result roundtrip call=%s n=%u p50_us=%.2f p99_us=%.2f mean_us=%.2f min_us=%.2f max_us=%.2f\n", call_name,
           n, percentile_us(samples, n, 50), percentile_us(samples, n, 99), mean, percentile_us(samples, n, 0),
           percentile_us(samples, n, 100));
    free(samples);
    if (query_pool)
        vkDestroyQueryPool(device, query_pool, NULL);
    if (semaphore)
        vkDestroySemaphore(device, semaphore, NULL);
    if (fence)
        vkDestroyFence(device, fence, NULL);
    return 0;
}

/* ---- submit + wait of an empty command buffer ---- */

static int run_submit(struct bench *b)
{
    const uint32_t n = b->o.size ? (uint32_t)b->o.size : 5000;
    const uint32_t warmup = 50;
    VkCommandBuffer cmd = bench_command_buffer(b);
    begin(b, cmd, 0);
    PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
    VkFence fence = bench_fence(b);
    uint64_t *samples = alloc_samples(b, n);
    for (uint32_t i = 0; i < warmup + n; i++) {
        uint64_t start = now_ns();
        submit_and_wait(b, cmd, fence);
        if (i >= warmup)
            samples[i - warmup] = now_ns() - start;
    }
    double mean = mean_us(samples, n);
    qsort(samples, n, sizeof(*samples), compare_u64);
    printf("result submit n=%u us_per_iter=%.2f p50_us=%.2f p99_us=%.2f\n", n, mean, percentile_us(samples, n, 50),
           percentile_us(samples, n, 99));
    free(samples);
    vkDestroyFence(b->g.device, fence, NULL);
    vkFreeCommandBuffers(b->g.device, b->pool, 1, &cmd);
    return 0;
}

/* ---- draw-call throughput: command buffers of tiny draws, each after a push constant ---- */

static void record_draws(VkCommandBuffer cmd, VkRenderPass pass, VkFramebuffer framebuffer, VkPipeline pipeline,
                         VkPipelineLayout layout, uint32_t draws)
{
    VkClearValue clear = { .color = { .float32 = { 0, 0, 0, 1 } } };
    VkRenderPassBeginInfo pass_begin = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
        .renderPass = pass,
        .framebuffer = framebuffer,
        .renderArea = { { 0, 0 }, { 8, 8 } },
        .clearValueCount = 1,
        .pClearValues = &clear,
    };
    vkCmdBeginRenderPass(cmd, &pass_begin, VK_SUBPASS_CONTENTS_INLINE);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    VkViewport viewport = { 0, 0, 8, 8, 0, 1 };
    VkRect2D scissor = { { 0, 0 }, { 8, 8 } };
    vkCmdSetViewport(cmd, 0, 1, &viewport);
    vkCmdSetScissor(cmd, 0, 1, &scissor);
    for (uint32_t d = 0; d < draws; d++) {
        /* Triangles a quarter of the 8x8 viewport, wandering over it. */
        float push[4] = { -1.0f + 0.25f * (float)(d % 7), -1.0f + 0.25f * (float)(d % 5), 0.5f, 0.0f };
        vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof(push), push);
        vkCmdDraw(cmd, 3, 1, 0, 0);
    }
    vkCmdEndRenderPass(cmd);
}

static int run_draws(struct bench *b)
{
    const uint32_t draws = b->o.size ? (uint32_t)b->o.size : 100000;
    const uint32_t iterations = b->o.iterations ? b->o.iterations : 10;
    VkDevice device = b->g.device;
    /* 256x256 rather than 8x8 only so that the image's memory is never pooled (see the top). */
    struct pv_image color;
    pv_image_create(&b->g, &color, VK_FORMAT_R8G8B8A8_UNORM, 256, 256, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    VkRenderPass pass = pv_render_pass_create(&b->g, color.format, VK_FORMAT_UNDEFINED,
                                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&b->g, pass, &color, NULL);
    VkPipelineLayout layout = pv_pipeline_layout_create(&b->g, NULL, 0, 16, VK_SHADER_STAGE_VERTEX_BIT);
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "draw.vert.spv",
        .fragment_shader = "draw.frag.spv",
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
        .layout = layout,
        .render_pass = pass,
        .cull_mode = VK_CULL_MODE_NONE,
        .dynamic_viewport = true,
        .width = 8,
        .height = 8,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&b->g, &desc);
    VkCommandBuffer cmd = bench_command_buffer(b);
    VkFence fence = bench_fence(b);

    /* Warm-up: the first draw compiles the pipeline's shaders on some drivers. */
    begin(b, cmd, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
    record_draws(cmd, pass, framebuffer, pipeline, layout, 100);
    PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
    submit_and_wait(b, cmd, fence);

    uint64_t record_ns = 0, execute_ns = 0;
    for (uint32_t i = 0; i < iterations; i++) {
        uint64_t start = now_ns();
        PV_CHECK(&b->g, vkResetCommandBuffer(cmd, 0));
        begin(b, cmd, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
        record_draws(cmd, pass, framebuffer, pipeline, layout, draws);
        PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
        uint64_t recorded = now_ns();
        submit_and_wait(b, cmd, fence);
        uint64_t done = now_ns();
        record_ns += recorded - start;
        execute_ns += done - recorded;
    }
    double total_s = (double)(record_ns + execute_ns) * 1e-9;
    printf("result draws draws=%u iterations=%u draws_per_s=%.0f record_ms=%.2f submit_wait_ms=%.2f\n", draws,
           iterations, (double)draws * iterations / total_s, (double)record_ns * 1e-6 / iterations,
           (double)execute_ns * 1e-6 / iterations);

    vkDestroyFence(device, fence, NULL);
    vkFreeCommandBuffers(device, b->pool, 1, &cmd);
    vkDestroyPipeline(device, pipeline, NULL);
    vkDestroyPipelineLayout(device, layout, NULL);
    vkDestroyFramebuffer(device, framebuffer, NULL);
    vkDestroyRenderPass(device, pass, NULL);
    pv_image_destroy(&b->g, &color);
    return 0;
}

/* ---- offscreen rotating cube with a readback each frame ---- */

struct cube_vertex {
    float position[3];
    float color[3];
};

static void build_cube(struct cube_vertex out[36])
{
    /* Faces +z (red, towards the camera at frame 0), +x, -x, +y, -y, -z: as tests/guest/cube.c. */
    static const float colors[6][3] = { { 1, 0, 0 }, { 0, 0, 1 }, { 1, 1, 0 }, { 1, 0, 1 }, { 0, 1, 1 }, { 0, 1, 0 } };
    static const int faces[6][2] = { { 2, 1 }, { 0, 1 }, { 0, -1 }, { 1, 1 }, { 1, -1 }, { 2, -1 } };
    static const float corners[6][2] = { { -1, -1 }, { 1, -1 }, { 1, 1 }, { -1, -1 }, { 1, 1 }, { -1, 1 } };
    int n = 0;
    for (int f = 0; f < 6; f++) {
        int axis = faces[f][0], u = (axis + 1) % 3, v = (axis + 2) % 3;
        for (int c = 0; c < 6; c++, n++) {
            out[n].position[axis] = (float)faces[f][1];
            out[n].position[u] = corners[c][0];
            out[n].position[v] = corners[c][1];
            memcpy(out[n].color, colors[f], sizeof(out[n].color));
        }
    }
}

static pv_mat4 cube_mvp(uint32_t frame)
{
    float angle = (float)(frame % 360) * (2.0f * 3.14159265f / 360.0f);
    pv_mat4 model = pv_mat4_rotate(angle, 0.3f, 1.0f, 0.2f);
    pv_mat4 view = pv_mat4_translate(0.0f, 0.0f, -5.0f);
    pv_mat4 projection = pv_mat4_perspective(45.0f * 3.14159265f / 180.0f, 1.0f, 0.1f, 100.0f);
    return pv_mat4_multiply(projection, pv_mat4_multiply(view, model));
}

static int run_cube(struct bench *b)
{
    const uint32_t edge = b->o.size ? (uint32_t)b->o.size : 512;
    const uint32_t frames = b->o.iterations ? b->o.iterations : 2000;
    const uint32_t warmup = 3;
    VkDevice device = b->g.device;
    if (edge < 16 || edge > 8192)
        pv_fatal(&b->g, "cube --size %u: the edge must be 16 to 8192 pixels", edge);

    /* The vertices go up by vkCmdUpdateBuffer: nothing mapped. */
    struct cube_vertex vertices[36];
    build_cube(vertices);
    struct bench_buffer vertex_buffer;
    bench_buffer_create(b, &vertex_buffer, sizeof(vertices),
                        VK_BUFFER_USAGE_VERTEX_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, 0,
                        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, false);
    VkCommandBuffer setup = pv_one_shot_begin(&b->g);
    vkCmdUpdateBuffer(setup, vertex_buffer.buffer, 0, sizeof(vertices), vertices);
    pv_cmd_buffer_barrier(setup, vertex_buffer.buffer, VK_ACCESS_TRANSFER_WRITE_BIT,
                          VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
                          VK_PIPELINE_STAGE_VERTEX_INPUT_BIT);
    pv_one_shot_end(&b->g, setup);

    struct pv_image color, depth;
    pv_image_create(&b->g, &color, VK_FORMAT_R8G8B8A8_UNORM, edge, edge, 1,
                    VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT);
    pv_image_create(&b->g, &depth, pv_depth_format(&b->g), edge, edge, 1,
                    VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT);
    VkRenderPass pass = pv_render_pass_create(&b->g, color.format, depth.format,
                                              VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
    VkFramebuffer framebuffer = pv_framebuffer_create(&b->g, pass, &color, &depth);
    VkPipelineLayout layout = pv_pipeline_layout_create(&b->g, NULL, 0, sizeof(pv_mat4), VK_SHADER_STAGE_VERTEX_BIT);
    VkVertexInputBindingDescription binding = { 0, sizeof(struct cube_vertex), VK_VERTEX_INPUT_RATE_VERTEX };
    VkVertexInputAttributeDescription attributes[2] = {
        { 0, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct cube_vertex, position) },
        { 1, 0, VK_FORMAT_R32G32B32_SFLOAT, offsetof(struct cube_vertex, color) },
    };
    struct pv_graphics_pipeline_desc desc = {
        .vertex_shader = "cube.vert.spv",
        .fragment_shader = "cube.frag.spv",
        .bindings = &binding,
        .binding_count = 1,
        .attributes = attributes,
        .attribute_count = 2,
        .topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST,
        .layout = layout,
        .render_pass = pass,
        .depth_test = true,
        .cull_mode = VK_CULL_MODE_NONE,
        .width = edge,
        .height = edge,
    };
    VkPipeline pipeline = pv_graphics_pipeline_create(&b->g, &desc);

    const VkDeviceSize frame_bytes = pv_image_level_size(&color, 0);
    struct bench_buffer readback;
    bench_buffer_create(b, &readback, frame_bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, !b->o.no_map);
    uint8_t *pixels = NULL;
    if (!b->o.no_map && !(pixels = malloc(frame_bytes)))
        pv_fatal(&b->g, "out of memory for a frame");
    VkCommandBuffer cmd = bench_command_buffer(b);
    VkFence fence = bench_fence(b);

    uint64_t start = 0;
    const char *check = b->o.no_map ? "skipped(no-map)" : "ok";
    for (uint32_t frame = 0; frame < warmup + frames; frame++) {
        if (frame == warmup)
            start = now_ns();
        pv_mat4 mvp = cube_mvp(frame);
        PV_CHECK(&b->g, vkResetCommandBuffer(cmd, 0));
        begin(b, cmd, VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
        VkClearValue clears[2] = {
            { .color = { .float32 = { 0.2f, 0.2f, 0.2f, 1.0f } } },
            { .depthStencil = { 1.0f, 0 } },
        };
        VkRenderPassBeginInfo pass_begin = {
            .sType = VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO,
            .renderPass = pass,
            .framebuffer = framebuffer,
            .renderArea = { { 0, 0 }, { edge, edge } },
            .clearValueCount = 2,
            .pClearValues = clears,
        };
        vkCmdBeginRenderPass(cmd, &pass_begin, VK_SUBPASS_CONTENTS_INLINE);
        vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
        vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof(mvp), &mvp);
        VkDeviceSize offset = 0;
        vkCmdBindVertexBuffers(cmd, 0, 1, &vertex_buffer.buffer, &offset);
        vkCmdDraw(cmd, 36, 1, 0, 0);
        vkCmdEndRenderPass(cmd);
        pv_cmd_copy_image_to_buffer(cmd, &color, 0, readback.buffer, 0);
        pv_cmd_buffer_barrier(cmd, readback.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                              VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
        PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
        submit_and_wait(b, cmd, fence);
        if (pixels) {
            bench_buffer_sync(b, &readback, false);
            memcpy(pixels, readback.map, frame_bytes);
            if (frame == 0) {
                /* Only a working depth test leaves the front face's red in the middle. */
                const uint8_t *centre = pixels + ((size_t)edge / 2 * edge + edge / 2) * 4;
                if (centre[0] != 255 || centre[1] != 0 || centre[2] != 0)
                    pv_fatal(&b->g, "frame 0: centre pixel %u,%u,%u is not the front face's red", centre[0],
                             centre[1], centre[2]);
            }
        }
    }
    double seconds = (double)(now_ns() - start) * 1e-9;
    printf("result cube edge=%u frames=%u fps=%.1f ms_per_frame=%.3f readback=%s\n", edge, frames, frames / seconds,
           seconds * 1e3 / frames, check);

    free(pixels);
    vkDestroyFence(device, fence, NULL);
    vkFreeCommandBuffers(device, b->pool, 1, &cmd);
    bench_buffer_destroy(b, &readback);
    vkDestroyPipeline(device, pipeline, NULL);
    vkDestroyPipelineLayout(device, layout, NULL);
    vkDestroyFramebuffer(device, framebuffer, NULL);
    vkDestroyRenderPass(device, pass, NULL);
    pv_image_destroy(&b->g, &depth);
    pv_image_destroy(&b->g, &color);
    bench_buffer_destroy(b, &vertex_buffer);
    return 0;
}

/* ---- upload: memcpy into mapped memory, then a copy to device-local memory ---- */

static int run_upload(struct bench *b)
{
    if (b->o.no_map) {
        printf("result upload n/a reason=needs-mapped-memory\n");
        return 0;
    }
    const uint64_t mib = b->o.size ? b->o.size : 256;
    const uint32_t iterations = b->o.iterations ? b->o.iterations : 5;
    const VkDeviceSize bytes = mib << 20;
    VkDevice device = b->g.device;
    const VkPhysicalDeviceMemoryProperties *mp = &b->g.memory_properties;
    if (b->o.memory_type >= (int)mp->memoryTypeCount)
        pv_fatal(&b->g, "--memory-type %d: the device has %u types", b->o.memory_type, mp->memoryTypeCount);
    if (b->o.memory_type >= 0 &&
        !(mp->memoryTypes[b->o.memory_type].propertyFlags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)) {
        printf("result upload n/a reason=type-%d-not-host-visible\n", b->o.memory_type);
        return 0;
    }

    uint32_t *source = malloc(bytes);
    if (!source)
        pv_fatal(&b->g, "out of memory for %" PRIu64 " MiB", mib);
    for (size_t i = 0; i < bytes / 4; i++)
        source[i] = (uint32_t)i * 2654435761u;
    struct bench_buffer staging, target;
    bench_buffer_create_in(b, &staging, bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                           b->o.memory_type, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                           0, true);
    /* Device-local memory the host cannot see, where the device has any (not on lavapipe). */
    bench_buffer_create(b, &target, bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, 0,
                        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, false);
    VkCommandBuffer cmd = bench_command_buffer(b);
    begin(b, cmd, 0);
    VkBufferCopy region = { 0, 0, bytes };
    vkCmdCopyBuffer(cmd, staging.buffer, target.buffer, 1, &region);
    PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
    VkFence fence = bench_fence(b);

    /* The first pass (untimed here, reported as cold) faults every page of the mapping in. */
    uint64_t memcpy_ns = 0, copy_ns = 0, cold_ns = 0;
    for (uint32_t i = 0; i < 1 + iterations; i++) {
        uint64_t start = now_ns();
        memcpy(staging.map, source, bytes);
        bench_buffer_sync(b, &staging, true);
        uint64_t copied = now_ns();
        submit_and_wait(b, cmd, fence);
        uint64_t done = now_ns();
        if (i == 0) {
            cold_ns = done - start;
            continue;
        }
        memcpy_ns += copied - start;
        copy_ns += done - copied;
    }

    /* Check: the device-local copy's first 64 KiB come back equal. */
    const VkDeviceSize checked = bytes < 65536 ? bytes : 65536;
    memset(staging.map, 0, checked);
    bench_buffer_sync(b, &staging, true);
    VkCommandBuffer back = pv_one_shot_begin(&b->g);
    VkBufferCopy back_region = { 0, 0, checked };
    vkCmdCopyBuffer(back, target.buffer, staging.buffer, 1, &back_region);
    pv_cmd_buffer_barrier(back, staging.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&b->g, back);
    bench_buffer_sync(b, &staging, false);
    if (memcmp(staging.map, source, checked))
        pv_fatal(&b->g, "the device-local copy differs from what was uploaded");

    double total_mib = (double)mib * iterations;
    printf("result upload mib=%" PRIu64 " iterations=%u mib_per_s=%.0f memcpy_mib_per_s=%.0f copy_mib_per_s=%.0f "
           "cold_mib_per_s=%.0f target=%s staging_type=%u\n",
           mib, iterations, total_mib / ((double)(memcpy_ns + copy_ns) * 1e-9), total_mib / ((double)memcpy_ns * 1e-9),
           total_mib / ((double)copy_ns * 1e-9), (double)mib / ((double)cold_ns * 1e-9),
           target.flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT ? "host-visible" : "device-only", staging.type);

    vkDestroyFence(device, fence, NULL);
    vkFreeCommandBuffers(device, b->pool, 1, &cmd);
    bench_buffer_destroy(b, &target);
    bench_buffer_destroy(b, &staging);
    free(source);
    return 0;
}

/* ---- compute: y = a * x + y over size floats, dispatched again and again ---- */

static float float_of(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

static uint32_t bits_of(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof(bits));
    return bits;
}

static int run_compute(struct bench *b)
{
    const uint64_t n = b->o.size ? b->o.size : 64ull << 20;
    const uint32_t iterations = b->o.iterations ? b->o.iterations : 10;
    const float a = 2.0f, x0 = 1.0f, y0 = 0.5f;
    VkDevice device = b->g.device;
    if (n < 256 || n % 256)
        pv_fatal(&b->g, "compute --size %" PRIu64 ": a multiple of 256 elements, please", n);

    /* A storage buffer binding may be smaller than the data (lavapipe: 128 MiB): bind it in
     * chunks, a power of two elements each, one descriptor set and dispatch per chunk. */
    uint64_t chunk = 1ull << 30;
    while (chunk * 4 > b->g.properties.limits.maxStorageBufferRange)
        chunk >>= 1;
    if (chunk < 256)
        pv_fatal(&b->g, "maxStorageBufferRange %u is too small", b->g.properties.limits.maxStorageBufferRange);
    if (chunk > n)
        chunk = n;
    const uint32_t chunks = (uint32_t)((n + chunk - 1) / chunk);

    const VkDeviceSize bytes = n * 4;
    struct bench_buffer x, y;
    const VkBufferUsageFlags usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                     VK_BUFFER_USAGE_TRANSFER_SRC_BIT;
    bench_buffer_create(b, &x, bytes, usage, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, false);
    bench_buffer_create(b, &y, bytes, usage, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, false);
    VkCommandBuffer setup = pv_one_shot_begin(&b->g);
    vkCmdFillBuffer(setup, x.buffer, 0, VK_WHOLE_SIZE, bits_of(x0));
    vkCmdFillBuffer(setup, y.buffer, 0, VK_WHOLE_SIZE, bits_of(y0));
    pv_one_shot_end(&b->g, setup);

    VkDescriptorSetLayoutBinding bindings[2] = {
        { 0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
    };
    VkDescriptorSetLayoutCreateInfo set_layout_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 2,
        .pBindings = bindings,
    };
    VkDescriptorSetLayout set_layout;
    PV_CHECK(&b->g, vkCreateDescriptorSetLayout(device, &set_layout_info, NULL, &set_layout));
    struct push {
        float a;
        uint32_t n;
    };
    VkPipelineLayout layout = pv_pipeline_layout_create(&b->g, &set_layout, 1, sizeof(struct push),
                                                        VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline pipeline = pv_compute_pipeline_create(&b->g, "saxpy.comp.spv", layout);
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * chunks };
    VkDescriptorPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = chunks,
        .poolSizeCount = 1,
        .pPoolSizes = &pool_size,
    };
    VkDescriptorPool descriptor_pool;
    PV_CHECK(&b->g, vkCreateDescriptorPool(device, &pool_info, NULL, &descriptor_pool));

    VkCommandBuffer cmd = bench_command_buffer(b);
    begin(b, cmd, 0);
    /* Each submission reads what the one before wrote. */
    VkMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT,
    };
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &barrier, 0, NULL, 0, NULL);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    for (uint32_t c = 0; c < chunks; c++) {
        VkDescriptorSet set;
        VkDescriptorSetAllocateInfo set_alloc = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = descriptor_pool,
            .descriptorSetCount = 1,
            .pSetLayouts = &set_layout,
        };
        PV_CHECK(&b->g, vkAllocateDescriptorSets(device, &set_alloc, &set));
        uint64_t first = (uint64_t)c * chunk, count = n - first < chunk ? n - first : chunk;
        VkDescriptorBufferInfo infos[2] = { { x.buffer, first * 4, count * 4 }, { y.buffer, first * 4, count * 4 } };
        VkWriteDescriptorSet writes[2];
        for (uint32_t i = 0; i < 2; i++) {
            writes[i] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = set,
                .dstBinding = i,
                .descriptorCount = 1,
                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = &infos[i],
            };
        }
        vkUpdateDescriptorSets(device, 2, writes, 0, NULL);
        struct push push = { a, (uint32_t)count };
        /* The shader linearises a grid 256 groups wide (see saxpy.comp). */
        uint32_t groups = (uint32_t)((count + 255) / 256);
        uint32_t groups_x = groups < 256 ? groups : 256, groups_y = (groups + groups_x - 1) / groups_x;
        vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
        vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), &push);
        vkCmdDispatch(cmd, groups_x, groups_y, 1);
    }
    PV_CHECK(&b->g, vkEndCommandBuffer(cmd));
    VkFence fence = bench_fence(b);

    submit_and_wait(b, cmd, fence); /* warm-up */
    uint64_t start = now_ns();
    for (uint32_t i = 0; i < iterations; i++)
        submit_and_wait(b, cmd, fence);
    double seconds = (double)(now_ns() - start) * 1e-9;

    const char *check = "skipped(no-map)";
    if (!b->o.no_map) {
        /* Three elements (first, middle, last) back through a host-visible buffer. */
        struct bench_buffer probe;
        bench_buffer_create(b, &probe, 16, VK_BUFFER_USAGE_TRANSFER_DST_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                            VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0, true);
        VkCommandBuffer back = pv_one_shot_begin(&b->g);
        pv_cmd_buffer_barrier(back, y.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT,
                              VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
        VkBufferCopy regions[3] = { { 0, 0, 4 }, { (n / 2) * 4, 4, 4 }, { (n - 1) * 4, 8, 4 } };
        vkCmdCopyBuffer(back, y.buffer, probe.buffer, 3, regions);
        pv_cmd_buffer_barrier(back, probe.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                              VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
        pv_one_shot_end(&b->g, back);
        bench_buffer_sync(b, &probe, false);
        const uint32_t *got = probe.map;
        float want = y0 + a * x0 * (float)(iterations + 1);
        for (int i = 0; i < 3; i++) {
            if (float_of(got[i]) != want)
                pv_fatal(&b->g, "y[%d of 3 probes] = %.9g, want %.9g", i, (double)float_of(got[i]), (double)want);
        }
        bench_buffer_destroy(b, &probe);
        check = "ok";
    }
    printf("result compute elements=%" PRIu64 " iterations=%u elements_per_s=%.4g ms_per_pass=%.2f chunks=%u "
           "check=%s\n",
           n, iterations, (double)n * iterations / seconds, seconds * 1e3 / iterations, chunks, check);

    vkDestroyFence(device, fence, NULL);
    vkFreeCommandBuffers(device, b->pool, 1, &cmd);
    vkDestroyDescriptorPool(device, descriptor_pool, NULL);
    vkDestroyPipeline(device, pipeline, NULL);
    vkDestroyPipelineLayout(device, layout, NULL);
    vkDestroyDescriptorSetLayout(device, set_layout, NULL);
    bench_buffer_destroy(b, &y);
    bench_buffer_destroy(b, &x);
    return 0;
}

/* ---- idle: a device and nothing else, while run.py measures the host's memory ---- */

static int run_idle(struct bench *b)
{
    double limit = b->o.seconds > 0 ? b->o.seconds : 10;
    printf("result idle ready pid=%d\n", (int)getpid());
    fflush(stdout);
    uint64_t end = now_ns() + (uint64_t)(limit * 1e9);
    struct stat st;
    while (now_ns() < end && !(b->o.stop_file && stat(b->o.stop_file, &st) == 0)) {
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
    return 0;
}

static const struct workload {
    const char *name;
    int (*run)(struct bench *b);
    const char *size_help;
} workloads[] = {
    { "roundtrip", run_roundtrip, "timed calls (20000); --call query|semaphore|fence (query)" },
    { "submit", run_submit, "timed submit+wait iterations (5000)" },
    { "draws", run_draws, "draws per command buffer (100000); --iterations command buffers (10)" },
    { "cube", run_cube, "image edge in pixels (512); --iterations frames (2000)" },
    { "upload", run_upload, "MiB per upload (256); --iterations uploads (5); needs mapping" },
    { "compute", run_compute, "floats (64M); --iterations passes (10)" },
    { "idle", run_idle, "ignored; --seconds S (10) or until --stop-file FILE exists" },
};

/* "info driver NAME: INFO": which driver ran the workload and, for Mesa's drivers, its version
 * (trixie's Venus says "Mesa 25.0.7-2+deb13u1"), which run.py records with the guest's results. */
static void print_driver(struct pv_guest *g)
{
    if (!pv_has_device_extension(g, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME))
        return;
    VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
    };
    VkPhysicalDeviceProperties2 properties = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &driver,
    };
    vkGetPhysicalDeviceProperties2(g->physical_device, &properties);
    pv_info(g, "driver %s: %s", driver.driverName, driver.driverInfo);
}

static void usage(FILE *out, const char *argv0)
{
    fprintf(out, "usage: %s WORKLOAD [--size N] [--iterations N] [--no-map] [--call C] [--seconds S]\n"
                 "       [--stop-file FILE] [--shader-dir DIR] [--memory-type T]\n"
                 "Prints one line 'result WORKLOAD key=value ...'. Sizes take K, M, G (binary) suffixes.\n"
                 "--no-map: map no memory (for the reference host's runs).\n"
                 "--memory-type T: upload through memory type T (default: the first host-visible coherent one).\n"
                 "Workloads (--size means):\n",
            argv0);
    for (size_t i = 0; i < PV_ARRAY_SIZE(workloads); i++)
        fprintf(out, "  %-10s %s\n", workloads[i].name, workloads[i].size_help);
}

static bool parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text || text[0] == '-')
        return false;
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end || value > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)value << shift;
    return true;
}

int main(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof(b));
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout, argv[0]);
        return argc < 2 ? 2 : 0;
    }
    b.o.workload = argv[1];
    b.o.memory_type = -1;
    const struct workload *w = NULL;
    for (size_t i = 0; i < PV_ARRAY_SIZE(workloads); i++) {
        if (!strcmp(workloads[i].name, b.o.workload))
            w = &workloads[i];
    }
    if (!w) {
        fprintf(stderr, "pvbench: unknown workload '%s'\n", b.o.workload);
        usage(stderr, argv[0]);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t count;
        if (!strcmp(arg, "--no-map")) {
            b.o.no_map = true;
            continue;
        }
        if (!value) {
            fprintf(stderr, "pvbench: %s needs a value (or is unknown)\n", arg);
            return 2;
        }
        i++;
        if (!strcmp(arg, "--size") && parse_count(value, &count)) {
            b.o.size = count;
        } else if (!strcmp(arg, "--iterations") && parse_count(value, &count) && count && count <= UINT32_MAX) {
            b.o.iterations = (uint32_t)count;
        } else if (!strcmp(arg, "--call")) {
            b.o.call = value;
        } else if (!strcmp(arg, "--seconds")) {
            b.o.seconds = atof(value);
        } else if (!strcmp(arg, "--stop-file")) {
            b.o.stop_file = value;
        } else if (!strcmp(arg, "--shader-dir")) {
            b.o.shader_dir = value;
        } else if (!strcmp(arg, "--memory-type") && parse_count(value, &count) && count < VK_MAX_MEMORY_TYPES) {
            b.o.memory_type = (int)count;
        } else {
            fprintf(stderr, "pvbench: bad option %s %s (try --help)\n", arg, value);
            return 2;
        }
    }

    /* The timeline-semaphore round trip needs the feature; nothing else asks for any. */
    VkPhysicalDeviceTimelineSemaphoreFeatures timeline = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES,
        .timelineSemaphore = VK_TRUE,
    };
    static const char *const timeline_extensions[] = { VK_KHR_TIMELINE_SEMAPHORE_EXTENSION_NAME };
    bool wants_timeline = !strcmp(w->name, "roundtrip") && b.o.call && !strcmp(b.o.call, "semaphore");
    char name[64];
    snprintf(name, sizeof(name), "pvbench-%s", w->name);
    struct pv_guest_options options = {
        .name = name,
        .device_extensions = wants_timeline ? timeline_extensions : NULL,
        .device_extension_count = wants_timeline ? 1 : 0,
        .device_create_next = wants_timeline ? &timeline : NULL,
    };
    char *init_argv[] = { argv[0], NULL };
    pv_guest_init(&b.g, &options, 1, init_argv);
    if (b.o.shader_dir)
        b.g.shader_dir = b.o.shader_dir;
    print_driver(&b.g);
    pv_info(&b.g, "workload %s%s; VN_PERF=%s", w->name, b.o.no_map ? " --no-map" : "",
            getenv("VN_PERF") ? getenv("VN_PERF") : "(unset)");

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = b.g.queue_family,
    };
    PV_CHECK(&b.g, vkCreateCommandPool(b.g.device, &pool_info, NULL, &b.pool));
    int rc = w->run(&b);
    PV_CHECK(&b.g, vkDeviceWaitIdle(b.g.device));
    vkDestroyCommandPool(b.g.device, b.pool, NULL);
    int finish = pv_guest_finish(&b.g);
    return rc ? rc : finish;
}
