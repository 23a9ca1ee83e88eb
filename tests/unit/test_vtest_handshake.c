/* The vtest side of `pvgpu serve` as the 22.3.6 Venus driver uses it: the start-up handshake and
 * the replies the driver checks, answers to unsupported queries, blob creation with fd passing,
 * a reply stream, two guests at once with the same object ids, and guests that leave early or
 * break the vtest framing, after which the server must still serve. Output is TAP; the pvgpu
 * executable comes from $PVGPU or argv[1]. */
#define _GNU_SOURCE
#include "pv_test_server.h"
#include "pv_test_venus_calls.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLOSE_TIMEOUT_MS 10000

static struct pv_test_server server;

/* Handshake step by step, checking each reply. */
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
    if (!valid || !value) {
        pv_test_fail("GET_PARAM MAX_SYNC_QUEUE_COUNT: valid %u value %u; the driver needs both non-zero", valid, value);
        goto out;
    }
    fprintf(stderr, "    MAX_SYNC_QUEUE_COUNT %u\n", value);
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
    if (pv_test_vtest_get_capset(&vtest, PV_TEST_CAPSET_VENUS, 0, &valid))
        goto out;
    if (!valid) {
        pv_test_fail("GET_CAPSET 4 v0 answered invalid");
        goto out;
    }
    const uint32_t *caps = vtest.capset;
    fprintf(stderr, "    capset: %u bytes; wire format %u, vk_xml_version %u.%u.%u, venus spec %u, blob_id_0 %u\n",
            vtest.capset_size, caps[0], caps[1] >> 22, (caps[1] >> 12) & 0x3ff, caps[1] & 0xfff, caps[3], caps[4]);
    if (vtest.capset_size < 152) {
        pv_test_fail("Venus capset of %u bytes; the driver reads 152 (through allow_vk_wait_syncs)", vtest.capset_size);
        goto out;
    }
    if (caps[0] != 0 || caps[1] < PV_TEST_API_VERSION_1_1 || caps[4] > 1) {
        pv_test_fail("capset wire_format_version %u (needs 0), vk_xml_version 0x%x (needs >= 1.1), "
                     "supports_blob_id_0 %u (0 or 1)", caps[0], caps[1], caps[4]);
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
    if (vtest.capset[4] == 0) {
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

/* Requests that break the vtest framing: the server drops that guest (the reference server does
 * the same) and serves the next. */
static int expect_dropped(const char *name, const uint32_t *words, size_t count)
{
    struct pv_test_vtest vtest;
    if (pv_test_vtest_connect(&vtest, server.socket_path, 5000))
        return -1;
    int ret = pv_test_vtest_handshake(&vtest, name);
    if (ret == 0)
        ret = pv_test_vtest_write(&vtest, words, count * sizeof(uint32_t));
    if (ret == 0 && pv_test_vtest_wait_closed(&vtest, CLOSE_TIMEOUT_MS))
        ret = pv_test_fail("%s: the host did not drop the guest", name);
    pv_test_vtest_disconnect(&vtest);
    return ret;
}

static int test_bad_framing(void)
{
    int ret = 0;
    /* Unknown vtest command. */
    const uint32_t unknown[] = { 0, 9999 };
    ret |= expect_dropped("pvh-unknown-vcmd", unknown, 2);
    /* SUBMIT_CMD2 whose batch points past its payload. */
    const uint32_t bad_batch[] = { 13, PV_TEST_VCMD_SUBMIT_CMD2, 1, 1, 9, 1000, 13, 0, 0, 0, 0, 0, 0, 0, 0 };
    ret |= expect_dropped("pvh-bad-batch", bad_batch, sizeof(bad_batch) / 4);
    /* SUBMIT_CMD2 with a batch count far beyond its payload. */
    const uint32_t bad_count[] = { 9, PV_TEST_VCMD_SUBMIT_CMD2, 0x40000000, 1, 9, 0, 9, 0, 0, 0, 0 };
    ret |= expect_dropped("pvh-bad-count", bad_count, sizeof(bad_count) / 4);
    /* Each guest's fatal errors stay its own: a fresh guest still gets served. */
    if (test_reply_stream())
        ret = pv_test_fail("after the dropped guests a fresh guest's exchange failed");
    return ret ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *what;
        int (*run)(void);
    } tests[] = {
        { "handshake as the 22.3.6 driver does it, and unsupported queries", test_handshake },
        { "blobs: distinct res_ids, mappable fds of the exact size, unref", test_blobs },
        { "reply stream: vkCreateInstance and vkDestroyInstance replies", test_reply_stream },
        { "two guests at once with the same object ids", test_two_guests },
        { "guests leaving early do not disturb the server", test_early_exits },
        { "broken vtest framing drops only that guest", test_bad_framing },
    };
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const size_t count = sizeof(tests) / sizeof(tests[0]);
    printf("1..%zu\n", count + 3);

    if (pv_test_server_start(&server, pv_test_pvgpu_path(argc > 1 ? argv[1] : NULL))) {
        printf("Bail out! could not start pvgpu serve\n");
        return 1;
    }
    fprintf(stderr, "# server log: %s\n", server.log_path);
    int failures = 0;
    for (size_t i = 0; i < count; i++) {
        const size_t log_start = pv_test_server_log_size(&server);
        fprintf(stderr, "# %s\n", tests[i].what);
        const bool ok = tests[i].run() == 0;
        printf("%s %zu - %s\n", ok ? "ok" : "not ok", i + 1, tests[i].what);
        if (!ok) {
            failures++;
            pv_test_server_print_log(&server, log_start);
        }
        if (!pv_test_server_alive(&server)) {
            printf("Bail out! the server died\n");
            pv_test_server_print_log(&server, 0);
            pv_test_server_stop(&server);
            return 1;
        }
    }
    /* Guests that followed the protocol must never be declared fatal. */
    char *log = pv_test_server_log_since(&server, 0);
    bool clean = true;
    static const char *const valid_guests[] = {
        "(pvh-handshake-odd)", "(pvh-blobs)", "(pvh-reply)", "(pvh-one)", "(pvh-two)", "(pvh-mapped)",
    };
    for (size_t i = 0; i < sizeof(valid_guests) / sizeof(valid_guests[0]); i++) {
        const char *hit = strstr(log, valid_guests[i]);
        for (; hit; hit = strstr(hit + 1, valid_guests[i])) {
            if (strncmp(hit + strlen(valid_guests[i]), ": fatal:", 8) == 0) {
                const char *end = strchr(hit, '\n');
                pv_test_fail("a valid guest was declared fatal: %.*s", end ? (int)(end - hit) : (int)strlen(hit), hit);
                clean = false;
            }
        }
    }
    free(log);
    printf("%s %zu - no guest that followed the protocol was declared fatal\n", clean ? "ok" : "not ok", count + 1);
    failures += !clean;

    /* Stop first: leak reports come when the server and its workers exit. */
    const int status = pv_test_server_stop(&server);
    const bool sanitizer_clean = pv_test_server_sanitizer_reports(&server) == 0;
    printf("%s %zu - no sanitizer reports in the server log\n", sanitizer_clean ? "ok" : "not ok", count + 2);
    failures += !sanitizer_clean;
    const bool stopped = status != -1 && (WIFEXITED(status) || WTERMSIG(status) == SIGTERM);
    printf("%s %zu - the server stopped on SIGTERM without crashing\n", stopped ? "ok" : "not ok", count + 3);
    failures += !stopped;

    if (failures == 0)
        pv_test_server_remove_files(&server);
    else
        fprintf(stderr, "# server log kept at %s\n", server.log_path);
    return failures ? 1 : 0;
}
