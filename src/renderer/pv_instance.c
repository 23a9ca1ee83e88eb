/* Instances and physical devices: creation of the host instance for a guest instance, and the
 * binding of the guest's physical-device ids to the host's devices in enumeration order. */
#include <stdlib.h>
#include <string.h>

#include "pv_device.h"
#include "pv_instance.h"
#include "pv_log.h"

/* Instance extensions the host enables when it has them: enumeration of portability
 * implementations (MoltenVK-class hosts list their devices only with it). */
static const char *const optional_instance_extensions[] = {
    VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME,
};

static bool host_has_instance_extension(const char *name)
{
    uint32_t count = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &count, NULL) != VK_SUCCESS || !count)
        return false;
    VkExtensionProperties *props = calloc(count, sizeof(*props));
    if (!props)
        return false;
    bool found = false;
    if (vkEnumerateInstanceExtensionProperties(NULL, &count, props) >= VK_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(props[i].extensionName, name) == 0;
    }
    free(props);
    return found;
}

#define VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

/* Validation messages of a host instance: one log line each, so that a test can require none. */
static VkBool32 VKAPI_PTR validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                             VkDebugUtilsMessageTypeFlagsEXT types,
                                             const VkDebugUtilsMessengerCallbackDataEXT *data,
                                             void *user)
{
    struct pv_context *ctx = user;
    (void)types;
    const char *level = severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error"
                                                                                   : "warning";
    pv_log("context %u (%s): validation %s: %s", ctx->id, ctx->name, level,
           data && data->pMessage ? data->pMessage : "(no message)");
    return VK_FALSE;
}

static bool host_has_layer(const char *name)
{
    uint32_t count = 0;
    if (vkEnumerateInstanceLayerProperties(&count, NULL) != VK_SUCCESS || !count)
        return false;
    VkLayerProperties *props = calloc(count, sizeof(*props));
    if (!props)
        return false;
    bool found = false;
    if (vkEnumerateInstanceLayerProperties(&count, props) >= VK_SUCCESS) {
        for (uint32_t i = 0; i < count && !found; i++)
            found = strcmp(props[i].layerName, name) == 0;
    }
    free(props);
    return found;
}

bool pv_renderer_has_validation_layer(void)
{
    return host_has_layer(VALIDATION_LAYER);
}

void pv_handle_vkCreateInstance(struct pv_context *ctx, struct pv_args_vkCreateInstance *a)
{
    VkInstanceCreateInfo info = *a->pCreateInfo;
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .apiVersion = VK_API_VERSION_1_1,
    };
    if (info.pApplicationInfo)
        app = *info.pApplicationInfo;
    /* Venus needs 1.1 at least on the host, whatever the application asked for. */
    if (app.apiVersion < VK_API_VERSION_1_1)
        app.apiVersion = VK_API_VERSION_1_1;
    info.pApplicationInfo = &app;
    /* Host layers are the host's business; the driver never asks for any. */
    info.enabledLayerCount = 0;
    info.ppEnabledLayerNames = NULL;

    const char **extensions = calloc(info.enabledExtensionCount + 2, sizeof(*extensions));
    if (!extensions) {
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    if (info.enabledExtensionCount)
        memcpy(extensions, info.ppEnabledExtensionNames,
               info.enabledExtensionCount * sizeof(*extensions));
    uint32_t extension_count = info.enabledExtensionCount;
    for (size_t i = 0; i < sizeof(optional_instance_extensions) / sizeof(*extensions); i++) {
        if (host_has_instance_extension(optional_instance_extensions[i])) {
            extensions[extension_count++] = optional_instance_extensions[i];
            info.flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
        }
    }
    VkDebugUtilsMessengerCreateInfoEXT messenger_info = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT,
        .pfnUserCallback = validation_message,
        .pUserData = ctx,
    };
    const char *const layers[] = { VALIDATION_LAYER };
    /* Asked to validate and unable to: an error, not a run that looks validated. */
    bool validate = ctx->options.validate;
    if (validate && !host_has_layer(VALIDATION_LAYER)) {
        pv_log("context %u (%s): validation was asked for, but the host has no %s (Debian: "
               "vulkan-validationlayers): refusing vkCreateInstance", ctx->id, ctx->name,
               VALIDATION_LAYER);
        free(extensions);
        a->ret = VK_ERROR_LAYER_NOT_PRESENT;
        return;
    }
    if (validate) {
        /* The messenger in the chain covers the instance's own creation and destruction; the
         * one created below covers everything between. */
        info.enabledLayerCount = 1;
        info.ppEnabledLayerNames = layers;
        extensions[extension_count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        messenger_info.pNext = info.pNext;
        info.pNext = &messenger_info;
    }
    info.enabledExtensionCount = extension_count;
    info.ppEnabledExtensionNames = extensions;

    VkInstance handle = VK_NULL_HANDLE;
    a->ret = vkCreateInstance(&info, NULL, &handle);
    free(extensions);
    if (a->ret != VK_SUCCESS) {
        pv_log("context %u (%s): host vkCreateInstance failed: %d", ctx->id, ctx->name, a->ret);
        return;
    }
    struct pv_instance *instance = calloc(1, sizeof(*instance));
    if (!instance) {
        vkDestroyInstance(handle, NULL);
        a->ret = VK_ERROR_OUT_OF_HOST_MEMORY;
        return;
    }
    instance->handle = handle;
    instance->api_version = app.apiVersion;
    instance->base.id = a->pInstance_id;
    instance->base.type = VK_OBJECT_TYPE_INSTANCE;
    instance->base.handle = (uint64_t)(uintptr_t)handle;
    instance->base.instance = instance;
    pv_instance_dispatch_init(&instance->dispatch, vkGetInstanceProcAddr, handle);
    if (validate) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(handle, "vkCreateDebugUtilsMessengerEXT");
        messenger_info.pNext = NULL;
        if (create)
            create(handle, &messenger_info, NULL, &instance->messenger);
    }
    if (!pv_context_add_object(ctx, &instance->base)) {
        vkDestroyInstance(handle, NULL);
        free(instance);
        a->ret = VK_ERROR_INITIALIZATION_FAILED;
        return;
    }
    instance->next = ctx->instances;
    ctx->instances = instance;
    *a->pInstance = handle;
}

void pv_instance_destroy(struct pv_context *ctx, struct pv_instance *instance)
{
    while (instance->devices)
        pv_device_destroy(ctx, instance->devices);
    for (uint32_t i = 0; i < instance->physical_device_count; i++) {
        if (instance->physical_devices[i].base.id)
            pv_context_remove_object(ctx, &instance->physical_devices[i].base);
        free(instance->physical_devices[i].extensions);
    }
    free(instance->physical_devices);
    if (instance->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy = (PFN_vkDestroyDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(instance->handle, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy)
            destroy(instance->handle, instance->messenger, NULL);
    }
    instance->dispatch.vkDestroyInstance(instance->handle, NULL);
    pv_context_remove_object(ctx, &instance->base);
    struct pv_instance **link = &ctx->instances;
    while (*link && *link != instance)
        link = &(*link)->next;
    if (*link)
        *link = instance->next;
    free(instance);
}

void pv_handle_vkDestroyInstance(struct pv_context *ctx, struct pv_args_vkDestroyInstance *a)
{
    if (a->instance_object)
        pv_instance_destroy(ctx, (struct pv_instance *)a->instance_object);
}

void pv_handle_vkEnumerateInstanceVersion(struct pv_context *ctx,
                                          struct pv_args_vkEnumerateInstanceVersion *a)
{
    (void)ctx;
    a->ret = vkEnumerateInstanceVersion(a->pApiVersion);
}

void pv_handle_vkEnumerateInstanceExtensionProperties(
    struct pv_context *ctx, struct pv_args_vkEnumerateInstanceExtensionProperties *a)
{
    (void)ctx;
    if (!a->pPropertyCount) {
        a->ret = VK_ERROR_INITIALIZATION_FAILED;
        return;
    }
    a->ret = vkEnumerateInstanceExtensionProperties(a->pLayerName, a->pPropertyCount,
                                                    a->pProperties);
}

void pv_handle_vkEnumerateInstanceLayerProperties(
    struct pv_context *ctx, struct pv_args_vkEnumerateInstanceLayerProperties *a)
{
    /* Host layers are not the guest's to see or enable. */
    (void)ctx;
    if (a->pPropertyCount)
        *a->pPropertyCount = 0;
    a->ret = VK_SUCCESS;
}

/* Reads the host's physical devices once per instance. */
static VkResult load_physical_devices(struct pv_instance *instance)
{
    if (instance->physical_devices)
        return VK_SUCCESS;
    uint32_t count = 0;
    VkResult r = instance->dispatch.vkEnumeratePhysicalDevices(instance->handle, &count, NULL);
    if (r != VK_SUCCESS)
        return r;
    VkPhysicalDevice *handles = calloc(count ? count : 1, sizeof(*handles));
    struct pv_physical_device *devices = calloc(count ? count : 1, sizeof(*devices));
    if (!handles || !devices) {
        free(handles);
        free(devices);
        return VK_ERROR_OUT_OF_HOST_MEMORY;
    }
    r = instance->dispatch.vkEnumeratePhysicalDevices(instance->handle, &count, handles);
    if (r < VK_SUCCESS) {
        free(handles);
        free(devices);
        return r;
    }
    for (uint32_t i = 0; i < count; i++) {
        struct pv_physical_device *pd = &devices[i];
        pd->handle = handles[i];
        pd->base.type = VK_OBJECT_TYPE_PHYSICAL_DEVICE;
        pd->base.handle = (uint64_t)(uintptr_t)handles[i];
        pd->base.instance = instance;
        instance->dispatch.vkGetPhysicalDeviceProperties(handles[i], &pd->properties);
    }
    free(handles);
    instance->physical_devices = devices;
    instance->physical_device_count = count;
    return VK_SUCCESS;
}

void pv_handle_vkEnumeratePhysicalDevices(struct pv_context *ctx,
                                          struct pv_args_vkEnumeratePhysicalDevices *a)
{
    struct pv_instance *instance = (struct pv_instance *)a->instance_object;
    if (!a->pPhysicalDeviceCount) {
        pv_context_set_fatal(ctx, "vkEnumeratePhysicalDevices: no count");
        return;
    }
    a->ret = load_physical_devices(instance);
    if (a->ret != VK_SUCCESS)
        return;
    if (!a->pPhysicalDevices) {
        *a->pPhysicalDeviceCount = instance->physical_device_count;
        return;
    }
    uint32_t n = a->pPhysicalDevices_count;
    if (n > instance->physical_device_count) {
        n = instance->physical_device_count;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct pv_physical_device *pd = &instance->physical_devices[i];
        uint64_t id = a->pPhysicalDevices_ids[i];
        if (pd->base.id == id)
            continue;
        if (pd->base.id) {
            pv_context_set_fatal(ctx, "vkEnumeratePhysicalDevices: physical device %u is bound to "
                                 "id 0x%llx, not 0x%llx", i, (unsigned long long)pd->base.id,
                                 (unsigned long long)id);
            return;
        }
        pd->base.id = id;
        if (!pv_context_add_object(ctx, &pd->base)) {
            pd->base.id = 0;
            return;
        }
    }
    /* The reply echoes the ids the guest sent, as many as there are devices. */
    a->pPhysicalDevices_count = n;
    *a->pPhysicalDeviceCount = n;
    a->ret = n < instance->physical_device_count ? VK_INCOMPLETE : VK_SUCCESS;
}
