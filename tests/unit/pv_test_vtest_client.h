/* A raw vtest guest for tests: speaks the vtest socket protocol the way Mesa 22.3.6's Venus driver
 * does (docs: venus-protocol notes, section 1), plus a small Venus command encoder (section 3) and
 * a reader for replies in a mapped reply blob (section 4). It is test code: every function checks
 * what the host sends, prints what was wrong to stderr and returns -1 rather than aborting, so a
 * test can report the failure and go on to the next case. */
#ifndef PV_TEST_VTEST_CLIENT_H
#define PV_TEST_VTEST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* vtest command ids (vtest_protocol.h numbering). */
enum pv_test_vtest_command {
    PV_TEST_VCMD_RESOURCE_UNREF = 3,
    PV_TEST_VCMD_RESOURCE_BUSY_WAIT = 7,
    PV_TEST_VCMD_CREATE_RENDERER = 8,
    PV_TEST_VCMD_PING_PROTOCOL_VERSION = 10,
    PV_TEST_VCMD_PROTOCOL_VERSION = 11,
    PV_TEST_VCMD_GET_PARAM = 15,
    PV_TEST_VCMD_GET_CAPSET = 16,
    PV_TEST_VCMD_CONTEXT_INIT = 17,
    PV_TEST_VCMD_RESOURCE_CREATE_BLOB = 18,
    PV_TEST_VCMD_SUBMIT_CMD2 = 24,
};

#define PV_TEST_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT 1
#define PV_TEST_CAPSET_VENUS 4
#define PV_TEST_BLOB_TYPE_GUEST 1
#define PV_TEST_BLOB_TYPE_HOST3D 2
#define PV_TEST_BLOB_FLAG_MAPPABLE 1

/* Venus command types and constants used by the tests (vn_protocol_driver_defines.h numbering). */
enum pv_test_venus_command {
    PV_TEST_CMD_vkCreateInstance = 0,
    PV_TEST_CMD_vkDestroyInstance = 1,
    PV_TEST_CMD_vkEnumeratePhysicalDevices = 2,
    PV_TEST_CMD_vkGetPhysicalDeviceProperties = 6,
    PV_TEST_CMD_vkSetReplyCommandStreamMESA = 178,
    PV_TEST_CMD_vkSeekReplyCommandStreamMESA = 179,
};
#define PV_TEST_COMMAND_GENERATE_REPLY 1u
#define PV_TEST_STYPE_APPLICATION_INFO 0u
#define PV_TEST_STYPE_INSTANCE_CREATE_INFO 1u
#define PV_TEST_API_VERSION_1_1 0x00401000u

/* Socket I/O gives up after this long, so a host that stops answering fails a test instead of
 * hanging it. */
#define PV_TEST_VTEST_IO_TIMEOUT_MS 10000

struct pv_test_vtest {
    int fd;
    /* Filled by the handshake. */
    uint32_t protocol_version;
    uint32_t max_sync_queue_count;
    uint32_t capset[64];
    uint32_t capset_size; /* bytes of capset[] the host sent (the rest is zero) */
};

struct pv_test_blob {
    uint32_t res_id;
    int fd;
    void *map;
    uint64_t size;
};

/* Connects to the vtest socket at path, retrying until timeout_ms passes (a server just started
 * may not listen yet). Returns 0 or -1. */
int pv_test_vtest_connect(struct pv_test_vtest *vtest, const char *path, int timeout_ms);

/* Closes the connection (a clean guest exit as the host sees it). */
void pv_test_vtest_disconnect(struct pv_test_vtest *vtest);

/* The start-up the 22.3.6 driver does: CREATE_RENDERER(name), PING_PROTOCOL_VERSION followed by the
 * RESOURCE_BUSY_WAIT sentinel, PROTOCOL_VERSION 3, GET_PARAM MAX_SYNC_QUEUE_COUNT, GET_CAPSET 4 v0,
 * CONTEXT_INIT 4. Checks every reply as the driver does (and a little more). */
int pv_test_vtest_handshake(struct pv_test_vtest *vtest, const char *name);

/* Single requests, for tests that take the handshake apart. */
int pv_test_vtest_create_renderer(struct pv_test_vtest *vtest, const char *name);
int pv_test_vtest_ping(struct pv_test_vtest *vtest);
int pv_test_vtest_protocol_version(struct pv_test_vtest *vtest, uint32_t offered, uint32_t *out_version);
int pv_test_vtest_get_param(struct pv_test_vtest *vtest, uint32_t param, uint32_t *out_valid,
                            uint32_t *out_value);
/* *out_valid is the host's validity word; the capset goes to vtest->capset. */
int pv_test_vtest_get_capset(struct pv_test_vtest *vtest, uint32_t id, uint32_t version,
                             uint32_t *out_valid);
int pv_test_vtest_context_init(struct pv_test_vtest *vtest, uint32_t capset_id);

/* RESOURCE_CREATE_BLOB, receives the fd and maps it MAP_SHARED read/write for size bytes. */
int pv_test_vtest_create_blob(struct pv_test_vtest *vtest, uint32_t type, uint32_t flags,
                              uint64_t size, uint64_t blob_id, struct pv_test_blob *out);
/* RESOURCE_UNREF (no reply) and local unmapping. */
int pv_test_vtest_unref_blob(struct pv_test_vtest *vtest, struct pv_test_blob *blob);
void pv_test_blob_unmap(struct pv_test_blob *blob);

/* SUBMIT_CMD2 with one batch of raw Venus bytes: flags 1 (SYNC_QUEUE), queue index 0, queue id 0,
 * no syncs, like the driver's "simple" submissions. size must be a multiple of 4. No reply. */
int pv_test_vtest_submit(struct pv_test_vtest *vtest, const void *commands, size_t size);

/* A ping round trip. The host serves a connection in order, so when it returns every earlier
 * submission has been executed and its replies written. */
int pv_test_vtest_roundtrip(struct pv_test_vtest *vtest);

/* Waits up to timeout_ms for the host to close the connection. Returns 0 once it is closed, -1 if
 * it stays open or the host sends anything. */
int pv_test_vtest_wait_closed(struct pv_test_vtest *vtest, int timeout_ms);

/* Writes raw bytes to the socket (for framing tests). */
int pv_test_vtest_write(struct pv_test_vtest *vtest, const void *data, size_t size);

/* Venus command stream encoder. Everything is padded to 4 bytes, as on the wire. */
struct pv_test_cs {
    uint8_t *data;
    size_t size;
    size_t capacity;
    bool out_of_memory;
};

void pv_test_cs_init(struct pv_test_cs *cs);
void pv_test_cs_fini(struct pv_test_cs *cs);
void pv_test_cs_reset(struct pv_test_cs *cs);
void pv_test_cs_u32(struct pv_test_cs *cs, uint32_t value);
void pv_test_cs_u64(struct pv_test_cs *cs, uint64_t value);
/* Pointer marker: 8 bytes, 1 = present, 0 = NULL. */
void pv_test_cs_marker(struct pv_test_cs *cs, bool present);
/* Handles are 8-byte object ids. */
void pv_test_cs_handle(struct pv_test_cs *cs, uint64_t id);
/* Array or string size: 8 bytes. */
void pv_test_cs_array_size(struct pv_test_cs *cs, uint64_t count);
/* Raw bytes, zero-padded to 4. */
void pv_test_cs_bytes(struct pv_test_cs *cs, const void *data, size_t size);
/* String: size including the NUL (8 bytes), bytes padded to 4; NULL = size 0. */
void pv_test_cs_string(struct pv_test_cs *cs, const char *string);
/* Command header: int32 type, uint32 flags. */
void pv_test_cs_command(struct pv_test_cs *cs, uint32_t type, uint32_t flags);

/* Whole commands as the 22.3.6 encoders lay them out. */
void pv_test_cs_create_instance(struct pv_test_cs *cs, uint32_t flags, const char *app_name,
                                uint32_t api_version, uint64_t instance_id);
void pv_test_cs_destroy_instance(struct pv_test_cs *cs, uint32_t flags, uint64_t instance_id);
/* ids NULL: a count query (array pointer NULL); else count ids in pPhysicalDevices. */
void pv_test_cs_enumerate_physical_devices(struct pv_test_cs *cs, uint32_t flags, uint64_t instance_id,
                                           uint32_t count, const uint64_t *ids);
void pv_test_cs_get_physical_device_properties(struct pv_test_cs *cs, uint32_t flags,
                                               uint64_t physical_device_id);
void pv_test_cs_set_reply_stream(struct pv_test_cs *cs, uint32_t res_id, uint64_t offset, uint64_t size);
void pv_test_cs_seek_reply_stream(struct pv_test_cs *cs, uint64_t position);

/* Reads a reply from guest-visible memory. Reading past the end sets overflow and yields zeros. */
struct pv_test_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
    bool overflow;
};

void pv_test_reader_init(struct pv_test_reader *reader, const void *data, size_t size);
uint32_t pv_test_read_u32(struct pv_test_reader *reader);
uint64_t pv_test_read_u64(struct pv_test_reader *reader);

/* A guest with a connection and a reply stream, the usual starting point of a test. */
struct pv_test_guest {
    struct pv_test_vtest vtest;
    struct pv_test_blob reply_blob;
    uint64_t reply_offset;
    uint64_t reply_size;
};

/* Connects, does the handshake, creates a reply blob of blob_size bytes (HOST3D, MAPPABLE,
 * blob_id 0) and selects [reply_offset, reply_offset + reply_size) of it as the reply stream. */
int pv_test_guest_start(struct pv_test_guest *guest, const char *socket_path, const char *name,
                        uint64_t blob_size, uint64_t reply_offset, uint64_t reply_size);
void pv_test_guest_stop(struct pv_test_guest *guest);

/* Sends one command that carries the reply flag: fills the reply stream with a canary pattern,
 * submits vkSeekReplyCommandStreamMESA(position) and the command in one batch, does a round trip
 * and points *reply at offset + position in the mapped blob. Returns 0 or -1. */
int pv_test_guest_call(struct pv_test_guest *guest, const struct pv_test_cs *command,
                       uint64_t position, const uint8_t **reply);

/* The canary byte pv_test_guest_call fills the reply stream with. */
#define PV_TEST_REPLY_CANARY 0xa5

#endif
