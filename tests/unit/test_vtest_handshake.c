/* The vtest side of `pvgpu serve` as the Venus drivers use it, once per protocol generation (a
 * server with the default, the current one, then one started with --protocol 2022): the
 * start-up handshake and the capset each generation's driver checks, answers to unsupported
 * queries, blob creation with fd passing, a reply stream, two guests at once with the same object
 * ids, guests that leave early, SUBMIT_CMD2 batches (header sizes, timelines), vtest syncs, and
 * guests that break the vtest framing or speak the other generation, after which the server must
 * log why and still serve. Output is TAP; the pvgpu executable comes from $PVGPU or argv[1]. */
#define _GNU_SOURCE
#include "pv_test_server.h"
#include "pv_test_sync_calls.h"
#include "pv_test_venus_calls.h"

#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLOSE_TIMEOUT_MS 10000
#define LOG_TIMEOUT_MS 5000
#define SYNC_TIMEOUT_MS 5000

#define INSTANCE_ID 0x00005eed10000010ull
#define PHYSICAL_DEVICE_ID 0x00005eed20000020ull
#define DEVICE_ID 0x00005eed30000030ull
#define QUEUE_ID 0x00005eed40000040ull
#define SEMAPHORE_ID 0x00005eed50000050ull

/* Venus numbers and sTypes only the queue timeline case uses. */
#define CMD_vkSignalSemaphore 174u
#define STYPE_SEMAPHORE_SIGNAL_INFO 1000207005u
#define API_VERSION_1_2 0x00402000u

static struct pv_test_server server;
static enum pv_test_generation generation;

static bool current_generation(void)
{
    return generation == PV_TEST_GENERATION_CURRENT;
}

/* Handshake step by step, checking each reply and every capset field. */
static int test_handshake(void)
{
    struct pv_test_vtest vtest;
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    int ret = -1;
    uint32_t version, valid, value;

    /* 17 characters + NUL: the name's length is in bytes and not a multiple of 4. */
    if (pv_test_vtest_create_renderer(&vtest, "pvh-handshake-odd"))
        goto out;
    if (pv_test_vtest_ping(&vtest)) {
        pv_test_fail("PING_PROTOCOL_VERSION + RESOURCE_BUSY_WAIT sentinel: expected a ping reply (len 0) "
                     "then a busy-wait reply (len 1, value 0)");
        goto out;
    }
    if (pv_test_vtest_protocol_version(&vtest, 3, &version))
        goto out;
    if (version != 3) {
        pv_test_fail("PROTOCOL_VERSION 3 answered %u, expected 3", version);
        goto out;
    }
    if (pv_test_vtest_get_param(&vtest, PV_TEST_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT, &valid, &value))
        goto out;
    /* Current guests bind queues to timelines 1..63 with it. */
    if (!valid || value != PV_TEST_MAX_TIMELINES) {
        pv_test_fail("GET_PARAM MAX_SYNC_QUEUE_COUNT: valid %u value %u; expected valid, %u timelines",
                     valid, value, PV_TEST_MAX_TIMELINES);
        goto out;
    }
    if (pv_test_vtest_get_param(&vtest, 99, &valid, &value))
        goto out;
    if (valid) {
        pv_test_fail("GET_PARAM 99 (no such parameter) answered valid %u value %u, expected valid 0", valid, value);
        goto out;
    }

    if (pv_test_vtest_get_capset(&vtest, 99, 0, &valid))
        goto out;
    if (valid) {
        pv_test_fail("GET_CAPSET 99 (no such capset) answered valid, expected invalid");
        goto out;
    }
    if (pv_test_vtest_get_capset(&vtest, PV_TEST_CAPSET_VENUS, 1, &valid))
        goto out;
    if (valid) {
        pv_test_fail("GET_CAPSET 4 version 1 (no such version) answered valid, expected invalid");
        goto out;
    }
    if (pv_test_vtest_get_capset(&vtest, PV_TEST_CAPSET_VENUS, 0, &valid))
        goto out;
    if (!valid) {
        pv_test_fail("GET_CAPSET 4 v0 answered invalid");
        goto out;
    }
    const uint32_t *caps = vtest.capset;
    const uint32_t xml = caps[PV_TEST_CAPSET_VK_XML_VERSION];
    fprintf(stderr, "    capset: %u bytes; wire format %u, vk_xml_version %u.%u.%u, serialization spec %u, "
            "venus spec %u, blob_id_0 %u, wait syncs %u, multiple timelines %u, guest vram %u\n",
            vtest.capset_size, caps[PV_TEST_CAPSET_WIRE_FORMAT], xml >> 22, (xml >> 12) & 0x3ff, xml & 0xfff,
            caps[PV_TEST_CAPSET_COMMAND_SERIALIZATION_SPEC], caps[PV_TEST_CAPSET_VENUS_SPEC],
            caps[PV_TEST_CAPSET_BLOB_ID_0], caps[PV_TEST_CAPSET_ALLOW_WAIT_SYNCS],
            caps[PV_TEST_CAPSET_MULTIPLE_TIMELINES], caps[PV_TEST_CAPSET_USE_GUEST_VRAM]);

    /* What each generation's driver requires or relies on: the wire format is checked exactly,
     * the spec versions decide which commands and structs the guest sends (100000: the
     * experimental query and large ring; 2: ring priority; 3 would promise host image copies,
     * which this host does not serve). */
    const char *mismatch = pv_test_capset_mismatch(caps, vtest.capset_size, generation);
    if (mismatch) {
        pv_test_fail("the %s capset: %s", pv_test_generation_name(generation), mismatch);
        goto out;
    }
    if (pv_test_vtest_context_init(&vtest, PV_TEST_CAPSET_VENUS) || pv_test_vtest_roundtrip(&vtest))
        goto out;
    ret = 0;
out:
    pv_test_vtest_disconnect(&vtest);
    return ret;
}

/* Blobs: non-zero distinct res_ids, fds that map the requested size (not page-aligned either), the
 * guest's writes visible through a second mapping of the same fd, and unref. */
static int test_blobs(void)
{
    struct pv_test_vtest vtest;
    struct pv_test_blob a = { .fd = -1 }, b = { .fd = -1 }, c = { .fd = -1 };
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    int ret = -1;
    if (pv_test_vtest_handshake(&vtest, "pvh-blobs"))
        goto out;
    if (pv_test_vtest_create_blob(&vtest, PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE, 1 << 20, 0, &a) ||
        pv_test_vtest_create_blob(&vtest, PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE, 65732, 0, &b))
        goto out;
    if (a.res_id == b.res_id) {
        pv_test_fail("two blobs got the same res_id %u", a.res_id);
        goto out;
    }
    memset(a.map, 0x11, a.size);
    memset(b.map, 0x22, b.size);
    if (((uint8_t *)a.map)[a.size - 1] != 0x11 || ((uint8_t *)b.map)[b.size - 1] != 0x22) {
        pv_test_fail("blob contents do not hold what the guest wrote");
        goto out;
    }
    /* The driver uses GUEST blobs instead when the capset says supports_blob_id_0 = 0. */
    if (vtest.capset[PV_TEST_CAPSET_BLOB_ID_0] == 0) {
        if (pv_test_vtest_create_blob(&vtest, PV_TEST_BLOB_TYPE_GUEST, PV_TEST_BLOB_FLAG_MAPPABLE, 4096, 0, &c)) {
            pv_test_fail("the capset says supports_blob_id_0 = 0, so the driver asks for GUEST blobs; that failed");
            goto out;
        }
        pv_test_vtest_unref_blob(&vtest, &c);
    }
    if (pv_test_vtest_unref_blob(&vtest, &a) || pv_test_vtest_roundtrip(&vtest))
        goto out;
    ret = 0;
out:
    pv_test_blob_unmap(&a);
    pv_test_blob_unmap(&b);
    pv_test_blob_unmap(&c);
    pv_test_vtest_disconnect(&vtest);
    return ret;
}

/* One guest, one reply stream, the notes' vkCreateInstance, vkDestroyInstance. */
static int test_reply_stream(void)
{
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, "pvh-reply", 1 << 20, 0, 1 << 20))
        return -1;
    int ret = pv_test_create_instance(&guest, 0x1122334455667788ull, 0);
    if (ret == 0)
        ret = pv_test_destroy_instance(&guest, 0x1122334455667788ull, 24);
    pv_test_guest_stop(&guest);
    return ret;
}

/* Two guests at once, each with its own context: the same instance id is fine in both, and one
 * guest leaving does not disturb the other. */
static int test_two_guests(void)
{
    const uint64_t id = 0x00005eed10000010ull;
    struct pv_test_guest one, two;
    if (pv_test_guest_start(&one, server.socket_path, "pvh-one", 1 << 20, 0, 4096))
        return -1;
    if (pv_test_guest_start(&two, server.socket_path, "pvh-two", 1 << 20, 0, 4096)) {
        pv_test_guest_stop(&one);
        return -1;
    }
    int ret = pv_test_create_instance(&one, id, 0);
    if (ret == 0 && pv_test_create_instance(&two, id, 0))
        ret = pv_test_fail("a second guest could not create an instance with the id another guest uses");
    if (ret == 0 && pv_test_count_physical_devices(&one, id, 0) < 1)
        ret = -1;
    pv_test_guest_stop(&one);
    if (ret == 0 && pv_test_count_physical_devices(&two, id, 0) < 1)
        ret = pv_test_fail("the second guest stopped working when the first left");
    pv_test_guest_stop(&two);
    return ret;
}

/* Guests that leave at awkward moments; the server must carry on. */
static int test_early_exits(void)
{
    struct pv_test_vtest vtest;
    /* Connect and leave without a word. */
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    pv_test_vtest_disconnect(&vtest);
    /* Leave after CREATE_RENDERER. */
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    pv_test_vtest_create_renderer(&vtest, "pvh-early");
    pv_test_vtest_disconnect(&vtest);
    /* Leave in the middle of a request header. */
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    if (pv_test_vtest_handshake(&vtest, "pvh-half")) {
        pv_test_vtest_disconnect(&vtest);
        return -1;
    }
    const uint32_t half = 5;
    pv_test_vtest_write(&vtest, &half, sizeof(half));
    pv_test_vtest_disconnect(&vtest);
    /* Leave with a blob mapped and a reply stream set. */
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, "pvh-mapped", 1 << 20, 0, 4096))
        return -1;
    int ret = pv_test_create_instance(&guest, 0x1000, 0);
    pv_test_guest_stop(&guest);
    return ret;
}

/* After a guest `name` that did the handshake was dropped: the server must have said why in a
 * "vtest: context N: <reason>" line for that guest's context, and a fresh guest is served. */
static int check_refusal_logged(const char *name, size_t log_start, const char *reason)
{
    int ret = 0;
    const long context = pv_test_server_context_of(&server, log_start, name, LOG_TIMEOUT_MS);
    if (context < 0) {
        ret = pv_test_fail("%s: no \"context N: created for \\\"%s\\\"\" line", name, name);
    } else {
        char needle[256];
        snprintf(needle, sizeof(needle), "vtest: context %ld: %s", context, reason);
        char *line = pv_test_server_wait_log(&server, log_start, needle, LOG_TIMEOUT_MS);
        if (line)
            fprintf(stderr, "    log: %s\n", line);
        else
            ret = pv_test_fail("%s: no log line \"%s\"", name, needle);
        free(line);
    }
    if (test_reply_stream())
        ret = pv_test_fail("after %s was dropped a fresh guest's exchange failed", name);
    return ret;
}

/* Requests that break the vtest framing: the server drops that guest (the reference server does
 * the same), logs the reason and serves the next. */
static int expect_dropped(const char *name, const uint32_t *words, size_t count, const char *reason)
{
    const size_t log_start = pv_test_server_log_size(&server);
    struct pv_test_vtest vtest;
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    int ret = pv_test_vtest_handshake(&vtest, name);
    if (ret == 0)
        ret = pv_test_vtest_write(&vtest, words, count * sizeof(uint32_t));
    if (ret == 0 && pv_test_vtest_wait_closed(&vtest, CLOSE_TIMEOUT_MS))
        ret = pv_test_fail("%s: the host did not drop the guest", name);
    pv_test_vtest_disconnect(&vtest);
    if (ret == 0)
        ret = check_refusal_logged(name, log_start, reason);
    return ret;
}

static int test_bad_framing(void)
{
    int ret = 0;
    /* Unknown vtest command. */
    const uint32_t unknown[] = { 0, 9999 };
    ret |= expect_dropped("pvh-unknown-vcmd", unknown, 2, "unknown command 9999");
    /* SUBMIT_CMD2 whose batch points past its payload (an 8-word header: both generations). */
    const uint32_t bad_batch[] = { 13, PV_TEST_VCMD_SUBMIT_CMD2, 1, 1, 9, 1000, 13, 0, 0, 0, 0, 0, 0, 0, 0 };
    ret |= expect_dropped("pvh-bad-batch", bad_batch, sizeof(bad_batch) / 4,
                          "SUBMIT_CMD2 batch 0: stream of 1000 words at 9 overruns the 13-word payload");
    /* SUBMIT_CMD2 with a batch count far beyond its payload; the first stream's offset is where
     * 2^28 8-word headers would end. */
    const uint32_t bad_count[] = { 9, PV_TEST_VCMD_SUBMIT_CMD2, 0x10000000, 1, 0x80000001u, 0, 9, 0, 0, 0, 0 };
    ret |= expect_dropped("pvh-bad-count", bad_count, sizeof(bad_count) / 4,
                          "SUBMIT_CMD2: 268435456 batches overrun the 9-word payload");
    return ret ? -1 : 0;
}

/* Several batches in one SUBMIT_CMD2 run in order, each from its own stream: a vkCreateInstance
 * and a vkEnumeratePhysicalDevices count query with their replies, and a batch with a sync. The
 * header size is the generation's (current guests: 6 words from Mesa 25, 8 from Mesa 26). */
static int run_batches(uint32_t header_words)
{
    struct pv_test_guest guest;
    char name[64];
    snprintf(name, sizeof(name), "pvh-batches-%u", header_words);
    if (pv_test_guest_start(&guest, server.socket_path, name, 1 << 20, 0, 4096))
        return -1;
    guest.vtest.batch_header_words = header_words;
    uint8_t *replies = guest.reply_blob.map;
    memset(replies, PV_TEST_REPLY_CANARY, 4096);
    int ret = -1;
    uint32_t sync = 0;
    if (pv_test_vtest_sync_create(&guest.vtest, 0, &sync))
        goto out;

    struct pv_test_cs first, second;
    pv_test_cs_init(&first);
    pv_test_cs_init(&second);
    pv_test_cs_seek_reply_stream(&first, 0);
    pv_test_cs_create_instance(&first, PV_TEST_COMMAND_GENERATE_REPLY, "batches", PV_TEST_API_VERSION_1_1,
                               INSTANCE_ID);
    pv_test_cs_seek_reply_stream(&second, 64);
    pv_test_cs_enumerate_physical_devices(&second, PV_TEST_COMMAND_GENERATE_REPLY, INSTANCE_ID, 0, NULL);
    const uint32_t triple[3] = { sync, 42, 0 };
    const struct pv_test_batch batches[3] = {
        { .flags = PV_TEST_SUBMIT_FLAG_QUEUE, .commands = first.data, .size = first.size },
        { .flags = PV_TEST_SUBMIT_FLAG_QUEUE, .commands = second.data, .size = second.size },
        { .flags = 0, .syncs = triple, .sync_count = 1 },
    };
    int sent = first.out_of_memory || second.out_of_memory ? -1
                                                           : pv_test_vtest_submit_batches(&guest.vtest, batches, 3);
    pv_test_cs_fini(&first);
    pv_test_cs_fini(&second);
    uint64_t value = 0;
    if (sent || pv_test_vtest_sync_read(&guest.vtest, sync, &value))
        goto out;

    struct pv_test_reader r;
    pv_test_reader_init(&r, replies, 24);
    const uint32_t type = pv_test_read_u32(&r), result = pv_test_read_u32(&r);
    const uint64_t marker = pv_test_read_u64(&r), id = pv_test_read_u64(&r);
    pv_test_reader_init(&r, replies + 64, 28);
    const uint32_t count_type = pv_test_read_u32(&r), count_result = pv_test_read_u32(&r);
    pv_test_read_u64(&r);
    const uint32_t count = pv_test_read_u32(&r);
    if (type != PV_TEST_CMD_vkCreateInstance || result != 0 || marker != 1 || id != INSTANCE_ID ||
        replies[24] != PV_TEST_REPLY_CANARY) {
        pv_test_fail("%u-word headers: batch 0's vkCreateInstance reply is wrong:", header_words);
        pv_test_dump_bytes(replies, 32);
    } else if (count_type != PV_TEST_CMD_vkEnumeratePhysicalDevices || count_result != 0 || count < 1) {
        pv_test_fail("%u-word headers: batch 1's vkEnumeratePhysicalDevices reply is wrong:", header_words);
        pv_test_dump_bytes(replies + 64, 32);
    } else if (value != 42) {
        pv_test_fail("%u-word headers: batch 2 set its sync to %" PRIu64 ", expected 42", header_words, value);
    } else {
        ret = 0;
    }
out:
    pv_test_guest_stop(&guest);
    return ret;
}

static int test_batches(void)
{
    if (!current_generation())
        return run_batches(8);
    return run_batches(6) || run_batches(8) ? -1 : 0;
}

/* Current guests: the first stream's offset must give 6- or 8-word headers; anything else is
 * refused before a batch runs. */
static int test_header_size_refused(void)
{
    int ret = 0;
    /* One batch whose stream starts after a 7-word header. */
    const uint32_t seven[] = { 12, PV_TEST_VCMD_SUBMIT_CMD2, 1, 1, 8, 2, 10, 0, 0, 0, 0, 0, 0, 0 };
    ret |= expect_dropped("pvh-header-7", seven, sizeof(seven) / 4,
                          "SUBMIT_CMD2: the first stream's offset gives no header size for 1 batches");
    /* Two batches whose first stream starts at word 14: 6.5 words per header. */
    const uint32_t split[] = { 16, PV_TEST_VCMD_SUBMIT_CMD2, 2, 1, 14, 1, 16, 0, 0, 1, 15, 1, 16, 0, 0,
                               0, 0, 0 };
    ret |= expect_dropped("pvh-header-odd", split, sizeof(split) / 4,
                          "SUBMIT_CMD2: the first stream's offset gives no header size for 2 batches");
    return ret ? -1 : 0;
}

/* Timelines are numbered below GET_PARAM's 64: 63 is served, 64 refused. */
static int test_timeline_range(void)
{
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, "pvh-timeline-63", 1 << 20, 0, 4096))
        return -1;
    int ret = 0;
    uint32_t sync = 0;
    uint64_t value = 0;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    struct pv_test_batch batch = {
        .flags = PV_TEST_SUBMIT_FLAG_QUEUE, .queue_index = PV_TEST_MAX_TIMELINES - 1,
        .commands = cs.data, .size = cs.size,
    };
    if (pv_test_vtest_sync_create(&guest.vtest, 0, &sync)) {
        ret = -1;
    } else {
        /* A current guest's ring 63 has no queue bound, so its syncs are set at once. A 2022
         * sync queue with syncs needs a real VkQueue id (test_queue_timelines); without syncs
         * only its index is checked. */
        const uint32_t triple[3] = { sync, 7, 0 };
        if (current_generation()) {
            batch.syncs = triple;
            batch.sync_count = 1;
        }
        if (pv_test_vtest_submit_batches(&guest.vtest, &batch, 1) ||
            pv_test_vtest_sync_read(&guest.vtest, sync, &value))
            ret = pv_test_fail("a batch on timeline 63 was not served");
        else if (current_generation() && value != 7)
            ret = pv_test_fail("ring 63 has no queue, so its sync should be 7 at once; it is %" PRIu64, value);
    }
    pv_test_cs_fini(&cs);
    pv_test_guest_stop(&guest);

    const uint32_t sixty_four[] = { 9, PV_TEST_VCMD_SUBMIT_CMD2, 1, PV_TEST_SUBMIT_FLAG_QUEUE, 9, 0, 9, 0,
                                    PV_TEST_MAX_TIMELINES, 0, 0 };
    ret |= expect_dropped("pvh-timeline-64", sixty_four, sizeof(sixty_four) / 4,
                          current_generation() ? "SUBMIT_CMD2 batch 0: ring index 64 out of range"
                                               : "SUBMIT_CMD2 batch 0: sync queue index 64 out of range");
    return ret ? -1 : 0;
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return fd >= 0 && poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

/* vtest syncs: SYNC_READ sees what SYNC_CREATE, SYNC_WRITE and submitted batches set (all 64
 * bits), and a SYNC_WAIT fd turns readable exactly when a write satisfies it (ALL and ANY). */
static int test_syncs(void)
{
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, "pvh-syncs", 1 << 20, 0, 4096))
        return -1;
    struct pv_test_vtest *vtest = &guest.vtest;
    int ret = -1, fd = -1;
    uint32_t a = 0, b = 0;
    uint64_t value = 0;
    if (pv_test_vtest_sync_create(vtest, 0x100000005ull, &a) || pv_test_vtest_sync_create(vtest, 0, &b))
        goto out;
    if (a == b) {
        pv_test_fail("two syncs got the same id %u", a);
        goto out;
    }
    if (pv_test_vtest_sync_read(vtest, a, &value))
        goto out;
    if (value != 0x100000005ull) {
        pv_test_fail("SYNC_READ after SYNC_CREATE(0x100000005) answered %#" PRIx64, value);
        goto out;
    }
    if (pv_test_vtest_sync_write(vtest, a, 0x200000007ull) || pv_test_vtest_sync_read(vtest, a, &value))
        goto out;
    if (value != 0x200000007ull) {
        pv_test_fail("SYNC_READ after SYNC_WRITE(0x200000007) answered %#" PRIx64, value);
        goto out;
    }

    /* ALL: pending until the write that reaches the value. */
    const uint32_t wait_a[3] = { a, 9, 2 };
    if (pv_test_vtest_sync_wait(vtest, 0, 0xffffffffu, wait_a, 1, &fd))
        goto out;
    if (pv_test_vtest_sync_write(vtest, a, 0x200000008ull) || pv_test_vtest_roundtrip(vtest))
        goto out;
    if (fd_readable(fd, 50)) {
        pv_test_fail("a SYNC_WAIT for 0x200000009 was satisfied at 0x200000008");
        goto out;
    }
    if (pv_test_vtest_sync_write(vtest, a, 0x200000009ull))
        goto out;
    if (!fd_readable(fd, SYNC_TIMEOUT_MS)) {
        pv_test_fail("SYNC_WRITE(0x200000009) did not wake the SYNC_WAIT for it");
        goto out;
    }
    close(fd);
    fd = -1;

    /* ANY: one of two is enough. */
    const uint32_t any[6] = { a, 0, 3, b, 1, 0 };
    if (pv_test_vtest_sync_wait(vtest, PV_TEST_SYNC_WAIT_FLAG_ANY, 0xffffffffu, any, 2, &fd) ||
        pv_test_vtest_roundtrip(vtest))
        goto out;
    if (fd_readable(fd, 50)) {
        pv_test_fail("a SYNC_WAIT ANY was satisfied before either sync reached its value");
        goto out;
    }
    if (pv_test_vtest_sync_write(vtest, b, 1))
        goto out;
    if (!fd_readable(fd, SYNC_TIMEOUT_MS)) {
        pv_test_fail("SYNC_WRITE of the second sync did not wake the SYNC_WAIT ANY");
        goto out;
    }
    close(fd);
    fd = -1;

    /* Batches set syncs at once on the CPU's timeline: flags 0 in both generations, ring 0 and
     * a ring bound to no queue in the current one. */
    struct pv_test_batch batch = { .flags = 0, .sync_count = 1 };
    uint32_t triple[3] = { b, 20, 0 };
    batch.syncs = triple;
    if (pv_test_vtest_submit_batches(vtest, &batch, 1) || pv_test_vtest_sync_read(vtest, b, &value))
        goto out;
    if (value != 20) {
        pv_test_fail("a batch with flags 0 set its sync to %" PRIu64 ", expected 20", value);
        goto out;
    }
    if (current_generation()) {
        static const uint32_t rings[2] = { 0, 9 };
        for (int i = 0; i < 2; i++) {
            batch.flags = PV_TEST_SUBMIT_FLAG_QUEUE;
            batch.queue_index = rings[i];
            triple[1] = 21 + (uint32_t)i;
            if (pv_test_vtest_submit_batches(vtest, &batch, 1) || pv_test_vtest_sync_read(vtest, b, &value))
                goto out;
            if (value != triple[1]) {
                pv_test_fail("a batch on ring %u (no queue) set its sync to %" PRIu64 ", expected %u", rings[i],
                             value, triple[1]);
                goto out;
            }
        }
    }
    if (pv_test_vtest_sync_unref(vtest, b) || pv_test_vtest_roundtrip(vtest))
        goto out;
    ret = 0;
out:
    if (fd >= 0)
        close(fd);
    pv_test_guest_stop(&guest);
    if (ret)
        return ret;

    /* A sync the guest dropped is gone. */
    const size_t log_start = pv_test_server_log_size(&server);
    struct pv_test_vtest late;
    if (pv_test_vtest_connect(&late, server.socket_path, 5000))
        return -1;
    ret = pv_test_vtest_handshake(&late, "pvh-sync-gone");
    uint32_t id = 0;
    if (ret == 0)
        ret = pv_test_vtest_sync_create(&late, 1, &id);
    if (ret == 0)
        ret = pv_test_vtest_sync_unref(&late, id);
    const uint32_t read[3] = { 1, PV_TEST_VCMD_SYNC_READ, id };
    if (ret == 0)
        ret = pv_test_vtest_write(&late, read, sizeof(read));
    if (ret == 0 && pv_test_vtest_wait_closed(&late, CLOSE_TIMEOUT_MS))
        ret = pv_test_fail("SYNC_READ of an unreferenced sync: the host did not drop the guest");
    pv_test_vtest_disconnect(&late);
    if (ret == 0) {
        char reason[64];
        snprintf(reason, sizeof(reason), "SYNC_READ of unknown sync %u", id);
        ret = check_refusal_logged("pvh-sync-gone", log_start, reason);
    }
    return ret;
}

/* A guest with a Vulkan 1.2 instance (timeline semaphores are core there), a device with one
 * queue (guest id QUEUE_ID) and, for current guests, that queue bound to timeline ring_idx, as
 * the drivers set them up. */
static int start_device(struct pv_test_guest *guest, const char *name, uint32_t ring_idx)
{
    if (pv_test_guest_start(guest, server.socket_path, name, 1 << 20, 0, 4096))
        return -1;
    if (pv_test_create_instance_api(guest, INSTANCE_ID, API_VERSION_1_2, 0) ||
        pv_test_enumerate_all_physical_devices(guest, INSTANCE_ID, PHYSICAL_DEVICE_ID) < 1) {
        pv_test_guest_stop(guest);
        return -1;
    }
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
        if (type != PV_TEST_CMD_vkCreateDevice || result != 0 || marker != 1 || id != DEVICE_ID) {
            pv_test_fail("vkCreateDevice reply: type %u result %d marker %" PRIu64 " id %#" PRIx64, type,
                         (int32_t)result, marker, id);
            ret = -1;
        }
    }
    if (ret == 0) {
        pv_test_cs_init(&cs);
        pv_test_cs_get_device_queue2(&cs, DEVICE_ID, ring_idx, QUEUE_ID);
        ret = pv_test_guest_submit(guest, &cs);
        pv_test_cs_fini(&cs);
    }
    if (ret == 0)
        ret = pv_test_vtest_roundtrip(&guest->vtest);
    if (ret)
        pv_test_guest_stop(guest);
    return ret;
}

/* A timeline semaphore of DEVICE_ID at value 0. */
static void cs_create_timeline_semaphore(struct pv_test_cs *cs)
{
    pv_test_cs_create_timeline_semaphore(cs, DEVICE_ID, SEMAPHORE_ID);
}

/* vkQueueSubmit of an empty batch that waits for the semaphore to reach value: the queue's
 * work stays unfinished until the guest signals it. */
static void cs_submit_wait(struct pv_test_cs *cs, uint64_t value)
{
    pv_test_cs_submit_wait_timeline(cs, QUEUE_ID, SEMAPHORE_ID, value, 0);
}

static void cs_signal_semaphore(struct pv_test_cs *cs, uint64_t value)
{
    pv_test_cs_command(cs, CMD_vkSignalSemaphore, 0);
    pv_test_cs_handle(cs, DEVICE_ID);
    pv_test_cs_marker(cs, true);  /* pSignalInfo */
    pv_test_cs_u32(cs, STYPE_SEMAPHORE_SIGNAL_INFO);
    pv_test_cs_marker(cs, false);
    pv_test_cs_handle(cs, SEMAPHORE_ID);
    pv_test_cs_u64(cs, value);
}

/* Syncs of a queue's timeline take their values once the work submitted to that queue so far
 * is done: current guests name it by the ring index they bound the queue to, the 2022
 * generation by the VkQueue's id. Here the queue first waits on a timeline semaphore, so its
 * work stays unfinished until the guest signals it; until then the sync must not move.
 *
 * Current guests' timelines must not hold up the connection: the guest signals the semaphore
 * over it. The 2022 generation's sync queues may (the host waits for them on the connection's
 * thread; the drivers never took that path over vtest), so there the signal comes through a
 * ring. */
static int test_queue_timelines(void)
{
    const bool current = current_generation();
    struct pv_test_guest guest;
    if (start_device(&guest, "pvh-queue-timeline", current ? 3 : 0))
        return -1;
    int ret = -1, fd = -1;
    uint32_t sync = 0;
    uint64_t value = 0;
    struct pv_test_cs cs;
    struct pv_test_ring ring = { .blob = { .fd = -1 } };
    pv_test_cs_init(&cs);
    /* A ring that naps rather than waiting for a notification, which could not get past a
     * waiting connection. */
    const struct pv_test_ring_options busy = { .idle_timeout_ns = 60ull * 1000 * 1000 * 1000 };
    if (!current && pv_test_ring_start(&guest, 0x00005eed60000060ull, &busy, &ring))
        goto out;
    if (pv_test_vtest_sync_create(&guest.vtest, 0, &sync))
        goto out;
    cs_create_timeline_semaphore(&cs);
    cs_submit_wait(&cs, 1);
    if (pv_test_guest_submit(&guest, &cs))
        goto out;
    const uint32_t triple[3] = { sync, 11, 0 };
    const struct pv_test_batch batch = {
        .flags = PV_TEST_SUBMIT_FLAG_QUEUE, .queue_index = current ? 3 : 0,
        .queue_id = current ? 0 : QUEUE_ID, .syncs = triple, .sync_count = 1,
    };
    if (pv_test_vtest_submit_batches(&guest.vtest, &batch, 1) || pv_test_vtest_ping_send(&guest.vtest))
        goto out;
    /* A current host must answer while the queue waits, however slow it runs (valgrind); a 2022
     * host that has not answered after a while is taken to wait for the queue. */
    const bool answered = fd_readable(guest.vtest.fd, current ? SYNC_TIMEOUT_MS : 200);
    if (answered) {
        if (pv_test_vtest_ping_answer(&guest.vtest) || pv_test_vtest_sync_read(&guest.vtest, sync, &value))
            goto out;
        if (value != 0) {
            pv_test_fail("the sync advanced to %" PRIu64 " while the queue still waited on its semaphore", value);
            goto out;
        }
    } else if (current) {
        pv_test_fail("a batch on ring 3 held up the connection while ring 3's queue waited");
        goto out;
    }
    pv_test_cs_reset(&cs);
    cs_signal_semaphore(&cs, 1);
    if (current ? pv_test_guest_submit(&guest, &cs) : pv_test_ring_write(&guest, &ring, cs.data, cs.size))
        goto out;
    if (!answered && pv_test_vtest_ping_answer(&guest.vtest))
        goto out;
    if (pv_test_vtest_sync_wait(&guest.vtest, 0, SYNC_TIMEOUT_MS, triple, 1, &fd))
        goto out;
    if (!fd_readable(fd, SYNC_TIMEOUT_MS)) {
        pv_test_fail("the sync never reached 11 after the semaphore was signalled");
        goto out;
    }
    if (pv_test_vtest_sync_read(&guest.vtest, sync, &value))
        goto out;
    if (value != 11) {
        pv_test_fail("SYNC_READ answered %" PRIu64 " once the queue was done, expected 11", value);
        goto out;
    }
    ret = 0;
out:
    pv_test_cs_fini(&cs);
    if (fd >= 0)
        close(fd);
    pv_test_ring_unmap(&ring);
    pv_test_guest_stop(&guest);
    return ret;
}

/* A guest of the other generation reads the capset, sets up its context and leaves: the server
 * says which --protocol would serve it. */
static int test_other_generation(void)
{
    const size_t log_start = pv_test_server_log_size(&server);
    const enum pv_test_generation other = current_generation() ? PV_TEST_GENERATION_2022
                                                                : PV_TEST_GENERATION_CURRENT;
    pv_test_vtest_set_generation(other);
    struct pv_test_vtest vtest;
    int ret = pv_test_vtest_connect(&vtest, server.socket_path, 5000);
    pv_test_vtest_set_generation(generation);
    if (ret)
        return -1;
    uint32_t version, valid, value;
    ret = pv_test_vtest_create_renderer(&vtest, "pvh-other-generation") || pv_test_vtest_ping(&vtest) ||
          pv_test_vtest_protocol_version(&vtest, 3, &version) ||
          pv_test_vtest_get_param(&vtest, PV_TEST_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT, &valid, &value) ||
          pv_test_vtest_get_capset(&vtest, PV_TEST_CAPSET_VENUS, 0, &valid) ||
          pv_test_vtest_context_init(&vtest, PV_TEST_CAPSET_VENUS) || pv_test_vtest_roundtrip(&vtest)
              ? -1 : 0;
    const uint32_t other_wire = other == PV_TEST_GENERATION_CURRENT ? 1 : 0;
    if (ret == 0 && vtest.capset[PV_TEST_CAPSET_WIRE_FORMAT] == other_wire)
        ret = pv_test_fail("the %s server offered wire format %u, the other generation's",
                           pv_test_generation_name(generation), other_wire);
    pv_test_vtest_disconnect(&vtest);
    if (ret)
        return ret;
    static const char left[] = "(pvh-other-generation): the guest left right after reading the Venus capset";
    char way_out[64];
    snprintf(way_out, sizeof(way_out), "with --protocol %s.", pv_test_generation_name(other));
    char *line = pv_test_server_wait_log(&server, log_start, left, LOG_TIMEOUT_MS);
    if (!line)
        ret = pv_test_fail("no log line \"context N %s ...\"", left);
    else if (!strstr(line, way_out))
        ret = pv_test_fail("the log line should name the way out, \"%s\": %s", way_out, line);
    else
        fprintf(stderr, "    log: %s\n", line);
    free(line);
    return ret;
}

struct test_case {
    const char *what;
    int (*run)(void);
    bool current_only;
};

static const struct test_case cases[] = {
    { "handshake as the driver does it, the generation's capset, unsupported queries", test_handshake, false },
    { "blobs: distinct res_ids, mappable fds of the exact size, unref", test_blobs, false },
    { "reply stream: vkCreateInstance and vkDestroyInstance replies", test_reply_stream, false },
    { "two guests at once with the same object ids", test_two_guests, false },
    { "guests leaving early do not disturb the server", test_early_exits, false },
    { "broken vtest framing drops only that guest, with the reason logged", test_bad_framing, false },
    { "SUBMIT_CMD2 with three batches: each stream and sync in order", test_batches, false },
    { "SUBMIT_CMD2 whose first stream gives neither 6- nor 8-word headers is refused", test_header_size_refused, true },
    { "timeline 63 is served, 64 refused", test_timeline_range, false },
    { "SYNC_READ, SYNC_WRITE and SYNC_WAIT; batches set syncs on the CPU timeline", test_syncs, false },
    { "syncs on a queue's timeline advance once its work is done", test_queue_timelines, false },
    { "a guest of the other generation is told which --protocol serves it", test_other_generation, false },
};

/* Guests that followed the protocol must never be declared fatal. */
static bool no_valid_guest_fatal(void)
{
    static const char *const valid_guests[] = {
        "(pvh-handshake-odd)", "(pvh-blobs)", "(pvh-reply)", "(pvh-one)", "(pvh-two)", "(pvh-mapped)",
        "(pvh-batches-6)", "(pvh-batches-8)", "(pvh-timeline-63)", "(pvh-syncs)", "(pvh-queue-timeline)",
    };
    char *log = pv_test_server_log_since(&server, 0);
    bool clean = true;
    for (size_t i = 0; i < sizeof(valid_guests) / sizeof(valid_guests[0]); i++) {
        for (const char *hit = strstr(log, valid_guests[i]); hit; hit = strstr(hit + 1, valid_guests[i])) {
            if (strncmp(hit + strlen(valid_guests[i]), ": fatal:", 8) == 0) {
                const char *end = strchr(hit, '\n');
                pv_test_fail("a valid guest was declared fatal: %.*s", end ? (int)(end - hit) : (int)strlen(hit), hit);
                clean = false;
            }
        }
    }
    free(log);
    return clean;
}

static int tap_number;

static void report(bool ok, const char *label, const char *what)
{
    printf("%s %d - %s: %s\n", ok ? "ok" : "not ok", ++tap_number, label, what);
}

/* Runs every case against a server of one generation. protocol NULL starts the server with its
 * default, which must be the current generation. Returns the number of failures, or -1 when the
 * run had to stop (bail out printed). */
static int run_generation(const char *pvgpu, enum pv_test_generation which, const char *protocol)
{
    generation = which;
    pv_test_vtest_set_generation(which);
    const char *label = pv_test_generation_name(which);
    if (pv_test_server_start(&server, pvgpu, protocol)) {
        printf("Bail out! could not start pvgpu serve (%s)\n", label);
        return -1;
    }
    fprintf(stderr, "# %s generation (pvgpu serve %s%s); server log: %s\n", label,
            protocol ? "--protocol " : "without --protocol", protocol ? protocol : "", server.log_path);
    int failures = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].current_only && which != PV_TEST_GENERATION_CURRENT)
            continue;
        const size_t log_start = pv_test_server_log_size(&server);
        fprintf(stderr, "# %s: %s\n", label, cases[i].what);
        const bool ok = cases[i].run() == 0;
        report(ok, label, cases[i].what);
        if (!ok) {
            failures++;
            pv_test_server_print_log(&server, log_start);
        }
        if (!pv_test_server_alive(&server)) {
            printf("Bail out! the server died\n");
            pv_test_server_print_log(&server, 0);
            pv_test_server_stop(&server);
            return -1;
        }
    }
    const bool clean = no_valid_guest_fatal();
    report(clean, label, "no guest that followed the protocol was declared fatal");
    failures += !clean;

    /* Stop first: leak reports come when the server and its workers exit. */
    const int status = pv_test_server_stop(&server);
    const bool sanitizer_clean = pv_test_server_sanitizer_reports(&server) == 0;
    report(sanitizer_clean, label, "no sanitizer reports in the server log");
    failures += !sanitizer_clean;
    const bool stopped = status != -1 && (WIFEXITED(status) || WTERMSIG(status) == SIGTERM);
    report(stopped, label, "the server stopped on SIGTERM without crashing");
    failures += !stopped;

    if (failures == 0)
        pv_test_server_remove_files(&server);
    else
        fprintf(stderr, "# server log kept at %s\n", server.log_path);
    return failures;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *pvgpu = pv_test_pvgpu_path(argc > 1 ? argv[1] : NULL);
    /* The current generation through the server's default: that is what a plain `pvgpu serve`
     * must offer. */
    const int current = run_generation(pvgpu, PV_TEST_GENERATION_CURRENT, NULL);
    if (current < 0)
        return 1;
    const int old = run_generation(pvgpu, PV_TEST_GENERATION_2022, "2022");
    if (old < 0)
        return 1;
    printf("1..%d\n", tap_number);
    return current + old ? 1 : 0;
}
