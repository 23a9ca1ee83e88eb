/* Blocking stream-socket I/O for the vtest server: whole-buffer reads and writes that survive
 * signals and short transfers, and passing one fd with SCM_RIGHTS. */
#ifndef PV_VTEST_SOCKET_H
#define PV_VTEST_SOCKET_H

#include <stddef.h>

/* Returns 1 when size bytes were read, 0 on end-of-file before the first byte, -1 on an error
 * or an end-of-file after some bytes (errno is then EPIPE). */
int pv_vtest_read_all(int fd, void *buf, size_t size);

/* Returns 0, or -1 with errno set. Never raises SIGPIPE. */
int pv_vtest_write_all(int fd, const void *buf, size_t size);

/* Sends fd_to_pass in a message of exactly one data byte, as the vtest protocol expects. Returns
 * 0, or -1 with errno set. The caller still owns fd_to_pass. */
int pv_vtest_send_fd(int fd, int fd_to_pass);

#endif
