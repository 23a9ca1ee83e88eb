/* Malformed Venus command streams against `pvgpu serve`: each case connects a guest, does the
 * driver's handshake, sets up a reply stream and sends one kind of bad stream. The host must log
 * "context <N> (<guest name>): fatal: <command>: <reason>", drop that guest, and keep serving: a
 * fresh guest then does a full vkCreateInstance exchange, and a bystander guest connected all along
 * still works at the end. Output is TAP; the pvgpu executable comes from $PVGPU or argv[1]. */
#define _GNU_SOURCE
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

static struct pv_test_server server;

/* What the fatal log line of a case must say. */
struct expectation {
    /* The reason starts with one of these ('|'-separated), e.g. "vkCreateInstance: ". */
    const char *starts;
    /* Each entry: the reason contains one of these ('|'-separated, case-insensitive). */
    const char *contains[3];
    /* Non-zero: the reason names this object id in hex (any zero padding). */
    uint64_t id;
};

struct test_case {
    const char *name; /* also the guest's process name in CREATE_RENDERER */
    const char *what;
    /* Sends the bad stream (after any valid set-up it checks itself). Returns 0, or -1 if the
     * set-up already failed. */
    int (*send)(struct pv_test_guest *guest, struct expectation *expect);
};

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

static int case_unknown_251(struct pv_test_guest *guest, struct expectation *expect)
{
    expect->starts = "unknown command type ";
    expect->contains[0] = "251";
    return send_unknown_type(guest, 251);
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

static const struct test_case cases[] = {
    { "pvm-truncated-20", "(a) the first 20 bytes of a vkCreateInstance", case_truncated_20 },
    { "pvm-truncated-132", "(a) vkCreateInstance cut inside the instance id", case_truncated_132 },
    { "pvm-huge-string", "(a) vkCreateInstance whose application name claims 2^63 bytes", case_huge_string },
    { "pvm-unknown-251", "(b) unknown command type 251", case_unknown_251 },
    { "pvm-unknown-max", "(b) unknown command type 0x7fffffff", case_unknown_max },
    { "pvm-unknown-negative", "(b) negative command type 0x80000000", case_unknown_negative },
    { "pvm-never-created", "(c) vkEnumeratePhysicalDevices on a never-created instance id", case_never_created_instance },
    { "pvm-destroyed", "(d) vkEnumeratePhysicalDevices on a destroyed instance id", case_destroyed_instance },
    { "pvm-pd-as-instance", "(d) a VkPhysicalDevice id passed as VkInstance", case_physical_device_as_instance },
    { "pvm-instance-as-pd", "(d) a VkInstance id passed as VkPhysicalDevice", case_instance_as_physical_device },
    { "pvm-create-live-id", "(d) vkCreateInstance with an id that is already live", case_create_live_id },
    { "pvm-create-id-zero", "(d) vkCreateInstance with id 0", case_create_id_zero },
    { "pvm-unknown-stype", "(e) vkCreateInstance with an unknown sType", case_unknown_stype },
    { "pvm-seek-past-end", "(e) a reply position past the reply stream", case_seek_past_stream },
    { "pvm-reply-overflow", "(e) a reply that runs past the reply stream's end", case_reply_overflow },
    { "pvm-reply-unknown-res", "(e) vkSetReplyCommandStreamMESA on an unknown resource", case_reply_stream_unknown_resource },
    { "pvm-reply-outside", "(e) a reply stream reaching past its blob", case_reply_stream_outside_blob },
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
        pv_test_guest_stop(&guest);
        return pv_test_fail("the valid set-up in front of the malformed stream failed");
    }

    /* The host must drop this guest. */
    if (pv_test_vtest_wait_closed(&guest.vtest, CLOSE_TIMEOUT_MS))
        ret = pv_test_fail("the host did not close the guest connection after the malformed stream");
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

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const size_t total = sizeof(cases) / sizeof(cases[0]) + 6;
    printf("1..%zu\n", total);

    unsigned number = 0;
    int failures = 0;
#define REPORT(ok, ...)                                                  \
    do {                                                                 \
        printf("%s %u - ", (ok) ? "ok" : "not ok", ++number);            \
        printf(__VA_ARGS__);                                             \
        printf("\n");                                                    \
        failures += !(ok);                                               \
    } while (0)

    const bool encoder_ok = check_encoder() == 0;
    REPORT(encoder_ok, "test encoder matches the notes' vkCreateInstance example");

    if (pv_test_server_start(&server, pv_test_pvgpu_path(argc > 1 ? argv[1] : NULL))) {
        printf("Bail out! could not start pvgpu serve\n");
        return 1;
    }
    fprintf(stderr, "# server log: %s\n", server.log_path);

    /* A guest that stays connected through every case: other contexts must not be disturbed. */
    struct pv_test_guest bystander;
    bool bystander_ok = pv_test_guest_start(&bystander, server.socket_path, "pvm-bystander",
                                            REPLY_BLOB_SIZE, REPLY_OFFSET, REPLY_SIZE) == 0 &&
                        pv_test_create_instance(&bystander, INSTANCE_ID, 0) == 0;

    REPORT(positive_case() == 0, "positive: vkCreateInstance + vkEnumeratePhysicalDevices with replies");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fprintf(stderr, "# %s: %s\n", cases[i].name, cases[i].what);
        const bool ok = run_case(&cases[i]) == 0;
        REPORT(ok, "%s: %s", cases[i].name, cases[i].what);
        if (!pv_test_server_alive(&server)) {
            printf("Bail out! the server died\n");
            pv_test_server_print_log(&server, 0);
            pv_test_server_stop(&server);
            return 1;
        }
    }

    if (bystander_ok)
        bystander_ok = pv_test_count_physical_devices(&bystander, INSTANCE_ID, 0) >= 1;
    pv_test_guest_stop(&bystander);
    REPORT(bystander_ok, "a guest connected throughout still works after the other contexts failed");

    /* No valid guest may have been declared fatal. */
    bool valid_guests_ok = true;
    char *log = pv_test_server_log_since(&server, 0);
    for (const char *line = log; line && *line;) {
        const char *end = strchr(line, '\n');
        const size_t length = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, length);
        if (strstr(copy, ": fatal: ") && (strstr(copy, "(pvm-check-") || strstr(copy, "(pvm-positive)") ||
                                          strstr(copy, "(pvm-bystander)"))) {
            pv_test_fail("a valid guest was declared fatal: %s", copy);
            valid_guests_ok = false;
        }
        free(copy);
        line = end ? end + 1 : NULL;
    }
    free(log);
    REPORT(valid_guests_ok, "no valid guest was declared fatal");

    /* Stop first: leak reports come when the server and its workers exit. */
    const int status = pv_test_server_stop(&server);
    REPORT(pv_test_server_sanitizer_reports(&server) == 0, "no sanitizer reports in the server log");
    REPORT(status != -1 && (WIFEXITED(status) || WTERMSIG(status) == SIGTERM),
           "the server stopped on SIGTERM without crashing");

    if (failures == 0)
        pv_test_server_remove_files(&server);
    else
        fprintf(stderr, "# server log kept at %s\n", server.log_path);
    fprintf(stderr, "# %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
