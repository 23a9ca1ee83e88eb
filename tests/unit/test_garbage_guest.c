/* A hostile vtest guest: connects to `pvgpu serve` many times in a row and sends one kind of
 * garbage per connection (random bytes instead of a vtest header, random vtest messages after a
 * valid handshake, Venus streams with random bytes, truncated commands, freed and never-created
 * ids, counts near 2^32 and 2^64, out-of-bounds blob offsets, a ring whose tail runs ahead of its
 * buffer, unknown command types, a guest killed in the middle of a message). Every connection must
 * end with the host closing it; for the killed guests the guest side closes first. Some
 * connections run in overlapping pairs.
 *
 * It checks only what a guest can see. tests/stack/hostile_neighbour.py runs it next to real
 * Vulkan guests and checks the server log: one line per connection on stdout says what was sent
 * and under which process name, so that the log lines can be matched to it:
 *
 *   conn <k> case <case> name <process name> context <yes|no> closed <host|guest|no> ms <t> <ok|FAIL: why>
 *
 * "context yes" means the connection got as far as CONTEXT_INIT, so the host has a context to
 * make fatal and tear down; "no" means the garbage came before (no context, so a vtest protocol
 * error is all the log can say). Exit status 0 when every connection ended as expected.
 *
 * Usage: test_garbage_guest [--socket PATH] [--protocol current|2022] [--seed N] [--list]
 *                           [--only CASE[,CASE...]] [--no-overlap] [--close-timeout-ms N]
 *                           [--while-exists PATH [--max-passes N]]
 * The valid set-ups in front of the garbage speak the protocol generation of the capset the
 * server offers, or the one --protocol names (as pvgpu serve --protocol spells it). One pass runs
 * every case once, then the overlapping pairs. With --while-exists, passes repeat
 * while PATH exists (at most --max-passes, default 20), so that the garbage lasts as long as the
 * well-behaved guests next to it. The seed (default 0x9e3779b9, or $PV_GARBAGE_SEED) makes every
 * random byte reproducible: a case sends the same bytes in every pass. */
#define _GNU_SOURCE
#include "pv_test_venus_calls.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/tmp/.virgl_test"
#define DEFAULT_SEED 0x9e3779b9ull

#define REPLY_BLOB_SIZE (64u * 1024)
#define REPLY_OFFSET 0u
#define REPLY_SIZE 4096u

/* The ring as the 22.3.6 driver lays it out with largeRing (notes, section 6.1). */
#define RING_HEAD 0u
#define RING_TAIL 64u
#define RING_STATUS 128u
#define RING_BUFFER 192u
#define RING_BUFFER_SIZE 65536u
#define RING_EXTRA (RING_BUFFER + RING_BUFFER_SIZE)
#define RING_BLOB_SIZE (RING_EXTRA + 4u)
#define RING_STATUS_IDLE 1u
#define RING_IDLE_TIMEOUT_NS 50000000ull

/* Venus numbers the encoder does not name. */
#define CMD_vkExecuteCommandStreamsMESA 180u
#define CMD_vkCreateRingMESA 188u
#define CMD_vkDestroyRingMESA 189u
#define CMD_vkNotifyRingMESA 190u
#define CMD_vkWriteRingExtraMESA 191u
#define CMD_vkGetVenusExperimentalFeatureData100000MESA 195u
/* One past the highest command number the host decodes (331 in the current protocol): random
 * streams pick their first command below it and end with it. Should the table grow past it, the
 * bare header is a truncated command, which ends the context just as well. */
#define CMD_FIRST_UNKNOWN 332u
#define STYPE_RING_CREATE_INFO_MESA 1000384000u

/* vtest ids the client header does not name. */
#define VCMD_RESOURCE_CREATE 2u
#define VCMD_SYNC_CREATE 19u
#define VCMD_SYNC_UNREF 20u
#define VCMD_SYNC_WAIT 23u

/* Guest ids look like the driver's (heap addresses). */
#define INSTANCE_ID 0x00005eed10000010ull
#define NEVER_CREATED_ID 0x00005eed00dead00ull
#define RING_ID 0x00005eed30000030ull

static const char *socket_path = DEFAULT_SOCKET;
static uint64_t base_seed = DEFAULT_SEED;
static int close_timeout_ms = 5000;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* -- randomness: splitmix64, one stream per connection ----------------------------------- */

struct rng {
    uint64_t state;
};

static uint64_t rng_u64(struct rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rng_u32(struct rng *r)
{
    return (uint32_t)(rng_u64(r) >> 32);
}

static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return n ? (uint32_t)(((uint64_t)rng_u32(r) * n) >> 32) : 0;
}

/* A word the way decoders like to be fed: often 0 or 1 (markers, NULL), small counts, sometimes
 * anything. */
static uint32_t rng_word(struct rng *r)
{
    switch (rng_below(r, 6)) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return rng_below(r, 8);
    case 3:
        return rng_below(r, 300);
    default:
        return rng_u32(r);
    }
}

/* -- one connection --------------------------------------------------------------------- */

struct conn {
    unsigned index;
    const char *case_name;
    char name[96];       /* the process name sent in CREATE_RENDERER */
    struct rng rng;
    struct pv_test_guest guest; /* guest.vtest.fd is the connection */
    bool have_context;    /* CONTEXT_INIT was sent */
    bool guest_closes;    /* the guest ends the connection itself (killed guests) */
    char why[256];        /* set-up failure */
};

static int conn_fail(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int conn_fail(struct conn *c, const char *fmt, ...)
{
    if (c->why[0])
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    return -1;
}

/* Writes garbage; a host that has already hung up is fine (it is what we wait for). */
static void send_raw(struct conn *c, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = send(c->guest.vtest.fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return;
        p += n;
        size -= (size_t)n;
    }
}

static void send_header(struct conn *c, uint32_t length, uint32_t id)
{
    const uint32_t header[2] = { length, id };
    send_raw(c, header, sizeof(header));
}

static void send_message(struct conn *c, uint32_t id, const uint32_t *words, uint32_t count)
{
    send_header(c, count, id);
    if (count)
        send_raw(c, words, (size_t)count * 4);
}

/* One SUBMIT_CMD2 with one batch of raw Venus bytes (any size; padded with zeros to words). */
static void send_venus(struct conn *c, const void *commands, size_t size)
{
    const uint32_t words = (uint32_t)((size + 3) / 4);
    const uint32_t head[9] = { 1, 1, 9, words, 9 + words, 0, 0, 0, 0 };
    send_header(c, 9 + words, PV_TEST_VCMD_SUBMIT_CMD2);
    send_raw(c, head, sizeof(head));
    send_raw(c, commands, size);
    if (size % 4) {
        static const uint8_t zeros[4];
        send_raw(c, zeros, 4 - size % 4);
    }
}

static void send_cs(struct conn *c, const struct pv_test_cs *cs)
{
    send_venus(c, cs->data, cs->size);
}

/* Reads and drops whatever the host sends (closing fds it passes) without waiting. Returns 1
 * once the host has closed the connection, 0 otherwise. */
static int drain(struct conn *c, size_t *bytes)
{
    for (;;) {
        char data[4096];
        union {
            char buf[CMSG_SPACE(16 * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.buf,
            .msg_controllen = sizeof(control.buf),
        };
        ssize_t n = recvmsg(c->guest.vtest.fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0)
            return 1; /* end of file, or ECONNRESET */
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                const size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < count; i++) {
                    int fd;
                    memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                    close(fd);
                }
            }
        }
        *bytes += (size_t)n;
    }
}

/* Waits for the host to close the connection. Returns 0 once closed, -1 after the timeout. */
static int wait_host_closed(struct conn *c, int timeout_ms, size_t *bytes)
{
    const int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        if (drain(c, bytes))
            return 0;
        const int64_t left = deadline - now_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = { .fd = c->guest.vtest.fd, .events = POLLIN };
        poll(&pfd, 1, (int)(left < 100 ? left : 100));
    }
}

/* -- set-ups ---------------------------------------------------------------------------- */

enum stage {
    STAGE_CONNECT,   /* a bare connection */
    STAGE_HANDSHAKE, /* the driver's handshake, CONTEXT_INIT included */
    STAGE_GUEST,     /* handshake, a reply blob and a reply stream */
};

static int setup(struct conn *c, enum stage stage)
{
    memset(&c->guest, 0, sizeof(c->guest));
    c->guest.vtest.fd = -1;
    c->guest.reply_blob.fd = -1;
    if (stage == STAGE_GUEST) {
        c->have_context = true;
        if (pv_test_guest_start(&c->guest, socket_path, c->name, REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE))
            return conn_fail(c, "valid set-up (handshake, reply stream) failed");
        return 0;
    }
    if (pv_test_vtest_connect(&c->guest.vtest, socket_path, 5000))
        return conn_fail(c, "cannot connect to %s", socket_path);
    if (stage == STAGE_HANDSHAKE) {
        c->have_context = true;
        if (pv_test_vtest_handshake(&c->guest.vtest, c->name))
            return conn_fail(c, "valid handshake failed");
    }
    return 0;
}

/* A blob the guest maps (HOST3D, blob_id 0, like the driver's shmems). */
static int make_blob(struct conn *c, uint64_t size, struct pv_test_blob *blob)
{
    if (pv_test_vtest_create_blob(&c->guest.vtest, PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE, size, 0, blob))
        return conn_fail(c, "valid RESOURCE_CREATE_BLOB of %" PRIu64 " bytes failed", size);
    memset(blob->map, 0, size);
    return 0;
}

/* vkCreateRingMESA with every field given. */
struct ring_info {
    uint64_t id;
    uint32_t res_id;
    uint64_t offset, size, idle_timeout;
    uint64_t head, tail, status, buffer, buffer_size, extra, extra_size;
};

static void cs_create_ring(struct pv_test_cs *cs, const struct ring_info *r)
{
    pv_test_cs_command(cs, CMD_vkCreateRingMESA, 0);
    pv_test_cs_u64(cs, r->id);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, STYPE_RING_CREATE_INFO_MESA);
    pv_test_cs_marker(cs, false); /* pNext */
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, r->res_id);
    pv_test_cs_u64(cs, r->offset);
    pv_test_cs_u64(cs, r->size);
    pv_test_cs_u64(cs, r->idle_timeout);
    pv_test_cs_u64(cs, r->head);
    pv_test_cs_u64(cs, r->tail);
    pv_test_cs_u64(cs, r->status);
    pv_test_cs_u64(cs, r->buffer);
    pv_test_cs_u64(cs, r->buffer_size);
    pv_test_cs_u64(cs, r->extra);
    pv_test_cs_u64(cs, r->extra_size);
}

static struct ring_info valid_ring(uint32_t res_id)
{
    return (struct ring_info){
        .id = RING_ID, .res_id = res_id, .offset = 0, .size = RING_BLOB_SIZE,
        .idle_timeout = RING_IDLE_TIMEOUT_NS, .head = RING_HEAD, .tail = RING_TAIL,
        .status = RING_STATUS, .buffer = RING_BUFFER, .buffer_size = RING_BUFFER_SIZE,
        .extra = RING_EXTRA, .extra_size = 4,
    };
}

static void cs_execute_streams(struct pv_test_cs *cs, uint32_t res_id, uint64_t offset, uint64_t size)
{
    pv_test_cs_command(cs, CMD_vkExecuteCommandStreamsMESA, 0);
    pv_test_cs_u32(cs, 1);        /* streamCount */
    pv_test_cs_array_size(cs, 1); /* pStreams */
    pv_test_cs_u32(cs, res_id);
    pv_test_cs_u64(cs, offset);
    pv_test_cs_u64(cs, size);
    pv_test_cs_array_size(cs, 0); /* pReplyPositions */
    pv_test_cs_u32(cs, 0);        /* dependencyCount */
    pv_test_cs_array_size(cs, 0); /* pDependencies */
    pv_test_cs_u32(cs, 0);        /* flags */
}

static void cs_ring_command(struct pv_test_cs *cs, uint32_t type, uint64_t ring)
{
    pv_test_cs_command(cs, type, 0);
    pv_test_cs_u64(cs, ring);
}

/* Sends one valid stream and makes sure the host took it (a ping round trip; the host serves a
 * connection in order). */
static int send_valid(struct conn *c, const struct pv_test_cs *cs, const char *what)
{
    if (cs->out_of_memory || pv_test_vtest_submit(&c->guest.vtest, cs->data, cs->size) ||
        pv_test_vtest_roundtrip(&c->guest.vtest))
        return conn_fail(c, "valid %s failed", what);
    return 0;
}

/* A live ring on its own blob, created like the driver does. */
static int start_ring(struct conn *c, struct pv_test_blob *blob)
{
    if (make_blob(c, RING_BLOB_SIZE, blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    const struct ring_info info = valid_ring(blob->res_id);
    cs_create_ring(&cs, &info);
    int ret = send_valid(c, &cs, "vkCreateRingMESA");
    pv_test_cs_fini(&cs);
    return ret;
}

/* Publishes ring bytes the way the driver does: copy at tail, store tail (release), notify over
 * the socket if the host's worker says it is idle. */
static void ring_submit(struct conn *c, struct pv_test_blob *blob, const void *data, uint32_t size,
                        uint32_t new_tail)
{
    uint8_t *base = blob->map;
    uint32_t *tail = (uint32_t *)(base + RING_TAIL);
    const uint32_t old_tail = __atomic_load_n(tail, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < size; i++)
        base[RING_BUFFER + ((old_tail + i) & (RING_BUFFER_SIZE - 1))] = ((const uint8_t *)data)[i];
    __atomic_store_n(tail, new_tail, __ATOMIC_RELEASE);
    if (__atomic_load_n((uint32_t *)(base + RING_STATUS), __ATOMIC_SEQ_CST) & RING_STATUS_IDLE) {
        struct pv_test_cs cs;
        pv_test_cs_init(&cs);
        cs_ring_command(&cs, CMD_vkNotifyRingMESA, RING_ID);
        pv_test_cs_u32(&cs, new_tail); /* seqno */
        pv_test_cs_u32(&cs, 0);        /* flags */
        send_cs(c, &cs);
        pv_test_cs_fini(&cs);
    }
}

/* -- cases: before any context ---------------------------------------------------------- */

static int case_raw_random(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    uint32_t words[1024];
    for (size_t i = 0; i < 1024; i++)
        words[i] = rng_u32(&c->rng);
    send_raw(c, words, sizeof(words));
    return 0;
}

static int case_raw_huge_length(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    send_header(c, 0xffffffffu, PV_TEST_VCMD_CREATE_RENDERER);
    send_raw(c, "garbage!", 8);
    return 0;
}

static int case_raw_submit_first(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    const uint32_t payload[1] = { 0 };
    send_message(c, PV_TEST_VCMD_SUBMIT_CMD2, payload, 1);
    return 0;
}

static int case_raw_gl_command(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    const uint32_t payload[11] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
    send_message(c, VCMD_RESOURCE_CREATE, payload, 11);
    return 0;
}

static int case_raw_name_then_random(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    if (pv_test_vtest_create_renderer(&c->guest.vtest, c->name))
        return conn_fail(c, "CREATE_RENDERER failed");
    uint32_t words[256];
    for (size_t i = 0; i < 256; i++)
        words[i] = rng_u32(&c->rng);
    send_raw(c, words, sizeof(words));
    return 0;
}

static int case_raw_context_init_first(struct conn *c)
{
    if (setup(c, STAGE_CONNECT))
        return -1;
    if (pv_test_vtest_create_renderer(&c->guest.vtest, c->name))
        return conn_fail(c, "CREATE_RENDERER failed");
    const uint32_t capset = 1; /* VIRGL, not Venus */
    send_message(c, PV_TEST_VCMD_CONTEXT_INIT, &capset, 1);
    return 0;
}

/* -- cases: vtest garbage after a valid handshake ---------------------------------------- */

/* Random vtest messages, mostly with ids the host serves and their exact sizes, so that the
 * handlers see random payloads; the last one is an unknown command, so the host must hang up
 * by the end whatever the random ones did. */
static int case_vtest_random(struct conn *c)
{
    static const struct {
        uint32_t id;
        uint32_t words;
    } served[] = {
        { PV_TEST_VCMD_RESOURCE_UNREF, 1 },  { PV_TEST_VCMD_RESOURCE_BUSY_WAIT, 2 },
        { PV_TEST_VCMD_PING_PROTOCOL_VERSION, 0 }, { PV_TEST_VCMD_PROTOCOL_VERSION, 1 },
        { PV_TEST_VCMD_GET_PARAM, 1 },       { PV_TEST_VCMD_GET_CAPSET, 2 },
        { PV_TEST_VCMD_CONTEXT_INIT, 1 },    { PV_TEST_VCMD_RESOURCE_CREATE_BLOB, 6 },
        { VCMD_SYNC_CREATE, 2 },             { VCMD_SYNC_UNREF, 1 },
        { VCMD_SYNC_WAIT, 5 },               { PV_TEST_VCMD_SUBMIT_CMD2, 12 },
        { PV_TEST_VCMD_SYNC_READ, 1 },       { PV_TEST_VCMD_SYNC_WRITE, 3 },
        { PV_TEST_VCMD_CREATE_RENDERER, 3 },
    };
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    size_t received = 0;
    const unsigned count = 16 + rng_below(&c->rng, 48);
    for (unsigned m = 0; m < count; m++) {
        uint32_t id, length;
        const uint32_t pick = rng_below(&c->rng, 20);
        const unsigned which = rng_below(&c->rng, sizeof(served) / sizeof(served[0]));
        if (pick < 18) {
            id = served[which].id;
            length = rng_below(&c->rng, 10) ? served[which].words : rng_below(&c->rng, 64);
        } else if (pick < 19) {
            id = rng_u32(&c->rng);
            length = rng_below(&c->rng, 64);
        } else {
            /* Longer than the host's message limit (256 MiB): refused before it reads on. */
            id = served[which].id;
            length = 0x04000001u + rng_below(&c->rng, 0xfbffffffu);
        }
        uint32_t payload[64];
        const uint32_t sent = length <= 64 ? length : 0;
        for (uint32_t i = 0; i < sent; i++)
            payload[i] = rng_word(&c->rng);
        if (id == PV_TEST_VCMD_RESOURCE_CREATE_BLOB && sent == 6 && rng_below(&c->rng, 2)) {
            /* Often a plausible blob, so that some of them exist for the other messages. */
            payload[0] = 1 + rng_below(&c->rng, 2);
            payload[2] = 4096u << rng_below(&c->rng, 8);
            payload[3] = 0;
            payload[4] = payload[5] = 0;
        }
        if (id == PV_TEST_VCMD_SUBMIT_CMD2 && sent >= 9 && rng_below(&c->rng, 2)) {
            /* A well-formed batch around a random Venus stream. */
            payload[0] = 1;
            payload[1] = 1;
            payload[2] = 9;
            payload[3] = sent - 9;
            payload[4] = sent;
            payload[5] = 0;
            payload[6] = 0;
        }
        send_header(c, length, id);
        if (sent)
            send_raw(c, payload, (size_t)sent * 4);
        if (drain(c, &received))
            return 0;
        if (length > 64)
            return 0; /* refused: nothing behind it would be read */
    }
    send_message(c, 0xdeadu, NULL, 0);
    return 0;
}

static int case_vtest_context_init_twice(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    const uint32_t capset = PV_TEST_CAPSET_VENUS;
    send_message(c, PV_TEST_VCMD_CONTEXT_INIT, &capset, 1);
    return 0;
}

static int case_vtest_submit_overrun(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    /* One batch whose stream claims 0x10000 words of a 12-word payload. */
    const uint32_t payload[12] = { 1, 1, 9, 0x10000, 12, 0, 0, 0, 0, 0, 0, 0 };
    send_message(c, PV_TEST_VCMD_SUBMIT_CMD2, payload, 12);
    return 0;
}

static int case_vtest_batch_count_max(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    const uint32_t payload[9] = { 0xffffffffu, 1, 9, 0, 9, 0, 0, 0, 0 };
    send_message(c, PV_TEST_VCMD_SUBMIT_CMD2, payload, 9);
    return 0;
}

static int case_vtest_sync_offset_overflow(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    /* sync_offset + sync_count * 3 wraps around 2^32. */
    const uint32_t payload[9] = { 1, 0, 9, 0, 0xfffffffdu, 0x55555556u, 0, 0, 0 };
    send_message(c, PV_TEST_VCMD_SUBMIT_CMD2, payload, 9);
    return 0;
}

static int case_vtest_sync_wait_unknown(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    const uint32_t payload[5] = { 0, 0xffffffffu, 0x77, 1, 0 };
    send_message(c, VCMD_SYNC_WAIT, payload, 5);
    return 0;
}

static int case_vtest_blob_size_max(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    /* size 0xffffffffffffffff: a negative size_t. */
    const uint32_t payload[6] = { PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE, 0xffffffffu, 0xffffffffu, 0, 0 };
    send_message(c, PV_TEST_VCMD_RESOURCE_CREATE_BLOB, payload, 6);
    return 0;
}

static int case_vtest_blob_unknown_memory(struct conn *c)
{
    if (setup(c, STAGE_HANDSHAKE))
        return -1;
    /* A VkDeviceMemory blob for a memory id that was never allocated. */
    const uint32_t payload[6] = { PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE, 65536, 0,
                                  (uint32_t)NEVER_CREATED_ID, (uint32_t)(NEVER_CREATED_ID >> 32) };
    send_message(c, PV_TEST_VCMD_RESOURCE_CREATE_BLOB, payload, 6);
    return 0;
}

/* -- cases: Venus garbage after a valid reply stream -------------------------------------- */

/* Random Venus streams: a plausible command header (a known type, reply flag or not), random
 * words, and an unknown command at the end, so that a stream that happens to decode still ends
 * the context. */
static int case_venus_random(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    const unsigned words = 2 + rng_below(&c->rng, 1000);
    pv_test_cs_command(&cs, rng_below(&c->rng, CMD_FIRST_UNKNOWN), rng_below(&c->rng, 2));
    for (unsigned i = 0; i < words; i++)
        pv_test_cs_u32(&cs, rng_word(&c->rng));
    pv_test_cs_command(&cs, CMD_FIRST_UNKNOWN, 0);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

/* A valid stream (instance, physical device count, destroy) with a few bytes or words changed:
 * garbage that gets deeper into the decoders than random bytes. */
static int case_venus_mutated(struct conn *c)
{
    static const uint32_t interesting[] = { 0, 1, 2, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "hostile", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    pv_test_cs_seek_reply_stream(&cs, 64);
    pv_test_cs_enumerate_physical_devices(&cs, PV_TEST_COMMAND_GENERATE_REPLY, INSTANCE_ID, 0, NULL);
    pv_test_cs_seek_reply_stream(&cs, 128);
    pv_test_cs_destroy_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, INSTANCE_ID);
    const unsigned mutations = 1 + rng_below(&c->rng, 4);
    for (unsigned m = 0; m < mutations && !cs.out_of_memory; m++) {
        const size_t word = rng_below(&c->rng, (uint32_t)(cs.size / 4));
        uint32_t value;
        memcpy(&value, cs.data + word * 4, 4);
        switch (rng_below(&c->rng, 3)) {
        case 0:
            value ^= 1u << rng_below(&c->rng, 32);
            break;
        case 1:
            value = interesting[rng_below(&c->rng, sizeof(interesting) / sizeof(interesting[0]))];
            break;
        default:
            value = rng_u32(&c->rng);
            break;
        }
        memcpy(cs.data + word * 4, &value, 4);
    }
    pv_test_cs_command(&cs, CMD_FIRST_UNKNOWN, 0);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_venus_random_bytes(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    uint32_t words[512];
    for (size_t i = 0; i < 512; i++)
        words[i] = rng_u32(&c->rng);
    send_venus(c, words, sizeof(words));
    return 0;
}

static int send_truncated_instance(struct conn *c, size_t keep)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "hostile", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    cs.size = keep;
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_truncated_header(struct conn *c)
{
    return send_truncated_instance(c, 4);
}

static int case_truncated_instance_20(struct conn *c)
{
    return send_truncated_instance(c, 20);
}

static int case_truncated_instance_id(struct conn *c)
{
    return send_truncated_instance(c, 132);
}

static int case_truncated_ring(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    const struct ring_info info = valid_ring(c->guest.reply_blob.res_id);
    cs_create_ring(&cs, &info);
    cs.size = 60;
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_truncated_execute(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_execute_streams(&cs, c->guest.reply_blob.res_id, 0, 64);
    cs.size = 24; /* inside the first stream description */
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int send_unknown_type(struct conn *c, uint32_t type)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_command(&cs, type, 0);
    pv_test_cs_u64(&cs, 0);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_unknown_past_table(struct conn *c)
{
    return send_unknown_type(c, CMD_FIRST_UNKNOWN);
}

static int case_unknown_max(struct conn *c)
{
    return send_unknown_type(c, 0x7fffffffu);
}

static int case_unknown_negative(struct conn *c)
{
    return send_unknown_type(c, 0x80000000u);
}

static int case_unknown_flags(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_command(&cs, PV_TEST_CMD_vkSeekReplyCommandStreamMESA, 0x80000000u);
    pv_test_cs_u64(&cs, 0);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static void cs_enumerate_count(struct pv_test_cs *cs, uint64_t instance)
{
    pv_test_cs_seek_reply_stream(cs, 0);
    pv_test_cs_enumerate_physical_devices(cs, PV_TEST_COMMAND_GENERATE_REPLY, instance, 0, NULL);
}

static int case_never_created(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_enumerate_count(&cs, NEVER_CREATED_ID);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_destroy_never_created(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_destroy_instance(&cs, 0, NEVER_CREATED_ID);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_use_after_destroy(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    if (pv_test_create_instance(&c->guest, INSTANCE_ID, 0) || pv_test_destroy_instance(&c->guest, INSTANCE_ID, 0))
        return conn_fail(c, "valid vkCreateInstance/vkDestroyInstance failed");
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_enumerate_count(&cs, INSTANCE_ID);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_destroy_twice(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    if (pv_test_create_instance(&c->guest, INSTANCE_ID, 0) || pv_test_destroy_instance(&c->guest, INSTANCE_ID, 0))
        return conn_fail(c, "valid vkCreateInstance/vkDestroyInstance failed");
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_destroy_instance(&cs, 0, INSTANCE_ID);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

/* vkEnumeratePhysicalDevices with *pPhysicalDeviceCount = 0xffffffff and an id array of that
 * many elements, of which none follow. */
static int case_count_u32_max(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    if (pv_test_create_instance(&c->guest, INSTANCE_ID, 0))
        return conn_fail(c, "valid vkCreateInstance failed");
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_command(&cs, PV_TEST_CMD_vkEnumeratePhysicalDevices, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_handle(&cs, INSTANCE_ID);
    pv_test_cs_marker(&cs, true);
    pv_test_cs_u32(&cs, 0xffffffffu);
    pv_test_cs_array_size(&cs, 0xffffffffu);
    pv_test_cs_handle(&cs, 0x1000);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

/* vkCreateInstance with enabledExtensionCount 0xffffffff and an array size of 2^63. */
static int case_count_2_63(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    /* Layout of the notes' worked example: enabledExtensionCount at 0x64, its array size at 0x68. */
    const uint32_t count = 0xffffffffu;
    const uint64_t size = 1ull << 63;
    memcpy(cs.data + 0x64, &count, 4);
    memcpy(cs.data + 0x68, &size, 8);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

/* The experimental-feature query with an output buffer (void *pData, capacity only) of size. */
static int send_feature_query(struct conn *c, uint64_t data_size, uint64_t capacity)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_command(&cs, CMD_vkGetVenusExperimentalFeatureData100000MESA, PV_TEST_COMMAND_GENERATE_REPLY);
    pv_test_cs_marker(&cs, true);
    pv_test_cs_u64(&cs, data_size);
    pv_test_cs_array_size(&cs, capacity);
    /* Whatever the host makes of it, the stream then ends the context. */
    pv_test_cs_command(&cs, CMD_FIRST_UNKNOWN, 0);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_data_size_u32_max(struct conn *c)
{
    return send_feature_query(c, 0xffffffffu, 0xffffffffu);
}

static int case_data_size_2_63(struct conn *c)
{
    return send_feature_query(c, 1ull << 63, 1ull << 63);
}

static int case_data_size_negative(struct conn *c)
{
    return send_feature_query(c, UINT64_MAX, UINT64_MAX);
}

static int case_string_size_negative(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    const uint64_t size = UINT64_MAX; /* pApplicationName's size, at offset 0x34 */
    memcpy(cs.data + 0x34, &size, 8);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int send_set_reply(struct conn *c, uint32_t res_id_delta, uint64_t offset, uint64_t size)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, c->guest.reply_blob.res_id + res_id_delta, offset, size);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_reply_offset_past_blob(struct conn *c)
{
    return send_set_reply(c, 0, REPLY_BLOB_SIZE + 4096, 64);
}

static int case_reply_size_negative(struct conn *c)
{
    return send_set_reply(c, 0, 0, UINT64_MAX);
}

static int case_reply_offset_wraps(struct conn *c)
{
    /* offset + size wraps around 2^64 to 8. */
    return send_set_reply(c, 0, UINT64_MAX - 7, 16);
}

static int case_reply_never_created_blob(struct conn *c)
{
    return send_set_reply(c, 1000, 0, 64);
}

static int case_seek_negative(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, UINT64_MAX);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_blob_use_after_unref(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (make_blob(c, 8192, &blob))
        return -1;
    const uint32_t res_id = blob.res_id;
    /* Unref twice (the host ignores the second), then point the reply stream at it. */
    if (pv_test_vtest_unref_blob(&c->guest.vtest, &blob))
        return conn_fail(c, "RESOURCE_UNREF failed");
    send_message(c, PV_TEST_VCMD_RESOURCE_UNREF, &res_id, 1);
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, res_id, 0, 4096);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int send_execute(struct conn *c, uint32_t res_id, uint64_t offset, uint64_t size)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_execute_streams(&cs, res_id, offset, size);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

static int case_execute_offset_past_blob(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    return send_execute(c, c->guest.reply_blob.res_id, REPLY_BLOB_SIZE + 64, 16);
}

static int case_execute_size_wraps(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    return send_execute(c, c->guest.reply_blob.res_id, 16, UINT64_MAX - 7);
}

static int case_execute_freed_blob(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (make_blob(c, 4096, &blob))
        return -1;
    const uint32_t res_id = blob.res_id;
    if (pv_test_vtest_unref_blob(&c->guest.vtest, &blob))
        return conn_fail(c, "RESOURCE_UNREF failed");
    return send_execute(c, res_id, 0, 16);
}

static int case_execute_stream_count_max(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_command(&cs, CMD_vkExecuteCommandStreamsMESA, 0);
    pv_test_cs_u32(&cs, 0xffffffffu);
    pv_test_cs_array_size(&cs, 0xffffffffu);
    for (int i = 0; i < 4; i++) {
        pv_test_cs_u32(&cs, c->guest.reply_blob.res_id);
        pv_test_cs_u64(&cs, 0);
        pv_test_cs_u64(&cs, 0);
    }
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    return 0;
}

/* An indirect stream that executes itself. */
static int case_execute_recursive(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (make_blob(c, 4096, &blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_execute_streams(&cs, blob.res_id, 0, 0);
    /* The stream's size field is the command's own size: patch it in. */
    const uint64_t size = cs.size;
    memcpy(cs.data + 8 + 4 + 8 + 4 + 8, &size, 8);
    memcpy(blob.map, cs.data, cs.size);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return 0;
}

static int case_execute_unknown_inside(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (make_blob(c, 4096, &blob))
        return -1;
    const uint32_t inside[4] = { CMD_FIRST_UNKNOWN, 0, 0, 0 };
    memcpy(blob.map, inside, sizeof(inside));
    send_execute(c, blob.res_id, 0, sizeof(inside));
    pv_test_blob_unmap(&blob);
    return 0;
}

static int send_bad_ring(struct conn *c, void (*edit)(struct ring_info *info))
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (make_blob(c, RING_BLOB_SIZE, &blob))
        return -1;
    struct ring_info info = valid_ring(blob.res_id);
    edit(&info);
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_create_ring(&cs, &info);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return 0;
}

static void edit_ring_offset_past_blob(struct ring_info *info)
{
    info->offset = RING_BLOB_SIZE + 4096;
}

static void edit_ring_buffer_past_ring(struct ring_info *info)
{
    info->buffer = RING_BLOB_SIZE - 64;
}

static void edit_ring_extra_wraps(struct ring_info *info)
{
    info->extra = UINT64_MAX - 3;
    info->extra_size = 8;
}

static void edit_ring_size_negative(struct ring_info *info)
{
    info->size = UINT64_MAX;
}

static void edit_ring_buffer_not_pow2(struct ring_info *info)
{
    info->buffer_size = RING_BUFFER_SIZE - 4;
}

static void edit_ring_buffer_huge(struct ring_info *info)
{
    info->buffer_size = 1ull << 63;
}

static void edit_ring_overlap(struct ring_info *info)
{
    info->tail = RING_BUFFER + 128; /* inside the buffer */
}

static void edit_ring_unknown_blob(struct ring_info *info)
{
    info->res_id += 1000;
}

static void edit_ring_id_zero(struct ring_info *info)
{
    info->id = 0;
}

static int case_ring_offset_past_blob(struct conn *c)
{
    return send_bad_ring(c, edit_ring_offset_past_blob);
}

static int case_ring_buffer_past_ring(struct conn *c)
{
    return send_bad_ring(c, edit_ring_buffer_past_ring);
}

static int case_ring_extra_wraps(struct conn *c)
{
    return send_bad_ring(c, edit_ring_extra_wraps);
}

static int case_ring_size_negative(struct conn *c)
{
    return send_bad_ring(c, edit_ring_size_negative);
}

static int case_ring_buffer_not_pow2(struct conn *c)
{
    return send_bad_ring(c, edit_ring_buffer_not_pow2);
}

static int case_ring_buffer_huge(struct conn *c)
{
    return send_bad_ring(c, edit_ring_buffer_huge);
}

static int case_ring_overlap(struct conn *c)
{
    return send_bad_ring(c, edit_ring_overlap);
}

static int case_ring_unknown_blob(struct conn *c)
{
    return send_bad_ring(c, edit_ring_unknown_blob);
}

static int case_ring_id_zero(struct conn *c)
{
    return send_bad_ring(c, edit_ring_id_zero);
}

static int case_ring_created_twice(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (start_ring(c, &blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    const struct ring_info info = valid_ring(blob.res_id);
    cs_create_ring(&cs, &info);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return 0;
}

static int case_ring_destroy_twice(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (start_ring(c, &blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_ring_command(&cs, CMD_vkDestroyRingMESA, RING_ID);
    int ret = send_valid(c, &cs, "vkDestroyRingMESA");
    if (ret == 0)
        send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return ret;
}

static int case_ring_notify_after_destroy(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (start_ring(c, &blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_ring_command(&cs, CMD_vkDestroyRingMESA, RING_ID);
    int ret = send_valid(c, &cs, "vkDestroyRingMESA");
    pv_test_cs_reset(&cs);
    cs_ring_command(&cs, CMD_vkNotifyRingMESA, RING_ID);
    pv_test_cs_u32(&cs, 0);
    pv_test_cs_u32(&cs, 0);
    if (ret == 0)
        send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return ret;
}

static int case_ring_write_extra_past(struct conn *c)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (start_ring(c, &blob))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_ring_command(&cs, CMD_vkWriteRingExtraMESA, RING_ID);
    pv_test_cs_u64(&cs, UINT64_MAX - 3); /* offset */
    pv_test_cs_u32(&cs, 1);
    send_cs(c, &cs);
    pv_test_cs_fini(&cs);
    pv_test_blob_unmap(&blob);
    return 0;
}

/* Garbage through a live ring: the host's ring worker finds it, not the socket reader. Only
 * what the driver would send follows on the socket: a notification if the worker is idle. */
static int send_ring_garbage(struct conn *c, const void *data, uint32_t size, uint32_t tail)
{
    if (setup(c, STAGE_GUEST))
        return -1;
    struct pv_test_blob blob;
    if (start_ring(c, &blob))
        return -1;
    ring_submit(c, &blob, data, size, tail);
    /* The connection outlives the mapping: the host may still touch the ring. */
    pv_test_blob_unmap(&blob);
    return 0;
}

static int case_ring_tail_ahead(struct conn *c)
{
    /* A tail 4 KiB beyond the end of the 64 KiB buffer, with a valid command at its start. */
    const uint32_t seek[4] = { PV_TEST_CMD_vkSeekReplyCommandStreamMESA, 0, 0, 0 };
    return send_ring_garbage(c, seek, sizeof(seek), RING_BUFFER_SIZE + 4096);
}

static int case_ring_tail_negative(struct conn *c)
{
    /* The tail behind the head: as a free-running counter, 2^32 - 4 bytes ahead. */
    return send_ring_garbage(c, NULL, 0, 0xfffffffcu);
}

static int case_ring_unknown_command(struct conn *c)
{
    const uint32_t cmd[2] = { CMD_FIRST_UNKNOWN, 0 };
    return send_ring_garbage(c, cmd, sizeof(cmd), sizeof(cmd));
}

static int case_ring_half_command(struct conn *c)
{
    /* The tail stops inside a vkSeekReplyCommandStreamMESA. */
    const uint32_t seek[4] = { PV_TEST_CMD_vkSeekReplyCommandStreamMESA, 0, 0, 0 };
    return send_ring_garbage(c, seek, 12, 12);
}

static int case_ring_random(struct conn *c)
{
    uint32_t words[1024];
    for (size_t i = 0; i < 1024; i++)
        words[i] = rng_u32(&c->rng);
    return send_ring_garbage(c, words, sizeof(words), sizeof(words));
}

static int case_ring_execute_past_blob(struct conn *c)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    cs_execute_streams(&cs, 1 /* the reply blob */, REPLY_BLOB_SIZE, 64);
    int ret = send_ring_garbage(c, cs.data, (uint32_t)cs.size, (uint32_t)cs.size);
    pv_test_cs_fini(&cs);
    return ret;
}

/* -- cases: killed guests ---------------------------------------------------------------- */

/* The guest dies in the middle of a message: a child process makes the connection, sends the
 * first part, and is killed with SIGKILL, so the kernel closes its socket. */
static int killed_guest(struct conn *c, enum stage stage, bool with_ring,
                        void (*send_half)(struct conn *c))
{
    c->guest_closes = true;
    c->have_context = stage != STAGE_CONNECT;
    int ready[2];
    if (pipe(ready))
        return conn_fail(c, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return conn_fail(c, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Never outlive the garbage guest, whatever happens to it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(ready[0]);
        int ok = setup(c, stage) == 0;
        struct pv_test_blob blob;
        if (ok && with_ring) {
            ok = start_ring(c, &blob) == 0 && pv_test_create_instance(&c->guest, INSTANCE_ID, 0) == 0;
        }
        if (ok)
            send_half(c);
        char byte = ok ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char byte = 0;
    ssize_t n;
    do
        n = read(ready[0], &byte, 1);
    while (n < 0 && errno == EINTR);
    close(ready[0]);
    /* Let the host start reading what was sent. */
    sleep_ms(50);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    if (n != 1 || byte != 'y')
        return conn_fail(c, "the guest's valid set-up failed before it was killed");
    return 0;
}

static void half_header(struct conn *c)
{
    const uint32_t word = 13;
    send_raw(c, &word, 4);
}

static void half_submit(struct conn *c)
{
    /* A 13-word SUBMIT_CMD2 of which 6 words arrive. */
    const uint32_t words[8] = { 13, PV_TEST_VCMD_SUBMIT_CMD2, 1, 1, 9, 4, 13, 0 };
    send_raw(c, words, sizeof(words));
}

static void half_renderer(struct conn *c)
{
    const uint32_t header[2] = { 64, PV_TEST_VCMD_CREATE_RENDERER };
    send_raw(c, header, sizeof(header));
    send_raw(c, "killed-during-create-renderer", 20);
}

static void half_create_instance(struct conn *c)
{
    /* A vkCreateInstance whose SUBMIT_CMD2 arrives up to the middle of the Venus command. */
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "hostile", PV_TEST_API_VERSION_1_1,
                               INSTANCE_ID + 0x100);
    const uint32_t words = (uint32_t)(cs.size / 4);
    const uint32_t head[11] = { 9 + words, PV_TEST_VCMD_SUBMIT_CMD2, 1, 1, 9, words, 9 + words, 0, 0, 0, 0 };
    send_raw(c, head, sizeof(head));
    send_raw(c, cs.data, cs.size / 2);
    pv_test_cs_fini(&cs);
}

static int case_kill_mid_renderer(struct conn *c)
{
    return killed_guest(c, STAGE_CONNECT, false, half_renderer);
}

static int case_kill_mid_header(struct conn *c)
{
    return killed_guest(c, STAGE_GUEST, false, half_header);
}

static int case_kill_mid_submit(struct conn *c)
{
    return killed_guest(c, STAGE_GUEST, false, half_submit);
}

static int case_kill_with_live_ring(struct conn *c)
{
    return killed_guest(c, STAGE_GUEST, true, half_create_instance);
}

/* -- the list ----------------------------------------------------------------------------- */

struct garbage_case {
    const char *name;
    int (*run)(struct conn *c);
};

static const struct garbage_case cases[] = {
    /* Random bytes instead of a vtest header, and other garbage before any context. */
    { "raw-random-bytes", case_raw_random },
    { "raw-huge-length", case_raw_huge_length },
    { "raw-submit-first", case_raw_submit_first },
    { "raw-gl-command", case_raw_gl_command },
    { "raw-name-then-random", case_raw_name_then_random },
    { "raw-context-init-virgl", case_raw_context_init_first },
    /* A valid handshake, then vtest garbage. */
    { "vtest-random-a", case_vtest_random },
    { "vtest-random-b", case_vtest_random },
    { "vtest-random-c", case_vtest_random },
    { "vtest-random-d", case_vtest_random },
    { "vtest-random-e", case_vtest_random },
    { "vtest-random-f", case_vtest_random },
    { "vtest-random-g", case_vtest_random },
    { "vtest-random-h", case_vtest_random },
    { "vtest-context-init-twice", case_vtest_context_init_twice },
    { "vtest-submit-overrun", case_vtest_submit_overrun },
    { "vtest-batch-count-max", case_vtest_batch_count_max },
    { "vtest-sync-offset-wraps", case_vtest_sync_offset_overflow },
    { "vtest-sync-wait-unknown", case_vtest_sync_wait_unknown },
    { "vtest-blob-size-negative", case_vtest_blob_size_max },
    { "vtest-blob-never-allocated", case_vtest_blob_unknown_memory },
    /* A valid handshake and reply stream, then Venus garbage. */
    { "venus-random-a", case_venus_random },
    { "venus-random-b", case_venus_random },
    { "venus-random-c", case_venus_random },
    { "venus-random-d", case_venus_random },
    { "venus-random-e", case_venus_random },
    { "venus-random-f", case_venus_random },
    { "venus-random-bytes", case_venus_random_bytes },
    { "venus-mutated-a", case_venus_mutated },
    { "venus-mutated-b", case_venus_mutated },
    { "venus-mutated-c", case_venus_mutated },
    { "venus-mutated-d", case_venus_mutated },
    { "venus-mutated-e", case_venus_mutated },
    { "venus-mutated-f", case_venus_mutated },
    { "venus-mutated-g", case_venus_mutated },
    { "venus-mutated-h", case_venus_mutated },
    { "truncated-header", case_truncated_header },
    { "truncated-create-instance", case_truncated_instance_20 },
    { "truncated-instance-id", case_truncated_instance_id },
    { "truncated-create-ring", case_truncated_ring },
    { "truncated-execute-streams", case_truncated_execute },
    { "unknown-type-332", case_unknown_past_table },
    { "unknown-type-max", case_unknown_max },
    { "unknown-type-negative", case_unknown_negative },
    { "unknown-flags", case_unknown_flags },
    { "id-never-created", case_never_created },
    { "destroy-never-created", case_destroy_never_created },
    { "use-after-destroy", case_use_after_destroy },
    { "destroy-twice", case_destroy_twice },
    { "count-0xffffffff", case_count_u32_max },
    { "count-2^63", case_count_2_63 },
    { "data-size-0xffffffff", case_data_size_u32_max },
    { "data-size-2^63", case_data_size_2_63 },
    { "data-size-negative", case_data_size_negative },
    { "string-size-negative", case_string_size_negative },
    { "reply-offset-past-blob", case_reply_offset_past_blob },
    { "reply-size-negative", case_reply_size_negative },
    { "reply-offset-wraps", case_reply_offset_wraps },
    { "reply-never-created-blob", case_reply_never_created_blob },
    { "seek-negative", case_seek_negative },
    { "blob-use-after-unref", case_blob_use_after_unref },
    { "execute-offset-past-blob", case_execute_offset_past_blob },
    { "execute-size-wraps", case_execute_size_wraps },
    { "execute-freed-blob", case_execute_freed_blob },
    { "execute-stream-count-max", case_execute_stream_count_max },
    { "execute-recursive", case_execute_recursive },
    { "execute-unknown-inside", case_execute_unknown_inside },
    { "ring-offset-past-blob", case_ring_offset_past_blob },
    { "ring-buffer-past-ring", case_ring_buffer_past_ring },
    { "ring-extra-wraps", case_ring_extra_wraps },
    { "ring-size-negative", case_ring_size_negative },
    { "ring-buffer-not-pow2", case_ring_buffer_not_pow2 },
    { "ring-buffer-2^63", case_ring_buffer_huge },
    { "ring-regions-overlap", case_ring_overlap },
    { "ring-never-created-blob", case_ring_unknown_blob },
    { "ring-id-zero", case_ring_id_zero },
    { "ring-created-twice", case_ring_created_twice },
    { "ring-destroy-twice", case_ring_destroy_twice },
    { "ring-notify-after-destroy", case_ring_notify_after_destroy },
    { "ring-write-extra-past", case_ring_write_extra_past },
    { "ring-tail-ahead", case_ring_tail_ahead },
    { "ring-tail-behind-head", case_ring_tail_negative },
    { "ring-unknown-command", case_ring_unknown_command },
    { "ring-half-command", case_ring_half_command },
    { "ring-random", case_ring_random },
    { "ring-execute-past-blob", case_ring_execute_past_blob },
    /* Guests killed in the middle of a message. */
    { "kill-mid-create-renderer", case_kill_mid_renderer },
    { "kill-mid-header", case_kill_mid_header },
    { "kill-mid-submit", case_kill_mid_submit },
    { "kill-with-live-ring", case_kill_with_live_ring },
};
#define CASE_COUNT (sizeof(cases) / sizeof(cases[0]))

/* Pairs run with overlapping connections (by name), after the sequential pass. */
static const char *const overlapping[][2] = {
    { "venus-random-a", "vtest-random-a" },
    { "ring-tail-ahead", "raw-random-bytes" },
    { "execute-recursive", "kill-with-live-ring" },
    { "destroy-twice", "ring-random" },
};

static const struct garbage_case *find_case(const char *name)
{
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    }
    return NULL;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Runs one connection and prints its line. Returns 0 if it ended as expected. */
static int run_connection(unsigned index, const struct garbage_case *gc)
{
    struct conn c;
    memset(&c, 0, sizeof(c));
    c.index = index;
    c.case_name = gc->name;
    c.guest.vtest.fd = -1;
    c.guest.reply_blob.fd = -1;
    snprintf(c.name, sizeof(c.name), "hostile-%02u-%s", index, gc->name);
    /* The random bytes depend on the seed and the case, not on the order of the cases. */
    c.rng.state = base_seed ^ hash_name(gc->name);

    const int64_t start = now_ms();
    int ret = gc->run(&c);
    const char *closed = "no";
    size_t received = 0;
    if (c.guest_closes) {
        closed = "guest";
    } else if (c.guest.vtest.fd >= 0) {
        if (wait_host_closed(&c, close_timeout_ms, &received) == 0) {
            closed = "host";
        } else {
            /* For the report: does the host notice at the next submission on the socket? */
            const char *after = "";
            if (c.have_context) {
                struct pv_test_cs cs;
                pv_test_cs_init(&cs);
                cs_ring_command(&cs, CMD_vkNotifyRingMESA, RING_ID);
                pv_test_cs_u32(&cs, 0);
                pv_test_cs_u32(&cs, 0);
                send_cs(&c, &cs);
                pv_test_cs_fini(&cs);
                after = wait_host_closed(&c, 1000, &received) == 0
                            ? "; it closed it only at the next SUBMIT_CMD2 (a vkNotifyRingMESA)"
                            : "; still open after one more SUBMIT_CMD2";
            }
            ret = conn_fail(&c, "the host kept the connection open %d ms after the garbage%s", close_timeout_ms,
                            after);
        }
    } else {
        ret = conn_fail(&c, "no connection");
    }
    pv_test_guest_stop(&c.guest);

    char line[512];
    snprintf(line, sizeof(line), "conn %u case %s name %s context %s closed %s ms %lld %s%s\n", index,
             gc->name, c.name,
             c.have_context ? "yes" : "no", closed, (long long)(now_ms() - start),
             ret ? "FAIL: " : "ok", ret ? c.why : "");
    /* One write per line: overlapping connections print from two processes. */
    if (write(STDOUT_FILENO, line, strlen(line)) < 0)
        ret = -1;
    if (ret)
        fprintf(stderr, "garbage guest: conn %u (%s): %s\n", index, gc->name, c.why);
    return ret ? -1 : 0;
}

static bool selected(const char *only, const char *name)
{
    if (!only)
        return true;
    const size_t len = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += len) {
        if ((p == only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return true;
    }
    return false;
}

/* Every selected case once, then the overlapping pairs. Returns the number of failures. */
static int run_pass(const char *only, bool overlap, unsigned *index)
{
    int failures = 0;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (selected(only, cases[i].name))
            failures += run_connection(++*index, &cases[i]) != 0;
    }

    /* Two connections at once: each pair's cases run in two processes side by side. */
    for (size_t p = 0; overlap && p < sizeof(overlapping) / sizeof(overlapping[0]); p++) {
        const struct garbage_case *a = find_case(overlapping[p][0]);
        const struct garbage_case *b = find_case(overlapping[p][1]);
        if (!a || !b || !selected(only, a->name) || !selected(only, b->name))
            continue;
        const unsigned ia = ++*index, ib = ++*index;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "garbage guest: fork: %s\n", strerror(errno));
            failures++;
            continue;
        }
        if (pid == 0)
            _exit(run_connection(ia, a) ? 1 : 0);
        failures += run_connection(ib, b) != 0;
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failures++;
    }
    return failures;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *only = NULL;
    bool overlap = true;
    const char *while_exists = NULL;
    unsigned max_passes = 20;
    const char *protocol = NULL;
    pv_test_vtest_follow_host_generation();
    const char *seed_env = getenv("PV_GARBAGE_SEED");
    if (seed_env && *seed_env)
        base_seed = strtoull(seed_env, NULL, 0);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (!strcmp(argv[i], "--protocol") && i + 1 < argc) {
            protocol = argv[++i];
            if (!strcmp(protocol, "2022")) {
                pv_test_vtest_set_generation(PV_TEST_GENERATION_2022);
            } else if (!strcmp(protocol, "current")) {
                pv_test_vtest_set_generation(PV_TEST_GENERATION_CURRENT);
            } else {
                fprintf(stderr, "--protocol is current or 2022, not '%s'\n", protocol);
                return 2;
            }
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            base_seed = strtoull(argv[++i], NULL, 0);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--while-exists") && i + 1 < argc) {
            while_exists = argv[++i];
        } else if (!strcmp(argv[i], "--max-passes") && i + 1 < argc) {
            max_passes = (unsigned)atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--no-overlap")) {
            overlap = false;
        } else if (!strcmp(argv[i], "--close-timeout-ms") && i + 1 < argc) {
            close_timeout_ms = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--list")) {
            for (size_t k = 0; k < CASE_COUNT; k++)
                printf("%s\n", cases[k].name);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [--socket PATH] [--protocol current|2022] [--seed N] [--only CASE[,CASE...]] "
                            "[--no-overlap] [--close-timeout-ms N] [--while-exists PATH [--max-passes N]] "
                            "[--list]\n", argv[0]);
            return 2;
        }
    }
    printf("garbage guest: socket %s, %s protocol, seed 0x%" PRIx64 "\n", socket_path,
           protocol ? protocol : "the server's", base_seed);

    unsigned index = 0;
    int failures = 0;
    unsigned passes = 0;
    do {
        failures += run_pass(only, overlap, &index);
        passes++;
    } while (while_exists && passes < max_passes && access(while_exists, F_OK) == 0);

    printf("garbage guest: %u connections in %u passes, %d failed\n", index, passes, failures);
    return failures ? 1 : 0;
}
