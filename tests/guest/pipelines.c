/* Pipeline caches, descriptor management and command buffer lifetimes, each checked by what a
 * compute shader writes (out[i] = in[i] * mul + add + workgroup * 0x10000, into its own region of
 * an output buffer, every word compared):
 *  - vkCreatePipelineCache, vkGetPipelineCacheData (size query, a too-small buffer gives
 *    VK_INCOMPLETE and 0 bytes, the header names this device), a second cache created from that
 *    data, vkMergePipelineCaches of both into a third; a pipeline from each cache;
 *  - vkCreateDescriptorUpdateTemplate + vkUpdateDescriptorSetWithTemplate (buffer infos at offsets
 *    inside a struct of the program's own layout);
 *  - VK_KHR_push_descriptor: vkCmdPushDescriptorSetKHR and vkCmdPushDescriptorSetWithTemplateKHR;
 *  - vkFreeDescriptorSets then a new allocation from the full pool, vkResetDescriptorPool then
 *    the pool's whole capacity again;
 *  - vkCmdDispatchBase (groups 2-4 of a pipeline created with VK_PIPELINE_CREATE_DISPATCH_BASE);
 *    the words outside must keep their fill value;
 *  - vkGetDescriptorSetLayoutSupport (supported for the layout in use);
 *  - vkResetCommandBuffer (a re-recorded command buffer runs only its new commands) and
 *    vkTrimCommandPool (the pool still allocates and runs after freeing and trimming);
 *  - VK_EXT_private_data: vkSetPrivateDataEXT / vkGetPrivateDataEXT on a buffer, a pipeline and the
 *    device, and 0 for an object never set. */
#include "pv_guest_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 512 /* words per region: 8 work groups of 64 */
#define REGIONS 9
#define REGION_BYTES (N * 4)
#define FILL 0xdeadbeefu

struct push {
    uint32_t mul, add;
};

/* What the template reads: the program's own struct. */
struct template_data {
    uint32_t unrelated;
    VkDescriptorBufferInfo in;
    double also_unrelated;
    VkDescriptorBufferInfo out;
};

static uint32_t input_word(uint32_t i)
{
    return i * 2654435761u ^ 0x1234u;
}

static VkPipeline create_compute(struct pv_guest *g, VkShaderModule module, VkPipelineLayout layout,
                                 VkPipelineCache cache, VkPipelineCreateFlags flags)
{
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .flags = flags,
        .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                   .module = module, .pName = "main" },
        .layout = layout,
    };
    VkPipeline pipeline;
    PV_CHECK(g, vkCreateComputePipelines(g->device, cache, 1, &info, NULL, &pipeline));
    return pipeline;
}

static VkPipelineCache create_cache(struct pv_guest *g, const void *data, size_t size)
{
    VkPipelineCacheCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = data,
    };
    VkPipelineCache cache;
    PV_CHECK(g, vkCreatePipelineCache(g->device, &info, NULL, &cache));
    return cache;
}

/* The whole cache data, checked against this device's properties; *size gets its size. */
static void *cache_data(struct pv_guest *g, VkPipelineCache cache, const char *what, size_t *size)
{
    size_t n = 0;
    PV_CHECK(g, vkGetPipelineCacheData(g->device, cache, &n, NULL));
    pv_expect(g, n >= 16 + VK_UUID_SIZE, "%s: vkGetPipelineCacheData size %zu, less than a header", what, n);
    uint8_t *data = malloc(n + 1);
    if (!data)
        pv_fatal(g, "out of memory");
    size_t got = n;
    VkResult r = vkGetPipelineCacheData(g->device, cache, &got, data);
    /* The size query is an upper bound: the driver may write less (lavapipe 26 does). */
    pv_expect(g, r == VK_SUCCESS && got <= n && got >= 16 + VK_UUID_SIZE,
              "%s: vkGetPipelineCacheData returned %s, %zu of %zu bytes", what, pv_result_name(r), got, n);
    uint32_t header[4];
    memcpy(header, data, sizeof(header));
    pv_expect(g, header[0] >= 16 + VK_UUID_SIZE && header[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
                     header[2] == g->properties.vendorID && header[3] == g->properties.deviceID &&
                     !memcmp(data + 16, g->properties.pipelineCacheUUID, VK_UUID_SIZE),
              "%s: cache header (size %u, version %u, vendor 0x%x, device 0x%x) does not name this device "
              "(vendor 0x%x, device 0x%x) or its pipelineCacheUUID",
              what, header[0], header[1], header[2], header[3], g->properties.vendorID, g->properties.deviceID);
    *size = got;
    return data;
}

struct state {
    struct pv_guest *g;
    struct pv_buffer in, out;
    VkPipelineLayout layout, push_layout;
};

static void dispatch(struct state *s, VkCommandBuffer cmd, VkPipeline pipeline, VkPipelineLayout layout,
                     struct push push)
{
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), &push);
    vkCmdDispatch(cmd, N / 64, 1, 1);
}

/* Checks region r of the output: words [first, first + count) computed with push, the rest FILL. */
static void check_region(struct state *s, uint32_t r, struct push push, uint32_t first, uint32_t count,
                         const char *what)
{
    const uint32_t *words = (const uint32_t *)s->out.map + r * N;
    unsigned bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t want = i >= first && i < first + count ? input_word(i) * push.mul + push.add + (i / 64) * 0x10000u
                                                        : FILL;
        if (words[i] != want && bad++ < 2)
            pv_expect(s->g, false, "%s: word %u is %08x, want %08x", what, i, words[i], want);
    }
    pv_expect(s->g, !bad, "%s: %u of %u words wrong", what, bad, N);
    char key[64];
    snprintf(key, sizeof(key), "region%u", r);
    pv_digest_hash(s->g, key, words, REGION_BYTES);
}

static VkDescriptorBufferInfo in_info(struct state *s)
{
    return (VkDescriptorBufferInfo){ s->in.buffer, 0, VK_WHOLE_SIZE };
}

static VkDescriptorBufferInfo out_info(struct state *s, uint32_t region)
{
    return (VkDescriptorBufferInfo){ s->out.buffer, (VkDeviceSize)region * REGION_BYTES, REGION_BYTES };
}

static void write_set(struct state *s, VkDescriptorSet set, uint32_t region)
{
    VkDescriptorBufferInfo infos[2] = { in_info(s), out_info(s, region) };
    VkWriteDescriptorSet writes[2];
    for (uint32_t b = 0; b < 2; b++) {
        writes[b] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                            .dstBinding = b, .descriptorCount = 1,
                                            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                            .pBufferInfo = &infos[b] };
    }
    vkUpdateDescriptorSets(s->g->device, 2, writes, 0, NULL);
}

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "pipelines" };
    pv_guest_init_instance(&g, &options, argc, argv);
    bool has_push = pv_has_device_extension(&g, VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME);
    bool has_private = pv_has_device_extension(&g, VK_EXT_PRIVATE_DATA_EXTENSION_NAME);
    VkPhysicalDevicePrivateDataFeaturesEXT private_features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRIVATE_DATA_FEATURES_EXT };
    if (has_private) {
        VkPhysicalDeviceFeatures2 features = { .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                               .pNext = &private_features };
        vkGetPhysicalDeviceFeatures2(g.physical_device, &features);
        has_private = private_features.privateData;
    }
    const char *extensions[2];
    uint32_t extension_count = 0;
    if (has_push)
        extensions[extension_count++] = VK_KHR_PUSH_DESCRIPTOR_EXTENSION_NAME;
    VkDevicePrivateDataCreateInfoEXT private_reserve = { .sType = VK_STRUCTURE_TYPE_DEVICE_PRIVATE_DATA_CREATE_INFO_EXT,
                                                         .privateDataSlotRequestCount = 1 };
    VkPhysicalDevicePrivateDataFeaturesEXT private_on = { .sType = private_features.sType, .pNext = &private_reserve,
                                                          .privateData = VK_TRUE };
    if (has_private) {
        extensions[extension_count++] = VK_EXT_PRIVATE_DATA_EXTENSION_NAME;
        options.device_create_next = &private_on;
    }
    options.device_extensions = extensions;
    options.device_extension_count = extension_count;
    pv_guest_create_device(&g, &options);

    struct state s = { .g = &g };
    pv_buffer_create(&g, &s.in, N * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, 0);
    pv_buffer_create(&g, &s.out, REGIONS * REGION_BYTES,
                     VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                     VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    for (uint32_t i = 0; i < N; i++)
        ((uint32_t *)s.in.map)[i] = input_word(i);
    pv_buffer_flush(&g, &s.in);
    if (REGION_BYTES % g.properties.limits.minStorageBufferOffsetAlignment)
        pv_fatal(&g, "minStorageBufferOffsetAlignment %llu does not divide %u",
                 (unsigned long long)g.properties.limits.minStorageBufferOffsetAlignment, REGION_BYTES);

    VkDescriptorSetLayoutBinding bindings[2] = {
        { 0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
        { 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, NULL },
    };
    VkDescriptorSetLayoutCreateInfo set_layout_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                        .bindingCount = 2, .pBindings = bindings };
    VkDescriptorSetLayoutSupport support = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_SUPPORT };
    vkGetDescriptorSetLayoutSupport(g.device, &set_layout_info, &support);
    pv_expect(&g, support.supported, "vkGetDescriptorSetLayoutSupport: the layout in use is not supported");
    pv_digest_u64(&g, "layout_supported", support.supported);
    VkDescriptorSetLayout set_layout, push_set_layout = VK_NULL_HANDLE;
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    VkPushConstantRange range = { VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(struct push) };
    VkPipelineLayoutCreateInfo layout_info = { .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                               .setLayoutCount = 1, .pSetLayouts = &set_layout,
                                               .pushConstantRangeCount = 1, .pPushConstantRanges = &range };
    PV_CHECK(&g, vkCreatePipelineLayout(g.device, &layout_info, NULL, &s.layout));
    if (has_push) {
        set_layout_info.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
        support.supported = VK_FALSE;
        vkGetDescriptorSetLayoutSupport(g.device, &set_layout_info, &support);
        pv_expect(&g, support.supported, "vkGetDescriptorSetLayoutSupport: the push descriptor layout is not supported");
        PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &push_set_layout));
        layout_info.pSetLayouts = &push_set_layout;
        PV_CHECK(&g, vkCreatePipelineLayout(g.device, &layout_info, NULL, &s.push_layout));
    }
    VkShaderModule module = pv_shader_load(&g, "pipelines.comp.spv");

    /* Pipeline caches: cache1 gets a pipeline; its data seeds cache2; both merge into cache3. */
    VkPipelineCache cache1 = create_cache(&g, NULL, 0);
    VkPipeline p1 = create_compute(&g, module, s.layout, cache1, 0);
    size_t size1;
    void *data1 = cache_data(&g, cache1, "cache 1", &size1);
    size_t small = 16;
    uint8_t small_buffer[16];
    VkResult res = vkGetPipelineCacheData(g.device, cache1, &small, small_buffer);
    pv_expect(&g, res == VK_INCOMPLETE && small == 0,
              "vkGetPipelineCacheData into 16 bytes (less than a header) returned %s and %zu bytes, want VK_INCOMPLETE "
              "and 0", pv_result_name(res), small);
    VkPipelineCache cache2 = create_cache(&g, data1, size1);
    VkPipeline p2 = create_compute(&g, module, s.layout, cache2, 0);
    VkPipelineCache cache3 = create_cache(&g, NULL, 0);
    VkPipelineCache sources[2] = { cache1, cache2 };
    PV_CHECK(&g, vkMergePipelineCaches(g.device, cache3, 2, sources));
    size_t size3;
    void *data3 = cache_data(&g, cache3, "merged cache", &size3);
    VkPipeline p3 = create_compute(&g, module, s.layout, cache3, 0);
    VkPipeline p_base = create_compute(&g, module, s.layout, VK_NULL_HANDLE, VK_PIPELINE_CREATE_DISPATCH_BASE);
    VkPipeline p_push = has_push ? create_compute(&g, module, s.push_layout, VK_NULL_HANDLE, 0) : VK_NULL_HANDLE;
    pv_info(&g, "pipeline cache data: %zu bytes, merged %zu bytes", size1, size3);
    free(data3);
    free(data1);

    /* Descriptor sets: S0 for the cache pipelines; a template updates S1; a pool of two sets with
     * FREE_DESCRIPTOR_SET gets A and B, frees A, allocates C in its place. */
    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 8 };
    VkDescriptorPoolCreateInfo pool_info = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 4,
                                             .poolSizeCount = 1, .pPoolSizes = &pool_size };
    VkDescriptorPool pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &pool));
    pool_info.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT;
    pool_info.maxSets = 2;
    pool_size.descriptorCount = 4;
    VkDescriptorPool free_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &pool_info, NULL, &free_pool));
    VkDescriptorSetLayout two_layouts[2] = { set_layout, set_layout };
    VkDescriptorSetAllocateInfo alloc = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = pool, .descriptorSetCount = 2,
                                          .pSetLayouts = two_layouts };
    VkDescriptorSet s0s1[2];
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &alloc, s0s1));
    write_set(&s, s0s1[0], 0);

    VkDescriptorUpdateTemplateEntry entries[2] = {
        { 0, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, offsetof(struct template_data, in),
          sizeof(VkDescriptorBufferInfo) },
        { 1, 0, 1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, offsetof(struct template_data, out),
          sizeof(VkDescriptorBufferInfo) },
    };
    VkDescriptorUpdateTemplateCreateInfo template_info = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_UPDATE_TEMPLATE_CREATE_INFO,
        .descriptorUpdateEntryCount = 2,
        .pDescriptorUpdateEntries = entries,
        .templateType = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_DESCRIPTOR_SET,
        .descriptorSetLayout = set_layout,
        .pipelineBindPoint = VK_PIPELINE_BIND_POINT_COMPUTE,
        .pipelineLayout = s.layout,
        .set = 0,
    };
    VkDescriptorUpdateTemplate set_template, push_template = VK_NULL_HANDLE;
    PV_CHECK(&g, vkCreateDescriptorUpdateTemplate(g.device, &template_info, NULL, &set_template));
    struct template_data tdata = { .unrelated = 0xffffffffu, .in = in_info(&s), .also_unrelated = -1.0,
                                   .out = out_info(&s, 3) };
    vkUpdateDescriptorSetWithTemplate(g.device, s0s1[1], set_template, &tdata);
    PFN_vkCmdPushDescriptorSetKHR push_set = NULL;
    PFN_vkCmdPushDescriptorSetWithTemplateKHR push_with_template = NULL;
    if (has_push) {
        push_set = (PFN_vkCmdPushDescriptorSetKHR)vkGetDeviceProcAddr(g.device, "vkCmdPushDescriptorSetKHR");
        push_with_template = (PFN_vkCmdPushDescriptorSetWithTemplateKHR)vkGetDeviceProcAddr(
            g.device, "vkCmdPushDescriptorSetWithTemplateKHR");
        if (!push_set || !push_with_template)
            pv_fatal(&g, "VK_KHR_push_descriptor is exposed but an entry point is missing");
        template_info.templateType = VK_DESCRIPTOR_UPDATE_TEMPLATE_TYPE_PUSH_DESCRIPTORS_KHR;
        template_info.descriptorSetLayout = VK_NULL_HANDLE;
        template_info.pipelineLayout = s.push_layout;
        PV_CHECK(&g, vkCreateDescriptorUpdateTemplate(g.device, &template_info, NULL, &push_template));
    }

    alloc.descriptorPool = free_pool;
    VkDescriptorSet ab[2], c_set;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &alloc, ab));
    PV_CHECK(&g, vkFreeDescriptorSets(g.device, free_pool, 1, &ab[0]));
    alloc.descriptorSetCount = 1;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &alloc, &c_set));
    write_set(&s, c_set, 6);
    write_set(&s, ab[1], 7); /* replaced after the pool reset below */

    /* The first submission: regions 0-6 and the dispatch base into region 8. */
    const struct push pushes[REGIONS] = { { 3, 1 }, { 5, 2 }, { 7, 3 }, { 11, 4 }, { 13, 5 },
                                          { 17, 6 }, { 19, 7 }, { 23, 8 }, { 29, 9 } };
    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    vkCmdFillBuffer(cmd, s.out.buffer, 0, VK_WHOLE_SIZE, FILL);
    pv_cmd_buffer_barrier(cmd, s.out.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &s0s1[0], 0, NULL);
    dispatch(&s, cmd, p1, s.layout, pushes[0]);
    /* p2 and p3 write regions 1 and 2 through sets of their own. */
    VkDescriptorSet cache_sets[2];
    VkDescriptorPoolCreateInfo small_pool_info = pool_info;
    small_pool_info.flags = 0;
    VkDescriptorPool cache_pool;
    PV_CHECK(&g, vkCreateDescriptorPool(g.device, &small_pool_info, NULL, &cache_pool));
    alloc.descriptorPool = cache_pool;
    alloc.descriptorSetCount = 2;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &alloc, cache_sets));
    write_set(&s, cache_sets[0], 1);
    write_set(&s, cache_sets[1], 2);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &cache_sets[0], 0, NULL);
    dispatch(&s, cmd, p2, s.layout, pushes[1]);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &cache_sets[1], 0, NULL);
    dispatch(&s, cmd, p3, s.layout, pushes[2]);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &s0s1[1], 0, NULL);
    dispatch(&s, cmd, p1, s.layout, pushes[3]);
    if (has_push) {
        VkDescriptorBufferInfo infos[2] = { in_info(&s), out_info(&s, 4) };
        VkWriteDescriptorSet writes[2];
        for (uint32_t b = 0; b < 2; b++) {
            writes[b] = (VkWriteDescriptorSet){ .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstBinding = b,
                                                .descriptorCount = 1,
                                                .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                                .pBufferInfo = &infos[b] };
        }
        push_set(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.push_layout, 0, 2, writes);
        dispatch(&s, cmd, p_push, s.push_layout, pushes[4]);
        struct template_data pdata = { .unrelated = 0, .in = in_info(&s), .out = out_info(&s, 5) };
        push_with_template(cmd, push_template, s.push_layout, 0, &pdata);
        dispatch(&s, cmd, p_push, s.push_layout, pushes[5]);
    }
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &c_set, 0, NULL);
    dispatch(&s, cmd, p1, s.layout, pushes[6]);
    /* Dispatch base: groups 2, 3 and 4 of region 8. */
    VkDescriptorSet base_set;
    VkDescriptorSetAllocateInfo one = alloc;
    one.descriptorPool = pool;
    one.descriptorSetCount = 1;
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &one, &base_set));
    write_set(&s, base_set, 8);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p_base);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &base_set, 0, NULL);
    vkCmdPushConstants(cmd, s.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(pushes[8]), &pushes[8]);
    vkCmdDispatchBase(cmd, 2, 0, 0, 3, 1, 1);
    pv_cmd_buffer_barrier(cmd, s.out.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);

    /* The pool reset: both sets allocated again; the second, updated through the template,
     * writes region 7. */
    PV_CHECK(&g, vkResetDescriptorPool(g.device, free_pool, 0));
    alloc.descriptorPool = free_pool;
    alloc.descriptorSetCount = 2;
    VkDescriptorSet de[2];
    PV_CHECK(&g, vkAllocateDescriptorSets(g.device, &alloc, de));
    tdata.out = out_info(&s, 7);
    vkUpdateDescriptorSetWithTemplate(g.device, de[1], set_template, &tdata);
    write_set(&s, de[0], 7);
    cmd = pv_one_shot_begin(&g);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s.layout, 0, 1, &de[1], 0, NULL);
    dispatch(&s, cmd, p3, s.layout, pushes[7]);
    pv_cmd_buffer_barrier(cmd, s.out.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    pv_buffer_invalidate(&g, &s.out);

    static const char *const what[REGIONS] = {
        "pipeline from an empty cache", "pipeline from a cache created with another cache's data",
        "pipeline from merged caches", "set updated with a descriptor update template",
        "vkCmdPushDescriptorSetKHR", "vkCmdPushDescriptorSetWithTemplateKHR",
        "set allocated after vkFreeDescriptorSets", "set allocated after vkResetDescriptorPool",
        "vkCmdDispatchBase (groups 2-4)",
    };
    for (uint32_t r = 0; r < REGIONS; r++) {
        if (!has_push && (r == 4 || r == 5)) {
            check_region(&s, r, pushes[r], 0, 0, "push descriptors unsupported: region untouched");
            continue;
        }
        if (r == 8)
            check_region(&s, r, pushes[r], 2 * 64, 3 * 64, what[r]);
        else
            check_region(&s, r, pushes[r], 0, N, what[r]);
    }
    if (!has_push)
        pv_digest_text(&g, "push_descriptor", "unsupported");

    /* vkResetCommandBuffer: a command buffer fills the first region with 1, is reset and re-recorded
     * to fill only the first half with 2; only the second recording runs. vkTrimCommandPool after
     * freeing three of four command buffers; the pool still allocates and runs. */
    VkCommandPoolCreateInfo cmd_pool_info = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                              .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                              .queueFamilyIndex = g.queue_family };
    VkCommandPool cmd_pool;
    PV_CHECK(&g, vkCreateCommandPool(g.device, &cmd_pool_info, NULL, &cmd_pool));
    VkCommandBufferAllocateInfo cmd_alloc = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                              .commandPool = cmd_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                              .commandBufferCount = 4 };
    VkCommandBuffer cmds[4];
    PV_CHECK(&g, vkAllocateCommandBuffers(g.device, &cmd_alloc, cmds));
    VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkFence fence;
    PV_CHECK(&g, vkCreateFence(g.device, &fence_info, NULL, &fence));
    VkCommandBufferBeginInfo begin = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    VkSubmitInfo submit = { .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1 };
    for (int step = 0; step < 3; step++) {
        VkCommandBuffer c = step < 2 ? cmds[0] : VK_NULL_HANDLE;
        if (step == 1)
            PV_CHECK(&g, vkResetCommandBuffer(c, VK_COMMAND_BUFFER_RESET_RELEASE_RESOURCES_BIT));
        if (step == 2) {
            /* Free three, trim, allocate one more and use it. */
            vkFreeCommandBuffers(g.device, cmd_pool, 3, cmds + 1);
            vkTrimCommandPool(g.device, cmd_pool, 0);
            cmd_alloc.commandBufferCount = 1;
            PV_CHECK(&g, vkAllocateCommandBuffers(g.device, &cmd_alloc, &cmds[1]));
            c = cmds[1];
        }
        PV_CHECK(&g, vkBeginCommandBuffer(c, &begin));
        if (step == 0)
            vkCmdFillBuffer(c, s.out.buffer, 0, REGION_BYTES, 1);
        else if (step == 1)
            vkCmdFillBuffer(c, s.out.buffer, 0, REGION_BYTES / 2, 2);
        else
            vkCmdFillBuffer(c, s.out.buffer, REGION_BYTES * 3 / 4, REGION_BYTES / 4, 3);
        pv_cmd_buffer_barrier(c, s.out.buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                              VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
        PV_CHECK(&g, vkEndCommandBuffer(c));
        if (step == 0) {
            /* Recorded but reset before it is ever submitted: its fill must never happen. */
            continue;
        }
        submit.pCommandBuffers = &c;
        PV_CHECK(&g, vkQueueSubmit(g.queue, 1, &submit, fence));
        pv_wait_fence(&g, fence);
        PV_CHECK(&g, vkResetFences(g.device, 1, &fence));
    }
    pv_buffer_invalidate(&g, &s.out);
    const uint32_t *words = s.out.map;
    unsigned bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t want = i < N / 2 ? 2 : i >= N * 3 / 4 ? 3 : input_word(i) * pushes[0].mul + pushes[0].add +
                                                                 (i / 64) * 0x10000u;
        if (words[i] != want && bad++ < 2)
            pv_expect(&g, false, "command buffer reset / trim: word %u is %08x, want %08x", i, words[i], want);
    }
    pv_expect(&g, !bad, "command buffer reset / trim: %u words wrong", bad);
    pv_digest_hash(&g, "command_buffer_reset_trim", words, REGION_BYTES);
    vkFreeCommandBuffers(g.device, cmd_pool, 2, cmds);
    vkTrimCommandPool(g.device, cmd_pool, 0);

    /* Private data. */
    if (has_private) {
        PFN_vkCreatePrivateDataSlotEXT create_slot =
            (PFN_vkCreatePrivateDataSlotEXT)vkGetDeviceProcAddr(g.device, "vkCreatePrivateDataSlotEXT");
        PFN_vkDestroyPrivateDataSlotEXT destroy_slot =
            (PFN_vkDestroyPrivateDataSlotEXT)vkGetDeviceProcAddr(g.device, "vkDestroyPrivateDataSlotEXT");
        PFN_vkSetPrivateDataEXT set_data = (PFN_vkSetPrivateDataEXT)vkGetDeviceProcAddr(g.device, "vkSetPrivateDataEXT");
        PFN_vkGetPrivateDataEXT get_data = (PFN_vkGetPrivateDataEXT)vkGetDeviceProcAddr(g.device, "vkGetPrivateDataEXT");
        if (!create_slot || !destroy_slot || !set_data || !get_data)
            pv_fatal(&g, "VK_EXT_private_data is exposed but an entry point is missing");
        VkPrivateDataSlotCreateInfoEXT slot_info = { .sType = VK_STRUCTURE_TYPE_PRIVATE_DATA_SLOT_CREATE_INFO_EXT };
        VkPrivateDataSlotEXT slot, slot2;
        PV_CHECK(&g, create_slot(g.device, &slot_info, NULL, &slot));
        PV_CHECK(&g, create_slot(g.device, &slot_info, NULL, &slot2));
        const struct {
            VkObjectType type;
            uint64_t handle;
            uint64_t value;
        } objects[3] = {
            { VK_OBJECT_TYPE_BUFFER, (uint64_t)(uintptr_t)s.in.buffer, 0x0123456789abcdefull },
            { VK_OBJECT_TYPE_PIPELINE, (uint64_t)(uintptr_t)p1, 0xfedcba9876543210ull },
            { VK_OBJECT_TYPE_DEVICE, (uint64_t)(uintptr_t)g.device, 42 },
        };
        for (int i = 0; i < 3; i++)
            PV_CHECK(&g, set_data(g.device, objects[i].type, objects[i].handle, slot, objects[i].value));
        PV_CHECK(&g, set_data(g.device, VK_OBJECT_TYPE_BUFFER, (uint64_t)(uintptr_t)s.in.buffer, slot2, 7));
        uint64_t values[5];
        for (int i = 0; i < 3; i++) {
            get_data(g.device, objects[i].type, objects[i].handle, slot, &values[i]);
            pv_expect(&g, values[i] == objects[i].value, "private data of object type %d: 0x%llx, want 0x%llx",
                      objects[i].type, (unsigned long long)values[i], (unsigned long long)objects[i].value);
        }
        get_data(g.device, VK_OBJECT_TYPE_BUFFER, (uint64_t)(uintptr_t)s.in.buffer, slot2, &values[3]);
        values[4] = 0xffff;
        get_data(g.device, VK_OBJECT_TYPE_BUFFER, (uint64_t)(uintptr_t)s.out.buffer, slot, &values[4]);
        pv_expect(&g, values[3] == 7 && values[4] == 0,
                  "private data: second slot 0x%llx (want 7), never-set object 0x%llx (want 0)",
                  (unsigned long long)values[3], (unsigned long long)values[4]);
        pv_digest_text(&g, "private_data", "%llx,%llx,%llx,%llx,%llx", (unsigned long long)values[0],
                       (unsigned long long)values[1], (unsigned long long)values[2], (unsigned long long)values[3],
                       (unsigned long long)values[4]);
        destroy_slot(g.device, slot2, NULL);
        destroy_slot(g.device, slot, NULL);
    } else {
        pv_digest_text(&g, "private_data", "unsupported");
    }

    vkDestroyFence(g.device, fence, NULL);
    vkDestroyCommandPool(g.device, cmd_pool, NULL);
    if (push_template)
        vkDestroyDescriptorUpdateTemplate(g.device, push_template, NULL);
    vkDestroyDescriptorUpdateTemplate(g.device, set_template, NULL);
    vkDestroyDescriptorPool(g.device, cache_pool, NULL);
    vkDestroyDescriptorPool(g.device, free_pool, NULL);
    vkDestroyDescriptorPool(g.device, pool, NULL);
    VkPipeline pipelines[5] = { p1, p2, p3, p_base, p_push };
    for (int i = 0; i < 5; i++)
        if (pipelines[i])
            vkDestroyPipeline(g.device, pipelines[i], NULL);
    vkDestroyPipelineCache(g.device, cache3, NULL);
    vkDestroyPipelineCache(g.device, cache2, NULL);
    vkDestroyPipelineCache(g.device, cache1, NULL);
    vkDestroyShaderModule(g.device, module, NULL);
    if (has_push) {
        vkDestroyPipelineLayout(g.device, s.push_layout, NULL);
        vkDestroyDescriptorSetLayout(g.device, push_set_layout, NULL);
    }
    vkDestroyPipelineLayout(g.device, s.layout, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    pv_buffer_destroy(&g, &s.out);
    pv_buffer_destroy(&g, &s.in);
    return pv_guest_finish(&g);
}
