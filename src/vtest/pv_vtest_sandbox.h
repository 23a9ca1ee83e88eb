/* The context worker's sandbox. A worker runs the host Vulkan driver on a hostile guest's
 * commands; should the guest find a bug that gives it control of the worker, the sandbox keeps
 * that control inside the worker: no new programs, processes, sockets or files, no debugging
 * of other processes, no privileges gained, and only the fds it serves its guest with. */
#ifndef PV_VTEST_SANDBOX_H
#define PV_VTEST_SANDBOX_H

#include <stdbool.h>

/* The name (CREATE_RENDERER) of a guest whose worker, on servers with test hooks, tries a
 * forbidden system call right after its context is created: the test of the sandbox. */
#define PV_VTEST_TEST_FORBIDDEN_SYSCALL_NAME "pvgpu-test-forbidden-syscall"

struct pv_vtest_sandbox_config {
    /* -1, or the folder the worker's recordings go to: files may be created there. */
    int record_dir_fd;
    /* Whether the worker may create files anywhere: PVGPU_COMMAND_STATS writes its statistics
     * at teardown, a diagnostic that runs on trusted guests only. */
    bool allow_file_creation;
};

/* Closes every fd but stdin, stdout, stderr and keep_fd: what the accept loop's process holds
 * (the listening socket, an embedder's pipes) is none of the worker's business. */
void pv_vtest_sandbox_close_inherited_fds(int keep_fd);

/* Lowers the worker's resource limits: no core dumps (they would hold guest memory), and hard
 * limits that cannot be raised again. */
void pv_vtest_sandbox_set_limits(void);

/* Sets no_new_privs and installs the system call filter, unless PVGPU_NO_SECCOMP=1 (for
 * valgrind, which cannot run a filtered process). Returns 0, or -1 after logging why; the
 * worker must not serve its guest then. */
int pv_vtest_sandbox_enter(const struct pv_vtest_sandbox_config *config);

/* Tries execve, which the filter forbids: the process dies with SIGSYS. Returns only where no
 * filter is installed (execve of an empty path fails without running anything). */
void pv_vtest_sandbox_try_forbidden_syscall(void);

#endif
