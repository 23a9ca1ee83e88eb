/* A raw vtest guest for tests and a small Venus encoder, written from the project's protocol notes
 * (sections 1, 3, 4, 6 and "The current protocol"). See pv_test_vtest_client.h. */
#define _GNU_SOURCE
#include "pv_test_vtest_client.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "vtest client: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum pv_test_generation connection_generation = PV_TEST_GENERATION_CURRENT;
static bool connection_follows_host;

const char *pv_test_generation_name(enum pv_test_generation generation)
{
    return generation == PV_TEST_GENERATION_2022 ? "2022" : "current";
}

void pv_test_vtest_set_generation(enum pv_test_generation generation)
{
    connection_generation = generation;
    connection_follows_host = false;
}

void pv_test_vtest_follow_host_generation(void)
{
    connection_follows_host = true;
}

static void set_connection_generation(struct pv_test_vtest *vtest, enum pv_test_generation generation)
{
    vtest->generation = generation;
    vtest->batch_header_words = generation == PV_TEST_GENERATION_2022 ? 8 : 6;
}

enum pv_test_generation pv_test_vtest_generation(void)
{
    return connection_generation;
}

const char *pv_test_capset_mismatch(const uint32_t *caps, uint32_t size,
                                    enum pv_test_generation generation)
{
    static char why[160];
    const bool current = generation == PV_TEST_GENERATION_CURRENT;
    static const char *const names[] = {
        [PV_TEST_CAPSET_WIRE_FORMAT] = "wire_format_version",
        [PV_TEST_CAPSET_VK_XML_VERSION] = "vk_xml_version",
        [PV_TEST_CAPSET_COMMAND_SERIALIZATION_SPEC] = "vk_ext_command_serialization_spec_version",
        [PV_TEST_CAPSET_VENUS_SPEC] = "vk_mesa_venus_protocol_spec_version",
        [PV_TEST_CAPSET_BLOB_ID_0] = "supports_blob_id_0",
        [PV_TEST_CAPSET_ALLOW_WAIT_SYNCS] = "allow_vk_wait_syncs",
        [PV_TEST_CAPSET_MULTIPLE_TIMELINES] = "supports_multiple_timelines",
        [PV_TEST_CAPSET_USE_GUEST_VRAM] = "use_guest_vram",
    };
    const struct {
        enum pv_test_capset_word word;
        uint32_t want;
    } fields[] = {
        { PV_TEST_CAPSET_WIRE_FORMAT, current ? 1 : 0 },
        { PV_TEST_CAPSET_VK_XML_VERSION, (1u << 22) | (3u << 12) | 309u },
        { PV_TEST_CAPSET_COMMAND_SERIALIZATION_SPEC, current ? 1 : 0 },
        { PV_TEST_CAPSET_VENUS_SPEC, current ? 2 : 100000 },
        { PV_TEST_CAPSET_BLOB_ID_0, 1 },
        { PV_TEST_CAPSET_ALLOW_WAIT_SYNCS, 1 },
        { PV_TEST_CAPSET_MULTIPLE_TIMELINES, current ? 1 : 0 },
        { PV_TEST_CAPSET_USE_GUEST_VRAM, 0 },
    };
    const uint32_t want_size = current ? PV_TEST_CAPSET_BYTES_CURRENT : PV_TEST_CAPSET_BYTES_2022;
    if (size != want_size) {
        snprintf(why, sizeof(why), "%u bytes, not %u", size, want_size);
        return why;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].word * 4 >= size)
            continue;
        if (caps[fields[i].word] != fields[i].want) {
            snprintf(why, sizeof(why), "%s is %#x, not %#x", names[fields[i].word], caps[fields[i].word],
                     fields[i].want);
            return why;
        }
    }
    bool mask = false;
    for (int i = 0; i < 32; i++)
        mask |= caps[PV_TEST_CAPSET_EXTENSION_MASK + i] != 0;
    return mask ? NULL : "the extension mask is empty";
}

int pv_test_vtest_connect(struct pv_test_vtest *vtest, const char *path, int timeout_ms)
{
    memset(vtest, 0, sizeof(*vtest));
    vtest->fd = -1;
    set_connection_generation(vtest, connection_generation);
    vtest->follows_host_generation = connection_follows_host;

    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path))
        return complain("socket path too long: %s", path);
    strcpy(addr.sun_path, path);

    const int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return complain("socket: %s", strerror(errno));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            struct timeval tv = { .tv_sec = PV_TEST_VTEST_IO_TIMEOUT_MS / 1000 };
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            vtest->fd = fd;
            return 0;
        }
        const int err = errno;
        close(fd);
        if (now_ms() >= deadline)
            return complain("cannot connect to %s: %s", path, strerror(err));
        usleep(20 * 1000);
    }
}

void pv_test_vtest_disconnect(struct pv_test_vtest *vtest)
{
    if (vtest->fd >= 0)
        close(vtest->fd);
    vtest->fd = -1;
}

int pv_test_vtest_write(struct pv_test_vtest *vtest, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = send(vtest->fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return complain("write to host failed: %s", strerror(errno));
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

static int read_exact(struct pv_test_vtest *vtest, void *data, size_t size, const char *what)
{
    uint8_t *p = data;
    while (size) {
        ssize_t n = read(vtest->fd, p, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return complain("no %s from the host within %d ms", what, PV_TEST_VTEST_IO_TIMEOUT_MS);
        if (n < 0)
            return complain("reading %s failed: %s", what, strerror(errno));
        if (n == 0)
            return complain("host closed the connection while the guest waited for %s", what);
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

static int send_request(struct pv_test_vtest *vtest, uint32_t id, const uint32_t *words, uint32_t count)
{
    const uint32_t header[2] = { count, id };
    if (pv_test_vtest_write(vtest, header, sizeof(header)))
        return -1;
    return count ? pv_test_vtest_write(vtest, words, count * sizeof(uint32_t)) : 0;
}

/* Reads a reply header and checks its id and payload length. */
static int read_reply_header(struct pv_test_vtest *vtest, uint32_t id, uint32_t length, const char *what)
{
    uint32_t header[2];
    if (read_exact(vtest, header, sizeof(header), what))
        return -1;
    if (header[1] != id)
        return complain("%s: reply header has command id %u, expected %u", what, header[1], id);
    if (header[0] != length)
        return complain("%s: reply length %u words, expected %u", what, header[0], length);
    return 0;
}

int pv_test_vtest_create_renderer(struct pv_test_vtest *vtest, const char *name)
{
    /* The only request whose length is in bytes: the name and its NUL, unpadded. */
    const uint32_t size = (uint32_t)strlen(name) + 1;
    const uint32_t header[2] = { size, PV_TEST_VCMD_CREATE_RENDERER };
    if (pv_test_vtest_write(vtest, header, sizeof(header)))
        return -1;
    return pv_test_vtest_write(vtest, name, size);
}

int pv_test_vtest_ping(struct pv_test_vtest *vtest)
{
    /* The driver sends a busy-wait right behind the ping, so that a host without ping support
     * still answers something; a host with it answers both, in order. */
    const uint32_t busy_wait[2] = { 0, 0 };
    if (send_request(vtest, PV_TEST_VCMD_PING_PROTOCOL_VERSION, NULL, 0) ||
        send_request(vtest, PV_TEST_VCMD_RESOURCE_BUSY_WAIT, busy_wait, 2))
        return -1;
    if (read_reply_header(vtest, PV_TEST_VCMD_PING_PROTOCOL_VERSION, 0, "PING_PROTOCOL_VERSION reply") ||
        read_reply_header(vtest, PV_TEST_VCMD_RESOURCE_BUSY_WAIT, 1, "RESOURCE_BUSY_WAIT reply"))
        return -1;
    uint32_t busy;
    if (read_exact(vtest, &busy, sizeof(busy), "RESOURCE_BUSY_WAIT reply"))
        return -1;
    if (busy != 0)
        return complain("RESOURCE_BUSY_WAIT on handle 0 answered busy = %u, expected 0", busy);
    return 0;
}

int pv_test_vtest_roundtrip(struct pv_test_vtest *vtest)
{
    return pv_test_vtest_ping_send(vtest) || pv_test_vtest_ping_answer(vtest) ? -1 : 0;
}

int pv_test_vtest_ping_send(struct pv_test_vtest *vtest)
{
    return send_request(vtest, PV_TEST_VCMD_PING_PROTOCOL_VERSION, NULL, 0);
}

int pv_test_vtest_ping_answer(struct pv_test_vtest *vtest)
{
    return read_reply_header(vtest, PV_TEST_VCMD_PING_PROTOCOL_VERSION, 0, "PING_PROTOCOL_VERSION reply");
}

int pv_test_vtest_protocol_version(struct pv_test_vtest *vtest, uint32_t offered, uint32_t *out_version)
{
    if (send_request(vtest, PV_TEST_VCMD_PROTOCOL_VERSION, &offered, 1) ||
        read_reply_header(vtest, PV_TEST_VCMD_PROTOCOL_VERSION, 1, "PROTOCOL_VERSION reply") ||
        read_exact(vtest, out_version, sizeof(*out_version), "PROTOCOL_VERSION reply"))
        return -1;
    return 0;
}

int pv_test_vtest_get_param(struct pv_test_vtest *vtest, uint32_t param, uint32_t *out_valid,
                            uint32_t *out_value)
{
    uint32_t reply[2];
    if (send_request(vtest, PV_TEST_VCMD_GET_PARAM, &param, 1) ||
        read_reply_header(vtest, PV_TEST_VCMD_GET_PARAM, 2, "GET_PARAM reply") ||
        read_exact(vtest, reply, sizeof(reply), "GET_PARAM reply"))
        return -1;
    *out_valid = reply[0];
    *out_value = reply[1];
    return 0;
}

int pv_test_vtest_get_capset(struct pv_test_vtest *vtest, uint32_t id, uint32_t version,
                             uint32_t *out_valid)
{
    const uint32_t request[2] = { id, version };
    uint32_t header[2];
    if (send_request(vtest, PV_TEST_VCMD_GET_CAPSET, request, 2) ||
        read_exact(vtest, header, sizeof(header), "GET_CAPSET reply"))
        return -1;
    if (header[1] != PV_TEST_VCMD_GET_CAPSET)
        return complain("GET_CAPSET: reply header has command id %u", header[1]);
    if (header[0] < 1)
        return complain("GET_CAPSET: reply length 0, expected at least the validity word");
    if (read_exact(vtest, out_valid, sizeof(*out_valid), "GET_CAPSET reply"))
        return -1;
    uint32_t words = header[0] - 1;
    if (words > 4096)
        return complain("GET_CAPSET: implausible capset of %u words", words);
    memset(vtest->capset, 0, sizeof(vtest->capset));
    vtest->capset_size = 0;
    for (uint32_t i = 0; i < words; i++) {
        uint32_t word;
        if (read_exact(vtest, &word, sizeof(word), "capset"))
            return -1;
        if (i < sizeof(vtest->capset) / sizeof(vtest->capset[0])) {
            vtest->capset[i] = word;
            vtest->capset_size += 4;
        }
    }
    return 0;
}

int pv_test_vtest_context_init(struct pv_test_vtest *vtest, uint32_t capset_id)
{
    return send_request(vtest, PV_TEST_VCMD_CONTEXT_INIT, &capset_id, 1);
}

int pv_test_vtest_handshake(struct pv_test_vtest *vtest, const char *name)
{
    if (pv_test_vtest_create_renderer(vtest, name) || pv_test_vtest_ping(vtest))
        return -1;

    if (pv_test_vtest_protocol_version(vtest, 3, &vtest->protocol_version))
        return -1;
    if (vtest->protocol_version < 3)
        return complain("PROTOCOL_VERSION: host negotiated %u, the Venus driver needs 3",
                        vtest->protocol_version);

    uint32_t valid;
    if (pv_test_vtest_get_param(vtest, PV_TEST_VTEST_PARAM_MAX_SYNC_QUEUE_COUNT, &valid,
                                &vtest->max_sync_queue_count))
        return -1;
    if (!valid || !vtest->max_sync_queue_count)
        return complain("GET_PARAM MAX_SYNC_QUEUE_COUNT: valid %u, value %u; the driver needs both non-zero",
                        valid, vtest->max_sync_queue_count);

    if (pv_test_vtest_get_capset(vtest, PV_TEST_CAPSET_VENUS, 0, &valid))
        return -1;
    if (!valid)
        return complain("GET_CAPSET 4 v0: host answered invalid");
    if (vtest->follows_host_generation && vtest->capset_size >= 4 && vtest->capset[PV_TEST_CAPSET_WIRE_FORMAT] <= 1)
        set_connection_generation(vtest, vtest->capset[PV_TEST_CAPSET_WIRE_FORMAT] == 1
                                              ? PV_TEST_GENERATION_CURRENT : PV_TEST_GENERATION_2022);
    /* The 2022 driver reads through allow_vk_wait_syncs, current ones through use_guest_vram,
     * and each accepts only its own wire format. */
    const bool current = vtest->generation == PV_TEST_GENERATION_CURRENT;
    const uint32_t needed = current ? PV_TEST_CAPSET_BYTES_CURRENT : 152;
    const uint32_t wire_format = current ? 1 : 0;
    if (vtest->capset_size < needed)
        return complain("GET_CAPSET 4 v0: capset of %u bytes; the %s driver reads %u",
                        vtest->capset_size, pv_test_generation_name(vtest->generation), needed);
    if (vtest->capset[PV_TEST_CAPSET_WIRE_FORMAT] != wire_format)
        return complain("capset wire_format_version %u, the %s driver needs %u",
                        vtest->capset[PV_TEST_CAPSET_WIRE_FORMAT],
                        pv_test_generation_name(vtest->generation), wire_format);
    if (vtest->capset[PV_TEST_CAPSET_VK_XML_VERSION] < PV_TEST_API_VERSION_1_1)
        return complain("capset vk_xml_version 0x%08x is below 1.1",
                        vtest->capset[PV_TEST_CAPSET_VK_XML_VERSION]);

    return pv_test_vtest_context_init(vtest, PV_TEST_CAPSET_VENUS);
}

static int receive_fd(struct pv_test_vtest *vtest, int *out_fd)
{
    char control[CMSG_SPACE(sizeof(int))];
    char byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control,
        .msg_controllen = sizeof(control),
    };
    ssize_t n;
    do {
        n = recvmsg(vtest->fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return complain("recvmsg for an fd failed: %s", strerror(errno));
    if (n == 0)
        return complain("host closed the connection instead of sending an fd");
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    if (!cmsg || cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
        cmsg->cmsg_len != CMSG_LEN(sizeof(int)))
        return complain("the message after the reply carries no single fd (SCM_RIGHTS)");
    memcpy(out_fd, CMSG_DATA(cmsg), sizeof(int));
    return 0;
}

int pv_test_vtest_create_blob(struct pv_test_vtest *vtest, uint32_t type, uint32_t flags,
                              uint64_t size, uint64_t blob_id, struct pv_test_blob *out)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    const uint32_t request[6] = {
        type, flags, (uint32_t)size, (uint32_t)(size >> 32), (uint32_t)blob_id, (uint32_t)(blob_id >> 32),
    };
    if (send_request(vtest, PV_TEST_VCMD_RESOURCE_CREATE_BLOB, request, 6) ||
        read_reply_header(vtest, PV_TEST_VCMD_RESOURCE_CREATE_BLOB, 1, "RESOURCE_CREATE_BLOB reply") ||
        read_exact(vtest, &out->res_id, sizeof(out->res_id), "RESOURCE_CREATE_BLOB reply"))
        return -1;
    if (out->res_id == 0)
        return complain("RESOURCE_CREATE_BLOB answered res_id 0");
    if (receive_fd(vtest, &out->fd))
        return -1;
    out->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, out->fd, 0);
    if (out->map == MAP_FAILED) {
        out->map = NULL;
        complain("mmap of blob %u (%llu bytes) failed: %s", out->res_id, (unsigned long long)size,
                 strerror(errno));
        close(out->fd);
        out->fd = -1;
        return -1;
    }
    out->size = size;
    return 0;
}

void pv_test_blob_unmap(struct pv_test_blob *blob)
{
    if (blob->map)
        munmap(blob->map, blob->size);
    if (blob->fd >= 0)
        close(blob->fd);
    blob->map = NULL;
    blob->fd = -1;
}

int pv_test_vtest_unref_blob(struct pv_test_vtest *vtest, struct pv_test_blob *blob)
{
    const int ret = send_request(vtest, PV_TEST_VCMD_RESOURCE_UNREF, &blob->res_id, 1);
    pv_test_blob_unmap(blob);
    return ret;
}

int pv_test_vtest_submit(struct pv_test_vtest *vtest, const void *commands, size_t size)
{
    if (size == 0)
        return complain("an empty submission: the drivers send none");
    const struct pv_test_batch batch = {
        .flags = PV_TEST_SUBMIT_FLAG_QUEUE, .commands = commands, .size = size,
    };
    return pv_test_vtest_submit_batches(vtest, &batch, 1);
}

int pv_test_vtest_submit_batches(struct pv_test_vtest *vtest, const struct pv_test_batch *batches,
                                 uint32_t count)
{
    const uint32_t header_words = vtest->batch_header_words;
    if (header_words != 6 && header_words != 8)
        return complain("batch headers of %u words: the drivers send 6 or 8", header_words);
    /* batch_count, the headers, every stream back to back, then every sync triple; offsets
     * count words from the payload start. */
    size_t stream_words = 0, sync_words = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (batches[i].size % 4)
            return complain("batch %u: %zu bytes of commands, not whole words", i, batches[i].size);
        stream_words += batches[i].size / 4;
        sync_words += (size_t)batches[i].sync_count * 3;
    }
    const size_t words = 1 + (size_t)count * header_words + stream_words + sync_words;
    uint32_t *payload = calloc(words, sizeof(uint32_t));
    if (!payload)
        return complain("out of memory for a %zu-word submission", words);
    payload[0] = count;
    size_t stream_at = 1 + (size_t)count * header_words;
    size_t sync_at = stream_at + stream_words;
    for (uint32_t i = 0; i < count; i++) {
        const struct pv_test_batch *b = &batches[i];
        uint32_t *header = &payload[1 + (size_t)i * header_words];
        header[0] = b->flags;
        header[1] = (uint32_t)stream_at;
        header[2] = (uint32_t)(b->size / 4);
        header[3] = (uint32_t)sync_at;
        header[4] = b->sync_count;
        header[5] = b->queue_index;
        if (header_words == 8) {
            header[6] = (uint32_t)b->queue_id;
            header[7] = (uint32_t)(b->queue_id >> 32);
        }
        if (b->size)
            memcpy(&payload[stream_at], b->commands, b->size);
        stream_at += b->size / 4;
        if (b->sync_count)
            memcpy(&payload[sync_at], b->syncs, (size_t)b->sync_count * 3 * sizeof(uint32_t));
        sync_at += (size_t)b->sync_count * 3;
    }
    const int ret = send_request(vtest, PV_TEST_VCMD_SUBMIT_CMD2, payload, (uint32_t)words);
    free(payload);
    return ret;
}

int pv_test_vtest_sync_create(struct pv_test_vtest *vtest, uint64_t value, uint32_t *out_id)
{
    const uint32_t request[2] = { (uint32_t)value, (uint32_t)(value >> 32) };
    if (send_request(vtest, PV_TEST_VCMD_SYNC_CREATE, request, 2) ||
        read_reply_header(vtest, PV_TEST_VCMD_SYNC_CREATE, 1, "SYNC_CREATE reply") ||
        read_exact(vtest, out_id, sizeof(*out_id), "SYNC_CREATE reply"))
        return -1;
    if (*out_id == 0)
        return complain("SYNC_CREATE answered sync id 0");
    return 0;
}

int pv_test_vtest_sync_read(struct pv_test_vtest *vtest, uint32_t id, uint64_t *out_value)
{
    uint32_t value[2];
    if (send_request(vtest, PV_TEST_VCMD_SYNC_READ, &id, 1) ||
        read_reply_header(vtest, PV_TEST_VCMD_SYNC_READ, 2, "SYNC_READ reply") ||
        read_exact(vtest, value, sizeof(value), "SYNC_READ reply"))
        return -1;
    *out_value = value[0] | (uint64_t)value[1] << 32;
    return 0;
}

int pv_test_vtest_sync_write(struct pv_test_vtest *vtest, uint32_t id, uint64_t value)
{
    const uint32_t request[3] = { id, (uint32_t)value, (uint32_t)(value >> 32) };
    return send_request(vtest, PV_TEST_VCMD_SYNC_WRITE, request, 3);
}

int pv_test_vtest_sync_unref(struct pv_test_vtest *vtest, uint32_t id)
{
    return send_request(vtest, PV_TEST_VCMD_SYNC_UNREF, &id, 1);
}

static int receive_fd(struct pv_test_vtest *vtest, int *out_fd);

int pv_test_vtest_sync_wait(struct pv_test_vtest *vtest, uint32_t flags, uint32_t timeout_ms,
                            const uint32_t *triples, uint32_t count, int *out_fd)
{
    *out_fd = -1;
    uint32_t request[2 + 3 * 16];
    if (count > 16)
        return complain("SYNC_WAIT on %u syncs: this client sends at most 16", count);
    request[0] = flags;
    request[1] = timeout_ms;
    memcpy(&request[2], triples, (size_t)count * 3 * sizeof(uint32_t));
    if (send_request(vtest, PV_TEST_VCMD_SYNC_WAIT, request, 2 + 3 * count) ||
        read_reply_header(vtest, PV_TEST_VCMD_SYNC_WAIT, 0, "SYNC_WAIT reply"))
        return -1;
    return receive_fd(vtest, out_fd);
}

int pv_test_vtest_wait_closed(struct pv_test_vtest *vtest, int timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pfd = { .fd = vtest->fd, .events = POLLIN };
        const int64_t left = deadline - now_ms();
        int ret = poll(&pfd, 1, left > 0 ? (int)left : 0);
        if (ret < 0 && errno == EINTR)
            continue;
        if (ret < 0)
            return complain("poll: %s", strerror(errno));
        if (ret == 0)
            return complain("host kept the connection open for %d ms", timeout_ms);
        char byte;
        ssize_t n = recv(vtest->fd, &byte, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
            return 0;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0)
            return complain("recv: %s", strerror(errno));
        return complain("host sent data (first byte 0x%02x) instead of closing the connection",
                        (unsigned char)byte);
    }
}

/* Encoder */

void pv_test_cs_init(struct pv_test_cs *cs)
{
    memset(cs, 0, sizeof(*cs));
}

void pv_test_cs_fini(struct pv_test_cs *cs)
{
    free(cs->data);
    memset(cs, 0, sizeof(*cs));
}

void pv_test_cs_reset(struct pv_test_cs *cs)
{
    cs->size = 0;
}

static void cs_append(struct pv_test_cs *cs, const void *data, size_t size)
{
    if (cs->size + size > cs->capacity) {
        size_t capacity = cs->capacity ? cs->capacity : 256;
        while (capacity < cs->size + size)
            capacity *= 2;
        uint8_t *grown = realloc(cs->data, capacity);
        if (!grown) {
            cs->out_of_memory = true;
            return;
        }
        cs->data = grown;
        cs->capacity = capacity;
    }
    memcpy(cs->data + cs->size, data, size);
    cs->size += size;
}

void pv_test_cs_u32(struct pv_test_cs *cs, uint32_t value)
{
    cs_append(cs, &value, 4); /* the wire and every host we run on are little-endian */
}

void pv_test_cs_u64(struct pv_test_cs *cs, uint64_t value)
{
    cs_append(cs, &value, 8);
}

void pv_test_cs_marker(struct pv_test_cs *cs, bool present)
{
    pv_test_cs_u64(cs, present ? 1 : 0);
}

void pv_test_cs_handle(struct pv_test_cs *cs, uint64_t id)
{
    pv_test_cs_u64(cs, id);
}

void pv_test_cs_array_size(struct pv_test_cs *cs, uint64_t count)
{
    pv_test_cs_u64(cs, count);
}

void pv_test_cs_bytes(struct pv_test_cs *cs, const void *data, size_t size)
{
    static const uint8_t zeros[4];
    cs_append(cs, data, size);
    if (size % 4)
        cs_append(cs, zeros, 4 - size % 4);
}

void pv_test_cs_string(struct pv_test_cs *cs, const char *string)
{
    if (!string) {
        pv_test_cs_array_size(cs, 0);
        return;
    }
    const size_t size = strlen(string) + 1;
    pv_test_cs_array_size(cs, size);
    pv_test_cs_bytes(cs, string, size);
}

void pv_test_cs_command(struct pv_test_cs *cs, uint32_t type, uint32_t flags)
{
    pv_test_cs_u32(cs, type);
    pv_test_cs_u32(cs, flags);
}

void pv_test_cs_create_instance(struct pv_test_cs *cs, uint32_t flags, const char *app_name,
                                uint32_t api_version, uint64_t instance_id)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateInstance, flags);
    pv_test_cs_marker(cs, true); /* pCreateInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_INSTANCE_CREATE_INFO);
    pv_test_cs_marker(cs, false); /* pNext */
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_marker(cs, true);  /* pApplicationInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_APPLICATION_INFO);
    pv_test_cs_marker(cs, false); /* pNext */
    pv_test_cs_string(cs, app_name);
    pv_test_cs_u32(cs, 1);        /* applicationVersion */
    pv_test_cs_string(cs, NULL);  /* pEngineName */
    pv_test_cs_u32(cs, 0);        /* engineVersion */
    pv_test_cs_u32(cs, api_version);
    pv_test_cs_u32(cs, 0);        /* enabledLayerCount */
    pv_test_cs_array_size(cs, 0); /* ppEnabledLayerNames */
    pv_test_cs_u32(cs, 0);        /* enabledExtensionCount */
    pv_test_cs_array_size(cs, 0); /* ppEnabledExtensionNames */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pInstance */
    pv_test_cs_handle(cs, instance_id);
}

void pv_test_cs_destroy_instance(struct pv_test_cs *cs, uint32_t flags, uint64_t instance_id)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkDestroyInstance, flags);
    pv_test_cs_handle(cs, instance_id);
    pv_test_cs_marker(cs, false); /* pAllocator */
}

void pv_test_cs_enumerate_physical_devices(struct pv_test_cs *cs, uint32_t flags, uint64_t instance_id,
                                           uint32_t count, const uint64_t *ids)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkEnumeratePhysicalDevices, flags);
    pv_test_cs_handle(cs, instance_id);
    pv_test_cs_marker(cs, true); /* pPhysicalDeviceCount */
    pv_test_cs_u32(cs, ids ? count : 0);
    if (ids) {
        pv_test_cs_array_size(cs, count);
        for (uint32_t i = 0; i < count; i++)
            pv_test_cs_handle(cs, ids[i]);
    } else {
        pv_test_cs_array_size(cs, 0);
    }
}

void pv_test_cs_get_physical_device_properties(struct pv_test_cs *cs, uint32_t flags,
                                               uint64_t physical_device_id)
{
    /* The output struct travels as a skeleton; VkPhysicalDeviceProperties has no sType and
     * no input members, so only its marker is sent. */
    pv_test_cs_command(cs, PV_TEST_CMD_vkGetPhysicalDeviceProperties, flags);
    pv_test_cs_handle(cs, physical_device_id);
    pv_test_cs_marker(cs, true);
}

void pv_test_cs_set_reply_stream(struct pv_test_cs *cs, uint32_t res_id, uint64_t offset, uint64_t size)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkSetReplyCommandStreamMESA, 0);
    pv_test_cs_marker(cs, true);
    pv_test_cs_u32(cs, res_id);
    pv_test_cs_u64(cs, offset);
    pv_test_cs_u64(cs, size);
}

void pv_test_cs_seek_reply_stream(struct pv_test_cs *cs, uint64_t position)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkSeekReplyCommandStreamMESA, 0);
    pv_test_cs_u64(cs, position);
}

void pv_test_cs_experimental_features(struct pv_test_cs *cs, uint32_t flags, uint64_t size)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkGetVenusExperimentalFeatureData100000MESA, flags);
    pv_test_cs_marker(cs, true);   /* pDataSize, in/out */
    pv_test_cs_u64(cs, size);
    pv_test_cs_array_size(cs, size); /* pData: an output, so only its capacity */
}

void pv_test_cs_submit_virtqueue_seqno(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkSubmitVirtqueueSeqnoMESA, 0);
    pv_test_cs_u64(cs, ring);
    pv_test_cs_u64(cs, seqno);
}

void pv_test_cs_wait_virtqueue_seqno(struct pv_test_cs *cs, uint64_t seqno)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkWaitVirtqueueSeqnoMESA, 0);
    pv_test_cs_u64(cs, seqno);
}

void pv_test_cs_wait_ring_seqno(struct pv_test_cs *cs, uint64_t ring, uint64_t seqno)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkWaitRingSeqnoMESA, 0);
    pv_test_cs_u64(cs, ring);
    pv_test_cs_u64(cs, seqno);
}

void pv_test_cs_create_device(struct pv_test_cs *cs, uint32_t flags, uint64_t physical_device,
                              bool timeline_semaphores, uint64_t device)
{
    const float priority = 1.0f;
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateDevice, flags);
    pv_test_cs_handle(cs, physical_device);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_CREATE_INFO);
    pv_test_cs_marker(cs, timeline_semaphores); /* pNext */
    if (timeline_semaphores) {
        pv_test_cs_u32(cs, PV_TEST_STYPE_PHYSICAL_DEVICE_TIMELINE_SEMAPHORE_FEATURES);
        pv_test_cs_marker(cs, false);
        pv_test_cs_u32(cs, 1);    /* timelineSemaphore */
    }
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 1);        /* queueCreateInfoCount */
    pv_test_cs_array_size(cs, 1); /* pQueueCreateInfos */
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_QUEUE_CREATE_INFO);
    pv_test_cs_marker(cs, false); /* pNext */
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndex */
    pv_test_cs_u32(cs, 1);        /* queueCount */
    pv_test_cs_array_size(cs, 1); /* pQueuePriorities */
    pv_test_cs_bytes(cs, &priority, sizeof(priority));
    pv_test_cs_u32(cs, 0);        /* enabledLayerCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_u32(cs, 0);        /* enabledExtensionCount */
    pv_test_cs_array_size(cs, 0);
    pv_test_cs_marker(cs, false); /* pEnabledFeatures */
    pv_test_cs_marker(cs, false); /* pAllocator */
    pv_test_cs_marker(cs, true);  /* pDevice */
    pv_test_cs_handle(cs, device);
}

void pv_test_cs_get_device_queue2(struct pv_test_cs *cs, uint64_t device, uint32_t ring_idx,
                                  uint64_t queue)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkGetDeviceQueue2, 0);
    pv_test_cs_handle(cs, device);
    pv_test_cs_marker(cs, true);  /* pQueueInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_QUEUE_INFO_2);
    if (ring_idx) {
        pv_test_cs_marker(cs, true);
        pv_test_cs_u32(cs, PV_TEST_STYPE_DEVICE_QUEUE_TIMELINE_INFO_MESA);
        pv_test_cs_marker(cs, false);
        pv_test_cs_u32(cs, ring_idx);
    } else {
        pv_test_cs_marker(cs, false);
    }
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, 0);        /* queueFamilyIndex */
    pv_test_cs_u32(cs, 0);        /* queueIndex */
    pv_test_cs_marker(cs, true);  /* pQueue */
    pv_test_cs_handle(cs, queue);
}

void pv_test_cs_create_ring(struct pv_test_cs *cs, uint64_t ring, uint32_t res_id,
                            const struct pv_test_ring_options *options)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkCreateRingMESA, 0);
    pv_test_cs_u64(cs, ring);
    pv_test_cs_marker(cs, true);  /* pCreateInfo */
    pv_test_cs_u32(cs, PV_TEST_STYPE_RING_CREATE_INFO_MESA);
    /* The chain's sTypes nest first; each struct's own members follow in reverse order. */
    const bool monitor = options && options->monitor_period_us;
    const bool priority = options && options->priority;
    if (monitor) {
        pv_test_cs_marker(cs, true);
        pv_test_cs_u32(cs, PV_TEST_STYPE_RING_MONITOR_INFO_MESA);
    }
    if (priority) {
        pv_test_cs_marker(cs, true);
        pv_test_cs_u32(cs, PV_TEST_STYPE_RING_PRIORITY_INFO_MESA);
    }
    pv_test_cs_marker(cs, false);
    if (priority)
        pv_test_cs_u32(cs, (uint32_t)options->priority_value);
    if (monitor)
        pv_test_cs_u32(cs, options->monitor_period_us);
    pv_test_cs_u32(cs, 0);        /* flags */
    pv_test_cs_u32(cs, res_id);
    pv_test_cs_u64(cs, 0);        /* offset */
    pv_test_cs_u64(cs, PV_TEST_RING_BLOB_SIZE);
    pv_test_cs_u64(cs, options && options->idle_timeout_ns ? options->idle_timeout_ns : 1000000);
    pv_test_cs_u64(cs, PV_TEST_RING_HEAD);
    pv_test_cs_u64(cs, PV_TEST_RING_TAIL);
    pv_test_cs_u64(cs, PV_TEST_RING_STATUS);
    pv_test_cs_u64(cs, PV_TEST_RING_BUFFER);
    pv_test_cs_u64(cs, PV_TEST_RING_BUFFER_SIZE);
    pv_test_cs_u64(cs, PV_TEST_RING_EXTRA);
    pv_test_cs_u64(cs, 4);        /* extraSize */
}

void pv_test_cs_notify_ring(struct pv_test_cs *cs, uint64_t ring, uint32_t seqno)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkNotifyRingMESA, 0);
    pv_test_cs_u64(cs, ring);
    pv_test_cs_u32(cs, seqno);
    pv_test_cs_u32(cs, 0);        /* flags */
}

void pv_test_cs_destroy_ring(struct pv_test_cs *cs, uint64_t ring)
{
    pv_test_cs_command(cs, PV_TEST_CMD_vkDestroyRingMESA, 0);
    pv_test_cs_u64(cs, ring);
}

/* Reader */

void pv_test_reader_init(struct pv_test_reader *reader, const void *data, size_t size)
{
    reader->data = data;
    reader->size = size;
    reader->pos = 0;
    reader->overflow = false;
}

static void reader_take(struct pv_test_reader *reader, void *out, size_t size)
{
    if (reader->overflow || reader->size - reader->pos < size) {
        reader->overflow = true;
        memset(out, 0, size);
        return;
    }
    memcpy(out, reader->data + reader->pos, size);
    reader->pos += size;
}

uint32_t pv_test_read_u32(struct pv_test_reader *reader)
{
    uint32_t value;
    reader_take(reader, &value, sizeof(value));
    return value;
}

uint64_t pv_test_read_u64(struct pv_test_reader *reader)
{
    uint64_t value;
    reader_take(reader, &value, sizeof(value));
    return value;
}

/* Guest */

int pv_test_guest_start(struct pv_test_guest *guest, const char *socket_path, const char *name,
                        uint64_t blob_size, uint64_t reply_offset, uint64_t reply_size)
{
    memset(guest, 0, sizeof(*guest));
    guest->vtest.fd = -1;
    guest->reply_blob.fd = -1;
    if (pv_test_vtest_connect(&guest->vtest, socket_path, 5000))
        return -1;
    if (pv_test_vtest_handshake(&guest->vtest, name) ||
        pv_test_vtest_create_blob(&guest->vtest, PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE,
                                  blob_size, 0, &guest->reply_blob)) {
        pv_test_guest_stop(guest);
        return -1;
    }
    guest->reply_offset = reply_offset;
    guest->reply_size = reply_size;

    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_set_reply_stream(&cs, guest->reply_blob.res_id, reply_offset, reply_size);
    int ret = cs.out_of_memory ? -1 : pv_test_vtest_submit(&guest->vtest, cs.data, cs.size);
    pv_test_cs_fini(&cs);
    if (ret == 0)
        ret = pv_test_vtest_roundtrip(&guest->vtest);
    if (ret)
        pv_test_guest_stop(guest);
    return ret;
}

void pv_test_guest_stop(struct pv_test_guest *guest)
{
    pv_test_blob_unmap(&guest->reply_blob);
    pv_test_vtest_disconnect(&guest->vtest);
}

int pv_test_guest_call(struct pv_test_guest *guest, const struct pv_test_cs *command,
                       uint64_t position, const uint8_t **reply)
{
    if (command->out_of_memory)
        return complain("out of memory encoding a command");
    if (position >= guest->reply_size)
        return complain("reply position %llu outside the reply stream", (unsigned long long)position);
    uint8_t *stream = (uint8_t *)guest->reply_blob.map + guest->reply_offset;
    memset(stream, PV_TEST_REPLY_CANARY, guest->reply_size);

    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_seek_reply_stream(&cs, position);
    pv_test_cs_bytes(&cs, command->data, command->size);
    int ret = cs.out_of_memory ? complain("out of memory encoding a command")
                               : pv_test_vtest_submit(&guest->vtest, cs.data, cs.size);
    pv_test_cs_fini(&cs);
    if (ret == 0)
        ret = pv_test_vtest_roundtrip(&guest->vtest);
    if (ret == 0)
        *reply = stream + position;
    return ret;
}

/* Rings */

int pv_test_ring_start(struct pv_test_guest *guest, uint64_t id,
                       const struct pv_test_ring_options *options, struct pv_test_ring *ring)
{
    memset(ring, 0, sizeof(*ring));
    ring->id = id;
    ring->blob.fd = -1;
    if (pv_test_vtest_create_blob(&guest->vtest, PV_TEST_BLOB_TYPE_HOST3D, PV_TEST_BLOB_FLAG_MAPPABLE,
                                  PV_TEST_RING_BLOB_SIZE, 0, &ring->blob))
        return -1;
    /* The drivers zero the ring before they create it. */
    memset(ring->blob.map, 0, PV_TEST_RING_BLOB_SIZE);
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_create_ring(&cs, id, ring->blob.res_id, options);
    int ret = cs.out_of_memory ? complain("out of memory encoding vkCreateRingMESA")
                               : pv_test_vtest_submit(&guest->vtest, cs.data, cs.size);
    pv_test_cs_fini(&cs);
    if (ret == 0)
        ret = pv_test_vtest_roundtrip(&guest->vtest);
    if (ret)
        pv_test_ring_unmap(ring);
    return ret;
}

uint32_t pv_test_ring_load(const struct pv_test_ring *ring, uint32_t offset)
{
    return __atomic_load_n((const uint32_t *)((const uint8_t *)ring->blob.map + offset), __ATOMIC_SEQ_CST);
}

void pv_test_ring_store(struct pv_test_ring *ring, uint32_t offset, uint32_t value)
{
    __atomic_store_n((uint32_t *)((uint8_t *)ring->blob.map + offset), value, __ATOMIC_SEQ_CST);
}

int pv_test_ring_write_quiet(struct pv_test_ring *ring, const void *data, size_t size)
{
    if (size % 4 || size > PV_TEST_RING_BUFFER_SIZE)
        return complain("a ring submission of %zu bytes: whole words, at most the buffer", size);
    if ((uint32_t)(ring->tail + size - pv_test_ring_load(ring, PV_TEST_RING_HEAD)) > PV_TEST_RING_BUFFER_SIZE)
        return complain("the ring has no room for %zu bytes (the host has not consumed it)", size);
    uint8_t *buffer = (uint8_t *)ring->blob.map + PV_TEST_RING_BUFFER;
    for (size_t i = 0; i < size; i++)
        buffer[(ring->tail + i) & (PV_TEST_RING_BUFFER_SIZE - 1)] = ((const uint8_t *)data)[i];
    ring->tail += (uint32_t)size;
    pv_test_ring_store(ring, PV_TEST_RING_TAIL, ring->tail);
    return 0;
}

int pv_test_ring_write(struct pv_test_guest *guest, struct pv_test_ring *ring, const void *data,
                       size_t size)
{
    if (pv_test_ring_write_quiet(ring, data, size))
        return -1;
    if (!(pv_test_ring_load(ring, PV_TEST_RING_STATUS) & PV_TEST_RING_STATUS_IDLE))
        return 0;
    struct pv_test_cs cs;
    pv_test_cs_init(&cs);
    pv_test_cs_notify_ring(&cs, ring->id, ring->tail);
    int ret = cs.out_of_memory ? complain("out of memory encoding vkNotifyRingMESA")
                               : pv_test_vtest_submit(&guest->vtest, cs.data, cs.size);
    pv_test_cs_fini(&cs);
    return ret;
}

int pv_test_ring_wait_head(const struct pv_test_ring *ring, uint32_t seqno, int timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    while ((int32_t)(pv_test_ring_load(ring, PV_TEST_RING_HEAD) - seqno) < 0) {
        if (now_ms() >= deadline)
            return -1;
        usleep(1000);
    }
    return 0;
}

void pv_test_ring_unmap(struct pv_test_ring *ring)
{
    pv_test_blob_unmap(&ring->blob);
}
