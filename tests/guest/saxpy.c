/* Compute: y = a * x + y on 16M floats (64 MiB per buffer) with storage buffers, a compute
 * pipeline and push constants. The inputs are small integers so that every result is exact
 * whatever the device's rounding or fusing, and every element is checked. */
#include "pv_guest_util.h"

#include <string.h>

#define COUNT (16u * 1024 * 1024)
#define GROUP 256

static float input_x(uint32_t i) { return (float)(i & 0xffff); }
static float input_y(uint32_t i) { return (float)(i >> 12); }

int main(int argc, char **argv)
{
    struct pv_guest g;
    struct pv_guest_options options = { .name = "saxpy" };
    pv_guest_init(&g, &options, argc, argv);

    const VkDeviceSize size = (VkDeviceSize)COUNT * sizeof(float);
    if (g.properties.limits.maxStorageBufferRange < size)
        pv_fatal(&g, "maxStorageBufferRange %u is below %llu", g.properties.limits.maxStorageBufferRange,
                 (unsigned long long)size);
    struct pv_buffer x, y;
    pv_buffer_create(&g, &x, size, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    pv_buffer_create(&g, &y, size, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
                     VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    float *xs = x.map, *ys = y.map;
    for (uint32_t i = 0; i < COUNT; i++) {
        xs[i] = input_x(i);
        ys[i] = input_y(i);
    }
    pv_buffer_flush(&g, &x);
    pv_buffer_flush(&g, &y);

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
    PV_CHECK(&g, vkCreateDescriptorSetLayout(g.device, &set_layout_info, NULL, &set_layout));
    struct push {
        float a;
        uint32_t n;
    } push = { 3.0f, COUNT };
    VkPipelineLayout layout = pv_pipeline_layout_create(&g, &set_layout, 1, sizeof(push), VK_SHADER_STAGE_COMPUTE_BIT);
    VkPipeline pipeline = pv_compute_pipeline_create(&g, "saxpy.comp.spv", layout);

    VkDescriptorPoolSize pool_size = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 };
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
    VkDescriptorBufferInfo buffer_infos[2] = { { x.buffer, 0, VK_WHOLE_SIZE }, { y.buffer, 0, VK_WHOLE_SIZE } };
    VkWriteDescriptorSet writes[2];
    for (int i = 0; i < 2; i++) {
        writes[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &buffer_infos[i],
        };
    }
    vkUpdateDescriptorSets(g.device, 2, writes, 0, NULL);

    /* COUNT / GROUP groups as a 256-wide grid; the shader linearises it. */
    const uint32_t groups = COUNT / GROUP, groups_x = 256, groups_y = groups / groups_x;
    double start = pv_now_seconds();
    VkCommandBuffer cmd = pv_one_shot_begin(&g);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &set, 0, NULL);
    vkCmdPushConstants(cmd, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(push), &push);
    vkCmdDispatch(cmd, groups_x, groups_y, 1);
    pv_cmd_buffer_barrier(cmd, y.buffer, VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(&g, cmd);
    double elapsed = pv_now_seconds() - start;
    pv_buffer_invalidate(&g, &y);
    pv_info(&g, "dispatch of %u floats took %.3f s", COUNT, elapsed);

    unsigned bad = 0;
    for (uint32_t i = 0; i < COUNT; i++) {
        float want = push.a * input_x(i) + input_y(i);
        if (memcmp(&ys[i], &want, sizeof(want)) && !bad++)
            pv_expect(&g, false, "y[%u] = %.9g, want %.9g (first mismatch)", i, (double)ys[i], (double)want);
    }
    pv_expect(&g, !bad, "%u of %u results wrong", bad, COUNT);
    pv_digest_u64(&g, "count", COUNT);
    pv_digest_text(&g, "y_last", "%.9g", (double)ys[COUNT - 1]);
    pv_digest_hash(&g, "y", ys, size);

    vkDestroyDescriptorPool(g.device, descriptor_pool, NULL);
    vkDestroyPipeline(g.device, pipeline, NULL);
    vkDestroyPipelineLayout(g.device, layout, NULL);
    vkDestroyDescriptorSetLayout(g.device, set_layout, NULL);
    pv_buffer_destroy(&g, &y);
    pv_buffer_destroy(&g, &x);
    return pv_guest_finish(&g);
}
