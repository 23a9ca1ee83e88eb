/* Malformed-stream cases on a device's commands: values the host driver would take as object
 * pointers, NULL outputs it would write through, query and result ranges past the pool or the
 * guest's memory, shader code that is not whole words, descriptor writes without the array
 * their type reads or without a set. Each case first makes a Vulkan 1.3 device the way the
 * drivers do (every step checked), then sends one bad command; the host must refuse it before
 * it reaches the driver. Before the host checked them, these crashed the guest's worker or
 * went through unnoticed, so no fatal line came. */
#define _GNU_SOURCE
#include "pv_test_malformed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define SEMAPHORE_ID 0x00005eed50000050ull
#define SLOT_ID 0x00005eed80000080ull
#define QUERY_POOL_ID 0x00005eed90000090ull
#define SHADER_ID 0x00005eeda00000a0ull
#define NEVER_CREATED_ID 0x00005eed00001234ull
#define OTHER_DEVICE_ID 0x00005eed31000031ull
#define NEW_DEVICE_ID 0x00005eed32000032ull
#define BUFFER_ID 0x00005eed33000033ull
#define QUEUE_ID 0x00005eed34000034ull

#define API_VERSION_1_3 0x00403000u
#define QUERY_COUNT 2u

/* Wire numbers (the same in both generations) and the registry's values. */
enum {
    CMD_vkGetBufferMemoryRequirements = 30,
    CMD_vkCreateSemaphore = 40,
    CMD_vkCreateBuffer = 50,
    CMD_vkCreateQueryPool = 47,
    CMD_vkGetQueryPoolResults = 49,
    CMD_vkCreateShaderModule = 59,
    CMD_vkUpdateDescriptorSets = 79,
    CMD_vkGetSemaphoreCounterValue = 172,
    CMD_vkCreatePrivateDataSlot = 197,
    CMD_vkSetPrivateData = 199,
    CMD_vkGetPrivateData = 200,
};
#define STYPE_SEMAPHORE_CREATE_INFO 9u
#define STYPE_QUERY_POOL_CREATE_INFO 11u
#define STYPE_SHADER_MODULE_CREATE_INFO 16u
#define STYPE_WRITE_DESCRIPTOR_SET 35u
#define STYPE_SEMAPHORE_TYPE_CREATE_INFO 1000207002u
#define STYPE_PRIVATE_DATA_SLOT_CREATE_INFO 1000295002u
#define OBJECT_TYPE_DEVICE 3u
#define OBJECT_TYPE_BUFFER 9u
#define QUERY_TYPE_OCCLUSION 0u
#define QUERY_RESULT_64_BIT 1u
#define DESCRIPTOR_TYPE_UNIFORM_BUFFER 6u
#define WHOLE_SIZE (~0ull)
#define RESULT_NOT_READY 1
#define RESULT_ERROR_EXTENSION_NOT_PRESENT (-7)
#define STYPE_BUFFER_CREATE_INFO 12u
#define QUEUE_CREATE_PROTECTED 1u

/* Encodes the setup commands; submit_setup sends them in one batch and waits for the host. */
int pv_malformed_submit_setup(struct pv_test_guest *guest, void (*encode)(struct pv_test_cs *cs))
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    encode(&cs);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    if (ret == 0 && pv_test_vtest_roundtrip(&guest->vtest))
        ret = pv_test_fail("the host did not answer after the set-up commands");
    return ret;
}

/* An instance, its physical devices and DEVICE_ID with timeline semaphores, as the drivers make
 * them. */
int pv_malformed_start_device(struct pv_test_guest *guest)
{
    if (pv_test_create_instance_api(guest, INSTANCE_ID, API_VERSION_1_3, 0))
        return -1;
    if (pv_test_enumerate_all_physical_devices(guest, INSTANCE_ID, PHYSICAL_DEVICE_ID) < 1)
        return -1;
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    pv_test_cs_create_device(&cs, PV_TEST_COMMAND_GENERATE_REPLY, PHYSICAL_DEVICE_ID, true, DEVICE_ID);
    int ret = pv_test_guest_call(guest, &cs, 0, &reply);
    pv_test_cs_fini(&cs);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 24);
        const uint32_t type = pv_test_read_u32(&r), result = pv_test_read_u32(&r);
        const uint64_t marker = pv_test_read_u64(&r), id = pv_test_read_u64(&r);
        if (type != PV_TEST_CMD_vkCreateDevice || result != 0 || marker != 1 || id != DEVICE_ID)
            ret = pv_test_fail("vkCreateDevice reply: type %u result %d marker %" PRIu64 " id %#" PRIx64,
                               type, (int32_t)result, marker, id);
    }
    return ret;
}

static void encode_create_slot(struct pv_test_cs *cs)
{
    pv_test_cs_command(cs, CMD_vkCreatePrivateDataSlot, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_PRIVATE_DATA_SLOT_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pPrivateDataSlot */
    pv_test_cs_handle(cs, SLOT_ID);
}

static void encode_create_timeline_semaphore(struct pv_test_cs *cs)
{
    pv_test_cs_command(cs, CMD_vkCreateSemaphore, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_CREATE_INFO);
    pv_test_cs_marker(cs, true);  /* pNext: VkSemaphoreTypeCreateInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_TYPE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 1);        /* VK_SEMAPHORE_TYPE_TIMELINE */
    pv_test_cs_u64(cs, 0);        /* initialValue */
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pSemaphore */
    pv_test_cs_handle(cs, SEMAPHORE_ID);
}

/* An occlusion pool of QUERY_COUNT queries. */
static void encode_create_query_pool(struct pv_test_cs *cs)
{
    pv_test_cs_command(cs, CMD_vkCreateQueryPool, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_QUERY_POOL_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, QUERY_TYPE_OCCLUSION);
    pv_test_cs_u32(cs, QUERY_COUNT);
    pv_test_cs_u32(cs, 0);        /* pipelineStatistics */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pQueryPool */
    pv_test_cs_handle(cs, QUERY_POOL_ID);
}

static void cs_set_private_data(struct pv_test_cs *cs, uint32_t object_type, uint64_t object, uint64_t data)
{
    pv_test_cs_command(cs, CMD_vkSetPrivateData, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_u32(cs, object_type);
    pv_test_cs_u64(cs, object);
    pv_test_cs_handle(cs, SLOT_ID);
    pv_test_cs_u64(cs, data);
}

static void cs_get_private_data(struct pv_test_cs *cs, uint32_t object_type, uint64_t object)
{
    pv_test_cs_command(cs, CMD_vkGetPrivateData, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_u32(cs, object_type);
    pv_test_cs_u64(cs, object);
    pv_test_cs_handle(cs, SLOT_ID);
    pv_test_cs_marker(cs, true);  /* pData */
}

/* vkGetQueryPoolResults; capacity is pData's size on the wire (0: NULL). */
static void cs_get_query_results(struct pv_test_cs *cs, uint32_t first, uint32_t count, uint64_t data_size,
                                 uint64_t capacity, uint64_t stride)
{
    pv_test_cs_command(cs, CMD_vkGetQueryPoolResults, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_handle(cs, QUERY_POOL_ID);
    pv_test_cs_u32(cs, first);
    pv_test_cs_u32(cs, count);
    pv_test_cs_u64(cs, data_size);
    pv_test_cs_array_size(cs, capacity);
    pv_test_cs_u64(cs, stride);
    pv_test_cs_u32(cs, QUERY_RESULT_64_BIT);
}

/* Sends one command after seeking the reply stream to its start. */
int pv_malformed_send_one(struct pv_test_guest *guest, void (*encode)(struct pv_test_cs *cs, const void *arg),
                          const void *arg)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    encode(&cs, arg);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    return ret;
}

/* Private data. */

struct private_data_args {
    uint32_t object_type;
    uint64_t object;
};

static void encode_set_private_data(struct pv_test_cs *cs, const void *arg)
{
    const struct private_data_args *p = arg;
    cs_set_private_data(cs, p->object_type, p->object, 7);
}

static void encode_get_private_data(struct pv_test_cs *cs, const void *arg)
{
    const struct private_data_args *p = arg;
    cs_get_private_data(cs, p->object_type, p->object);
}

static int case_private_data_wild(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_create_slot))
        return -1;
    static const struct private_data_args args = { OBJECT_TYPE_BUFFER, NEVER_CREATED_ID };
    expect->starts = "vkSetPrivateData: ";
    expect->contains[0] = "unknown";
    expect->id = NEVER_CREATED_ID;
    return pv_malformed_send_one(guest, encode_set_private_data, &args);
}

static int case_private_data_mistyped(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_create_slot))
        return -1;
    /* the device's own id, named as a buffer */
    static const struct private_data_args args = { OBJECT_TYPE_BUFFER, DEVICE_ID };
    expect->starts = "vkGetPrivateData: ";
    expect->contains[0] = "not a";
    expect->id = DEVICE_ID;
    return pv_malformed_send_one(guest, encode_get_private_data, &args);
}

/* Output scalars. */

static void encode_counter_value_null(struct pv_test_cs *cs, const void *arg)
{
    (void)arg;
    pv_test_cs_command(cs, CMD_vkGetSemaphoreCounterValue, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_handle(cs, SEMAPHORE_ID);
    pv_test_cs_marker(cs, false); /* pValue */
}

static int case_counter_value_null(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_create_timeline_semaphore))
        return -1;
    expect->starts = "vkGetSemaphoreCounterValue: ";
    expect->contains[0] = "pValue";
    return pv_malformed_send_one(guest, encode_counter_value_null, NULL);
}

/* Query results. */

struct query_args {
    uint32_t first, count;
    uint64_t data_size, capacity, stride;
};

static void encode_query_results(struct pv_test_cs *cs, const void *arg)
{
    const struct query_args *q = arg;
    cs_get_query_results(cs, q->first, q->count, q->data_size, q->capacity, q->stride);
}

static int send_query_results(struct pv_test_guest *guest, const struct query_args *args)
{
    if (pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_create_query_pool))
        return -1;
    return pv_malformed_send_one(guest, encode_query_results, args);
}

static int case_query_data_null(struct pv_test_guest *guest, struct expectation *expect)
{
    static const struct query_args args = { 0, 1, 8, 0, 8 };
    expect->starts = "vkGetQueryPoolResults: ";
    expect->contains[0] = "pData";
    return send_query_results(guest, &args);
}

static int case_query_range(struct pv_test_guest *guest, struct expectation *expect)
{
    static const struct query_args args = { 1, QUERY_COUNT, 16, 16, 8 };
    expect->starts = "vkGetQueryPoolResults: ";
    expect->contains[0] = "outside the pool";
    return send_query_results(guest, &args);
}

static int case_query_data_short(struct pv_test_guest *guest, struct expectation *expect)
{
    /* two 8-byte results 8 bytes apart need 16 */
    static const struct query_args args = { 0, QUERY_COUNT, 8, 8, 8 };
    expect->starts = "vkGetQueryPoolResults: ";
    expect->contains[0] = "do not fit";
    return send_query_results(guest, &args);
}

/* Shader code. */

static void encode_shader_code_size(struct pv_test_cs *cs, const void *arg)
{
    const uint64_t code_size = *(const uint64_t *)arg;
    pv_test_cs_command(cs, CMD_vkCreateShaderModule, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, STYPE_SHADER_MODULE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u64(cs, code_size);
    const uint64_t words = code_size / 4;
    pv_test_cs_array_size(cs, words); /* pCode: what the count says */
    for (uint64_t i = 0; i < words; i++)
        pv_test_cs_u32(cs, i ? 0 : 0x07230203u);
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pShaderModule */
    pv_test_cs_handle(cs, SHADER_ID);
}

static int send_shader_code_size(struct pv_test_guest *guest, struct expectation *expect, const uint64_t *size)
{
    if (pv_malformed_start_device(guest))
        return -1;
    expect->starts = "vkCreateShaderModule: ";
    expect->contains[0] = "codeSize";
    return pv_malformed_send_one(guest, encode_shader_code_size, size);
}

static int case_code_size_odd(struct pv_test_guest *guest, struct expectation *expect)
{
    static const uint64_t size = 6;   /* one word on the wire, six bytes read */
    return send_shader_code_size(guest, expect, &size);
}

static int case_code_size_short(struct pv_test_guest *guest, struct expectation *expect)
{
    static const uint64_t size = 3;   /* no word on the wire: pCode NULL */
    return send_shader_code_size(guest, expect, &size);
}

/* Descriptor writes: one uniform buffer descriptor, with or without pBufferInfo (a null buffer:
 * the null descriptor), into dstSet. */

struct write_args {
    uint64_t dst_set;
    bool buffer_info;
};

static void encode_update_uniform_buffer(struct pv_test_cs *cs, const void *arg)
{
    const struct write_args *w = arg;
    pv_test_cs_command(cs, CMD_vkUpdateDescriptorSets, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_u32(cs, 1);        /* descriptorWriteCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_u32(cs, STYPE_WRITE_DESCRIPTOR_SET);
    pv_test_cs_marker(cs, false);
    pv_test_cs_handle(cs, w->dst_set);
    pv_test_cs_u32(cs, 0);        /* dstBinding */
    pv_test_cs_u32(cs, 0);        /* dstArrayElement */
    pv_test_cs_u32(cs, 1);        /* descriptorCount */
    pv_test_cs_u32(cs, DESCRIPTOR_TYPE_UNIFORM_BUFFER);
    pv_test_cs_array_size(cs, 0); /* pImageInfo */
    pv_test_cs_array_size(cs, w->buffer_info ? 1 : 0);
    if (w->buffer_info) {
        pv_test_cs_handle(cs, 0); /* buffer */
        pv_test_cs_u64(cs, 0);    /* offset */
        pv_test_cs_u64(cs, WHOLE_SIZE);
    }
    pv_test_cs_array_size(cs, 0); /* pTexelBufferView */
    pv_test_cs_u32(cs, 0);        /* descriptorCopyCount */
    pv_test_cs_array_size(cs, 0);
}

static int case_write_without_info(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest))
        return -1;
    static const struct write_args args = { 0, false };
    expect->starts = "vkUpdateDescriptorSets: ";
    expect->contains[0] = "pBufferInfo";
    return pv_malformed_send_one(guest, encode_update_uniform_buffer, &args);
}

static int case_write_null_set(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest))
        return -1;
    static const struct write_args args = { 0, true };
    expect->starts = "vkUpdateDescriptorSets: ";
    expect->contains[0] = "dstSet";
    return pv_malformed_send_one(guest, encode_update_uniform_buffer, &args);
}

/* Device creation and queues. */

struct device_args {
    uint32_t family, count;
    const char *extension;   /* NULL: none */
};

static void encode_create_device(struct pv_test_cs *cs, const void *arg)
{
    const struct device_args *dev = arg;
    const float priorities[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateDevice, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, PHYSICAL_DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 1);        /* queueCreateInfoCount */
    pv_test_cs_array_size(cs, 1);
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_QUEUE_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, dev->family);
    pv_test_cs_u32(cs, dev->count);
    /* the priorities the count asks for, as far as the stream can hold them */
    pv_test_cs_array_size(cs, dev->count);
    for (uint32_t i = 0; i < dev->count; i++)
        pv_test_cs_bytes(cs, &priorities[i % 4], sizeof(float));
    pv_test_cs_u32(cs, 0);        /* enabledLayerCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, dev->extension ? 1 : 0);
    pv_test_cs_array_size(cs, dev->extension ? 1 : 0);
    if (dev->extension)
        pv_test_cs_string(cs, dev->extension);
    pv_test_cs_marker(cs, false); /* pEnabledFeatures */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pDevice */
    pv_test_cs_handle(cs, NEW_DEVICE_ID);
}

static int send_create_device(struct pv_test_guest *guest, const struct device_args *args)
{
    if (pv_malformed_start_device(guest))
        return -1;
    return pv_malformed_send_one(guest, encode_create_device, args);
}

static int case_device_queue_count(struct pv_test_guest *guest, struct expectation *expect)
{
    static const struct device_args args = { 0, 64, NULL };
    expect->starts = "vkCreateDevice: ";
    expect->contains[0] = "64 queues";
    return send_create_device(guest, &args);
}

static int case_device_queue_family(struct pv_test_guest *guest, struct expectation *expect)
{
    static const struct device_args args = { 77, 1, NULL };
    expect->starts = "vkCreateDevice: ";
    expect->contains[0] = "family 77";
    return send_create_device(guest, &args);
}

/* A queue with flags the device was not created with. */
static void encode_get_protected_queue(struct pv_test_cs *cs, const void *arg)
{
    (void)arg;
    pv_test_cs_command(cs, PV_TEST_CMD_vkGetDeviceQueue2, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_QUEUE_INFO_2);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, QUEUE_CREATE_PROTECTED);
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndex */
    pv_test_cs_u32(cs, 0);        /* queueIndex */
    pv_test_cs_marker(cs, true);  /* pQueue */
    pv_test_cs_handle(cs, QUEUE_ID);
}

static int case_queue_not_created(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest))
        return -1;
    expect->starts = "vkGetDeviceQueue2: ";
    expect->contains[0] = "not created with";
    return pv_malformed_send_one(guest, encode_get_protected_queue, NULL);
}

/* A buffer of DEVICE_ID named in a command of OTHER_DEVICE_ID. */
static void encode_two_devices_buffer(struct pv_test_cs *cs)
{
    pv_test_cs_create_device(cs, 0, PHYSICAL_DEVICE_ID, false, OTHER_DEVICE_ID);
    pv_test_cs_command(cs, CMD_vkCreateBuffer, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_BUFFER_CREATE_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u64(cs, 256);
    pv_test_cs_u32(cs, 1);        /* TRANSFER_SRC */
    pv_test_cs_u32(cs, 0);
    pv_test_cs_u32(cs, 0);
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_marker(cs, false);
    pv_test_cs_marker(cs, true);
    pv_test_cs_handle(cs, BUFFER_ID);
}

static void encode_requirements_other_device(struct pv_test_cs *cs, const void *arg)
{
    (void)arg;
    pv_test_cs_command(cs, CMD_vkGetBufferMemoryRequirements, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(cs, OTHER_DEVICE_ID);
    pv_test_cs_handle(cs, BUFFER_ID);
    pv_test_cs_marker(cs, true);  /* pMemoryRequirements */
}

static int case_other_device(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_malformed_start_device(guest) ||
        pv_malformed_submit_setup(guest, encode_two_devices_buffer))
        return -1;
    expect->starts = "vkGetBufferMemoryRequirements: ";
    expect->contains[0] = "another VkDevice";
    expect->id = BUFFER_ID;
    return pv_malformed_send_one(guest, encode_requirements_other_device, NULL);
}

const struct test_case pv_malformed_device_cases[] = {
    { "pvm-device-queue-count", "(4) vkCreateDevice with 64 queues of a family that has fewer",
      case_device_queue_count, GEN_BOTH, NULL },
    { "pvm-device-queue-family", "(4) vkCreateDevice with a queue of family 77",
      case_device_queue_family, GEN_BOTH, NULL },
    { "pvm-queue-not-created", "(4) vkGetDeviceQueue2 of a protected queue the device was not created with",
      case_queue_not_created, GEN_BOTH, NULL },
    { "pvm-other-device", "(4) a buffer of one device named in a command of another",
      case_other_device, GEN_BOTH, NULL },
    { "pvm-private-wild", "(g) vkSetPrivateData on an objectHandle that names no object",
      case_private_data_wild, GEN_BOTH, NULL },
    { "pvm-private-mistyped", "(g) vkGetPrivateData on the device's id named as a buffer",
      case_private_data_mistyped, GEN_BOTH, NULL },
    { "pvm-counter-null", "(h) vkGetSemaphoreCounterValue without pValue", case_counter_value_null,
      GEN_BOTH, NULL },
    { "pvm-query-data-null", "(h) vkGetQueryPoolResults without pData for 8 bytes", case_query_data_null,
      GEN_BOTH, NULL },
    { "pvm-query-range", "(h) vkGetQueryPoolResults of queries 1-2 of a 2-query pool", case_query_range,
      GEN_BOTH, NULL },
    { "pvm-query-data-short", "(h) vkGetQueryPoolResults of 2 results 8 bytes apart into 8 bytes",
      case_query_data_short, GEN_BOTH, NULL },
    { "pvm-code-size-odd", "(h) vkCreateShaderModule with codeSize 6", case_code_size_odd, GEN_BOTH, NULL },
    { "pvm-code-size-short", "(h) vkCreateShaderModule with codeSize 3 (no code on the wire)",
      case_code_size_short, GEN_BOTH, NULL },
    { "pvm-write-no-info", "(h) a uniform buffer descriptor write without pBufferInfo",
      case_write_without_info, GEN_BOTH, NULL },
    { "pvm-write-null-set", "(h) vkUpdateDescriptorSets into a null dstSet", case_write_null_set, GEN_BOTH,
      NULL },
};
const size_t pv_malformed_device_case_count =
    sizeof(pv_malformed_device_cases) / sizeof(pv_malformed_device_cases[0]);

/* The valid side: private data set on the device object comes back through vkGetPrivateData,
 * and query results that fit the pool and pData are answered (not ready: nothing ran). */
int pv_malformed_device_positive(struct pv_test_guest *guest)
{
    if (pv_malformed_start_device(guest) || pv_malformed_submit_setup(guest, encode_create_slot) ||
        pv_malformed_submit_setup(guest, encode_create_query_pool))
        return -1;
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    cs_set_private_data(&cs, OBJECT_TYPE_DEVICE, DEVICE_ID, 0x1234abcd5678ull);
    int ret = pv_test_guest_call(guest, &cs, 0, &reply);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 8);
        const uint32_t type = pv_test_read_u32(&r), result = pv_test_read_u32(&r);
        if (type != CMD_vkSetPrivateData || result != 0)
            ret = pv_test_fail("vkSetPrivateData reply: type %u result %d", type, (int32_t)result);
    }
    pv_test_cs_reset(&cs);
    cs_get_private_data(&cs, OBJECT_TYPE_DEVICE, DEVICE_ID);
    if (ret == 0)
        ret = pv_test_guest_call(guest, &cs, 0, &reply);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 20);
        const uint32_t type = pv_test_read_u32(&r);
        const uint64_t marker = pv_test_read_u64(&r), data = pv_test_read_u64(&r);
        if (type != CMD_vkGetPrivateData || marker != 1 || data != 0x1234abcd5678ull)
            ret = pv_test_fail("vkGetPrivateData reply: type %u marker %" PRIu64 " data %#" PRIx64
                               "; expected %u, 1, 0x1234abcd5678", type, marker, data,
                               CMD_vkGetPrivateData);
        else
            ret = pv_test_check_reply_end(reply, 20, "vkGetPrivateData");
    }
    pv_test_cs_reset(&cs);
    cs_get_query_results(&cs, 0, QUERY_COUNT, 16, 16, 8);
    if (ret == 0)
        ret = pv_test_guest_call(guest, &cs, 0, &reply);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 32);
        const uint32_t type = pv_test_read_u32(&r), result = pv_test_read_u32(&r);
        const uint64_t size = pv_test_read_u64(&r);
        if (type != CMD_vkGetQueryPoolResults || result != RESULT_NOT_READY || size != 16)
            ret = pv_test_fail("vkGetQueryPoolResults reply: type %u result %d size %" PRIu64
                               "; expected %u, VK_NOT_READY, 16", type, (int32_t)result, size,
                               CMD_vkGetQueryPoolResults);
        else
            ret = pv_test_check_reply_end(reply, 32, "vkGetQueryPoolResults");
    }
    /* An extension the host driver has but this host does not serve (no window system here)
     * is refused as a native driver refuses one it lacks. */
    static const struct device_args swapchain = { 0, 1, "VK_KHR_swapchain" };
    pv_test_cs_reset(&cs);
    encode_create_device(&cs, &swapchain);
    if (ret == 0)
        ret = pv_test_guest_call(guest, &cs, 0, &reply);
    if (ret == 0) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 8);
        const uint32_t type = pv_test_read_u32(&r);
        const int32_t result = (int32_t)pv_test_read_u32(&r);
        if (type != PV_TEST_CMD_vkCreateDevice || result != RESULT_ERROR_EXTENSION_NOT_PRESENT)
            ret = pv_test_fail("vkCreateDevice with VK_KHR_swapchain: type %u result %d; expected "
                               "VK_ERROR_EXTENSION_NOT_PRESENT", type, result);
    }
    pv_test_cs_fini(&cs);
    return ret;
}
