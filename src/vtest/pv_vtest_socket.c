/* Blocking stream-socket I/O for the vtest server. MSG_NOSIGNAL keeps a guest that hangs up
 * from killing the host with SIGPIPE even where the caller forgot to ignore it. */
#define _GNU_SOURCE
#include "pv_vtest_socket.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

int pv_vtest_read_all(int fd, void *buf, size_t size)
{
    uint8_t *bytes = buf;
    size_t done = 0;
    while (done < size) {
        ssize_t n = recv(fd, bytes + done, size - done, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0) {
            if (done == 0)
                return 0;
            errno = EPIPE;
            return -1;
        }
        done += (size_t)n;
    }
    return 1;
}

int pv_vtest_write_all(int fd, const void *buf, size_t size)
{
    const uint8_t *bytes = buf;
    size_t done = 0;
    while (done < size) {
        ssize_t n = send(fd, bytes + done, size - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

int pv_vtest_send_fd(int fd, int fd_to_pass)
{
    char byte = 0;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd_to_pass, sizeof(int));

    for (;;) {
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n >= 0)
            errno = EIO;
        return -1;
    }
}
