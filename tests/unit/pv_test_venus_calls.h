/* Checked Venus exchanges for tests, on top of the raw vtest client: each function sends one
 * command with the reply flag, reads the reply from the guest's reply stream and checks every
 * field and the reply's exact size (the byte after it must still be the canary), printing what
 * differed. All return 0 on success and -1 after printing a "FAIL:" line. */
#ifndef PV_TEST_VENUS_CALLS_H
#define PV_TEST_VENUS_CALLS_H

#include "pv_test_vtest_client.h"

int pv_test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pv_test_dump_bytes(const uint8_t *p, size_t size);

/* Submits cs as one batch (no reply handling). */
int pv_test_guest_submit(struct pv_test_guest *guest, const struct pv_test_cs *cs);

/* Fails unless reply[size] still holds the canary: the host wrote no more than size bytes. */
int pv_test_check_reply_end(const uint8_t *reply, size_t size, const char *command);

/* vkCreateInstance for Vulkan 1.1: expects VK_SUCCESS, marker 1 and the id echoed (24 bytes). */
int pv_test_create_instance(struct pv_test_guest *guest, uint64_t id, uint64_t position);
/* The same for another apiVersion. */
int pv_test_create_instance_api(struct pv_test_guest *guest, uint64_t id, uint32_t api_version,
                                uint64_t position);

/* vkDestroyInstance: expects the bare command type (4 bytes). */
int pv_test_destroy_instance(struct pv_test_guest *guest, uint64_t id, uint64_t position);

/* vkEnumeratePhysicalDevices count query: expects VK_SUCCESS and 1..64 devices; returns the count
 * or -1. */
int64_t pv_test_count_physical_devices(struct pv_test_guest *guest, uint64_t instance, uint64_t position);

/* vkEnumeratePhysicalDevices with count ids: expects VK_SUCCESS, the count and the ids echoed. */
int pv_test_enumerate_physical_devices(struct pv_test_guest *guest, uint64_t instance, uint32_t count,
                                       const uint64_t *ids, uint64_t position);

/* Both of the above, as a driver does at start: the devices get ids first_id + 0x100 * i.
 * Returns the count, or -1. */
int64_t pv_test_enumerate_all_physical_devices(struct pv_test_guest *guest, uint64_t instance,
                                               uint64_t first_id);

#endif
