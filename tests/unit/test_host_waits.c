/* Host waits a guest can make endless, against `pvgpu serve` (current generation). Each case makes
 * a device whose only queue waits on a timeline semaphore the guest never signals, a fence never
 * submitted, a query pool, and a ring that runs without notifications; then the guest's socket
 * sends one command that waits on the host. While it waits:
 *   - the ring still runs commands: its worker needs the context lock, so the wait does not
 *     hold it;
 *   - the socket does not answer (the wait is real; a command that answers at once would make
 *     the case prove nothing).
 * Then the guest disconnects: the server must log the context's teardown within TEARDOWN_MS,
 * and a fresh guest is served. Last, vkGetQueryPoolResults with WAIT_BIT on a query never begun,
 * on an idle device, answers at once with VK_NOT_READY rather than waiting for ever.
 * Output is TAP; the pvgpu executable comes from $PVGPU or argv[1]. */
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
#include <time.h>

#define INSTANCE_ID 0x00005eed10000010ull
#define PHYSICAL_DEVICE_ID 0x00005eed20000020ull
#define DEVICE_ID 0x00005eed30000030ull
#define QUEUE_ID 0x00005eed40000040ull
#define SEMAPHORE_ID 0x00005eed50000050ull
#define FENCE_ID 0x00005eed70000070ull
#define QUERY_POOL_ID 0x00005eed90000090ull
#define RING_ID 0x00005eed60000060ull
#define RING_FENCE_ID 0x00005eeda00000a0ull

/* A ring command must run this soon while the socket waits. */
#define RING_MS 2000
/* The socket must still be waiting after this long. */
#define STILL_WAITING_MS 300
/* Teardown once the guest left: a wait notices within a slice (50 ms); generous for a loaded
 * machine. */
#define TEARDOWN_MS 2000

static struct pv_test_server server;
static int tap_number;
static int failures;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, timeout_ms) > 0;
}

static void report(bool ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tap_number, what);
    failures += !ok;
}

/* The guest's device, the blocked queue, the fence, the pool, and the ring. */
static int start_guest(struct pv_test_guest *guest, const char *name, struct pv_test_ring *ring)
{
    if (pv_test_guest_start(guest, server.socket_path, name, 1 << 20, 0, 4096))
        return -1;
    if (pv_test_create_instance_api(guest, INSTANCE_ID, PV_TEST_API_VERSION_1_2, 0) ||
        pv_test_enumerate_all_physical_devices(guest, INSTANCE_ID, PHYSICAL_DEVICE_ID) < 1)
        return -1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_device(&cs, 0, PHYSICAL_DEVICE_ID, true, DEVICE_ID);
    pv_test_cs_get_device_queue2(&cs, DEVICE_ID, 0, QUEUE_ID);
    pv_test_cs_create_fence(&cs, DEVICE_ID, FENCE_ID);
    pv_test_cs_create_timeline_semaphore(&cs, DEVICE_ID, SEMAPHORE_ID);
    pv_test_cs_create_query_pool(&cs, DEVICE_ID, QUERY_POOL_ID, 2);
    pv_test_cs_submit_wait_timeline(&cs, QUEUE_ID, SEMAPHORE_ID, 1, 0);
    int ret = cs.out_of_memory ? -1 : pv_test_guest_submit(guest, &cs);
    pv_test_cs_fini(&cs);
    if (ret == 0)
        ret = pv_test_vtest_roundtrip(&guest->vtest);
    /* A ring whose worker naps instead of waiting for vkNotifyRingMESA, which the waiting
     * socket would never deliver. */
    const struct pv_test_ring_options busy = { .idle_timeout_ns = 60ull * 1000 * 1000 * 1000 };
    if (ret == 0)
        ret = pv_test_ring_start(guest, RING_ID, &busy, ring);
    return ret;
}

struct wait_case {
    const char *name;
    const char *what;
    void (*encode)(struct pv_test_cs *cs);
};

static void encode_wait_for_fences(struct pv_test_cs *cs)
{
    pv_test_cs_wait_for_fences(cs, 0, DEVICE_ID, FENCE_ID, PV_TEST_UINT64_MAX);
}

static void encode_wait_semaphores(struct pv_test_cs *cs)
{
    pv_test_cs_wait_semaphores(cs, 0, DEVICE_ID, SEMAPHORE_ID, 1, PV_TEST_UINT64_MAX);
}

static void encode_queue_wait_idle(struct pv_test_cs *cs)
{
    pv_test_cs_queue_wait_idle(cs, 0, QUEUE_ID);
}

static void encode_device_wait_idle(struct pv_test_cs *cs)
{
    pv_test_cs_device_wait_idle(cs, 0, DEVICE_ID);
}

static void encode_reset_fence_resource(struct pv_test_cs *cs)
{
    pv_test_cs_reset_fence_resource(cs, DEVICE_ID, FENCE_ID);
}

static void encode_query_results(struct pv_test_cs *cs)
{
    pv_test_cs_get_query_results(cs, PV_TEST_COMMAND_GENERATE_REPLY, DEVICE_ID, QUERY_POOL_ID, 0, 2, 0);
}

static void encode_query_results_wait(struct pv_test_cs *cs)
{
    pv_test_cs_get_query_results(cs, PV_TEST_COMMAND_GENERATE_REPLY, DEVICE_ID, QUERY_POOL_ID, 0, 2,
                                 PV_TEST_QUERY_RESULT_WAIT_BIT);
}

static const struct wait_case cases[] = {
    { "pvw-fences", "vkWaitForFences(UINT64_MAX) on a fence never submitted", encode_wait_for_fences },
    { "pvw-semaphores", "vkWaitSemaphores(UINT64_MAX) for a value never signalled", encode_wait_semaphores },
    { "pvw-queue-idle", "vkQueueWaitIdle on a queue waiting for the guest", encode_queue_wait_idle },
    { "pvw-device-idle", "vkDeviceWaitIdle on a device waiting for the guest", encode_device_wait_idle },
    { "pvw-fence-resource", "vkResetFenceResourceMESA on a fence never submitted", encode_reset_fence_resource },
    /* A CPU driver (lavapipe) waits for the whole device inside vkGetQueryPoolResults. */
    { "pvw-query", "vkGetQueryPoolResults on a device waiting for the guest", encode_query_results },
    { "pvw-query-wait", "vkGetQueryPoolResults(WAIT_BIT) on a device waiting for the guest",
      encode_query_results_wait },
};

/* A fresh guest gets a full vkCreateInstance exchange: the server still serves. */
static bool next_guest_served(void)
{
    struct pv_test_guest guest;
    if (pv_test_guest_start(&guest, server.socket_path, "pvw-next", 1 << 20, 0, 4096))
        return false;
    const bool ok = pv_test_create_instance(&guest, INSTANCE_ID, 0) == 0;
    pv_test_guest_stop(&guest);
    return ok;
}

static void run_case(const struct wait_case *c)
{
    const size_t log_start = pv_test_server_log_size(&server);
    struct pv_test_guest guest;
    struct pv_test_ring ring = { .blob = { .fd = -1 } };
    char what[256];
    if (start_guest(&guest, c->name, &ring)) {
        snprintf(what, sizeof(what), "%s: set-up", c->what);
        report(false, what);
        pv_test_ring_unmap(&ring);
        pv_test_guest_stop(&guest);
        return;
    }
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, 0);
    c->encode(&cs);
    bool ok = pv_test_guest_submit(&guest, &cs) == 0 && pv_test_vtest_ping_send(&guest.vtest) == 0;

    const bool waiting = ok && !fd_readable(guest.vtest.fd, STILL_WAITING_MS);
    snprintf(what, sizeof(what), "%s: the socket is still waiting after %d ms", c->what, STILL_WAITING_MS);
    report(waiting, what);
    /* The ring runs a command meanwhile (written only now, so that the socket's command has
     * started waiting before it). */
    pv_test_cs_reset(&cs);
    pv_test_cs_create_fence(&cs, DEVICE_ID, RING_FENCE_ID);
    ok = ok && pv_test_ring_write(&guest, &ring, cs.data, cs.size) == 0;
    const bool ring_ran = ok && pv_test_ring_wait_head(&ring, ring.tail, RING_MS) == 0;
    snprintf(what, sizeof(what), "%s: a ring command runs while the socket waits (the context is unlocked)",
             c->what);
    report(ring_ran, what);
    if (!ring_ran)
        pv_test_server_print_log(&server, log_start);
    pv_test_cs_fini(&cs);

    const int64_t left = now_ms();
    pv_test_ring_unmap(&ring);
    pv_test_guest_stop(&guest);
    char needle[128];
    snprintf(needle, sizeof(needle), "(%s): teardown released", c->name);
    char *line = pv_test_server_wait_log(&server, log_start, needle, TEARDOWN_MS);
    const int64_t took = now_ms() - left;
    snprintf(what, sizeof(what), "%s: the guest leaves, its context is torn down within %d ms (%" PRId64
             " ms)", c->what, TEARDOWN_MS, took);
    report(line != NULL, what);
    if (!line)
        pv_test_server_print_log(&server, log_start);
    free(line);
    snprintf(what, sizeof(what), "%s: the next guest is served", c->what);
    report(next_guest_served(), what);
}

/* A query never begun, with WAIT_BIT, on an idle device: a GPU driver would wait for it for
 * ever; the host answers VK_NOT_READY (its results unwritten) instead. */
static void query_never_begun(void)
{
    struct pv_test_guest guest;
    bool ok = pv_test_guest_start(&guest, server.socket_path, "pvw-query-idle", 1 << 20, 0, 4096) == 0;
    ok = ok && pv_test_create_instance_api(&guest, INSTANCE_ID, PV_TEST_API_VERSION_1_2, 0) == 0 &&
         pv_test_enumerate_all_physical_devices(&guest, INSTANCE_ID, PHYSICAL_DEVICE_ID) >= 1;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_device(&cs, 0, PHYSICAL_DEVICE_ID, true, DEVICE_ID);
    pv_test_cs_get_device_queue2(&cs, DEVICE_ID, 0, QUEUE_ID);
    pv_test_cs_create_query_pool(&cs, DEVICE_ID, QUERY_POOL_ID, 2);
    ok = ok && pv_test_guest_submit(&guest, &cs) == 0 && pv_test_vtest_roundtrip(&guest.vtest) == 0;
    pv_test_cs_reset(&cs);
    encode_query_results_wait(&cs);
    const uint8_t *reply = NULL;
    const int64_t start = now_ms();
    ok = ok && pv_test_guest_call(&guest, &cs, 0, &reply) == 0;
    const int64_t took = now_ms() - start;
    uint32_t type = 0, result = 0;
    if (ok) {
        struct pv_test_reader r;
        pv_test_reader_init(&r, reply, 8);
        type = pv_test_read_u32(&r);
        result = pv_test_read_u32(&r);
    }
    char what[200];
    snprintf(what, sizeof(what), "vkGetQueryPoolResults(WAIT_BIT) on queries never begun: VK_NOT_READY at "
             "once (type %u, result %d, %" PRId64 " ms)", type, (int32_t)result, took);
    report(ok && type == PV_TEST_CMD_vkGetQueryPoolResults && (int32_t)result == PV_TEST_VK_NOT_READY &&
           took < RING_MS, what);
    pv_test_cs_fini(&cs);
    pv_test_guest_stop(&guest);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *pvgpu = pv_test_pvgpu_path(argc > 1 ? argv[1] : NULL);
    if (!pvgpu || pv_test_server_start(&server, pvgpu, NULL)) {
        printf("1..0 # SKIP no pvgpu to run\n");
        return pvgpu ? 1 : 77;
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++)
        run_case(&cases[i]);
    query_never_begun();
    report(pv_test_server_alive(&server), "the server is still up");
    report(pv_test_server_sanitizer_reports(&server) == 0, "no sanitizer reports in the server's log");
    pv_test_server_stop(&server);
    if (!failures)
        pv_test_server_remove_files(&server);
    printf("1..%d\n", tap_number);
    return failures ? 1 : 0;
}
