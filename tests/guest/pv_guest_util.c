/* Helpers shared by the guest test programs; see pv_guest_util.h. Everything here is plain
 * Vulkan 1.1 without WSI, so a program runs the same on the host ICD and on the Venus driver. */
#include "pv_guest_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PV_MAX_PRINTED_FAILURES 20

const char *pv_result_name(VkResult result)
{
    switch (result) {
#define PV_RESULT(r) case r: return #r;
    PV_RESULT(VK_SUCCESS)
    PV_RESULT(VK_NOT_READY)
    PV_RESULT(VK_TIMEOUT)
    PV_RESULT(VK_EVENT_SET)
    PV_RESULT(VK_EVENT_RESET)
    PV_RESULT(VK_INCOMPLETE)
    PV_RESULT(VK_ERROR_OUT_OF_HOST_MEMORY)
    PV_RESULT(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    PV_RESULT(VK_ERROR_INITIALIZATION_FAILED)
    PV_RESULT(VK_ERROR_DEVICE_LOST)
    PV_RESULT(VK_ERROR_MEMORY_MAP_FAILED)
    PV_RESULT(VK_ERROR_LAYER_NOT_PRESENT)
    PV_RESULT(VK_ERROR_EXTENSION_NOT_PRESENT)
    PV_RESULT(VK_ERROR_FEATURE_NOT_PRESENT)
    PV_RESULT(VK_ERROR_INCOMPATIBLE_DRIVER)
    PV_RESULT(VK_ERROR_TOO_MANY_OBJECTS)
    PV_RESULT(VK_ERROR_FORMAT_NOT_SUPPORTED)
    PV_RESULT(VK_ERROR_FRAGMENTED_POOL)
    PV_RESULT(VK_ERROR_UNKNOWN)
    PV_RESULT(VK_ERROR_OUT_OF_POOL_MEMORY)
    PV_RESULT(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    PV_RESULT(VK_ERROR_FRAGMENTATION)
#undef PV_RESULT
    default:
        return "VkResult(?)";
    }
}

void pv_fatal(struct pv_guest *g, const char *format, ...)
{
    va_list ap;
    fflush(stdout);
    printf("FAIL %s: ", g && g->name ? g->name : "guest");
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    exit(1);
}

void pv_check_vk(struct pv_guest *g, VkResult result, const char *call, const char *file, int line)
{
    if (result != VK_SUCCESS)
        pv_fatal(g, "%s:%d: %s returned %s (%d)", file, line, call, pv_result_name(result), (int)result);
}

bool pv_expect(struct pv_guest *g, bool cond, const char *format, ...)
{
    if (cond)
        return true;
    g->failures++;
    if (g->failures <= PV_MAX_PRINTED_FAILURES) {
        va_list ap;
        printf("check failed: ");
        va_start(ap, format);
        vprintf(format, ap);
        va_end(ap);
        printf("\n");
    } else if (g->failures == PV_MAX_PRINTED_FAILURES + 1) {
        printf("check failed: (further failures not printed)\n");
    }
    return false;
}

void pv_digest_u64(struct pv_guest *g, const char *key, uint64_t value)
{
    (void)g;
    printf("digest %s %llu\n", key, (unsigned long long)value);
}

void pv_digest_hash(struct pv_guest *g, const char *key, const void *data, size_t size)
{
    (void)g;
    printf("digest %s fnv64:%016llx/%zu\n", key, (unsigned long long)pv_fnv1a64(PV_FNV_OFFSET, data, size), size);
}

void pv_digest_text(struct pv_guest *g, const char *key, const char *format, ...)
{
    va_list ap;
    (void)g;
    printf("digest %s ", key);
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    printf("\n");
}

void pv_info(struct pv_guest *g, const char *format, ...)
{
    va_list ap;
    (void)g;
    printf("info ");
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    printf("\n");
}

uint64_t pv_fnv1a64(uint64_t hash, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ull;
    }
    return hash;
}

double pv_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Validation messages count as failures: every program must be validation-clean natively. */
static VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                     VkDebugUtilsMessageTypeFlagsEXT types,
                                                     const VkDebugUtilsMessengerCallbackDataEXT *data,
                                                     void *user)
{
    struct pv_guest *g = user;
    (void)types;
    if (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT)) {
        g->validation_messages++;
        printf("validation %s: %s\n",
               severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
               data->pMessage ? data->pMessage : "(no message)");
        fflush(stdout);
    }
    return VK_FALSE;
}

static bool has_instance_layer(const char *name)
{
    uint32_t count = 0;
    if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || !count)
        return false;
    VkLayerProperties *layers = calloc(count, sizeof(*layers));
    bool found = false;
    if (layers && vkEnumerateInstanceLayerProperties(&count, layers) == VK_SUCCESS) {
        for (uint32_t i = 0; i < count; i++)
            found = found || !strcmp(layers[i].layerName, name);
    }
    free(layers);
    return found;
}

static void parse_options(struct pv_guest *g, int argc, char **argv)
{
    g->shader_dir = getenv("PV_GUEST_SHADER_DIR");
    g->out_dir = getenv("PV_GUEST_OUT_DIR");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shader-dir") && i + 1 < argc) {
            g->shader_dir = argv[++i];
        } else if (!strncmp(argv[i], "--shader-dir=", 13)) {
            g->shader_dir = argv[i] + 13;
        } else if (!strcmp(argv[i], "--out-dir") && i + 1 < argc) {
            g->out_dir = argv[++i];
        } else if (!strncmp(argv[i], "--out-dir=", 10)) {
            g->out_dir = argv[i] + 10;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [--shader-dir DIR] [--out-dir DIR]\n"
                   "  --shader-dir DIR  compiled SPIR-V shaders (default $PV_GUEST_SHADER_DIR)\n"
                   "  --out-dir DIR     write image dumps there (default $PV_GUEST_OUT_DIR, else none)\n"
                   "Set PV_GUEST_VALIDATION=1 to run under VK_LAYER_KHRONOS_validation; any\n"
                   "validation warning or error then fails the program.\n", argv[0]);
            exit(0);
        } else {
            pv_fatal(g, "unknown argument '%s' (try --help)", argv[i]);
        }
    }
    if (g->out_dir && !*g->out_dir)
        g->out_dir = NULL;
}

void pv_guest_init(struct pv_guest *g, const struct pv_guest_options *options, int argc, char **argv)
{
    pv_guest_init_instance(g, options, argc, argv);
    pv_guest_create_device(g, options);
}

bool pv_has_device_extension(struct pv_guest *g, const char *name)
{
    uint32_t count = 0;
    PV_CHECK(g, vkEnumerateDeviceExtensionProperties(g->physical_device, NULL, &count, NULL));
    VkExtensionProperties *extensions = calloc(count ? count : 1, sizeof(*extensions));
    if (!extensions)
        pv_fatal(g, "out of memory");
    VkResult result = vkEnumerateDeviceExtensionProperties(g->physical_device, NULL, &count, extensions);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE)
        PV_CHECK(g, result);
    bool found = false;
    for (uint32_t i = 0; i < count; i++)
        found = found || !strcmp(extensions[i].extensionName, name);
    free(extensions);
    return found;
}

void pv_guest_init_instance(struct pv_guest *g, const struct pv_guest_options *options, int argc, char **argv)
{
    memset(g, 0, sizeof(*g));
    g->name = options->name;
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_options(g, argc, argv);
    const uint32_t api_version = options->api_version ? options->api_version : VK_API_VERSION_1_1;

    const char *validation_env = getenv("PV_GUEST_VALIDATION");
    bool validation = validation_env && !strcmp(validation_env, "1");
    const char *layers[] = { "VK_LAYER_KHRONOS_validation" };
    const char *instance_extensions[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
    if (validation && !has_instance_layer(layers[0]))
        pv_fatal(g, "PV_GUEST_VALIDATION=1 but %s is not installed", layers[0]);

    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_callback,
        .pUserData = g,
    };
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = g->name,
        .applicationVersion = 1,
        .pEngineName = "pvgpu-guest-tests",
        .engineVersion = 1,
        .apiVersion = api_version,
    };
    VkInstanceCreateInfo instance_info = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = validation ? &messenger_info : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = validation ? 1 : 0,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = validation ? 1 : 0,
        .ppEnabledExtensionNames = instance_extensions,
    };
    PV_CHECK(g, vkCreateInstance(&instance_info, NULL, &g->instance));
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create_messenger =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(g->instance, "vkCreateDebugUtilsMessengerEXT");
        if (!create_messenger)
            pv_fatal(g, "vkCreateDebugUtilsMessengerEXT missing with the validation layer enabled");
        PV_CHECK(g, create_messenger(g->instance, &messenger_info, NULL, &g->messenger));
    }

    uint32_t count = 1;
    VkResult result = vkEnumeratePhysicalDevices(g->instance, &count, &g->physical_device);
    if (result != VK_SUCCESS && result != VK_INCOMPLETE)
        PV_CHECK(g, result);
    if (!count)
        pv_fatal(g, "no physical device");
    vkGetPhysicalDeviceProperties(g->physical_device, &g->properties);
    vkGetPhysicalDeviceMemoryProperties(g->physical_device, &g->memory_properties);
    if (g->properties.apiVersion < api_version)
        pv_fatal(g, "device '%s' has Vulkan %u.%u, need %u.%u", g->properties.deviceName,
                 VK_VERSION_MAJOR(g->properties.apiVersion), VK_VERSION_MINOR(g->properties.apiVersion),
                 VK_VERSION_MAJOR(api_version), VK_VERSION_MINOR(api_version));
    pv_info(g, "device %s", g->properties.deviceName);

    uint32_t family_count = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(g->physical_device, &family_count, NULL);
    VkQueueFamilyProperties *families = calloc(family_count ? family_count : 1, sizeof(*families));
    if (!families)
        pv_fatal(g, "out of memory");
    vkGetPhysicalDeviceQueueFamilyProperties(g->physical_device, &family_count, families);
    g->queue_family = UINT32_MAX;
    for (uint32_t i = 0; i < family_count; i++) {
        VkQueueFlags want = VK_QUEUE_GRAPHICS_BIT | VK_QUEUE_COMPUTE_BIT;
        if ((families[i].queueFlags & want) == want && families[i].queueCount) {
            g->queue_family = i;
            g->queue_family_properties = families[i];
            break;
        }
    }
    free(families);
    if (g->queue_family == UINT32_MAX)
        pv_fatal(g, "no queue family with graphics and compute");
}

void pv_guest_create_device(struct pv_guest *g, const struct pv_guest_options *options)
{
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = g->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo device_info = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = options->device_create_next,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &queue_info,
        .enabledExtensionCount = options->device_extension_count,
        .ppEnabledExtensionNames = options->device_extensions,
        .pEnabledFeatures = options->features,
    };
    PV_CHECK(g, vkCreateDevice(g->physical_device, &device_info, NULL, &g->device));
    vkGetDeviceQueue(g->device, g->queue_family, 0, &g->queue);

    VkCommandPoolCreateInfo pool_info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_TRANSIENT_BIT,
        .queueFamilyIndex = g->queue_family,
    };
    PV_CHECK(g, vkCreateCommandPool(g->device, &pool_info, NULL, &g->command_pool));
}

int pv_guest_finish(struct pv_guest *g)
{
    if (g->device) {
        PV_CHECK(g, vkDeviceWaitIdle(g->device));
        vkDestroyCommandPool(g->device, g->command_pool, NULL);
        vkDestroyDevice(g->device, NULL);
    }
    if (g->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(g->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy_messenger)
            destroy_messenger(g->instance, g->messenger, NULL);
    }
    if (g->instance)
        vkDestroyInstance(g->instance, NULL);
    if (g->validation_messages)
        printf("FAIL %s: %u validation message(s)%s\n", g->name, g->validation_messages,
               g->failures ? " and failed checks" : "");
    else if (g->failures)
        printf("FAIL %s: %u check(s) failed\n", g->name, g->failures);
    else
        printf("PASS %s\n", g->name);
    fflush(stdout);
    return g->failures || g->validation_messages ? 1 : 0;
}

uint32_t pv_memory_type(struct pv_guest *g, uint32_t type_bits, VkMemoryPropertyFlags required,
                        VkMemoryPropertyFlags preferred)
{
    const VkPhysicalDeviceMemoryProperties *mp = &g->memory_properties;
    for (int pass = 0; pass < 2; pass++) {
        VkMemoryPropertyFlags want = pass == 0 ? required | preferred : required;
        for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
            if ((type_bits & (1u << i)) && (mp->memoryTypes[i].propertyFlags & want) == want)
                return i;
        }
    }
    pv_fatal(g, "no memory type in bits 0x%x with flags 0x%x", type_bits, required);
}

static VkDeviceMemory allocate_dedicated(struct pv_guest *g, VkMemoryRequirements req, uint32_t type,
                                         VkBuffer buffer, VkImage image)
{
    VkMemoryDedicatedAllocateInfo dedicated = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_DEDICATED_ALLOCATE_INFO,
        .image = image,
        .buffer = buffer,
    };
    VkMemoryAllocateInfo info = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .pNext = &dedicated,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    VkDeviceMemory memory;
    PV_CHECK(g, vkAllocateMemory(g->device, &info, NULL, &memory));
    return memory;
}

void pv_buffer_create(struct pv_guest *g, struct pv_buffer *b, VkDeviceSize size, VkBufferUsageFlags usage,
                      VkMemoryPropertyFlags required, VkMemoryPropertyFlags preferred)
{
    memset(b, 0, sizeof(*b));
    b->size = size;
    VkBufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    PV_CHECK(g, vkCreateBuffer(g->device, &info, NULL, &b->buffer));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(g->device, b->buffer, &req);
    uint32_t type = pv_memory_type(g, req.memoryTypeBits, required, preferred);
    b->memory_flags = g->memory_properties.memoryTypes[type].propertyFlags;
    b->memory = allocate_dedicated(g, req, type, b->buffer, VK_NULL_HANDLE);
    PV_CHECK(g, vkBindBufferMemory(g->device, b->buffer, b->memory, 0));
    if (b->memory_flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT)
        PV_CHECK(g, vkMapMemory(g->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->map));
}

void pv_buffer_destroy(struct pv_guest *g, struct pv_buffer *b)
{
    if (b->map)
        vkUnmapMemory(g->device, b->memory);
    vkDestroyBuffer(g->device, b->buffer, NULL);
    vkFreeMemory(g->device, b->memory, NULL);
    memset(b, 0, sizeof(*b));
}

void pv_buffer_flush(struct pv_guest *g, struct pv_buffer *b)
{
    if (b->memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
        return;
    VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->memory, .size = VK_WHOLE_SIZE,
    };
    PV_CHECK(g, vkFlushMappedMemoryRanges(g->device, 1, &range));
}

void pv_buffer_invalidate(struct pv_guest *g, struct pv_buffer *b)
{
    if (b->memory_flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)
        return;
    VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->memory, .size = VK_WHOLE_SIZE,
    };
    PV_CHECK(g, vkInvalidateMappedMemoryRanges(g->device, 1, &range));
}

uint32_t pv_format_texel_size(VkFormat format)
{
    switch (format) {
    case VK_FORMAT_R8G8B8A8_UNORM:
    case VK_FORMAT_B8G8R8A8_UNORM:
    case VK_FORMAT_R8G8B8A8_SRGB:
    case VK_FORMAT_R32_UINT:
    case VK_FORMAT_R32_SFLOAT:
    case VK_FORMAT_D32_SFLOAT:
        return 4;
    case VK_FORMAT_D16_UNORM:
        return 2;
    case VK_FORMAT_R32G32B32A32_UINT:
    case VK_FORMAT_R32G32B32A32_SFLOAT:
        return 16;
    default:
        return 0;
    }
}

VkFormat pv_depth_format(struct pv_guest *g)
{
    static const VkFormat candidates[] = { VK_FORMAT_D32_SFLOAT, VK_FORMAT_D16_UNORM };
    for (size_t i = 0; i < PV_ARRAY_SIZE(candidates); i++) {
        VkFormatProperties props;
        vkGetPhysicalDeviceFormatProperties(g->physical_device, candidates[i], &props);
        if (props.optimalTilingFeatures & VK_FORMAT_FEATURE_DEPTH_STENCIL_ATTACHMENT_BIT)
            return candidates[i];
    }
    pv_fatal(g, "neither D32_SFLOAT nor D16_UNORM is a depth attachment format");
}

static VkImageAspectFlags format_aspect(VkFormat format)
{
    switch (format) {
    case VK_FORMAT_D16_UNORM:
    case VK_FORMAT_D32_SFLOAT:
    case VK_FORMAT_X8_D24_UNORM_PACK32:
        return VK_IMAGE_ASPECT_DEPTH_BIT;
    case VK_FORMAT_D24_UNORM_S8_UINT:
    case VK_FORMAT_D32_SFLOAT_S8_UINT:
        return VK_IMAGE_ASPECT_DEPTH_BIT | VK_IMAGE_ASPECT_STENCIL_BIT;
    default:
        return VK_IMAGE_ASPECT_COLOR_BIT;
    }
}

void pv_image_create(struct pv_guest *g, struct pv_image *img, VkFormat format, uint32_t width,
                     uint32_t height, uint32_t mip_levels, VkImageUsageFlags usage)
{
    memset(img, 0, sizeof(*img));
    img->format = format;
    img->aspect = format_aspect(format);
    img->width = width;
    img->height = height;
    img->mip_levels = mip_levels;
    VkImageCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO,
        .imageType = VK_IMAGE_TYPE_2D,
        .format = format,
        .extent = { width, height, 1 },
        .mipLevels = mip_levels,
        .arrayLayers = 1,
        .samples = VK_SAMPLE_COUNT_1_BIT,
        .tiling = VK_IMAGE_TILING_OPTIMAL,
        .usage = usage,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
        .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
    };
    PV_CHECK(g, vkCreateImage(g->device, &info, NULL, &img->image));
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(g->device, img->image, &req);
    uint32_t type = pv_memory_type(g, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    img->memory = allocate_dedicated(g, req, type, VK_NULL_HANDLE, img->image);
    PV_CHECK(g, vkBindImageMemory(g->device, img->image, img->memory, 0));
    const VkImageUsageFlags viewable = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_STORAGE_BIT |
                                       VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT |
                                       VK_IMAGE_USAGE_DEPTH_STENCIL_ATTACHMENT_BIT | VK_IMAGE_USAGE_INPUT_ATTACHMENT_BIT;
    if (!(usage & viewable))
        return;
    VkImageViewCreateInfo view_info = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO,
        .image = img->image,
        .viewType = VK_IMAGE_VIEW_TYPE_2D,
        .format = format,
        .subresourceRange = { img->aspect, 0, mip_levels, 0, 1 },
    };
    PV_CHECK(g, vkCreateImageView(g->device, &view_info, NULL, &img->view));
}

void pv_image_destroy(struct pv_guest *g, struct pv_image *img)
{
    if (img->view)
        vkDestroyImageView(g->device, img->view, NULL);
    vkDestroyImage(g->device, img->image, NULL);
    vkFreeMemory(g->device, img->memory, NULL);
    memset(img, 0, sizeof(*img));
}

VkDeviceSize pv_image_level_size(const struct pv_image *img, uint32_t mip)
{
    uint32_t w = img->width >> mip ? img->width >> mip : 1;
    uint32_t h = img->height >> mip ? img->height >> mip : 1;
    return (VkDeviceSize)w * h * pv_format_texel_size(img->format);
}

void pv_cmd_image_barrier(VkCommandBuffer cmd, const struct pv_image *img, uint32_t base_mip, uint32_t mip_count,
                          VkImageLayout old_layout, VkImageLayout new_layout,
                          VkAccessFlags src_access, VkAccessFlags dst_access,
                          VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage)
{
    VkImageMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = dst_access,
        .oldLayout = old_layout,
        .newLayout = new_layout,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .image = img->image,
        .subresourceRange = { img->aspect, base_mip, mip_count, 0, 1 },
    };
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, NULL, 0, NULL, 1, &barrier);
}

void pv_cmd_buffer_barrier(VkCommandBuffer cmd, VkBuffer buffer, VkAccessFlags src_access, VkAccessFlags dst_access,
                           VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage)
{
    VkBufferMemoryBarrier barrier = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER,
        .srcAccessMask = src_access,
        .dstAccessMask = dst_access,
        .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
        .buffer = buffer,
        .offset = 0,
        .size = VK_WHOLE_SIZE,
    };
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, NULL, 1, &barrier, 0, NULL);
}

void pv_cmd_copy_image_to_buffer(VkCommandBuffer cmd, const struct pv_image *img, uint32_t mip,
                                 VkBuffer buffer, VkDeviceSize offset)
{
    VkBufferImageCopy region = {
        .bufferOffset = offset,
        .imageSubresource = { img->aspect, mip, 0, 1 },
        .imageExtent = { img->width >> mip ? img->width >> mip : 1, img->height >> mip ? img->height >> mip : 1, 1 },
    };
    vkCmdCopyImageToBuffer(cmd, img->image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, buffer, 1, &region);
}

VkCommandBuffer pv_one_shot_begin(struct pv_guest *g)
{
    VkCommandBufferAllocateInfo alloc = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = g->command_pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkCommandBuffer cmd;
    PV_CHECK(g, vkAllocateCommandBuffers(g->device, &alloc, &cmd));
    VkCommandBufferBeginInfo begin = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    PV_CHECK(g, vkBeginCommandBuffer(cmd, &begin));
    return cmd;
}

void pv_wait_fence(struct pv_guest *g, VkFence fence)
{
    VkResult result = vkWaitForFences(g->device, 1, &fence, VK_TRUE, PV_WAIT_TIMEOUT_NS);
    if (result == VK_TIMEOUT)
        pv_fatal(g, "fence not signalled after %llu s", PV_WAIT_TIMEOUT_NS / 1000000000ull);
    PV_CHECK(g, result);
}

void pv_one_shot_end(struct pv_guest *g, VkCommandBuffer cmd)
{
    PV_CHECK(g, vkEndCommandBuffer(cmd));
    VkFenceCreateInfo fence_info = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkFence fence;
    PV_CHECK(g, vkCreateFence(g->device, &fence_info, NULL, &fence));
    VkSubmitInfo submit = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd,
    };
    PV_CHECK(g, vkQueueSubmit(g->queue, 1, &submit, fence));
    pv_wait_fence(g, fence);
    vkDestroyFence(g->device, fence, NULL);
    vkFreeCommandBuffers(g->device, g->command_pool, 1, &cmd);
}

const void *pv_image_readback(struct pv_guest *g, const struct pv_image *img, uint32_t mip, VkImageLayout layout,
                              VkAccessFlags src_access, VkPipelineStageFlags src_stage, struct pv_buffer *staging)
{
    if (!staging->map || staging->size < pv_image_level_size(img, mip))
        pv_fatal(g, "readback staging buffer not mapped or too small");
    VkCommandBuffer cmd = pv_one_shot_begin(g);
    if (layout != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL)
        pv_cmd_image_barrier(cmd, img, mip, 1, layout, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, src_access,
                             VK_ACCESS_TRANSFER_READ_BIT, src_stage, VK_PIPELINE_STAGE_TRANSFER_BIT);
    else
        pv_cmd_image_barrier(cmd, img, mip, 1, layout, layout, src_access, VK_ACCESS_TRANSFER_READ_BIT, src_stage,
                             VK_PIPELINE_STAGE_TRANSFER_BIT);
    pv_cmd_copy_image_to_buffer(cmd, img, mip, staging->buffer, 0);
    pv_cmd_buffer_barrier(cmd, staging->buffer, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT);
    pv_one_shot_end(g, cmd);
    pv_buffer_invalidate(g, staging);
    return staging->map;
}

VkShaderModule pv_shader_load(struct pv_guest *g, const char *file)
{
    if (!g->shader_dir)
        pv_fatal(g, "no shader dir: pass --shader-dir DIR or set PV_GUEST_SHADER_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", g->shader_dir, file);
    FILE *f = fopen(path, "rb");
    if (!f)
        pv_fatal(g, "cannot open shader %s: %s", path, strerror(errno));
    uint32_t *code = NULL;
    size_t size = 0, capacity = 0;
    for (;;) {
        if (size == capacity) {
            capacity = capacity ? capacity * 2 : 16384;
            uint32_t *bigger = realloc(code, capacity);
            if (!bigger)
                pv_fatal(g, "out of memory reading %s", path);
            code = bigger;
        }
        size_t n = fread((char *)code + size, 1, capacity - size, f);
        size += n;
        if (n == 0)
            break;
    }
    bool read_error = ferror(f);
    fclose(f);
    if (read_error || size < 20 || size % 4 || code[0] != 0x07230203)
        pv_fatal(g, "%s is not a SPIR-V module", path);
    VkShaderModuleCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = size,
        .pCode = code,
    };
    VkShaderModule module;
    PV_CHECK(g, vkCreateShaderModule(g->device, &info, NULL, &module));
    free(code);
    return module;
}

VkRenderPass pv_render_pass_create(struct pv_guest *g, VkFormat color_format, VkFormat depth_format,
                                   VkImageLayout color_final_layout)
{
    bool depth = depth_format != VK_FORMAT_UNDEFINED;
    VkAttachmentDescription attachments[2] = {
        {
            .format = color_format,
            .samples = VK_SAMPLE_COUNT_1_BIT,
            .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
            .storeOp = VK_ATTACHMENT_STORE_OP_STORE,
            .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
            .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
            .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
            .finalLayout = color_final_layout,
        },
        {
            .format = depth_format,
            .samples = VK_SAMPLE_COUNT_1_BIT,
            .loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR,
            .storeOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
            .stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE,
            .stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE,
            .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED,
            .finalLayout = VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL,
        },
    };
    VkAttachmentReference color_ref = { 0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL };
    VkAttachmentReference depth_ref = { 1, VK_IMAGE_LAYOUT_DEPTH_STENCIL_ATTACHMENT_OPTIMAL };
    VkSubpassDescription subpass = {
        .pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS,
        .colorAttachmentCount = 1,
        .pColorAttachments = &color_ref,
        .pDepthStencilAttachment = depth ? &depth_ref : NULL,
    };
    /* The attachments are reused frame after frame: order this pass's writes after the previous
     * pass's and after earlier transfers out of the color image, and make its color writes
     * visible to a following copy. */
    VkSubpassDependency dependencies[2] = {
        {
            .srcSubpass = VK_SUBPASS_EXTERNAL,
            .dstSubpass = 0,
            .srcStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT |
                            VK_PIPELINE_STAGE_LATE_FRAGMENT_TESTS_BIT,
            .dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_EARLY_FRAGMENT_TESTS_BIT,
            .srcAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT |
                             VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT | VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_WRITE_BIT |
                             VK_ACCESS_DEPTH_STENCIL_ATTACHMENT_READ_BIT,
        },
        {
            .srcSubpass = 0,
            .dstSubpass = VK_SUBPASS_EXTERNAL,
            .srcStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
            .dstStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT,
            .srcAccessMask = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT,
            .dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
        },
    };
    VkRenderPassCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO,
        .attachmentCount = depth ? 2 : 1,
        .pAttachments = attachments,
        .subpassCount = 1,
        .pSubpasses = &subpass,
        .dependencyCount = 2,
        .pDependencies = dependencies,
    };
    VkRenderPass pass;
    PV_CHECK(g, vkCreateRenderPass(g->device, &info, NULL, &pass));
    return pass;
}

VkFramebuffer pv_framebuffer_create(struct pv_guest *g, VkRenderPass pass, const struct pv_image *color,
                                    const struct pv_image *depth)
{
    VkImageView views[2] = { color->view, depth ? depth->view : VK_NULL_HANDLE };
    VkFramebufferCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO,
        .renderPass = pass,
        .attachmentCount = depth ? 2 : 1,
        .pAttachments = views,
        .width = color->width,
        .height = color->height,
        .layers = 1,
    };
    VkFramebuffer framebuffer;
    PV_CHECK(g, vkCreateFramebuffer(g->device, &info, NULL, &framebuffer));
    return framebuffer;
}

VkPipeline pv_graphics_pipeline_create(struct pv_guest *g, const struct pv_graphics_pipeline_desc *d)
{
    VkShaderModule vs = pv_shader_load(g, d->vertex_shader);
    VkShaderModule fs = pv_shader_load(g, d->fragment_shader);
    VkPipelineShaderStageCreateInfo stages[2] = {
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_VERTEX_BIT,
          .module = vs, .pName = "main" },
        { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_FRAGMENT_BIT,
          .module = fs, .pName = "main" },
    };
    VkPipelineVertexInputStateCreateInfo vertex_input = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO,
        .vertexBindingDescriptionCount = d->binding_count,
        .pVertexBindingDescriptions = d->bindings,
        .vertexAttributeDescriptionCount = d->attribute_count,
        .pVertexAttributeDescriptions = d->attributes,
    };
    VkPipelineInputAssemblyStateCreateInfo input_assembly = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO,
        .topology = d->topology,
    };
    VkViewport viewport = { 0, 0, (float)d->width, (float)d->height, 0.0f, 1.0f };
    VkRect2D scissor = { { 0, 0 }, { d->width, d->height } };
    VkPipelineViewportStateCreateInfo viewport_state = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO,
        .viewportCount = 1,
        .pViewports = d->dynamic_viewport ? NULL : &viewport,
        .scissorCount = 1,
        .pScissors = d->dynamic_viewport ? NULL : &scissor,
    };
    VkPipelineRasterizationStateCreateInfo raster = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO,
        .polygonMode = VK_POLYGON_MODE_FILL,
        .cullMode = d->cull_mode,
        .frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE,
        .lineWidth = 1.0f,
    };
    VkPipelineMultisampleStateCreateInfo multisample = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO,
        .rasterizationSamples = d->samples ? d->samples : VK_SAMPLE_COUNT_1_BIT,
    };
    VkPipelineDepthStencilStateCreateInfo depth = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_DEPTH_STENCIL_STATE_CREATE_INFO,
        .depthTestEnable = d->depth_test,
        .depthWriteEnable = d->depth_test,
        .depthCompareOp = VK_COMPARE_OP_LESS,
    };
    VkPipelineColorBlendAttachmentState blend_attachment = {
        .colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT |
                          VK_COLOR_COMPONENT_A_BIT,
    };
    VkPipelineColorBlendStateCreateInfo blend = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO,
        .attachmentCount = 1,
        .pAttachments = &blend_attachment,
    };
    VkDynamicState dynamic_states[] = { VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR };
    VkPipelineDynamicStateCreateInfo dynamic = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO,
        .dynamicStateCount = 2,
        .pDynamicStates = dynamic_states,
    };
    VkGraphicsPipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO,
        .stageCount = 2,
        .pStages = stages,
        .pVertexInputState = &vertex_input,
        .pInputAssemblyState = &input_assembly,
        .pViewportState = &viewport_state,
        .pRasterizationState = &raster,
        .pMultisampleState = &multisample,
        .pDepthStencilState = &depth,
        .pColorBlendState = &blend,
        .pDynamicState = d->dynamic_viewport ? &dynamic : NULL,
        .layout = d->layout,
        .renderPass = d->render_pass,
        .subpass = d->subpass,
    };
    VkPipeline pipeline;
    PV_CHECK(g, vkCreateGraphicsPipelines(g->device, VK_NULL_HANDLE, 1, &info, NULL, &pipeline));
    vkDestroyShaderModule(g->device, vs, NULL);
    vkDestroyShaderModule(g->device, fs, NULL);
    return pipeline;
}

VkPipeline pv_compute_pipeline_create(struct pv_guest *g, const char *shader, VkPipelineLayout layout)
{
    VkShaderModule module = pv_shader_load(g, shader);
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = { .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                   .module = module, .pName = "main" },
        .layout = layout,
    };
    VkPipeline pipeline;
    PV_CHECK(g, vkCreateComputePipelines(g->device, VK_NULL_HANDLE, 1, &info, NULL, &pipeline));
    vkDestroyShaderModule(g->device, module, NULL);
    return pipeline;
}

VkPipelineLayout pv_pipeline_layout_create(struct pv_guest *g, const VkDescriptorSetLayout *set_layouts,
                                           uint32_t set_layout_count, uint32_t push_constant_size,
                                           VkShaderStageFlags push_constant_stages)
{
    VkPushConstantRange range = { push_constant_stages, 0, push_constant_size };
    VkPipelineLayoutCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = set_layout_count,
        .pSetLayouts = set_layouts,
        .pushConstantRangeCount = push_constant_size ? 1 : 0,
        .pPushConstantRanges = &range,
    };
    VkPipelineLayout layout;
    PV_CHECK(g, vkCreatePipelineLayout(g->device, &info, NULL, &layout));
    return layout;
}

static FILE *open_dump(struct pv_guest *g, const char *file)
{
    if (!g->out_dir)
        return NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", g->out_dir, file);
    FILE *f = fopen(path, "wb");
    if (!f)
        pv_fatal(g, "cannot write %s: %s", path, strerror(errno));
    return f;
}

static void close_dump(struct pv_guest *g, FILE *f, const char *file)
{
    if (ferror(f) | fclose(f))
        pv_fatal(g, "error writing %s/%s", g->out_dir, file);
}

void pv_dump_ppm(struct pv_guest *g, const char *file, const uint8_t *rgba, uint32_t width, uint32_t height)
{
    FILE *f = open_dump(g, file);
    if (!f)
        return;
    fprintf(f, "P6\n%u %u\n255\n", width, height);
    for (size_t i = 0; i < (size_t)width * height; i++)
        fwrite(rgba + i * 4, 1, 3, f);
    close_dump(g, f, file);
}

void pv_dump_raw(struct pv_guest *g, const char *file, const void *data, size_t size)
{
    FILE *f = open_dump(g, file);
    if (!f)
        return;
    fwrite(data, 1, size, f);
    close_dump(g, f, file);
}

pv_mat4 pv_mat4_identity(void)
{
    pv_mat4 r = { { 0 } };
    r.m[0] = r.m[5] = r.m[10] = r.m[15] = 1.0f;
    return r;
}

pv_mat4 pv_mat4_multiply(pv_mat4 a, pv_mat4 b)
{
    pv_mat4 r;
    for (int col = 0; col < 4; col++) {
        for (int row = 0; row < 4; row++) {
            float sum = 0.0f;
            for (int k = 0; k < 4; k++)
                sum += a.m[k * 4 + row] * b.m[col * 4 + k];
            r.m[col * 4 + row] = sum;
        }
    }
    return r;
}

pv_mat4 pv_mat4_rotate(float radians, float x, float y, float z)
{
    float len = sqrtf(x * x + y * y + z * z);
    x /= len, y /= len, z /= len;
    float c = cosf(radians), s = sinf(radians), t = 1.0f - c;
    pv_mat4 r = pv_mat4_identity();
    r.m[0] = t * x * x + c;
    r.m[1] = t * x * y + s * z;
    r.m[2] = t * x * z - s * y;
    r.m[4] = t * x * y - s * z;
    r.m[5] = t * y * y + c;
    r.m[6] = t * y * z + s * x;
    r.m[8] = t * x * z + s * y;
    r.m[9] = t * y * z - s * x;
    r.m[10] = t * z * z + c;
    return r;
}

pv_mat4 pv_mat4_translate(float x, float y, float z)
{
    pv_mat4 r = pv_mat4_identity();
    r.m[12] = x;
    r.m[13] = y;
    r.m[14] = z;
    return r;
}

pv_mat4 pv_mat4_perspective(float fov_y_radians, float aspect, float near_z, float far_z)
{
    float f = 1.0f / tanf(fov_y_radians * 0.5f);
    pv_mat4 r = { { 0 } };
    r.m[0] = f / aspect;
    r.m[5] = -f; /* Vulkan's y points down */
    r.m[10] = far_z / (near_z - far_z);
    r.m[11] = -1.0f;
    r.m[14] = near_z * far_z / (near_z - far_z);
    return r;
}
