/* The vtest wire protocol as Mesa's Venus driver (22.3.6) speaks it: command ids, payload sizes
 * and reply layouts. Little-endian 32-bit words; every request and reply starts with a two-word
 * header (payload length, command id). */
#ifndef PV_VTEST_PROTOCOL_H
#define PV_VTEST_PROTOCOL_H

/* The driver connects to this fixed path; 22.3.6 has no way to choose another. */
#define PV_VTEST_DEFAULT_SOCKET_PATH "/tmp/.virgl_test"

/* Header words. The length counts payload words, except for CREATE_RENDERER where it counts
 * bytes (the process name is not padded). */
#define PV_VTEST_HEADER_WORDS 2
#define PV_VTEST_HEADER_LENGTH 0
#define PV_VTEST_HEADER_COMMAND 1

/* Command ids. The GL-era ones (resources with formats, transfers, caps) are listed so that log
 * lines can name them; the Venus driver never sends them and the server refuses them. */
enum pv_vtest_command {
    PV_VTEST_GET_CAPS = 1,
    PV_VTEST_RESOURCE_CREATE = 2,
    PV_VTEST_RESOURCE_UNREF = 3,
    PV_VTEST_TRANSFER_GET = 4,
    PV_VTEST_TRANSFER_PUT = 5,
    PV_VTEST_SUBMIT_CMD = 6,
    PV_VTEST_RESOURCE_BUSY_WAIT = 7,
    PV_VTEST_CREATE_RENDERER = 8,
    PV_VTEST_GET_CAPS2 = 9,
    PV_VTEST_PING_PROTOCOL_VERSION = 10,
    PV_VTEST_PROTOCOL_VERSION = 11,
    PV_VTEST_RESOURCE_CREATE2 = 12,
    PV_VTEST_TRANSFER_GET2 = 13,
    PV_VTEST_TRANSFER_PUT2 = 14,
    PV_VTEST_GET_PARAM = 15,
    PV_VTEST_GET_CAPSET = 16,
    PV_VTEST_CONTEXT_INIT = 17,
    PV_VTEST_RESOURCE_CREATE_BLOB = 18,
    PV_VTEST_SYNC_CREATE = 19,
    PV_VTEST_SYNC_UNREF = 20,
    PV_VTEST_SYNC_READ = 21,
    PV_VTEST_SYNC_WRITE = 22,
    PV_VTEST_SYNC_WAIT = 23,
    PV_VTEST_SUBMIT_CMD2 = 24,
    PV_VTEST_COMMAND_COUNT = 25,
};

/* Protocol 3 is the first with contexts, blobs and syncs; the driver refuses anything older. */
#define PV_VTEST_PROTOCOL_VERSION_MAX 3

/* Request payload sizes in words (fixed-size commands). */
#define PV_VTEST_PING_PROTOCOL_VERSION_WORDS 0
#define PV_VTEST_BUSY_WAIT_WORDS 2          /* handle, flags */
#define PV_VTEST_PROTOCOL_VERSION_WORDS 1   /* the client's version */
#define PV_VTEST_GET_PARAM_WORDS 1          /* param id */
#define PV_VTEST_GET_CAPSET_WORDS 2         /* capset id, capset version */
#define PV_VTEST_CONTEXT_INIT_WORDS 1       /* capset id */
#define PV_VTEST_RESOURCE_CREATE_BLOB_WORDS 6 /* type, flags, size lo/hi, blob id lo/hi */
#define PV_VTEST_RESOURCE_UNREF_WORDS 1     /* res_id */
#define PV_VTEST_SYNC_CREATE_WORDS 2        /* initial value lo/hi */
#define PV_VTEST_SYNC_UNREF_WORDS 1         /* sync id */
#define PV_VTEST_SYNC_READ_WORDS 1          /* sync id; the reply: value lo, hi */
#define PV_VTEST_SYNC_WRITE_WORDS 3         /* sync id, value lo, value hi */

/* GET_PARAM ids. The reply is two words: valid, value. */
#define PV_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT 1
/* How many sync queues (timelines) a context offers; the driver needs a non-zero answer and
 * uses it to bound sync_queue_index (current guests: the ring indices it binds queues to). */
#define PV_VTEST_MAX_SYNC_QUEUE_COUNT 64

/* SYNC_WAIT payload: flags, timeout in ms (0xffffffff = forever), then per sync: id, value lo,
 * value hi. The reply has no payload and carries a pollable fd. */
#define PV_VTEST_SYNC_WAIT_FIXED_WORDS 2
#define PV_VTEST_SYNC_WAIT_FLAG_ANY 0x1u
#define PV_VTEST_SYNC_WORDS 3

/* SUBMIT_CMD2 payload: batch count, then one header per batch, then the command streams, then
 * the syncs (3 words each). Offsets and sizes are in words from the payload start. The 2022
 * generation's headers are 8 words; current guests send 6 (Mesa 25) or 8 (Mesa 26), and the
 * streams start right after the headers, so the first stream's offset gives the header size. */
#define PV_VTEST_SUBMIT_BATCH_WORDS 8
#define PV_VTEST_SUBMIT_BATCH_WORDS_SHORT 6
#define PV_VTEST_SUBMIT_BATCH_FLAGS 0
#define PV_VTEST_SUBMIT_BATCH_CMD_OFFSET 1
#define PV_VTEST_SUBMIT_BATCH_CMD_SIZE 2
#define PV_VTEST_SUBMIT_BATCH_SYNC_OFFSET 3
#define PV_VTEST_SUBMIT_BATCH_SYNC_COUNT 4
/* The 2022 generation: the sync queue's index and VkQueue id. */
#define PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_INDEX 5
#define PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_ID_LO 6
#define PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_ID_HI 7
/* Current guests: the timeline (ring index) of the batch. */
#define PV_VTEST_SUBMIT_BATCH_RING_IDX 5
/* Bit 0 of the flags. The 2022 generation: set, the syncs take their values once the VkQueue
 * named by sync_queue_id has finished the work submitted so far; clear, right away (the CPU
 * queue). Current guests: set, ring_idx names the timeline, whose work so far must finish
 * first (timeline 0 is the CPU's: right away); clear, right away. */
#define PV_VTEST_SUBMIT_FLAG_SYNC_QUEUE 0x1u
#define PV_VTEST_SUBMIT_FLAG_RING_IDX 0x1u

#endif
