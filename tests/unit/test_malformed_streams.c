/* Malformed Venus command streams against `pvgpu serve`, once per protocol generation (a server
 * started with --protocol current, then one with --protocol 2022): each case connects a guest,
 * does the driver's handshake, sets up a reply stream and sends one kind of bad stream, some of
 * them bad only in one generation (the experimental query is the 2022 generation's; the seqno
 * commands order rings in the current one). The host must log
 * "context <N> (<guest name>): fatal: <command>: <reason>", drop that guest, and keep serving: a
 * fresh guest then does a full vkCreateInstance exchange, and a bystander guest connected all along
 * still works at the end. Positive cases show the same commands working where they are valid.
 * Output is TAP; the pvgpu executable comes from $PVGPU or argv[1]. */
#define _GNU_SOURCE
#include "pv_test_malformed.h"
#include "pv_test_server.h"
#include "pv_test_venus_calls.h"

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REPLY_BLOB_SIZE (1u << 20)
#define REPLY_OFFSET 256u
#define REPLY_SIZE 4096u
#define CLOSE_TIMEOUT_MS 10000
#define LOG_TIMEOUT_MS 5000

/* Guest object ids look like the driver's (heap addresses). */
#define INSTANCE_ID 0x00005eed10000010ull
#define NEVER_CREATED_ID 0x00005eed00001234ull
#define PHYSICAL_DEVICE_ID 0x00005eed20000020ull
#define RING_ID 0x00005eed60000060ull
#define OTHER_RING_ID 0x00005eed70000070ull
#define NEVER_CREATED_RING_ID 0x00005eed00005678ull

/* A monitored ring asks for the ALIVE bit at least this often. */
#define MONITOR_PERIOD_US 500000u

static struct pv_test_server server;
static enum pv_test_generation generation;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The notes' worked example (section 3.6): vkCreateInstance with reply, app "demo", API 1.1, id
 * 0x1122334455667788. Checks the test encoder against it before anything else relies on it. */
static int check_encoder(void)
{
    static const uint32_t expected_words[34] = {
        0, 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 5, 0, 0x6f6d6564 /* "demo" */, 0 /* NUL + pad */,
        1, 0, 0, 0, 0x00401000, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x55667788, 0x11223344,
    };
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1,
                               0x1122334455667788ull);
    int ret = 0;
    if (cs.size != 136 || memcmp(cs.data, expected_words, 136) != 0) {
        pv_test_fail("test encoder: vkCreateInstance is %zu bytes and differs from the notes' 136-byte example:", cs.size);
        pv_test_dump_bytes(cs.data, cs.size);
        ret = -1;
    }
    pv_test_cs_fini(&cs);
    return ret;
}

/* Cases. */

static int send_truncated_create_instance(struct pv_test_guest *guest, struct expectation *expect, size_t keep)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    cs.size = keep;
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    expect->contains[0] = "truncated";
    return ret;
}

static int case_truncated_20(struct pv_test_guest *guest, struct expectation *expect)
{
    return send_truncated_create_instance(guest, expect, 20);
}

static int case_truncated_132(struct pv_test_guest *guest, struct expectation *expect)
{
    return send_truncated_create_instance(guest, expect, 132);
}

static int case_huge_string(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    const uint64_t huge = 0x7ffffffffffffff0ull; /* pApplicationName's size, at offset 0x34 */
    memcpy(cs.data + 0x34, &huge, 8);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    return ret;
}

static int send_unknown_type(struct pv_test_guest *guest, uint32_t type)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_command(&cs, type, 0);
    pv_test_cs_u64(&cs, 0);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    return ret;
}

/* The host's command table as `pvgpu commands` lists it: the first number past it and the
 * first hole in it (0: none), with their decimal spellings for the log checks. */
static uint32_t first_unknown, first_hole;
static char first_unknown_text[16], first_hole_text[16];

static int read_command_table(const char *pvgpu)
{
    char command[512];
    snprintf(command, sizeof(command), "'%s' commands", pvgpu);
    FILE *f = popen(command, "r");
    if (!f)
        return pv_test_fail("cannot run %s", command);
    static bool listed[65536];
    char line[256];
    unsigned highest = 0, count = 0;
    while (fgets(line, sizeof(line), f)) {
        char *end;
        const unsigned long number = strtoul(line, &end, 10);
        if (end == line || number >= 65536)
            continue;
        listed[number] = true;
        highest = number > highest ? (unsigned)number : highest;
        count++;
    }
    const int status = pclose(f);
    if (status != 0 || count < 250)
        return pv_test_fail("%s: exit status %d, %u commands listed", command, status, count);
    first_unknown = highest + 1;
    for (unsigned i = 0; i < highest && !first_hole; i++)
        first_hole = listed[i] ? 0 : i;
    snprintf(first_unknown_text, sizeof(first_unknown_text), "%u", first_unknown);
    snprintf(first_hole_text, sizeof(first_hole_text), "%u", first_hole);
    fprintf(stderr, "# the host decodes commands 0..%u; first hole: %s\n", highest,
            first_hole ? first_hole_text : "none");
    return 0;
}

static int case_unknown_past_table(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "unknown command type ";
    expect->contains[0] = first_unknown_text;
    return send_unknown_type(guest, first_unknown);
}

/* A hole in the numbering (in the current protocol: the host image copy commands of spec
 * version 3, which this host neither serves nor announces). */
static int case_unknown_hole(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "unknown command type ";
    expect->contains[0] = first_hole_text;
    return send_unknown_type(guest, first_hole);
}

static int case_unknown_max(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "unknown command type ";
    expect->contains[0] = "2147483647|0x7fffffff";
    return send_unknown_type(guest, 0x7fffffff);
}

static int case_unknown_negative(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "unknown command type ";
    expect->contains[0] = "-2147483648|2147483648|0x80000000";
    return send_unknown_type(guest, 0x80000000u);
}

static int send_enumerate_count(struct pv_test_guest *guest, uint64_t instance)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_enumerate_physical_devices(&cs, PV_TEST_COMMAND_GENERATE_REPLY, instance, 0, NULL);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    return ret;
}

static int case_never_created_instance(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "vkEnumeratePhysicalDevices: ";
    expect->id = NEVER_CREATED_ID;
    return send_enumerate_count(guest, NEVER_CREATED_ID);
}

static int case_destroyed_instance(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_create_instance(guest, INSTANCE_ID, 0) || pv_test_destroy_instance(guest, INSTANCE_ID, 0))
        return -1;
    expect->starts = "vkEnumeratePhysicalDevices: ";
    expect->id = INSTANCE_ID;
    return send_enumerate_count(guest, INSTANCE_ID);
}

static int case_physical_device_as_instance(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_create_instance(guest, INSTANCE_ID, 0))
        return -1;
    int64_t count = pv_test_count_physical_devices(guest, INSTANCE_ID, 0);
    if (count < 1)
        return -1;
    uint64_t ids[64];
    for (int64_t i = 0; i < count; i++)
        ids[i] = PHYSICAL_DEVICE_ID + 0x100 * (uint64_t)i;
    if (pv_test_enumerate_physical_devices(guest, INSTANCE_ID, (uint32_t)count, ids, 0))
        return -1;
    expect->starts = "vkEnumeratePhysicalDevices: ";
    expect->id = PHYSICAL_DEVICE_ID;
    return send_enumerate_count(guest, PHYSICAL_DEVICE_ID);
}

static int case_instance_as_physical_device(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_create_instance(guest, INSTANCE_ID, 0))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_get_physical_device_properties(&cs, PV_TEST_COMMAND_GENERATE_REPLY, INSTANCE_ID);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkGetPhysicalDeviceProperties: ";
    expect->id = INSTANCE_ID;
    return ret;
}

static int case_create_live_id(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_create_instance(guest, INSTANCE_ID, 0))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "again", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    expect->id = INSTANCE_ID;
    return ret;
}

static int case_create_id_zero(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "zero", PV_TEST_API_VERSION_1_1, 0);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    return ret;
}

static int case_seek_past_stream(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, REPLY_SIZE + 8);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkSeekReplyCommandStreamMESA: |vkCreateInstance: ";
    return ret;
}

static int case_reply_overflow(struct pv_test_guest *guest, struct expectation *expect)
{
    /* A 24-byte reply at position REPLY_SIZE - 8 runs past the stream's end. */
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, REPLY_SIZE - 8);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    return ret;
}

static int case_reply_stream_unknown_resource(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, 0x7777, 0, 4096);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkSetReplyCommandStreamMESA: ";
    expect->contains[0] = "30583|0x7777";
    return ret;
}

static int case_reply_stream_outside_blob(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    /* The host may refuse the stream when it is set or the reply when it would be written; it
     * must not write past the blob. */
    pv_test_cs_set_reply_stream(&cs, guest->reply_blob.res_id, REPLY_BLOB_SIZE - 64, 4096);
    pv_test_cs_seek_reply_stream(&cs, 128);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkSetReplyCommandStreamMESA: |vkSeekReplyCommandStreamMESA: |vkCreateInstance: ";
    return ret;
}

static int case_unknown_stype(struct pv_test_guest *guest, struct expectation *expect)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_instance(&cs, PV_TEST_COMMAND_GENERATE_REPLY, "demo", PV_TEST_API_VERSION_1_1, INSTANCE_ID);
    const uint32_t stype = 0x7eadbeef; /* pCreateInfo->sType, at offset 0x10 */
    memcpy(cs.data + 0x10, &stype, 4);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    expect->starts = "vkCreateInstance: ";
    expect->contains[0] = "2125315823|0x7eadbeef";
    return ret;
}

/* The current generation's seqno commands and the 2022 generation's experimental query. */

static int submit_cs(struct pv_test_guest *guest, void (*encode)(struct pv_test_cs *cs, uint64_t a, uint64_t b),
                     uint64_t a, uint64_t b)
{
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    encode(&cs, a, b);
    int ret = pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    return ret;
}

static void encode_experimental(struct pv_test_cs *cs, uint64_t size, uint64_t unused)
{
    (void)unused;
    pv_test_cs_seek_reply_stream(cs, 0);
    pv_test_cs_experimental_features(cs, PV_TEST_COMMAND_GENERATE_REPLY, size);
}

static void encode_submit_seqno(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno)
{
    pv_test_cs_submit_virtqueue_seqno(cs, ring, seqno);
}

static void encode_wait_virtqueue(struct pv_test_cs *cs, uint64_t seqno, uint64_t unused)
{
    (void)unused;
    pv_test_cs_wait_virtqueue_seqno(cs, seqno);
}

static void encode_wait_ring(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno)
{
    pv_test_cs_wait_ring_seqno(cs, ring, seqno);
}

/* The ring a case sets up before its bad stream, still mapped when the host drops the guest. */
static struct pv_test_ring case_ring = { .blob = { .fd = -1 } };

static const struct pv_test_ring_options monitored = { .monitor_period_us = MONITOR_PERIOD_US };

/* Current guests have no experimental query: its features are the protocol now. The guest had
 * a monitored ring, on which the host must raise FATAL, since a current guest waits on its
 * rings rather than on the socket. */
static int case_experimental_current(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_ring_start(guest, RING_ID, &monitored, &case_ring))
        return -1;
    expect->starts = "vkGetVenusExperimentalFeatureData100000MESA: ";
    expect->contains[0] = "current protocol";
    return submit_cs(guest, encode_experimental, 16, 0);
}

static int after_ring_fatal(struct pv_test_guest *guest)
{
    (void)guest;
    const uint32_t status = pv_test_ring_load(&case_ring, PV_TEST_RING_STATUS);
    pv_test_ring_unmap(&case_ring);
    if (!(status & PV_TEST_RING_STATUS_FATAL))
        return pv_test_fail("the ring's status is %#x after the context went fatal; FATAL (0x2) is not set",
                            status);
    return 0;
}

static int case_wait_virtqueue_outside_ring(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "vkWaitVirtqueueSeqnoMESA: ";
    expect->contains[0] = "only a ring";
    return submit_cs(guest, encode_wait_virtqueue, 1, 0);
}

static int case_submit_seqno_unknown_ring(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "vkSubmitVirtqueueSeqnoMESA: ";
    expect->contains[0] = "unknown ring";
    expect->id = NEVER_CREATED_RING_ID;
    return submit_cs(guest, encode_submit_seqno, NEVER_CREATED_RING_ID, 1);
}

static int case_wait_ring_unknown_ring(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "vkWaitRingSeqnoMESA: ";
    expect->contains[0] = "unknown ring";
    expect->id = NEVER_CREATED_RING_ID;
    return submit_cs(guest, encode_wait_ring, NEVER_CREATED_RING_ID, 1);
}

/* A ring that waits for its own seqno would wait forever. */
static int case_wait_ring_itself(struct pv_test_guest *guest, struct expectation *expect)
{
    if (pv_test_ring_start(guest, RING_ID, &monitored, &case_ring))
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_wait_ring_seqno(&cs, RING_ID, case_ring.tail + 64);
    int ret = cs.out_of_memory ? -1 : pv_test_ring_write(guest, &case_ring, cs.data, cs.size);
    pv_test_cs_fini(&cs);
    expect->starts = "vkWaitRingSeqnoMESA: ";
    expect->contains[0] = "itself";
    expect->id = RING_ID;
    return ret;
}

static const struct test_case cases[] = {
    { "pvm-truncated-20", "(a) the first 20 bytes of a vkCreateInstance", case_truncated_20, GEN_BOTH, NULL },
    { "pvm-truncated-132", "(a) vkCreateInstance cut inside the instance id", case_truncated_132, GEN_BOTH, NULL },
    { "pvm-huge-string", "(a) vkCreateInstance whose application name claims 2^63 bytes", case_huge_string,
      GEN_BOTH, NULL },
    { "pvm-unknown-past", "(b) the first command type past the host's table", case_unknown_past_table, GEN_BOTH,
      NULL },
    { "pvm-unknown-hole", "(b) a command type in a hole of the host's table", case_unknown_hole, GEN_BOTH, NULL },
    { "pvm-unknown-max", "(b) unknown command type 0x7fffffff", case_unknown_max, GEN_BOTH, NULL },
    { "pvm-unknown-negative", "(b) negative command type 0x80000000", case_unknown_negative, GEN_BOTH, NULL },
    { "pvm-never-created", "(c) vkEnumeratePhysicalDevices on a never-created instance id",
      case_never_created_instance, GEN_BOTH, NULL },
    { "pvm-destroyed", "(d) vkEnumeratePhysicalDevices on a destroyed instance id", case_destroyed_instance,
      GEN_BOTH, NULL },
    { "pvm-pd-as-instance", "(d) a VkPhysicalDevice id passed as VkInstance", case_physical_device_as_instance,
      GEN_BOTH, NULL },
    { "pvm-instance-as-pd", "(d) a VkInstance id passed as VkPhysicalDevice", case_instance_as_physical_device,
      GEN_BOTH, NULL },
    { "pvm-create-live-id", "(d) vkCreateInstance with an id that is already live", case_create_live_id,
      GEN_BOTH, NULL },
    { "pvm-create-id-zero", "(d) vkCreateInstance with id 0", case_create_id_zero, GEN_BOTH, NULL },
    { "pvm-unknown-stype", "(e) vkCreateInstance with an unknown sType", case_unknown_stype, GEN_BOTH, NULL },
    { "pvm-seek-past-end", "(e) a reply position past the reply stream", case_seek_past_stream, GEN_BOTH, NULL },
    { "pvm-reply-overflow", "(e) a reply that runs past the reply stream's end", case_reply_overflow,
      GEN_BOTH, NULL },
    { "pvm-reply-unknown-res", "(e) vkSetReplyCommandStreamMESA on an unknown resource",
      case_reply_stream_unknown_resource, GEN_BOTH, NULL },
    { "pvm-reply-outside", "(e) a reply stream reaching past its blob", case_reply_stream_outside_blob,
      GEN_BOTH, NULL },
    { "pvm-experimental", "(f) the 2022 experimental query from a current guest; its ring turns FATAL",
      case_experimental_current, GEN_CURRENT, after_ring_fatal },
    { "pvm-wait-virtqueue", "(f) vkWaitVirtqueueSeqnoMESA outside a ring", case_wait_virtqueue_outside_ring,
      GEN_CURRENT, NULL },
    { "pvm-submit-seqno-ring", "(f) vkSubmitVirtqueueSeqnoMESA on a ring never created",
      case_submit_seqno_unknown_ring, GEN_CURRENT, NULL },
    { "pvm-wait-ring-unknown", "(f) vkWaitRingSeqnoMESA on a ring never created", case_wait_ring_unknown_ring,
      GEN_CURRENT, NULL },
    { "pvm-wait-ring-itself", "(f) vkWaitRingSeqnoMESA inside the ring it waits for", case_wait_ring_itself,
      GEN_CURRENT, after_ring_fatal },
};

/* Finds "context <N> (<name>): fatal: " in text; returns the reason (rest of the line, malloc'd). */
static char *find_fatal_reason(const char *text, const char *name)
{
    char needle[256];
    snprintf(needle, sizeof(needle), " (%s): fatal: ", name);
    for (const char *hit = strstr(text, needle); hit; hit = strstr(hit + 1, needle)) {
        /* Walk back over the context number and "context". */
        const char *p = hit;
        const char *line_start = hit;
        while (line_start > text && line_start[-1] != '\n')
            line_start--;
        while (p > line_start && isdigit((unsigned char)p[-1]))
            p--;
        if (p == hit || p - line_start < 8 || strncmp(p - 8, "context ", 8) != 0)
            continue;
        const char *reason = hit + strlen(needle);
        const char *end = strchr(reason, '\n');
        return strndup(reason, end ? (size_t)(end - reason) : strlen(reason));
    }
    return NULL;
}

static bool matches_any(const char *haystack, const char *alternatives, bool prefix)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", alternatives);
    for (char *save = NULL, *alt = strtok_r(buf, "|", &save); alt; alt = strtok_r(NULL, "|", &save)) {
        if (prefix ? strncmp(haystack, alt, strlen(alt)) == 0 : strcasestr(haystack, alt) != NULL)
            return true;
    }
    return false;
}

static bool names_id(const char *reason, uint64_t id)
{
    for (const char *p = reason; (p = strcasestr(p, "0x")) != NULL; p += 2) {
        char *end;
        unsigned long long value = strtoull(p + 2, &end, 16);
        if (end != p + 2 && value == id)
            return true;
    }
    return false;
}

static int check_reason(const char *reason, const struct expectation *expect)
{
    int ret = 0;
    if (expect->starts && !matches_any(reason, expect->starts, true))
        ret = pv_test_fail("the reason should start with \"%s\" (alternatives split by |)", expect->starts);
    for (int i = 0; i < 3 && expect->contains[i]; i++) {
        if (!matches_any(reason, expect->contains[i], false))
            ret = pv_test_fail("the reason should contain \"%s\" (alternatives split by |)", expect->contains[i]);
    }
    if (expect->id && !names_id(reason, expect->id))
        ret = pv_test_fail("the reason should name the id 0x%" PRIx64, expect->id);
    return ret;
}

/* A fresh guest does a full valid exchange: proves the server still serves. */
static int valid_exchange(const char *name)
{
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, name, REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE))
        return pv_test_fail("a fresh guest could not connect and set up a reply stream");
    /* Bytes in front of the reply stream must stay untouched: replies go to offset + position. */
    memset(guest.reply_blob.map, 0x3c, REPLY_OFFSET);
    int ret = pv_test_create_instance(&guest, 0x1122334455667788ull, 16);
    if (ret == 0)
        ret = pv_test_destroy_instance(&guest, 0x1122334455667788ull, 40);
    for (unsigned i = 0; ret == 0 && i < REPLY_OFFSET; i++) {
        if (((uint8_t *)guest.reply_blob.map)[i] != 0x3c)
            ret = pv_test_fail("the host wrote byte %u of the reply blob, in front of the reply stream (offset %u)",
                        i, REPLY_OFFSET);
    }
    pv_test_guest_stop(&guest);
    return ret;
}

static int run_case(const struct test_case *c)
{
    struct expectation expect = { 0 };
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    int ret = 0;

    if (pv_test_guest_start(&guest, server.socket_path, c->name, REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE))
        return pv_test_fail("guest start (handshake, reply stream) failed before the malformed stream");
    if (c->send(&guest, &expect)) {
        pv_test_ring_unmap(&case_ring);
        pv_test_guest_stop(&guest);
        return pv_test_fail("the valid set-up in front of the malformed stream failed");
    }

    /* The host must drop this guest. */
    if (pv_test_vtest_wait_closed(&guest.vtest, CLOSE_TIMEOUT_MS))
        ret = pv_test_fail("the host did not close the guest connection after the malformed stream");
    if (c->after && c->after(&guest))
        ret = -1;
    pv_test_ring_unmap(&case_ring);
    pv_test_guest_stop(&guest);

    /* And say why. */
    char *reason = NULL;
    const int64_t deadline = now_ms() + LOG_TIMEOUT_MS;
    for (;;) {
        char *log = pv_test_server_log_since(&server, log_start);
        reason = find_fatal_reason(log, c->name);
        free(log);
        if (reason || now_ms() > deadline)
            break;
        usleep(20 * 1000);
    }
    if (!reason) {
        ret = pv_test_fail("no log line \"context <N> (%s): fatal: <reason>\"", c->name);
    } else {
        fprintf(stderr, "    log: fatal: %s\n", reason);
        if (check_reason(reason, &expect))
            ret = -1;
        free(reason);
    }

    if (!pv_test_server_alive(&server))
        return pv_test_fail("the server process is gone");
    char check_name[128];
    snprintf(check_name, sizeof(check_name), "pvm-check-%s", c->name + 4);
    if (valid_exchange(check_name))
        ret = pv_test_fail("afterwards a fresh guest's valid vkCreateInstance exchange failed");
    if (ret)
        pv_test_server_print_log(&server, log_start);
    return ret;
}

/* The positive case: vkCreateInstance, then the vkEnumeratePhysicalDevices count query and the
 * query with ids, all with replies; then vkDestroyInstance. */
static int positive_case(void)
{
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    if (pv_test_guest_start(&guest, server.socket_path, "pvm-positive", REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE))
        return pv_test_fail("guest start failed");
    int ret = pv_test_create_instance(&guest, INSTANCE_ID, 0);
    int64_t count = ret ? -1 : pv_test_count_physical_devices(&guest, INSTANCE_ID, 24);
    if (count < 1) {
        ret = -1;
    } else {
        fprintf(stderr, "    %" PRId64 " physical device(s)\n", count);
        uint64_t ids[64];
        for (int64_t i = 0; i < count; i++)
            ids[i] = PHYSICAL_DEVICE_ID + 0x100 * (uint64_t)i;
        ret = pv_test_enumerate_physical_devices(&guest, INSTANCE_ID, (uint32_t)count, ids, 52);
        if (ret == 0)
            ret = pv_test_destroy_instance(&guest, INSTANCE_ID, 0);
    }
    pv_test_guest_stop(&guest);
    if (ret)
        pv_test_server_print_log(&server, log_start);
    return ret;
}

/* 2022 guests ask for the experimental features before they make their ring: this host offers
 * the large ring only (memoryResourceAllocationSize, globalFencing, largeRing, syncFdFencing). */
static int positive_experimental_2022(void)
{
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    if (pv_test_guest_start(&guest, server.socket_path, "pvm-positive-experimental", REPLY_BLOB_SIZE,
                            REPLY_OFFSET, REPLY_SIZE))
        return pv_test_fail("guest start failed");
    struct pv_test_cs cs;
    const uint8_t *reply = NULL;
    pv_test_cs_init(&cs);
    pv_test_cs_experimental_features(&cs, PV_TEST_COMMAND_GENERATE_REPLY, 16);
    int ret = pv_test_guest_call(&guest, &cs, 8, &reply);
    pv_test_cs_fini(&cs);
    if (ret == 0) {
        /* type, pDataSize (marker, size), pData (count, 16 bytes) */
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 44);
        const uint32_t type = pv_test_read_u32(&r);
        const uint64_t marker = pv_test_read_u64(&r), size = pv_test_read_u64(&r), count = pv_test_read_u64(&r);
        uint32_t features[4];
        for (int i = 0; i < 4; i++)
            features[i] = pv_test_read_u32(&r);
        if (type != PV_TEST_CMD_vkGetVenusExperimentalFeatureData100000MESA || marker != 1 || size != 16 ||
            count != 16 || features[0] != 0 || features[1] != 0 || features[2] != 1 || features[3] != 0) {
            ret = pv_test_fail("experimental features reply: type %u, size marker %" PRIu64 ", size %" PRIu64
                               ", data count %" PRIu64 ", features %u %u %u %u; expected 195, 1, 16, 16 and "
                               "0 0 1 0 (large ring only):", type, marker, size, count, features[0],
                               features[1], features[2], features[3]);
            pv_test_dump_bytes(reply, 48);
        } else {
            ret = pv_test_check_reply_end(reply, 44, "vkGetVenusExperimentalFeatureData100000MESA");
        }
    }
    pv_test_guest_stop(&guest);
    if (ret)
        pv_test_server_print_log(&server, log_start);
    return ret;
}

static int wait_status_bit(const struct pv_test_ring *ring, uint32_t bit, int timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    while (!(pv_test_ring_load(ring, PV_TEST_RING_STATUS) & bit)) {
        if (now_ms() > deadline)
            return -1;
        usleep(1000);
    }
    return 0;
}

/* Current guests' rings: a monitored ring (with a priority too) gets ALIVE again after the guest
 * clears it, well within its period, while one without monitor never does; a ring that waits
 * for a virtqueue seqno holds its head until the socket submits that seqno, and the socket's
 * vkWaitRingSeqnoMESA returns only once the ring got that far; the head moves command by
 * command. */
static int positive_rings_current(void)
{
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    if (pv_test_guest_start(&guest, server.socket_path, "pvm-positive-rings", REPLY_BLOB_SIZE, REPLY_OFFSET,
                            REPLY_SIZE))
        return pv_test_fail("guest start failed");
    const struct pv_test_ring_options options = {
        .monitor_period_us = MONITOR_PERIOD_US, .priority = true, .priority_value = 1,
    };
    struct pv_test_ring ring = { .blob = { .fd = -1 } }, plain = { .blob = { .fd = -1 } };
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    int ret = -1;
    if (pv_test_ring_start(&guest, RING_ID, &options, &ring) ||
        pv_test_ring_start(&guest, OTHER_RING_ID, NULL, &plain))
        goto out;

    pv_test_ring_store(&ring, PV_TEST_RING_STATUS,
                       pv_test_ring_load(&ring, PV_TEST_RING_STATUS) & ~PV_TEST_RING_STATUS_ALIVE);
    if (wait_status_bit(&ring, PV_TEST_RING_STATUS_ALIVE, MONITOR_PERIOD_US / 1000)) {
        pv_test_fail("a ring monitored every %u us did not get ALIVE back within that period", MONITOR_PERIOD_US);
        goto out;
    }
    if (pv_test_ring_load(&plain, PV_TEST_RING_STATUS) & PV_TEST_RING_STATUS_ALIVE) {
        pv_test_fail("a ring created without VkRingMonitorInfoMESA got the ALIVE bit");
        goto out;
    }

    pv_test_cs_wait_virtqueue_seqno(&cs, 5);
    if (pv_test_ring_write(&guest, &ring, cs.data, cs.size))
        goto out;
    const uint32_t seqno = ring.tail;
    if (pv_test_ring_wait_head(&ring, seqno, 100) == 0) {
        pv_test_fail("the ring got past vkWaitVirtqueueSeqnoMESA(5) before the socket submitted seqno 5");
        goto out;
    }
    pv_test_cs_reset(&cs);
    pv_test_cs_submit_virtqueue_seqno(&cs, RING_ID, 5);
    pv_test_cs_wait_ring_seqno(&cs, RING_ID, seqno);
    if (pv_test_guest_submit(&guest, &cs) || pv_test_vtest_roundtrip(&guest.vtest))
        goto out;
    if ((int32_t)(pv_test_ring_load(&ring, PV_TEST_RING_HEAD) - seqno) < 0) {
        pv_test_fail("vkWaitRingSeqnoMESA(%u) on the socket returned while the ring's head was at %u", seqno,
                     pv_test_ring_load(&ring, PV_TEST_RING_HEAD));
        goto out;
    }
    /* One batch of two commands, the second waiting for seqno 6: the head must pass the first
     * at once, since the guest may make the socket wait for that position before it submits
     * seqno 6 (Mesa 25/26 do, around memory allocations); a head published per batch would
     * leave both sides waiting on each other. */
    pv_test_cs_reset(&cs);
    pv_test_cs_wait_virtqueue_seqno(&cs, 5);
    const uint32_t first_size = (uint32_t)cs.size;
    pv_test_cs_wait_virtqueue_seqno(&cs, 6);
    const uint32_t first_end = ring.tail + first_size;
    if (pv_test_ring_write(&guest, &ring, cs.data, cs.size))
        goto out;
    if (pv_test_ring_wait_head(&ring, first_end, 2000)) {
        pv_test_fail("the ring's head stayed at %u while its batch waited in its second command; the "
                     "first one ends at %u", pv_test_ring_load(&ring, PV_TEST_RING_HEAD), first_end);
        goto out;
    }
    pv_test_cs_reset(&cs);
    pv_test_cs_wait_ring_seqno(&cs, RING_ID, first_end);
    pv_test_cs_submit_virtqueue_seqno(&cs, RING_ID, 6);
    pv_test_cs_wait_ring_seqno(&cs, RING_ID, ring.tail);
    if (pv_test_guest_submit(&guest, &cs) || pv_test_vtest_roundtrip(&guest.vtest))
        goto out;
    if (pv_test_ring_load(&ring, PV_TEST_RING_HEAD) != ring.tail) {
        pv_test_fail("the ring's head is at %u after the socket waited for %u",
                     pv_test_ring_load(&ring, PV_TEST_RING_HEAD), ring.tail);
        goto out;
    }

    /* A notification lost (the guest's tail store and status load may be reordered): an idle
     * worker still finds the work. */
    if (wait_status_bit(&ring, PV_TEST_RING_STATUS_IDLE, 2000)) {
        pv_test_fail("the ring did not go idle within 2 s of its last command");
        goto out;
    }
    pv_test_cs_reset(&cs);
    pv_test_cs_wait_virtqueue_seqno(&cs, 6);
    if (pv_test_ring_write_quiet(&ring, cs.data, cs.size))
        goto out;
    if (pv_test_ring_wait_head(&ring, ring.tail, 2000)) {
        pv_test_fail("an idle ring never ran a command written without a notification");
        goto out;
    }

    pv_test_cs_reset(&cs);
    pv_test_cs_destroy_ring(&cs, RING_ID);
    pv_test_cs_destroy_ring(&cs, OTHER_RING_ID);
    if (pv_test_guest_submit(&guest, &cs) || pv_test_vtest_roundtrip(&guest.vtest))
        goto out;
    ret = 0;
out:
    pv_test_cs_fini(&cs);
    pv_test_ring_unmap(&ring);
    pv_test_ring_unmap(&plain);
    pv_test_guest_stop(&guest);
    if (ret)
        pv_test_server_print_log(&server, log_start);
    return ret;
}

/* A guest that leaves while the connection waits on its behalf: the socket's
 * vkWaitRingSeqnoMESA for a position its ring never reaches. The wait must end when the guest
 * hangs up, and the context be torn down at once, not when the server stops. */
static int guest_leaves_during_wait(void)
{
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    if (pv_test_guest_start(&guest, server.socket_path, "pvm-leaves-waiting", REPLY_BLOB_SIZE,
                            REPLY_OFFSET, REPLY_SIZE))
        return pv_test_fail("guest start failed");
    struct pv_test_ring ring = { .blob = { .fd = -1 } };
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    int ret = -1;
    if (pv_test_ring_start(&guest, RING_ID, NULL, &ring))
        goto out;
    pv_test_cs_wait_ring_seqno(&cs, RING_ID, ring.tail + 1000);
    if (pv_test_guest_submit(&guest, &cs))
        goto out;
    usleep(200 * 1000);   /* the connection is inside the wait now */
    pv_test_ring_unmap(&ring);
    pv_test_guest_stop(&guest);
    char *line = pv_test_server_wait_log(&server, log_start,
                                         "(pvm-leaves-waiting): teardown released", 5000);
    if (!line) {
        pv_test_fail("no teardown within 5 s of the guest leaving while the connection waited "
                     "for its ring");
        pv_test_server_print_log(&server, log_start);
    } else {
        free(line);
        ret = 0;
    }
    pv_test_cs_fini(&cs);
    return ret;
out:
    pv_test_cs_fini(&cs);
    pv_test_ring_unmap(&ring);
    pv_test_guest_stop(&guest);
    pv_test_server_print_log(&server, log_start);
    return ret;
}

static unsigned tap_number;
static int failures;

static void report(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %u - %s: ", ok ? "ok" : "not ok", ++tap_number, pv_test_generation_name(generation));
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures += !ok;
}

/* The cases of one table that run against this generation's server. Returns false when the
 * server died (bail out printed). */
static bool run_cases(const struct test_case *table, size_t count, unsigned mask)
{
    for (size_t i = 0; i < count; i++) {
        if (!(table[i].generations & mask))
            continue;
        if (table[i].send == case_unknown_hole && !first_hole) {
            printf("ok %u - %s: %s: %s # SKIP the host's table has no hole\n", ++tap_number,
                   pv_test_generation_name(generation), table[i].name, table[i].what);
            continue;
        }
        fprintf(stderr, "# %s: %s: %s\n", pv_test_generation_name(generation), table[i].name, table[i].what);
        const bool ok = run_case(&table[i]) == 0;
        report(ok, "%s: %s", table[i].name, table[i].what);
        if (!pv_test_server_alive(&server)) {
            printf("Bail out! the server died\n");
            pv_test_server_print_log(&server, 0);
            pv_test_server_stop(&server);
            return false;
        }
    }
    return true;
}

/* A guest with a device runs the device cases' commands where they are valid. */
static int positive_device(void)
{
    struct pv_test_guest guest;
    const size_t log_start = pv_test_server_log_size(&server);
    if (pv_test_guest_start(&guest, server.socket_path, "pvm-positive-device", REPLY_BLOB_SIZE, REPLY_OFFSET,
                            REPLY_SIZE))
        return pv_test_fail("guest start failed");
    /* A fatal context would show here as a missing reply; the check of valid guests' log lines
     * at the end names the reason. */
    int ret = pv_malformed_device_positive(&guest);
    pv_test_guest_stop(&guest);
    if (ret == 0) {
        if (pv_test_guest_start(&guest, server.socket_path, "pvm-positive-resources",
                                REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE))
            return pv_test_fail("guest start failed");
        ret = pv_malformed_resource_positive(&guest);
        pv_test_guest_stop(&guest);
    }
    if (ret)
        pv_test_server_print_log(&server, log_start);
    return ret;
}

/* Every case against a server of one generation. Returns false when the run had to stop (bail
 * out printed). */
static bool run_generation(const char *pvgpu, enum pv_test_generation which)
{
    generation = which;
    pv_test_vtest_set_generation(which);
    const unsigned mask = 1u << which;
    const int failures_before = failures;
    if (pv_test_server_start(&server, pvgpu, pv_test_generation_name(which))) {
        printf("Bail out! could not start pvgpu serve --protocol %s\n", pv_test_generation_name(which));
        return false;
    }
    fprintf(stderr, "# %s generation; server log: %s\n", pv_test_generation_name(which), server.log_path);

    /* A guest that stays connected through every case: other contexts must not be disturbed. */
    struct pv_test_guest bystander;
    bool bystander_ok = pv_test_guest_start(&bystander, server.socket_path, "pvm-bystander",
                                            REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE) == 0 &&
                        pv_test_create_instance(&bystander, INSTANCE_ID, 0) == 0;

    report(positive_case() == 0, "positive: vkCreateInstance + vkEnumeratePhysicalDevices with replies");
    if (which == PV_TEST_GENERATION_2022)
        report(positive_experimental_2022() == 0, "positive: the experimental query is answered (large ring)");
    else
        report(positive_rings_current() == 0,
               "positive: ring monitor and priority, virtqueue and ring seqnos order ring and socket");
    if (which == PV_TEST_GENERATION_CURRENT)
        report(guest_leaves_during_wait() == 0,
               "a guest leaving while the connection waits for its ring is torn down at once");

    report(positive_device() == 0, "positive: private data on a device object, query results that fit, "
                                  "a buffer bound at the end of its memory, copies to the last texel");

    if (!run_cases(cases, sizeof(cases) / sizeof(cases[0]), mask) ||
        !run_cases(pv_malformed_device_cases, pv_malformed_device_case_count, mask) ||
        !run_cases(pv_malformed_resource_cases, pv_malformed_resource_case_count, mask))
        return false;

    if (bystander_ok)
        bystander_ok = pv_test_count_physical_devices(&bystander, INSTANCE_ID, 0) >= 1;
    pv_test_guest_stop(&bystander);
    report(bystander_ok, "a guest connected throughout still works after the other contexts failed");

    /* No valid guest may have been declared fatal. */
    bool valid_guests_ok = true;
    char *log = pv_test_server_log_since(&server, 0);
    for (const char *line = log; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t length = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, length);
        if (strstr(copy, ": fatal: ") && (strstr(copy, "(pvm-check-") || strstr(copy, "(pvm-positive") ||
                                          strstr(copy, "(pvm-bystander)"))) {
            pv_test_fail("a valid guest was declared fatal: %s", copy);
            valid_guests_ok = false;
        }
        free(copy);
        line = end ? end + 1 : NULL;
    }
    free(log);
    report(valid_guests_ok, "no valid guest was declared fatal");

    /* Stop first: leak reports come when the server and its workers exit. */
    const int status = pv_test_server_stop(&server);
    report(pv_test_server_sanitizer_reports(&server) == 0, "no sanitizer reports in the server log");
    report(status != -1 && (WIFEXITED(status) || WTERMSIG(status) == SIGTERM),
           "the server stopped on SIGTERM without crashing");

    if (failures == failures_before)
        pv_test_server_remove_files(&server);
    else
        fprintf(stderr, "# server log kept at %s\n", server.log_path);
    return true;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    const bool encoder_ok = check_encoder() == 0;
    printf("%s %u - test encoder matches the notes' vkCreateInstance example\n", encoder_ok ? "ok" : "not ok",
           ++tap_number);
    failures += !encoder_ok;

    const char *pvgpu = pv_test_pvgpu_path(argc > 1 ? argv[1] : NULL);
    if (!pvgpu || read_command_table(pvgpu)) {
        printf("Bail out! cannot read the host's command table (pvgpu commands)\n");
        return 1;
    }
    if (!run_generation(pvgpu, PV_TEST_GENERATION_CURRENT) || !run_generation(pvgpu, PV_TEST_GENERATION_2022))
        return 1;
    printf("1..%u\n", tap_number);
    fprintf(stderr, "# %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
