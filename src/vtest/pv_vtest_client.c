/* One guest connection of the vtest server: reads requests in order, checks every length,
 * offset and id the guest sends, and turns them into renderer calls and replies. Any
 * protocol violation ends the connection with one "vtest: ..." log line. */
#define _GNU_SOURCE
#include "pv_vtest_server.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pv_log.h"
#include "pv_process_census.h"
#include "pv_vtest_protocol.h"
#include "pv_vtest_record.h"
#include "pv_vtest_sandbox.h"
#include "pv_vtest_socket.h"
#include "pv_vtest_sync.h"
#include "pv_vtest_timeline.h"

/* Handlers return this to go on with the next request, or a pv_vtest_client_result to end. */
#define CLIENT_CONTINUE PV_VTEST_CLIENT_CONTINUE

/* Longest process name kept for log lines; the rest of a longer one is dropped. */
#define PROCESS_NAME_MAX 127

/* The largest capset the server relays, and so the largest reply it builds. */
#define CAPSET_MAX_WORDS 1024
#define REPLY_MAX_WORDS (1 + CAPSET_MAX_WORDS)

/* A request buffer grown beyond this for one large message is released afterwards, so that an
 * idle connection does not pin a burst's worth of memory. */
#define KEEP_BUFFER_BYTES ((size_t)1 << 20)

struct pv_vtest_client {
    int fd;
    uint32_t context_id;
    size_t max_payload;
    const struct pv_renderer_options *renderer_options;
    bool test_hooks;
    /* Whether to count the process's fds and memfd mappings around the context's life: in a
     * worker process, where everything beyond the context's own is the connection's. */
    bool count_leftovers;
    bool counted_before;
    struct pv_process_census before_context;

    bool renderer_created;
    char process_name[PROCESS_NAME_MAX + 1];
    struct pv_context *ctx;
    uint32_t next_res_id;
    struct pv_vtest_syncs syncs;
    struct pv_vtest_timelines timelines;
    /* Whether the guest asked anything of its context (a blob, a submission): a guest that
     * leaves without doing so most likely rejected the capset's generation. */
    bool context_used;

    uint32_t *buf;
    size_t buf_size;

    struct pv_vtest_recorder recorder;
};

typedef int (*command_handler)(struct pv_vtest_client *c, const uint32_t *payload,
                               uint32_t length);

struct command_info {
    const char *name;
    command_handler handle; /* NULL: a command the Venus driver never sends */
    int fixed_words;        /* exact payload words, or -1 when the size varies */
    bool needs_context;
};

static int protocol_error(struct pv_vtest_client *c, const char *fmt, ...) PV_PRINTF(2, 3);

static int protocol_error(struct pv_vtest_client *c, const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    pv_log("vtest: context %" PRIu32 ": %s", c->context_id, reason);
    return PV_VTEST_CLIENT_PROTOCOL_ERROR;
}

/* The guest going away is no error of the host's: the connection just ends. */
static int guest_lost(struct pv_vtest_client *c, const char *what)
{
    pv_log("vtest: context %" PRIu32 ": lost the guest while %s: %s", c->context_id, what,
           strerror(errno));
    return PV_VTEST_CLIENT_DISCONNECTED;
}

static int context_fatal(struct pv_vtest_client *c)
{
    pv_log("context %" PRIu32 ": fatal, dropping the guest", c->context_id);
    return PV_VTEST_CLIENT_CONTEXT_FATAL;
}

static int send_reply(struct pv_vtest_client *c, uint32_t command, const uint32_t *words,
                      uint32_t count)
{
    uint32_t message[PV_VTEST_HEADER_WORDS + REPLY_MAX_WORDS];
    if (count > REPLY_MAX_WORDS)
        return PV_VTEST_CLIENT_HOST_ERROR;
    message[PV_VTEST_HEADER_LENGTH] = count;
    message[PV_VTEST_HEADER_COMMAND] = command;
    if (count)
        memcpy(&message[PV_VTEST_HEADER_WORDS], words, count * sizeof(uint32_t));
    if (pv_vtest_write_all(c->fd, message, (PV_VTEST_HEADER_WORDS + count) * sizeof(uint32_t)))
        return guest_lost(c, "replying");
    return CLIENT_CONTINUE;
}

/* Sends fd after its reply and closes it whatever happens: the guest holds its own copy. */
static int send_fd_and_close(struct pv_vtest_client *c, int fd)
{
    int rc = pv_vtest_send_fd(c->fd, fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc ? guest_lost(c, "passing an fd") : CLIENT_CONTINUE;
}

static int handle_create_renderer(struct pv_vtest_client *c, const uint32_t *payload,
                                  uint32_t length)
{
    if (c->renderer_created)
        return protocol_error(c, "CREATE_RENDERER sent twice");
    c->renderer_created = true;

    /* The name is only for log lines; keep it short and printable whatever the guest sent. */
    const char *bytes = (const char *)payload;
    size_t n = 0;
    while (n < length && n < PROCESS_NAME_MAX && bytes[n] != '\0') {
        unsigned char ch = (unsigned char)bytes[n];
        c->process_name[n] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        n++;
    }
    c->process_name[n] = '\0';
    if (n == 0)
        strcpy(c->process_name, "unnamed");
    pv_debug("context %" PRIu32 ": guest process \"%s\"", c->context_id, c->process_name);
    return CLIENT_CONTINUE;
}

static int handle_ping_protocol_version(struct pv_vtest_client *c, const uint32_t *payload,
                                        uint32_t length)
{
    return send_reply(c, PV_VTEST_PING_PROTOCOL_VERSION, NULL, 0);
}

static int handle_resource_busy_wait(struct pv_vtest_client *c, const uint32_t *payload,
                                     uint32_t length)
{
    /* The driver sends this only as the sentinel behind the ping. Blobs are never busy from
     * the protocol's point of view: the answer is always "not busy". */
    const uint32_t busy = 0;
    return send_reply(c, PV_VTEST_RESOURCE_BUSY_WAIT, &busy, 1);
}

static int handle_protocol_version(struct pv_vtest_client *c, const uint32_t *payload,
                                   uint32_t length)
{
    uint32_t version = payload[0] < PV_VTEST_PROTOCOL_VERSION_MAX ? payload[0]
                                                                  : PV_VTEST_PROTOCOL_VERSION_MAX;
    return send_reply(c, PV_VTEST_PROTOCOL_VERSION, &version, 1);
}

static int handle_get_param(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    uint32_t answer[2] = { 0, 0 }; /* valid, value */
    if (payload[0] == PV_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT) {
        answer[0] = 1;
        answer[1] = PV_VTEST_MAX_SYNC_QUEUE_COUNT;
    }
    return send_reply(c, PV_VTEST_GET_PARAM, answer, 2);
}

static int handle_get_capset(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    uint32_t answer[1 + CAPSET_MAX_WORDS]; /* valid, capset words */
    memset(answer, 0, sizeof(answer));
    size_t size = pv_renderer_fill_capset(payload[0], payload[1],
                                          c->renderer_options->generation, &answer[1],
                                          CAPSET_MAX_WORDS * sizeof(uint32_t));
    if (size == 0 || size > CAPSET_MAX_WORDS * sizeof(uint32_t)) {
        pv_debug("context %" PRIu32 ": no capset %" PRIu32 " version %" PRIu32, c->context_id,
                 payload[0], payload[1]);
        return send_reply(c, PV_VTEST_GET_CAPSET, answer, 1);
    }
    answer[0] = 1;
    uint32_t words = (uint32_t)((size + sizeof(uint32_t) - 1) / sizeof(uint32_t));
    return send_reply(c, PV_VTEST_GET_CAPSET, answer, 1 + words);
}

/* Whether the guest hung up: asked by the context while this connection's thread waits inside
 * a submission, which it would otherwise never leave for a guest gone meanwhile. */
static bool guest_gone(void *data)
{
    const struct pv_vtest_client *c = data;
    struct pollfd pfd = { .fd = c->fd, .events = POLLRDHUP };
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static void record_batch(void *data, const void *bytes, size_t size)
{
    pv_vtest_recorder_batch(data, bytes, size);
}

static int handle_context_init(struct pv_vtest_client *c, const uint32_t *payload,
                               uint32_t length)
{
    if (c->ctx)
        return protocol_error(c, "CONTEXT_INIT sent twice");
    if (payload[0] != PV_CAPSET_VENUS)
        return protocol_error(c, "CONTEXT_INIT for capset %" PRIu32 "; only Venus (%d) is served",
                              payload[0], PV_CAPSET_VENUS);
    if (c->count_leftovers) {
        if (pv_process_census_take(&c->before_context) == 0)
            c->counted_before = true;
        else
            pv_log("context %" PRIu32 ": cannot count the worker's fds and mappings: %s",
                   c->context_id, strerror(errno));
    }
    /* The renderer reports every batch it executes (socket, ring, indirect streams). */
    struct pv_renderer_options options = *c->renderer_options;
    if (pv_vtest_recorder_active(&c->recorder)) {
        options.record_batch = record_batch;
        options.record_batch_data = &c->recorder;
    }
    c->ctx = pv_context_create(c->context_id, c->process_name, &options);
    if (!c->ctx) {
        pv_log("context %" PRIu32 ": could not be created, dropping the guest", c->context_id);
        return PV_VTEST_CLIENT_CONTEXT_FATAL;
    }
    pv_context_set_peer_check(c->ctx, guest_gone, c);
    pv_log("context %" PRIu32 ": created for \"%s\"", c->context_id, c->process_name);
    if (c->test_hooks && !strcmp(c->process_name, PV_VTEST_TEST_FORBIDDEN_SYSCALL_NAME)) {
        pv_log("context %" PRIu32 ": test hook: the worker tries execve", c->context_id);
        pv_vtest_sandbox_try_forbidden_syscall();
        return protocol_error(c, "test hook: execve was not stopped: %s", strerror(errno));
    }
    return CLIENT_CONTINUE;
}

static int handle_resource_create_blob(struct pv_vtest_client *c, const uint32_t *payload,
                                       uint32_t length)
{
    uint32_t type = payload[0], flags = payload[1];
    uint64_t size = payload[2] | (uint64_t)payload[3] << 32;
    uint64_t blob_id = payload[4] | (uint64_t)payload[5] << 32;

    /* Ids are never reused within a connection, so a stale res_id cannot hit a newer blob. */
    if (c->next_res_id == 0)
        return protocol_error(c, "RESOURCE_CREATE_BLOB: resource ids exhausted");
    uint32_t res_id = c->next_res_id;
    c->context_used = true;

    int fd = -1;
    if (pv_context_create_blob(c->ctx, res_id, type, flags, blob_id, size, &fd) != 0) {
        pv_log("vtest: context %" PRIu32 ": blob of %" PRIu64 " bytes (type %" PRIu32
               ", blob id %" PRIu64 ") failed, dropping the guest", c->context_id, size, type,
               blob_id);
        return PV_VTEST_CLIENT_CONTEXT_FATAL;
    }
    c->next_res_id++;
    if (fd < 0) {
        pv_log("context %" PRIu32 ": blob %" PRIu32 " has no fd to pass", c->context_id, res_id);
        return PV_VTEST_CLIENT_HOST_ERROR;
    }
    pv_debug("context %" PRIu32 ": blob %" PRIu32 ": %" PRIu64 " bytes, type %" PRIu32
             ", flags %#" PRIx32 ", blob id %" PRIu64, c->context_id, res_id, size, type, flags,
             blob_id);

    int rc = send_reply(c, PV_VTEST_RESOURCE_CREATE_BLOB, &res_id, 1);
    if (rc != CLIENT_CONTINUE) {
        close(fd);
        return rc;
    }
    return send_fd_and_close(c, fd);
}

static int handle_resource_unref(struct pv_vtest_client *c, const uint32_t *payload,
                                 uint32_t length)
{
    pv_context_destroy_blob(c->ctx, payload[0]);
    return CLIENT_CONTINUE;
}

static int handle_sync_create(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    uint64_t value = payload[0] | (uint64_t)payload[1] << 32;
    uint32_t id;
    int err = pv_vtest_sync_create(&c->syncs, value, &id);
    if (err == -ENOSPC)
        return protocol_error(c, "SYNC_CREATE: too many syncs");
    if (err) {
        pv_log("vtest: context %" PRIu32 ": SYNC_CREATE: %s", c->context_id, strerror(-err));
        return PV_VTEST_CLIENT_HOST_ERROR;
    }
    return send_reply(c, PV_VTEST_SYNC_CREATE, &id, 1);
}

static int handle_sync_unref(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    if (pv_vtest_sync_destroy(&c->syncs, payload[0]))
        return protocol_error(c, "SYNC_UNREF of unknown sync %" PRIu32, payload[0]);
    return CLIENT_CONTINUE;
}

/* Current guests read and set syncs from the CPU too (Mesa 26 does, for its CPU-side fences). */
static int handle_sync_read(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    const struct pv_vtest_sync *sync = pv_vtest_sync_find(&c->syncs, payload[0]);
    if (!sync)
        return protocol_error(c, "SYNC_READ of unknown sync %" PRIu32, payload[0]);
    const uint32_t value[2] = { (uint32_t)sync->value, (uint32_t)(sync->value >> 32) };
    return send_reply(c, PV_VTEST_SYNC_READ, value, 2);
}

static int handle_sync_write(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    struct pv_vtest_sync *sync = pv_vtest_sync_find(&c->syncs, payload[0]);
    if (!sync)
        return protocol_error(c, "SYNC_WRITE of unknown sync %" PRIu32, payload[0]);
    sync->value = payload[1] | (uint64_t)payload[2] << 32;
    pv_vtest_syncs_update_waits(&c->syncs);
    return CLIENT_CONTINUE;
}

static int handle_sync_wait(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    if (length < PV_VTEST_SYNC_WAIT_FIXED_WORDS ||
        (length - PV_VTEST_SYNC_WAIT_FIXED_WORDS) % PV_VTEST_SYNC_WORDS != 0)
        return protocol_error(c, "SYNC_WAIT with %" PRIu32 " payload words", length);
    uint32_t flags = payload[0];
    uint32_t count = (length - PV_VTEST_SYNC_WAIT_FIXED_WORDS) / PV_VTEST_SYNC_WORDS;
    if (flags & ~PV_VTEST_SYNC_WAIT_FLAG_ANY)
        return protocol_error(c, "SYNC_WAIT with unknown flags %#" PRIx32, flags);

    /* The timeout (payload[1]) is the guest's business: it polls the fd with it. */
    int fd = -1;
    int err = pv_vtest_sync_wait(&c->syncs, flags & PV_VTEST_SYNC_WAIT_FLAG_ANY,
                                 &payload[PV_VTEST_SYNC_WAIT_FIXED_WORDS], count, &fd);
    if (err == -ENOENT)
        return protocol_error(c, "SYNC_WAIT on an unknown sync");
    if (err == -ENOSPC)
        return protocol_error(c, "SYNC_WAIT: too many pending waits");
    if (err) {
        pv_log("vtest: context %" PRIu32 ": SYNC_WAIT: %s", c->context_id, strerror(-err));
        return PV_VTEST_CLIENT_HOST_ERROR;
    }

    int rc = send_reply(c, PV_VTEST_SYNC_WAIT, NULL, 0);
    if (rc != CLIENT_CONTINUE) {
        close(fd);
        return rc;
    }
    return send_fd_and_close(c, fd);
}

/* One SUBMIT_CMD2 batch header, read out of the payload once it has been checked. */
struct submit_batch {
    uint32_t flags;
    uint32_t cmd_offset;
    uint32_t cmd_size;
    uint32_t sync_offset;
    uint32_t sync_count;
    uint32_t sync_queue_index;   /* current guests: the ring index */
    uint64_t sync_queue_id;      /* the 2022 generation only */
};

_Static_assert(PV_VTEST_MAX_SYNC_QUEUE_COUNT == PV_MAX_TIMELINES,
               "vtest timelines are the renderer's");

static bool current_guest(const struct pv_vtest_client *c)
{
    return c->renderer_options->generation != PV_VENUS_2022;
}

/* Words per batch header; 0 when the message does not say (no batch). */
static uint32_t submit_header_words(struct pv_vtest_client *c, const uint32_t *payload,
                                    uint32_t length, uint32_t batch_count)
{
    if (!current_guest(c) || batch_count == 0)
        return PV_VTEST_SUBMIT_BATCH_WORDS;
    if (1 + PV_VTEST_SUBMIT_BATCH_CMD_OFFSET >= length)
        return 0;
    uint32_t first_stream = payload[1 + PV_VTEST_SUBMIT_BATCH_CMD_OFFSET];
    if (first_stream < 1 || (first_stream - 1) % batch_count)
        return 0;
    uint32_t words = (first_stream - 1) / batch_count;
    return words == PV_VTEST_SUBMIT_BATCH_WORDS || words == PV_VTEST_SUBMIT_BATCH_WORDS_SHORT
               ? words : 0;
}

static int submit_check_batch(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length,
                              uint32_t header_words, uint32_t index, struct submit_batch *batch)
{
    const uint32_t *words = &payload[1 + (size_t)index * header_words];
    batch->flags = words[PV_VTEST_SUBMIT_BATCH_FLAGS];
    batch->cmd_offset = words[PV_VTEST_SUBMIT_BATCH_CMD_OFFSET];
    batch->cmd_size = words[PV_VTEST_SUBMIT_BATCH_CMD_SIZE];
    batch->sync_offset = words[PV_VTEST_SUBMIT_BATCH_SYNC_OFFSET];
    batch->sync_count = words[PV_VTEST_SUBMIT_BATCH_SYNC_COUNT];
    batch->sync_queue_index = words[PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_INDEX];
    batch->sync_queue_id = current_guest(c)
                               ? 0
                               : words[PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_ID_LO] |
                                     (uint64_t)words[PV_VTEST_SUBMIT_BATCH_SYNC_QUEUE_ID_HI] << 32;

    if (batch->flags & ~PV_VTEST_SUBMIT_FLAG_SYNC_QUEUE)
        return protocol_error(c, "SUBMIT_CMD2 batch %" PRIu32 ": unknown flags %#" PRIx32, index,
                              batch->flags);
    if ((uint64_t)batch->cmd_offset + batch->cmd_size > length)
        return protocol_error(c, "SUBMIT_CMD2 batch %" PRIu32 ": stream of %" PRIu32
                              " words at %" PRIu32 " overruns the %" PRIu32 "-word payload",
                              index, batch->cmd_size, batch->cmd_offset, length);
    if ((uint64_t)batch->sync_offset + (uint64_t)batch->sync_count * PV_VTEST_SYNC_WORDS > length)
        return protocol_error(c, "SUBMIT_CMD2 batch %" PRIu32 ": %" PRIu32 " syncs at %" PRIu32
                              " overrun the %" PRIu32 "-word payload",
                              index, batch->sync_count, batch->sync_offset, length);
    if ((batch->flags & PV_VTEST_SUBMIT_FLAG_SYNC_QUEUE) &&
        batch->sync_queue_index >= PV_VTEST_MAX_SYNC_QUEUE_COUNT)
        return protocol_error(c, "SUBMIT_CMD2 batch %" PRIu32 ": %s %" PRIu32 " out of range",
                              index, current_guest(c) ? "ring index" : "sync queue index",
                              batch->sync_queue_index);
    for (uint32_t i = 0; i < batch->sync_count; i++) {
        uint32_t id = payload[batch->sync_offset + (size_t)i * PV_VTEST_SYNC_WORDS];
        if (!pv_vtest_sync_find(&c->syncs, id))
            return protocol_error(c, "SUBMIT_CMD2 batch %" PRIu32 ": unknown sync %" PRIu32,
                                  index, id);
    }
    return CLIENT_CONTINUE;
}

/* Sets syncs from (id, value lo, value hi) triples and releases the waits they satisfy. A sync
 * the guest dropped meanwhile is skipped (a timeline may finish after SYNC_UNREF). */
static void apply_syncs(struct pv_vtest_client *c, const uint32_t *triples, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++, triples += PV_VTEST_SYNC_WORDS) {
        struct pv_vtest_sync *sync = pv_vtest_sync_find(&c->syncs, triples[0]);
        if (sync)
            sync->value = triples[1] | (uint64_t)triples[2] << 32;
    }
    pv_vtest_syncs_update_waits(&c->syncs);
}

static void apply_finished(void *data, const uint32_t *triples, uint32_t count)
{
    apply_syncs(data, triples, count);
}

static int submit_run_batch(struct pv_vtest_client *c, const uint32_t *payload,
                            const struct submit_batch *batch)
{
    if (batch->cmd_size &&
        pv_context_submit(c->ctx, &payload[batch->cmd_offset],
                          (size_t)batch->cmd_size * sizeof(uint32_t)) != 0)
        return context_fatal(c);
    if (batch->sync_count == 0)
        return CLIENT_CONTINUE;

    const uint32_t *syncs = &payload[batch->sync_offset];
    /* A queue's syncs may only advance once the work submitted to it so far is done. Current
     * guests' timelines finish on a worker of their own; the 2022 generation's sync queues
     * (an Android path the driver never takes over vtest) are waited for here. */
    if (batch->flags & PV_VTEST_SUBMIT_FLAG_SYNC_QUEUE) {
        if (current_guest(c) && batch->sync_queue_index) {
            int err = pv_vtest_timelines_submit(&c->timelines, c->ctx, batch->sync_queue_index,
                                                syncs, batch->sync_count);
            if (err == -ENOSPC)
                return protocol_error(c, "SUBMIT_CMD2: too many batches wait on timelines");
            if (err == -1)
                return context_fatal(c);
            if (err) {
                pv_log("vtest: context %" PRIu32 ": timeline: %s", c->context_id,
                       strerror(-err));
                return PV_VTEST_CLIENT_HOST_ERROR;
            }
            return CLIENT_CONTINUE;
        }
        if (!current_guest(c) && pv_context_wait_queue(c->ctx, batch->sync_queue_id) != 0)
            return context_fatal(c);
    }
    apply_syncs(c, syncs, batch->sync_count);
    return CLIENT_CONTINUE;
}

static int handle_submit_cmd2(struct pv_vtest_client *c, const uint32_t *payload, uint32_t length)
{
    c->context_used = true;
    if (length < 1)
        return protocol_error(c, "SUBMIT_CMD2 without a batch count");
    uint32_t batch_count = payload[0];
    uint32_t header_words = submit_header_words(c, payload, length, batch_count);
    if (!header_words)
        return protocol_error(c, "SUBMIT_CMD2: the first stream's offset gives no header size "
                              "for %" PRIu32 " batches", batch_count);
    if (1 + (uint64_t)batch_count * header_words > length)
        return protocol_error(c, "SUBMIT_CMD2: %" PRIu32 " batches overrun the %" PRIu32
                              "-word payload", batch_count, length);

    /* Check the whole message before running any of it, so that a malformed one has no
     * effect beyond ending the connection. */
    for (uint32_t i = 0; i < batch_count; i++) {
        struct submit_batch batch;
        int rc = submit_check_batch(c, payload, length, header_words, i, &batch);
        if (rc != CLIENT_CONTINUE)
            return rc;
    }
    for (uint32_t i = 0; i < batch_count; i++) {
        struct submit_batch batch;
        submit_check_batch(c, payload, length, header_words, i, &batch);
        int rc = submit_run_batch(c, payload, &batch);
        if (rc != CLIENT_CONTINUE)
            return rc;
    }
    return CLIENT_CONTINUE;
}

static const struct command_info command_table[PV_VTEST_COMMAND_COUNT] = {
    [PV_VTEST_GET_CAPS] = { "GET_CAPS", NULL, -1, false },
    [PV_VTEST_RESOURCE_CREATE] = { "RESOURCE_CREATE", NULL, -1, false },
    [PV_VTEST_RESOURCE_UNREF] = { "RESOURCE_UNREF", handle_resource_unref,
                                  PV_VTEST_RESOURCE_UNREF_WORDS, true },
    [PV_VTEST_TRANSFER_GET] = { "TRANSFER_GET", NULL, -1, false },
    [PV_VTEST_TRANSFER_PUT] = { "TRANSFER_PUT", NULL, -1, false },
    [PV_VTEST_SUBMIT_CMD] = { "SUBMIT_CMD", NULL, -1, false },
    [PV_VTEST_RESOURCE_BUSY_WAIT] = { "RESOURCE_BUSY_WAIT", handle_resource_busy_wait,
                                      PV_VTEST_BUSY_WAIT_WORDS, false },
    [PV_VTEST_CREATE_RENDERER] = { "CREATE_RENDERER", handle_create_renderer, -1, false },
    [PV_VTEST_GET_CAPS2] = { "GET_CAPS2", NULL, -1, false },
    [PV_VTEST_PING_PROTOCOL_VERSION] = { "PING_PROTOCOL_VERSION", handle_ping_protocol_version,
                                         PV_VTEST_PING_PROTOCOL_VERSION_WORDS, false },
    [PV_VTEST_PROTOCOL_VERSION] = { "PROTOCOL_VERSION", handle_protocol_version,
                                    PV_VTEST_PROTOCOL_VERSION_WORDS, false },
    [PV_VTEST_RESOURCE_CREATE2] = { "RESOURCE_CREATE2", NULL, -1, false },
    [PV_VTEST_TRANSFER_GET2] = { "TRANSFER_GET2", NULL, -1, false },
    [PV_VTEST_TRANSFER_PUT2] = { "TRANSFER_PUT2", NULL, -1, false },
    [PV_VTEST_GET_PARAM] = { "GET_PARAM", handle_get_param, PV_VTEST_GET_PARAM_WORDS, false },
    [PV_VTEST_GET_CAPSET] = { "GET_CAPSET", handle_get_capset, PV_VTEST_GET_CAPSET_WORDS, false },
    [PV_VTEST_CONTEXT_INIT] = { "CONTEXT_INIT", handle_context_init, PV_VTEST_CONTEXT_INIT_WORDS,
                                false },
    [PV_VTEST_RESOURCE_CREATE_BLOB] = { "RESOURCE_CREATE_BLOB", handle_resource_create_blob,
                                        PV_VTEST_RESOURCE_CREATE_BLOB_WORDS, true },
    [PV_VTEST_SYNC_CREATE] = { "SYNC_CREATE", handle_sync_create, PV_VTEST_SYNC_CREATE_WORDS,
                               false },
    [PV_VTEST_SYNC_UNREF] = { "SYNC_UNREF", handle_sync_unref, PV_VTEST_SYNC_UNREF_WORDS, false },
    [PV_VTEST_SYNC_READ] = { "SYNC_READ", handle_sync_read, PV_VTEST_SYNC_READ_WORDS, false },
    [PV_VTEST_SYNC_WRITE] = { "SYNC_WRITE", handle_sync_write, PV_VTEST_SYNC_WRITE_WORDS,
                              false },
    [PV_VTEST_SYNC_WAIT] = { "SYNC_WAIT", handle_sync_wait, -1, false },
    [PV_VTEST_SUBMIT_CMD2] = { "SUBMIT_CMD2", handle_submit_cmd2, -1, true },
};

/* Makes the request buffer hold at least size bytes, keeping it word-aligned. */
static bool reserve_buffer(struct pv_vtest_client *c, size_t size)
{
    if (size <= c->buf_size)
        return true;
    free(c->buf);
    c->buf_size = 0;
    c->buf = malloc(size);
    if (!c->buf)
        return false;
    c->buf_size = size;
    return true;
}

/* Waits for the guest's next request, or for its context to turn fatal from another thread (a
 * ring worker): then the guest is dropped at once instead of at its next submission. */
static int wait_for_request(struct pv_vtest_client *c)
{
    if (!c->ctx)
        return CLIENT_CONTINUE;
    struct pollfd fds[3] = {
        { .fd = c->fd, .events = POLLIN },
        { .fd = pv_context_fatal_fd(c->ctx), .events = POLLIN },
        { .fd = c->timelines.done_fd, .events = POLLIN },
    };
    for (;;) {
        if (pv_context_is_fatal(c->ctx))
            return context_fatal(c);
        int n = poll(fds, 3, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return guest_lost(c, "waiting for a request");
        if (fds[1].revents & POLLIN)
            return context_fatal(c);
        /* Timelines that finished: their syncs advance before the next request is read, so
         * that a SYNC_READ or SYNC_WAIT sees them. */
        if (fds[2].revents & POLLIN)
            pv_vtest_timelines_collect(&c->timelines, apply_finished, c);
        if (fds[0].revents)
            return CLIENT_CONTINUE;
    }
}

int pv_vtest_client_serve_request(struct pv_vtest_client *c)
{
    int waited = wait_for_request(c);
    if (waited != CLIENT_CONTINUE)
        return waited;
    uint32_t header[PV_VTEST_HEADER_WORDS];
    int got = pv_vtest_read_all(c->fd, header, sizeof(header));
    if (got == 0)
        return PV_VTEST_CLIENT_DISCONNECTED;
    if (got < 0)
        return guest_lost(c, "reading a request");
    pv_vtest_recorder_guest_bytes(&c->recorder, header, sizeof(header));

    uint32_t length = header[PV_VTEST_HEADER_LENGTH];
    uint32_t id = header[PV_VTEST_HEADER_COMMAND];
    const struct command_info *command = id < PV_VTEST_COMMAND_COUNT ? &command_table[id] : NULL;
    if (!command || !command->name)
        return protocol_error(c, "unknown command %" PRIu32, id);
    if (!command->handle)
        return protocol_error(c, "%s (%" PRIu32 ") is not part of the Venus protocol",
                              command->name, id);
    if (!c->renderer_created && id != PV_VTEST_CREATE_RENDERER)
        return protocol_error(c, "%s before CREATE_RENDERER", command->name);

    uint64_t bytes = id == PV_VTEST_CREATE_RENDERER ? length : (uint64_t)length * sizeof(uint32_t);
    if (bytes > c->max_payload)
        return protocol_error(c, "%s of %" PRIu64 " bytes exceeds the limit of %zu bytes",
                              command->name, bytes, c->max_payload);
    if (command->fixed_words >= 0 && length != (uint32_t)command->fixed_words)
        return protocol_error(c, "%s with %" PRIu32 " payload words instead of %d",
                              command->name, length, command->fixed_words);
    if (command->needs_context && !c->ctx)
        return protocol_error(c, "%s before CONTEXT_INIT", command->name);

    pv_debug("context %" PRIu32 ": %s, %" PRIu64 " bytes", c->context_id, command->name, bytes);

    /* Room for a NUL after an unterminated name and rounding to whole words. */
    size_t room = (size_t)bytes + sizeof(uint32_t);
    if (!reserve_buffer(c, room)) {
        pv_log("vtest: context %" PRIu32 ": no memory for a %" PRIu64 "-byte %s", c->context_id,
               bytes, command->name);
        return PV_VTEST_CLIENT_HOST_ERROR;
    }
    memset((uint8_t *)c->buf + bytes, 0, room - (size_t)bytes);
    if (bytes) {
        got = pv_vtest_read_all(c->fd, c->buf, (size_t)bytes);
        if (got <= 0) {
            if (got == 0)
                errno = EPIPE;
            return guest_lost(c, "reading a request");
        }
        pv_vtest_recorder_guest_bytes(&c->recorder, c->buf, (size_t)bytes);
    }

    int rc = command->handle(c, c->buf, length);

    if (c->buf_size > KEEP_BUFFER_BYTES) {
        free(c->buf);
        c->buf = NULL;
        c->buf_size = 0;
    }
    return rc;
}

struct pv_vtest_client *pv_vtest_client_create(int fd, uint32_t context_id,
                                               const struct pv_vtest_options *opts)
{
    static const struct pv_vtest_options defaults = { 0 };
    if (!opts)
        opts = &defaults;

    struct pv_vtest_client *c = calloc(1, sizeof(*c));
    if (!c) {
        pv_log("vtest: context %" PRIu32 ": out of memory", context_id);
        return NULL;
    }
    c->fd = fd;
    c->context_id = context_id;
    c->max_payload = opts->max_message_bytes ? opts->max_message_bytes
                                             : PV_VTEST_DEFAULT_MAX_MESSAGE_BYTES;
    c->renderer_options = &opts->renderer;
    c->test_hooks = opts->test_hooks;
    c->next_res_id = 1;
    strcpy(c->process_name, "unnamed");
    pv_vtest_syncs_init(&c->syncs);
    if (pv_vtest_timelines_init(&c->timelines) != 0) {
        pv_log("vtest: context %" PRIu32 ": eventfd: %s", context_id, strerror(errno));
        pv_vtest_syncs_fini(&c->syncs);
        free(c);
        return NULL;
    }
    pv_vtest_recorder_open(&c->recorder, opts->record_dir, context_id);
    return c;
}

void pv_vtest_client_count_leftovers(struct pv_vtest_client *c)
{
    c->count_leftovers = true;
}

/* The teardown line counts what the context's own counters say is left; this one counts what
 * the process holds, as the kernel sees it, against what it held before the context. */
static void log_leftovers(struct pv_vtest_client *c)
{
    struct pv_process_census after;
    if (pv_process_census_take(&after) != 0) {
        pv_log("context %" PRIu32 ": cannot count the worker's fds and mappings: %s",
               c->context_id, strerror(errno));
        return;
    }
    size_t fds, mappings;
    pv_process_census_compare(&c->before_context, &after, &fds, &mappings);
    pv_log("context %" PRIu32 " (%s): after teardown the worker holds %zu fds and %zu memfd "
           "mappings more than before the context (/proc/self)", c->context_id,
           c->process_name, fds, mappings);
    pv_process_census_free(&after);
}

void pv_vtest_client_destroy(struct pv_vtest_client *c)
{
    if (!c)
        return;
    /* The timeline workers wait on the context's queues: they go first. */
    pv_vtest_timelines_fini(&c->timelines);
    pv_vtest_syncs_fini(&c->syncs);
    /* The context first: its ring workers may still be recording batches. */
    if (c->ctx) {
        pv_context_destroy(c->ctx);
        if (c->counted_before)
            log_leftovers(c);
    } else {
        pv_log("context %" PRIu32 ": the connection ended before a context was created; "
               "nothing to release", c->context_id);
    }
    pv_process_census_free(&c->before_context);
    pv_vtest_recorder_close(&c->recorder);
    free(c->buf);
    free(c);
}

/* The two generations cannot be told apart before the capset is answered; what a guest of the
 * other one does is read it, set up its context and leave. Say so loudly, with the way out. */
static void log_rejected_capset(const struct pv_vtest_client *c)
{
    bool current = current_guest(c);
    pv_log("context %" PRIu32 " (%s): the guest left right after reading the Venus capset, "
           "without a single command: it most likely rejected %s. This host serves %s guests; "
           "serve %s guests with --protocol %s.", c->context_id, c->process_name,
           pv_venus_generation_name(c->renderer_options->generation),
           current ? "current (wire format 1)" : "2022 (wire format 0, Mesa 22.x)",
           current ? "2022 (wire format 0, Mesa 22.x)" : "current (wire format 1)",
           current ? "2022" : "current");
}

/* Seconds a worker's context teardown may take before the worker gives up on it. */
#define PV_VTEST_TEARDOWN_SECONDS 10

static void on_teardown_timeout(int sig)
{
    (void)sig;
    static const char line[] = "pvgpu: context teardown did not finish in time; the worker exits "
                               "and leaves the rest to the system\n";
    ssize_t ignored = write(STDERR_FILENO, line, sizeof(line) - 1);
    (void)ignored;
    _exit(PV_VTEST_CLIENT_HOST_ERROR);
}

int pv_vtest_client_record_dir_fd(const struct pv_vtest_client *c)
{
    return c->recorder.dir_fd;
}

int pv_vtest_serve_client(int fd, uint32_t context_id, const struct pv_vtest_options *opts)
{
    struct pv_vtest_client *c = pv_vtest_client_create(fd, context_id, opts);
    return c ? pv_vtest_client_run(c) : PV_VTEST_CLIENT_HOST_ERROR;
}

int pv_vtest_client_run(struct pv_vtest_client *c)
{
    uint32_t context_id = c->context_id;
    int rc;
    do
        rc = pv_vtest_client_serve_request(c);
    while (rc == CLIENT_CONTINUE);
    /* Teardown waits for the guest's work on the host: work that can never finish (a queue
     * waiting for a semaphore no one will signal) must not keep this worker forever. The
     * process exits then, and the system reclaims what the context held. */
    if (rc == PV_VTEST_CLIENT_DISCONNECTED && c->ctx && !c->context_used)
        log_rejected_capset(c);
    signal(SIGALRM, on_teardown_timeout);
    alarm(PV_VTEST_TEARDOWN_SECONDS);
    pv_vtest_client_destroy(c);
    alarm(0);
    pv_debug("context %" PRIu32 ": connection ended (%d)", context_id, rc);
    return rc;
}
