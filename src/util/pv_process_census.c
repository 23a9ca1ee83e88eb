/* Counting what the process holds from /proc/self (see pv_process_census.h). */
#define _GNU_SOURCE
#include "pv_process_census.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_fd(const void *a, const void *b)
{
    const struct pv_open_file *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

static int take_files(struct pv_process_census *census)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return -1;
    size_t capacity = 0;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
            continue;
        int fd = atoi(entry->d_name);
        struct stat st;
        if (fd == dirfd(dir) || fstat(fd, &st) != 0)
            continue;
        if (census->file_count == capacity) {
            capacity = capacity ? capacity * 2 : 64;
            struct pv_open_file *grown = realloc(census->files, capacity * sizeof(*grown));
            if (!grown) {
                closedir(dir);
                errno = ENOMEM;
                return -1;
            }
            census->files = grown;
        }
        census->files[census->file_count++] =
            (struct pv_open_file){ .fd = fd, .dev = st.st_dev, .ino = st.st_ino };
    }
    closedir(dir);
    if (census->file_count)
        qsort(census->files, census->file_count, sizeof(*census->files), by_fd);
    return 0;
}

/* Counts the lines of /proc/self/maps that map a memfd ("/memfd:NAME (deleted)"). */
static int take_mappings(struct pv_process_census *census)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    static const char marker[] = "/memfd:";
    char buf[8192];
    char line[512];  /* the start of the current line; paths beyond it do not matter */
    size_t line_len = 0;
    bool counted = false;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                line_len = 0;
                counted = false;
                continue;
            }
            if (line_len < sizeof(line) - 1)
                line[line_len++] = buf[i];
            line[line_len] = '\0';
            if (!counted && line_len >= sizeof(marker) - 1 &&
                !memcmp(&line[line_len - (sizeof(marker) - 1)], marker, sizeof(marker) - 1)) {
                census->memfd_mappings++;
                counted = true;
            }
        }
    }
    int err = n < 0 ? errno : 0;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

int pv_process_census_take(struct pv_process_census *census)
{
    memset(census, 0, sizeof(*census));
    if (take_files(census) == 0 && take_mappings(census) == 0)
        return 0;
    int err = errno;
    pv_process_census_free(census);
    errno = err;
    return -1;
}

void pv_process_census_free(struct pv_process_census *census)
{
    free(census->files);
    memset(census, 0, sizeof(*census));
}

void pv_process_census_compare(const struct pv_process_census *before,
                               const struct pv_process_census *after, size_t *new_fds,
                               size_t *new_memfd_mappings)
{
    size_t fresh = 0, i = 0;
    for (size_t j = 0; j < after->file_count; j++) {
        const struct pv_open_file *f = &after->files[j];
        while (i < before->file_count && before->files[i].fd < f->fd)
            i++;
        const struct pv_open_file *old = i < before->file_count ? &before->files[i] : NULL;
        if (!old || old->fd != f->fd || old->dev != f->dev || old->ino != f->ino)
            fresh++;
    }
    *new_fds = fresh;
    *new_memfd_mappings = after->memfd_mappings > before->memfd_mappings
                              ? after->memfd_mappings - before->memfd_mappings
                              : 0;
}
