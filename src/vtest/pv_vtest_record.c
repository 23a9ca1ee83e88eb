/* Recording of guest connections (see pv_vtest_record.h). Plain files written with write(2):
 * the worker process may die at any moment, and what was written by then must be usable. */
#define _GNU_SOURCE
#include "pv_vtest_record.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pv_log.h"

static void record_failed(struct pv_vtest_recorder *r, const char *what)
{
    if (r->failed)
        return;
    r->failed = true;
    pv_log("context %" PRIu32 ": recording stopped: %s: %s", r->context_id, what,
           strerror(errno));
}

static int write_all(int fd, const void *bytes, size_t size)
{
    const uint8_t *p = bytes;
    while (size) {
        ssize_t n = write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

void pv_vtest_recorder_open(struct pv_vtest_recorder *r, const char *dir, uint32_t context_id)
{
    memset(r, 0, sizeof(*r));
    r->dir_fd = -1;
    r->vtest_fd = -1;
    r->context_id = context_id;
    r->next_batch = 1;
    if (!dir)
        return;
    r->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (r->dir_fd < 0) {
        record_failed(r, dir);
        return;
    }
    char name[64];
    snprintf(name, sizeof(name), "ctx-%" PRIu32 ".vtest", context_id);
    r->vtest_fd = openat(r->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (r->vtest_fd < 0) {
        record_failed(r, name);
        return;
    }
    pv_debug("context %" PRIu32 ": recording into %s", context_id, dir);
}

void pv_vtest_recorder_close(struct pv_vtest_recorder *r)
{
    if (r->vtest_fd >= 0)
        close(r->vtest_fd);
    if (r->dir_fd >= 0)
        close(r->dir_fd);
    r->vtest_fd = -1;
    r->dir_fd = -1;
}

void pv_vtest_recorder_guest_bytes(struct pv_vtest_recorder *r, const void *bytes, size_t size)
{
    if (!pv_vtest_recorder_active(r) || size == 0)
        return;
    if (write_all(r->vtest_fd, bytes, size) != 0)
        record_failed(r, "vtest stream");
}

void pv_vtest_recorder_batch(struct pv_vtest_recorder *r, const void *bytes, size_t size)
{
    if (!pv_vtest_recorder_active(r))
        return;
    uint32_t k = __atomic_fetch_add(&r->next_batch, 1, __ATOMIC_RELAXED);
    char name[64];
    snprintf(name, sizeof(name), "ctx-%" PRIu32 "-batch-%" PRIu32 ".venus", r->context_id, k);
    int fd = openat(r->dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        record_failed(r, name);
        return;
    }
    if (write_all(fd, bytes, size) != 0)
        record_failed(r, name);
    close(fd);
}
