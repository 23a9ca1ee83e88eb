/* What a process holds, counted from /proc/self: its open fds and its shared-memory (memfd)
 * mappings. Taken before a context's first use and again after its teardown, the difference
 * checks the teardown without trusting the counters the teardown itself keeps. */
#ifndef PV_PROCESS_CENSUS_H
#define PV_PROCESS_CENSUS_H

#include <stddef.h>
#include <sys/types.h>

struct pv_open_file {
    int fd;
    dev_t dev;
    ino_t ino;
};

struct pv_process_census {
    struct pv_open_file *files; /* sorted by fd */
    size_t file_count;
    size_t memfd_mappings;
};

/* Returns 0, or -1 (errno set) when /proc/self cannot be read or memory runs out. */
int pv_process_census_take(struct pv_process_census *census);
void pv_process_census_free(struct pv_process_census *census);

/* What after holds that before did not: fds that are new or now name another file, and the
 * growth in memfd mappings (0 if there are fewer). */
void pv_process_census_compare(const struct pv_process_census *before,
                               const struct pv_process_census *after, size_t *new_fds,
                               size_t *new_memfd_mappings);

#endif
