/* A raw vtest guest for tests: speaks the vtest socket protocol the way Mesa's Venus drivers do
 * (docs: venus-protocol notes, section 1 and "The current protocol"), in either generation, plus
 * a small Venus command encoder (section 3) and a reader for replies in a mapped reply blob
 * (section 4). It is test code: every function checks what the host sends, prints what was wrong
 * to stderr and returns -1 rather than aborting, so a test can report the failure and go on to
 * the next case. */
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
    PV_TEST_VCMD_SYNC_CREATE = 19,
    PV_TEST_VCMD_SYNC_UNREF = 20,
    PV_TEST_VCMD_SYNC_READ = 21,
    PV_TEST_VCMD_SYNC_WRITE = 22,
    PV_TEST_VCMD_SYNC_WAIT = 23,
    PV_TEST_VCMD_SUBMIT_CMD2 = 24,
};
#define PV_TEST_SYNC_WAIT_FLAG_ANY 1u
/* SUBMIT_CMD2 flag bit 0: the 2022 generation's "sync queue", current guests' "ring index". */
#define PV_TEST_SUBMIT_FLAG_QUEUE 1u
/* Timelines (sync queues, ring indices) a host offers, as GET_PARAM 1 reports them. */
#define PV_TEST_MAX_TIMELINES 64u

/* The two generations of the Venus protocol. A host serves one of them per server (pvgpu serve
 * --protocol): current guests (wire format 1; Mesa 25.0.7 and 26.2.6) by default, or the 2022
 * generation (wire format 0; Mesa 22.3.6). They differ in the capset and in how SUBMIT_CMD2
 * batches name their timelines. */
enum pv_test_generation {
    PV_TEST_GENERATION_CURRENT,
    PV_TEST_GENERATION_2022,
};
/* "current" or "2022", as pvgpu serve --protocol spells them. */
const char *pv_test_generation_name(enum pv_test_generation generation);
/* The generation that connections made from now on speak (initially the current one). */
void pv_test_vtest_set_generation(enum pv_test_generation generation);
enum pv_test_generation pv_test_vtest_generation(void);
/* Connections made from now on take the generation of the capset the host offers in the
 * handshake, for a guest that only needs to get past it, whichever server it meets. Until
 * pv_test_vtest_set_generation. */
void pv_test_vtest_follow_host_generation(void);

/* The Venus capset, as words. The 2022 generation's ends after supports_multiple_timelines. */
enum pv_test_capset_word {
    PV_TEST_CAPSET_WIRE_FORMAT = 0,
    PV_TEST_CAPSET_VK_XML_VERSION = 1,
    PV_TEST_CAPSET_COMMAND_SERIALIZATION_SPEC = 2,
    PV_TEST_CAPSET_VENUS_SPEC = 3,
    PV_TEST_CAPSET_BLOB_ID_0 = 4,
    PV_TEST_CAPSET_EXTENSION_MASK = 5,   /* 32 words */
    PV_TEST_CAPSET_ALLOW_WAIT_SYNCS = 37,
    PV_TEST_CAPSET_MULTIPLE_TIMELINES = 38,
    PV_TEST_CAPSET_USE_GUEST_VRAM = 39,
};
#define PV_TEST_CAPSET_BYTES_2022 156u
#define PV_TEST_CAPSET_BYTES_CURRENT 160u
/* Compares a Venus capset of size bytes with what this host serves to a generation: its size,
 * wire format, vk.xml version 1.3 at the patch level of the registry the codec is generated
 * from (trixie's 1.4.309), the serialization and venus spec versions (2022: 0 and 100000, the
 * experimental protocol; current: 1 and 2, ring priority), supports_blob_id_0 1, a non-empty
 * extension mask, allow_vk_wait_syncs 1, supports_multiple_timelines (current only) and, for
 * current guests, use_guest_vram 0. Returns NULL if all match, else the first difference
 * (static storage). */
const char *pv_test_capset_mismatch(const uint32_t *caps, uint32_t size,
                                    enum pv_test_generation generation);

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
    PV_TEST_CMD_vkCreateDevice = 11,
    PV_TEST_CMD_vkGetDeviceQueue2 = 155,
    PV_TEST_CMD_vkSetReplyCommandStreamMESA = 178,
    PV_TEST_CMD_vkSeekReplyCommandStreamMESA = 179,
    PV_TEST_CMD_vkCreateRingMESA = 188,
    PV_TEST_CMD_vkDestroyRingMESA = 189,
    PV_TEST_CMD_vkNotifyRingMESA = 190,
    PV_TEST_CMD_vkGetVenusExperimentalFeatureData100000MESA = 195,
    PV_TEST_CMD_vkSubmitVirtqueueSeqnoMESA = 251,
    PV_TEST_CMD_vkWaitVirtqueueSeqnoMESA = 252,
    PV_TEST_CMD_vkWaitRingSeqnoMESA = 253,
};
#define PV_TEST_COMMAND_GENERATE_REPLY 1u
#define PV_TEST_STYPE_APPLICATION_INFO 0u
#define PV_TEST_STYPE_INSTANCE_CREATE_INFO 1u
#define PV_TEST_STYPE_DEVICE_QUEUE_CREATE_INFO 2u
#define PV_TEST_STYPE_DEVICE_CREATE_INFO 3u
#define PV_TEST_STYPE_DEVICE_QUEUE_INFO_2 1000145003u
#define PV_TEST_STYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES 1000207000u
#define PV_TEST_STYPE_RING_CREATE_INFO_MESA 1000384000u
#define PV_TEST_STYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA 1000384005u
#define PV_TEST_STYPE_RING_MONITOR_INFO_MESA 1000384006u
#define PV_TEST_STYPE_RING_PRIORITY_INFO_MESA 1000384007u
#define PV_TEST_API_VERSION_1_1 0x00401000u

/* Socket I/O gives up after this long, so a host that stops answering fails a test instead of
 * hanging it. */
#define PV_TEST_VTEST_IO_TIMEOUT_MS 10000

struct pv_test_vtest {
    int fd;
    enum pv_test_generation generation;
    bool follows_host_generation;   /* the handshake sets generation from the capset */
    /* Words per SUBMIT_CMD2 batch header: 8 in the 2022 generation; current guests send 6 (Mesa
     * 25) or 8 (Mesa 26). Connections start with 8 and 6, respectively. */
    uint32_t batch_header_words;
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
 * may not listen yet), speaking the generation set with pv_test_vtest_set_generation. Returns 0
 * or -1. */
int pv_test_vtest_connect(struct pv_test_vtest *vtest, const char *path, int timeout_ms);

/* Closes the connection (a clean guest exit as the host sees it). */
void pv_test_vtest_disconnect(struct pv_test_vtest *vtest);

/* The start-up the drivers do: CREATE_RENDERER(name), PING_PROTOCOL_VERSION followed by the
 * RESOURCE_BUSY_WAIT sentinel, PROTOCOL_VERSION 3, GET_PARAM MAX_SYNC_QUEUE_COUNT, GET_CAPSET 4 v0,
 * CONTEXT_INIT 4. Checks every reply as the driver of the connection's generation does (and a
 * little more): the capset's wire format and that it holds every field that driver reads. */
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

/* SUBMIT_CMD2 with one batch of raw Venus bytes and no syncs, like the drivers' "simple"
 * submissions: flags 1 with queue index 0 and queue id 0 (2022), ring index 0 (current). size
 * must be a multiple of 4. No reply. */
int pv_test_vtest_submit(struct pv_test_vtest *vtest, const void *commands, size_t size);

/* One batch of a SUBMIT_CMD2. */
struct pv_test_batch {
    uint32_t flags;            /* PV_TEST_SUBMIT_FLAG_QUEUE or 0 */
    uint32_t queue_index;      /* word 5: the sync queue index (2022) or ring index (current) */
    uint64_t queue_id;         /* words 6 and 7 of an 8-word header: the 2022 VkQueue id */
    const void *commands;      /* Venus bytes, a multiple of 4 (may be none) */
    size_t size;
    const uint32_t *syncs;     /* sync_count triples: id, value lo, value hi */
    uint32_t sync_count;
};
/* SUBMIT_CMD2 of count batches, with vtest->batch_header_words words per header. No reply. */
int pv_test_vtest_submit_batches(struct pv_test_vtest *vtest, const struct pv_test_batch *batches,
                                 uint32_t count);

/* vtest syncs (64-bit counters of the connection). Each checks its reply. */
int pv_test_vtest_sync_create(struct pv_test_vtest *vtest, uint64_t value, uint32_t *out_id);
int pv_test_vtest_sync_read(struct pv_test_vtest *vtest, uint32_t id, uint64_t *out_value);
int pv_test_vtest_sync_write(struct pv_test_vtest *vtest, uint32_t id, uint64_t value);
int pv_test_vtest_sync_unref(struct pv_test_vtest *vtest, uint32_t id);
/* SYNC_WAIT on count triples (id, value lo, value hi); *out_fd turns readable once satisfied. */
int pv_test_vtest_sync_wait(struct pv_test_vtest *vtest, uint32_t flags, uint32_t timeout_ms,
                            const uint32_t *triples, uint32_t count, int *out_fd);

/* A ping round trip. The host serves a connection in order, so when it returns every earlier
 * submission has been executed and its replies written. */
int pv_test_vtest_roundtrip(struct pv_test_vtest *vtest);
/* The two halves of a round trip, for a test that checks what the host does in between. */
int pv_test_vtest_ping_send(struct pv_test_vtest *vtest);
int pv_test_vtest_ping_answer(struct pv_test_vtest *vtest);

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
/* vkGetVenusExperimentalFeatureData100000MESA with a data size of size bytes (2022 generation). */
void pv_test_cs_experimental_features(struct pv_test_cs *cs, uint32_t flags, uint64_t size);
/* The current generation's seqno commands, ordering rings against the transport. */
void pv_test_cs_submit_virtqueue_seqno(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno);
void pv_test_cs_wait_virtqueue_seqno(struct pv_test_cs *cs, uint64_t seqno);
void pv_test_cs_wait_ring_seqno(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno);
/* vkCreateDevice with one queue of family 0 and no extensions; timeline_semaphores chains
 * VkPhysicalDeviceTimelineSemaphoreFeatures to enable them. */
void pv_test_cs_create_device(struct pv_test_cs *cs, uint32_t flags, uint64_t physical_device,
                              bool timeline_semaphores, uint64_t device);
/* vkGetDeviceQueue2 for queue 0 of family 0; ring_idx non-zero chains VkDeviceQueueTimelineInfoMESA. */
void pv_test_cs_get_device_queue2(struct pv_test_cs *cs, uint64_t device, uint32_t ring_idx,
                                  uint64_t queue);

/* A ring as the drivers lay it out in one blob (notes, section 6.1), with a 4 KiB buffer. */
#define PV_TEST_RING_HEAD 0u
#define PV_TEST_RING_TAIL 64u
#define PV_TEST_RING_STATUS 128u
#define PV_TEST_RING_BUFFER 192u
#define PV_TEST_RING_BUFFER_SIZE 4096u
#define PV_TEST_RING_EXTRA (PV_TEST_RING_BUFFER + PV_TEST_RING_BUFFER_SIZE)
#define PV_TEST_RING_BLOB_SIZE (PV_TEST_RING_EXTRA + 4u)
#define PV_TEST_RING_STATUS_IDLE 1u
#define PV_TEST_RING_STATUS_FATAL 2u
#define PV_TEST_RING_STATUS_ALIVE 4u
/* How the guest creates a ring. What it chains to vkCreateRingMESA: 0 / false leave a struct
 * out. */
struct pv_test_ring_options {
    uint32_t monitor_period_us;   /* VkRingMonitorInfoMESA.maxReportingPeriodMicroseconds */
    bool priority;                /* VkRingPriorityInfoMESA */
    int32_t priority_value;
    /* After this long without work the host's worker waits for vkNotifyRingMESA (0: 1 ms). */
    uint64_t idle_timeout_ns;
};
/* vkCreateRingMESA over the layout above. */
void pv_test_cs_create_ring(struct pv_test_cs *cs, uint64_t ring, uint32_t res_id,
                            const struct pv_test_ring_options *options);
void pv_test_cs_notify_ring(struct pv_test_cs *cs, uint64_t ring, uint32_t seqno);
void pv_test_cs_destroy_ring(struct pv_test_cs *cs, uint64_t ring);

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

/* A ring of a guest: its blob, mapped, and the tail the guest has published. */
struct pv_test_ring {
    uint64_t id;
    struct pv_test_blob blob;
    uint32_t tail;
};
/* Creates a blob and a ring over it through the socket, then does a round trip, so that the
 * host has taken the ring when it returns. Returns 0 or -1. */
int pv_test_ring_start(struct pv_test_guest *guest, uint64_t id,
                       const struct pv_test_ring_options *options, struct pv_test_ring *ring);
/* Submits size bytes (a multiple of 4, at most the buffer) the way the drivers do: copies them
 * at the tail, publishes the tail, and notifies the ring through the socket if the host's
 * worker has gone idle. The new tail is the submission's seqno. Returns 0 or -1. */
int pv_test_ring_write(struct pv_test_guest *guest, struct pv_test_ring *ring, const void *data,
                       size_t size);
/* The same without the notification: a guest whose notification was lost. */
int pv_test_ring_write_quiet(struct pv_test_ring *ring, const void *data, size_t size);
/* Loads a control word of the ring (PV_TEST_RING_HEAD, _STATUS, ...) as the guest does. */
uint32_t pv_test_ring_load(const struct pv_test_ring *ring, uint32_t offset);
void pv_test_ring_store(struct pv_test_ring *ring, uint32_t offset, uint32_t value);
/* Waits up to timeout_ms for the host's head to reach seqno. Returns 0, or -1 if it did not. */
int pv_test_ring_wait_head(const struct pv_test_ring *ring, uint32_t seqno, int timeout_ms);
/* Unmaps the ring's blob on the guest side (the host keeps its own reference). */
void pv_test_ring_unmap(struct pv_test_ring *ring);

#endif
