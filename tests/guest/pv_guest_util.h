/* Helpers shared by the guest test programs: headless Vulkan 1.1 set-up (instance, device, one
 * queue), memory-type selection, buffers and images, one-shot command buffers, SPIR-V loading,
 * hashing, image dumps and the result protocol that tests/guest/run_suite.py reads.
 *
 * Result protocol (stdout): "digest KEY VALUE" lines are compared between the native run and
 * the run through pvgpu and must match exactly, so they hold only what the device computed
 * (hashes, exact counts), never timings; "info ..." lines are for people; the last line is
 * "PASS NAME" or "FAIL NAME: ...", and the exit status is 0 only after PASS. */
#ifndef PV_GUEST_UTIL_H
#define PV_GUEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#define PV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* How long any single wait on the device may take before the program calls it a hang. */
#define PV_WAIT_TIMEOUT_NS (120ull * 1000 * 1000 * 1000)

struct pv_guest_options {
    const char *name;                       /* program name for PASS/FAIL lines */
    const VkPhysicalDeviceFeatures *features; /* core features to enable, or NULL */
    const char *const *device_extensions;   /* extensions the program needs */
    uint32_t device_extension_count;
    const void *device_create_next;         /* pNext chain for VkDeviceCreateInfo */
    uint32_t api_version;                   /* the instance's and the least the device must
                                               offer; 0 = Vulkan 1.1 */
};

struct pv_guest {
    const char *name;
    const char *shader_dir; /* --shader-dir or $PV_GUEST_SHADER_DIR */
    const char *out_dir;    /* --out-dir or $PV_GUEST_OUT_DIR; NULL = no dumps */
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical_device;
    VkPhysicalDeviceProperties properties;
    VkPhysicalDeviceMemoryProperties memory_properties;
    VkQueueFamilyProperties queue_family_properties;
    uint32_t queue_family;
    VkDevice device;
    VkQueue queue;
    VkCommandPool command_pool; /* for one-shot command buffers, main thread only */
    unsigned failures;          /* failed checks so far */
    unsigned validation_messages;
};

/* Parses the common options (--shader-dir DIR, --out-dir DIR), creates the instance (with the
 * validation layer and a message counter when $PV_GUEST_VALIDATION=1), picks the first physical
 * device, a queue family with graphics and compute, and creates the device and a command pool.
 * Exits with status 1 on any error. */
void pv_guest_init(struct pv_guest *g, const struct pv_guest_options *options, int argc, char **argv);
/* pv_guest_init in two steps, for programs that look at the physical device (extensions,
 * features) before choosing what to enable: the first does everything up to the queue family
 * (options->name only), the second creates the device, queue and command pool. */
void pv_guest_init_instance(struct pv_guest *g, const struct pv_guest_options *options, int argc, char **argv);
void pv_guest_create_device(struct pv_guest *g, const struct pv_guest_options *options);
/* Whether g->physical_device exposes a device extension. */
bool pv_has_device_extension(struct pv_guest *g, const char *name);

/* Destroys the device and instance, prints PASS or FAIL and returns the exit status. The program
 * must have destroyed its own objects first (the validation layer reports leaks). */
int pv_guest_finish(struct pv_guest *g);

/* Fatal errors: print "FAIL NAME: ..." and exit 1. */
void pv_fatal(struct pv_guest *g, const char *format, ...) __attribute__((format(printf, 2, 3), noreturn));
void pv_check_vk(struct pv_guest *g, VkResult result, const char *call, const char *file, int line);
#define PV_CHECK(g, call) pv_check_vk((g), (call), #call, __FILE__, __LINE__)
const char *pv_result_name(VkResult result);

/* A failed check: printed (the first 20 only) and counted; the program goes on so that one run
 * shows every kind of mismatch. Returns cond. */
bool pv_expect(struct pv_guest *g, bool cond, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* Result lines. */
void pv_digest_u64(struct pv_guest *g, const char *key, uint64_t value);
void pv_digest_hash(struct pv_guest *g, const char *key, const void *data, size_t size);
void pv_digest_text(struct pv_guest *g, const char *key, const char *format, ...) __attribute__((format(printf, 3, 4)));
void pv_info(struct pv_guest *g, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* 64-bit FNV-1a, continuable: pass PV_FNV_OFFSET first. */
#define PV_FNV_OFFSET 0xcbf29ce484222325ull
uint64_t pv_fnv1a64(uint64_t hash, const void *data, size_t size);

double pv_now_seconds(void);

/* Memory-type index allowed by type_bits that has all of required, preferring one that also has
 * preferred. Fatal when none has required. */
uint32_t pv_memory_type(struct pv_guest *g, uint32_t type_bits, VkMemoryPropertyFlags required,
                        VkMemoryPropertyFlags preferred);

struct pv_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceSize size;
    VkMemoryPropertyFlags memory_flags;
    void *map; /* whole buffer, when host-visible */
};

/* Creates, allocates (dedicated memory), binds and, if host-visible, maps a buffer. */
void pv_buffer_create(struct pv_guest *g, struct pv_buffer *b, VkDeviceSize size, VkBufferUsageFlags usage,
                      VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred);
void pv_buffer_destroy(struct pv_guest *g, struct pv_buffer *b);
/* Make host writes visible to the device / device writes visible to the host; no-ops for
 * coherent memory. */
void pv_buffer_flush(struct pv_guest *g, struct pv_buffer *b);
void pv_buffer_invalidate(struct pv_guest *g, struct pv_buffer *b);

struct pv_image {
    VkImage image;
    VkDeviceMemory memory;
    VkImageView view; /* all mip levels; VK_NULL_HANDLE for transfer-only images */
    VkFormat format;
    VkImageAspectFlags aspect;
    uint32_t width, height, mip_levels;
};

/* A 2D optimal-tiling image in device-local memory (where the device has any) with a view. */
void pv_image_create(struct pv_guest *g, struct pv_image *img, VkFormat format, uint32_t width,
                     uint32_t height, uint32_t mip_levels, VkImageUsageFlags usage);
void pv_image_destroy(struct pv_guest *g, struct pv_image *img);
uint32_t pv_format_texel_size(VkFormat format);
/* D32_SFLOAT, else D16_UNORM, whichever can be a depth attachment (one of them must). */
VkFormat pv_depth_format(struct pv_guest *g);

void pv_cmd_image_barrier(VkCommandBuffer cmd, const struct pv_image *img, uint32_t base_mip, uint32_t mip_count,
                          VkImageLayout old_layout, VkImageLayout new_layout,
                          VkAccessFlags src_access, VkAccessFlags dst_access,
                          VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage);
void pv_cmd_buffer_barrier(VkCommandBuffer cmd, VkBuffer buffer, VkAccessFlags src_access, VkAccessFlags dst_access,
                           VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage);
/* Copies one mip level (in TRANSFER_SRC_OPTIMAL) tightly packed to buffer at offset. */
void pv_cmd_copy_image_to_buffer(VkCommandBuffer cmd, const struct pv_image *img, uint32_t mip,
                                 VkBuffer buffer, VkDeviceSize offset);
VkDeviceSize pv_image_level_size(const struct pv_image *img, uint32_t mip);

/* One-shot command buffers from g->command_pool: end submits, waits on a fence and frees. */
VkCommandBuffer pv_one_shot_begin(struct pv_guest *g);
void pv_one_shot_end(struct pv_guest *g, VkCommandBuffer cmd);

/* Waits for a fence with PV_WAIT_TIMEOUT_NS; fatal on timeout or error. */
void pv_wait_fence(struct pv_guest *g, VkFence fence);

/* Reads one mip level of img (currently in layout, with the last writes done by src_stage/
 * src_access) into staging, which must be host-visible and large enough; leaves the image in
 * TRANSFER_SRC_OPTIMAL and returns the mapped bytes. */
const void *pv_image_readback(struct pv_guest *g, const struct pv_image *img, uint32_t mip, VkImageLayout layout,
                              VkAccessFlags src_access, VkPipelineStageFlags src_stage, struct pv_buffer *staging);

/* Loads g->shader_dir/file (SPIR-V). Fatal when missing or malformed. */
VkShaderModule pv_shader_load(struct pv_guest *g, const char *file);

/* One subpass: a color attachment (cleared, stored, ending in color_final_layout) and, unless
 * depth_format is VK_FORMAT_UNDEFINED, a cleared depth attachment that is not stored. */
VkRenderPass pv_render_pass_create(struct pv_guest *g, VkFormat color_format, VkFormat depth_format,
                                   VkImageLayout color_final_layout);
VkFramebuffer pv_framebuffer_create(struct pv_guest *g, VkRenderPass pass, const struct pv_image *color,
                                    const struct pv_image *depth);

struct pv_graphics_pipeline_desc {
    const char *vertex_shader;   /* SPIR-V file names in the shader dir */
    const char *fragment_shader;
    const VkVertexInputBindingDescription *bindings;
    uint32_t binding_count;
    const VkVertexInputAttributeDescription *attributes;
    uint32_t attribute_count;
    VkPrimitiveTopology topology;
    VkPipelineLayout layout;
    VkRenderPass render_pass;
    bool depth_test;             /* LESS, with writes */
    VkCullModeFlags cull_mode;   /* front face is counter-clockwise */
    bool dynamic_viewport;       /* viewport and scissor dynamic; else width x height */
    VkSampleCountFlagBits samples; /* 0 = 1 sample */
    uint32_t subpass;            /* of render_pass */
    uint32_t width, height;
};
VkPipeline pv_graphics_pipeline_create(struct pv_guest *g, const struct pv_graphics_pipeline_desc *desc);
VkPipeline pv_compute_pipeline_create(struct pv_guest *g, const char *shader, VkPipelineLayout layout);
VkPipelineLayout pv_pipeline_layout_create(struct pv_guest *g, const VkDescriptorSetLayout *set_layouts,
                                           uint32_t set_layout_count, uint32_t push_constant_size,
                                           VkShaderStageFlags push_constant_stages);

/* Writes a binary PPM of an RGBA8 image (alpha dropped) or raw bytes to out_dir/file; does
 * nothing without an out dir. */
void pv_dump_ppm(struct pv_guest *g, const char *file, const uint8_t *rgba, uint32_t width, uint32_t height);
void pv_dump_raw(struct pv_guest *g, const char *file, const void *data, size_t size);

/* Column-major 4x4 matrices for the shaders. */
typedef struct { float m[16]; } pv_mat4;
pv_mat4 pv_mat4_identity(void);
pv_mat4 pv_mat4_multiply(pv_mat4 a, pv_mat4 b); /* a * b */
pv_mat4 pv_mat4_rotate(float radians, float x, float y, float z);
pv_mat4 pv_mat4_translate(float x, float y, float z);
/* Right-handed view space looking down -z, Vulkan clip space (y down, depth 0..1). */
pv_mat4 pv_mat4_perspective(float fov_y_radians, float aspect, float near_z, float far_z);

#endif
