/* Checked Venus exchanges for tests: each sends one command the way the 22.3.6 driver encodes it,
 * reads its reply from the reply stream and checks every field and the reply's exact size,
 * printing what differed. See pv_test_venus_calls.h. */
#define _GNU_SOURCE
#include "pv_test_venus_calls.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pv_test_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

void pv_test_dump_bytes(const uint8_t *p, size_t size)
{
    for (size_t i = 0; i < size; i++)
        fprintf(stderr, "%s%02x", i % 16 == 0 ? (i ? "\n      " : "      ") : " ", p[i]);
    fputc('\n', stderr);
}

int pv_test_guest_submit(struct pv_test_guest *guest, const struct pv_test_cs *cs)
{
    if (cs->out_of_memory)
        return pv_test_fail("out of memory encoding a command");
    return pv_test_vtest_submit(&guest->vtest, cs->data, cs->size) ? pv_test_fail("submission failed") : 0;
}

/* Checks that exactly `size` reply bytes were written at `reply` (the byte after is still the
 * canary). */
int pv_test_check_reply_end(const uint8_t *reply, size_t size, const char *command)
{
    if (reply[size] != PV_TEST_REPLY_CANARY) {
        pv_test_fail("%s: the host wrote more than the %zu reply bytes the driver reserves:", command, size);
        pv_test_dump_bytes(reply, size + 16);
        return -1;
    }
    return 0;
}

/* vkCreateInstance with the reply flag; expects VK_SUCCESS and the id echoed. */
int pv_test_create_instance(struct pv_test_guest *guest, uint64_t id, uint64_t position)
{
    return pv_test_create_instance_api(guest, id, PV_TEST_API_VERSION_1_1, position);
}

int pv_test_create_instance_api(struct pv_test_guest *guest, uint64_t id, uint32_t api_version,
                                uint64_t position)
{
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "pvgpu-test", api_version, id);
    int ret = pv_test_guest_call(guest, &cs, position, &reply);
    pv_test_cs_fini(&cs);
    if (ret)
        return pv_test_fail("vkCreateInstance exchange failed");

    struct pv_test_reader r;
    pv_test_reader_init(&r, reply, 24);
    const uint32_t type = pv_test_read_u32(&r);
    const uint32_t result = pv_test_read_u32(&r);
    const uint64_t marker = pv_test_read_u64(&r);
    const uint64_t echoed = pv_test_read_u64(&r);
    if (type != PV_TEST_CMD_vkCreateInstance || result != 0 || marker != 1 || echoed != id) {
        pv_test_fail("vkCreateInstance reply: type %u result %d marker %" PRIu64 " id 0x%" PRIx64
              "; expected type 0, VK_SUCCESS, marker 1, id 0x%" PRIx64 " (24 bytes at offset %" PRIu64 " + %" PRIu64 "):",
              type, (int32_t)result, marker, echoed, id, guest->reply_offset, position);
        pv_test_dump_bytes(reply, 32);
        return -1;
    }
    return pv_test_check_reply_end(reply, 24, "vkCreateInstance");
}

int pv_test_destroy_instance(struct pv_test_guest *guest, uint64_t id, uint64_t position)
{
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    pv_test_cs_destroy_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, id);
    int ret = pv_test_guest_call(guest, &cs, position, &reply);
    pv_test_cs_fini(&cs);
    if (ret)
        return pv_test_fail("vkDestroyInstance exchange failed");
    struct pv_test_reader r;
    pv_test_reader_init(&r, reply, 4);
    const uint32_t type = pv_test_read_u32(&r);
    if (type != PV_TEST_CMD_vkDestroyInstance) {
        pv_test_fail("vkDestroyInstance reply: type %u, expected 1:", type);
        pv_test_dump_bytes(reply, 16);
        return -1;
    }
    return pv_test_check_reply_end(reply, 4, "vkDestroyInstance");
}

/* vkEnumeratePhysicalDevices count query; returns the count or -1. */
int64_t pv_test_count_physical_devices(struct pv_test_guest *guest, uint64_t instance, uint64_t position)
{
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    pv_test_cs_enumerate_physical_devices(&cs, PV_TEST_COMMAND_GENERATE_REPLY, instance, 0, NULL);
    int ret = pv_test_guest_call(guest, &cs, position, &reply);
    pv_test_cs_fini(&cs);
    if (ret)
        return pv_test_fail("vkEnumeratePhysicalDevices (count) exchange failed");

    /* type, VkResult, count pointer (marker + u32), array size 0 (NULL array) */
    struct pv_test_reader r;
    pv_test_reader_init(&r, reply, 28);
    const uint32_t type = pv_test_read_u32(&r);
    const uint32_t result = pv_test_read_u32(&r);
    const uint64_t marker = pv_test_read_u64(&r);
    const uint32_t count = pv_test_read_u32(&r);
    const uint64_t array_size = pv_test_read_u64(&r);
    if (type != PV_TEST_CMD_vkEnumeratePhysicalDevices || result != 0 || marker != 1 || array_size != 0 ||
        count < 1 || count > 64) {
        pv_test_fail("vkEnumeratePhysicalDevices count reply: type %u result %d marker %" PRIu64 " count %u array size %"
              PRIu64 "; expected type 2, VK_SUCCESS, marker 1, count >= 1, array size 0:",
              type, (int32_t)result, marker, count, array_size);
        pv_test_dump_bytes(reply, 32);
        return -1;
    }
    if (pv_test_check_reply_end(reply, 28, "vkEnumeratePhysicalDevices"))
        return -1;
    return count;
}

/* vkEnumeratePhysicalDevices with count ids; expects VK_SUCCESS and the ids echoed. */
int pv_test_enumerate_physical_devices(struct pv_test_guest *guest, uint64_t instance, uint32_t count,
                                      const uint64_t *ids, uint64_t position)
{
    struct pv_test_cs cs;
    const uint8_t *reply;
    pv_test_cs_init(&cs);
    pv_test_cs_enumerate_physical_devices(&cs, PV_TEST_COMMAND_GENERATE_REPLY, instance, count, ids);
    int ret = pv_test_guest_call(guest, &cs, position, &reply);
    pv_test_cs_fini(&cs);
    if (ret)
        return pv_test_fail("vkEnumeratePhysicalDevices (ids) exchange failed");

    const size_t size = 28 + 8 * (size_t)count;
    struct pv_test_reader r;
    pv_test_reader_init(&r, reply, size);
    const uint32_t type = pv_test_read_u32(&r);
    const uint32_t result = pv_test_read_u32(&r);
    const uint64_t marker = pv_test_read_u64(&r);
    const uint32_t got_count = pv_test_read_u32(&r);
    const uint64_t array_size = pv_test_read_u64(&r);
    bool ids_ok = true;
    for (uint32_t i = 0; i < count; i++)
        ids_ok &= pv_test_read_u64(&r) == ids[i];
    if (type != PV_TEST_CMD_vkEnumeratePhysicalDevices || result != 0 || marker != 1 || got_count != count ||
        array_size != count || !ids_ok) {
        pv_test_fail("vkEnumeratePhysicalDevices reply: type %u result %d marker %" PRIu64 " count %u array size %"
              PRIu64 " ids %s; expected type 2, VK_SUCCESS, marker 1, count and array size %u, the ids echoed:",
              type, (int32_t)result, marker, got_count, array_size, ids_ok ? "echoed" : "differ", count);
        pv_test_dump_bytes(reply, size + 8);
        return -1;
    }
    return pv_test_check_reply_end(reply, size, "vkEnumeratePhysicalDevices");
}

int64_t pv_test_enumerate_all_physical_devices(struct pv_test_guest *guest, uint64_t instance,
                                               uint64_t first_id)
{
    const int64_t count = pv_test_count_physical_devices(guest, instance, 0);
    uint64_t ids[64];
    for (int64_t i = 0; i < count; i++)
        ids[i] = first_id + 0x100 * (uint64_t)i;
    if (count < 1 || pv_test_enumerate_physical_devices(guest, instance, (uint32_t)count, ids, 0))
        return -1;
    return count;
}
