/* Fuzz target: the vtest server's per-connection code (src/vtest) with the input as everything
 * the guest sends, over a real socketpair, against a fake renderer (pv_fuzz_renderer_stub.c),
 * once as a server of the 2022 generation and once of the current one.
 * Nothing blocks: the whole input is queued before serving (the guest end then shuts down its
 * writes, so the host reads data or end-of-file, never waits), both ends are non-blocking, and
 * the replies and passed fds are drained after every request. Inputs larger than the socket
 * buffer are cut where the buffer filled up. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pv_fuzz.h"
#include "pv_vtest_server.h"

/* Enough for any input libFuzzer is asked to make (-max_len) and for recorded sessions. */
#define GUEST_SEND_BUFFER (4u << 20)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

/* Reads and drops whatever the host sent, closing any fds that came with it. */
static void drain(int guest)
{
    for (;;) {
        char bytes[4096];
        union {
            char buf[CMSG_SPACE(16 * sizeof(int))];
            struct cmsghdr align;
        } control;
        struct iovec iov = { .iov_base = bytes, .iov_len = sizeof(bytes) };
        struct msghdr msg = {
            .msg_iov = &iov,
            .msg_iovlen = 1,
            .msg_control = control.buf,
            .msg_controllen = sizeof(control.buf),
        };
        ssize_t n = recvmsg(guest, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n <= 0)
            return;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
    }
}

/* One connection of the given generation fed the whole input. */
static void serve(const uint8_t *data, size_t size, enum pv_venus_generation generation)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0)
        pv_fuzz_fail("socketpair: %s", strerror(errno));
    int guest = sv[0], host = sv[1];
    int sndbuf = GUEST_SEND_BUFFER;
    /* Root may go past the system's limit, others get what it allows. */
    if (setsockopt(guest, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) != 0)
        setsockopt(guest, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));

    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(guest, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    shutdown(guest, SHUT_WR);

    /* Small limits, so that the size checks are reachable without huge inputs. */
    const struct pv_vtest_options opts = {
        .max_message_bytes = 1u << 20,
        .renderer = { .generation = generation },
    };
    struct pv_vtest_client *client = pv_vtest_client_create(host, 1, &opts);
    if (!client)
        pv_fuzz_fail("pv_vtest_client_create failed");
    int rc;
    do {
        rc = pv_vtest_client_serve_request(client);
        drain(guest);
    } while (rc == PV_VTEST_CLIENT_CONTINUE);
    if (rc < PV_VTEST_CLIENT_DISCONNECTED || rc > PV_VTEST_CLIENT_CONTEXT_FATAL)
        pv_fuzz_fail("connection ended with %d, not a pv_vtest_client_result", rc);
    pv_vtest_client_destroy(client);
    drain(guest);
    close(guest);
    close(host);
}

/* Both generations read every input: the same bytes mean other things to each (the batch
 * headers of SUBMIT_CMD2 above all). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    serve(data, size, PV_VENUS_2022);
    serve(data, size, PV_VENUS_CURRENT);
    return 0;
}
