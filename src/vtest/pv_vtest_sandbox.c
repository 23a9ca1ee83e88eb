/* The context worker's sandbox (see pv_vtest_sandbox.h). The filter is an allow list: the
 * system calls a worker makes were read off strace of every guest program, vulkaninfo and the
 * validation layer on each guest generation; the host driver runs inside the worker, so calls a
 * driver may make (memory, threads, scheduling, device ioctls, reading its files) are allowed
 * beyond what lavapipe was seen to make. What a library tries and copes without (a socket to
 * nscd, a shader cache file) fails with an error; anything else kills the worker with SIGSYS. */
#define _GNU_SOURCE
#include "pv_vtest_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "pv_log.h"

/* Sanitizer runtimes stop the world for their leak check with a tracer task: a clone without
 * CLONE_THREAD that ptraces the worker's threads. Those builds allow that much more. */
#if defined(__SANITIZE_ADDRESS__)
#define PV_SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_SANDBOX_SANITIZER 1
#endif
#endif

#ifdef PV_SANDBOX_SANITIZER
static const char *const sanitizer_calls[] = { "ptrace", "wait4", "waitid", "prctl", "clone",
                                               "process_vm_readv" };
#endif

/* Whether a sanitizer build allows the call outright, instead of the rules below. */
static bool for_sanitizer(const char *name)
{
#ifdef PV_SANDBOX_SANITIZER
    for (size_t i = 0; i < sizeof(sanitizer_calls) / sizeof(*sanitizer_calls); i++) {
        if (!strcmp(name, sanitizer_calls[i]))
            return true;
    }
#endif
    (void)name;
    return false;
}

/* __O_TMPFILE of the kernel's uapi: O_TMPFILE is this bit with O_DIRECTORY. */
#define PV_O_TMPFILE_BIT 020000000

void pv_vtest_sandbox_close_inherited_fds(int keep_fd)
{
    /* close_range(2) exists since Linux 5.9; older kernels get the loop below. */
    int first = STDERR_FILENO + 1;
    if (keep_fd > first && syscall(SYS_close_range, first, keep_fd - 1, 0) != 0) {
        for (int fd = first; fd < keep_fd; fd++)
            close(fd);
    }
    if (syscall(SYS_close_range, keep_fd + 1, ~0u, 0) != 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = keep_fd + 1; fd < max; fd++)
            close((int)fd);
    }
}

static void limit(int resource, rlim_t soft_max)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        return;
    if (rl.rlim_cur > soft_max)
        rl.rlim_cur = soft_max;
    rl.rlim_max = rl.rlim_cur;
    if (setrlimit(resource, &rl) != 0)
        pv_log("sandbox: setrlimit(%d): %s", resource, strerror(errno));
}

void pv_vtest_sandbox_set_limits(void)
{
    limit(RLIMIT_CORE, 0);
    /* Each blob holds an fd: the soft limit already bounds them; the hard one follows it. */
    limit(RLIMIT_NOFILE, RLIM_INFINITY);
    limit(RLIMIT_NPROC, RLIM_INFINITY);
    limit(RLIMIT_MSGQUEUE, 0);
}

/* Calls a worker makes, or a host driver may make, with any arguments. */
static const char *const allowed[] = {
    /* fds it has */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "close", "lseek", "fcntl", "dup", "dup2", "dup3", "ftruncate", "fallocate",
    "fstat", "fstatfs", "fsync", "fdatasync", "flock", "sendmsg", "recvmsg", "sendto",
    "recvfrom", "shutdown", "getsockopt", "getsockname", "getpeername", "poll", "ppoll",
    "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
    "epoll_pwait2", "eventfd2", "memfd_create", "pipe2", "close_range",
    /* looking at files (reading them: see openat below) */
    "stat", "lstat", "newfstatat", "statx", "statfs", "access", "faccessat", "faccessat2",
    "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "inotify_init1",
    /* memory */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore", "mlock",
    "munlock", "mlock2", "membarrier", "mbind", "get_mempolicy", "set_mempolicy",
    /* threads and waiting */
    "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
    "exit", "exit_group", "sched_yield", "sched_getaffinity", "sched_setaffinity",
    "sched_getscheduler", "sched_setscheduler", "sched_getparam", "sched_setparam",
    "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority",
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    "getcpu", "restart_syscall", "arch_prctl",
    /* signals: the worker's own stop and teardown alarm, the driver's */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "sigaltstack", "alarm", "setitimer", "getitimer", "timer_create", "timer_settime",
    "timer_gettime", "timer_delete", "timerfd_create", "timerfd_settime", "timerfd_gettime",
    /* who and where it is */
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid",
    "getresgid", "getgroups", "uname", "sysinfo", "getrlimit", "getrusage", "times",
    "getrandom",
    /* NVIDIA's driver reads its capabilities when a device asks for a global queue priority */
    "capget",
};

/* Calls libraries make and survive without: they fail with an error instead of a kill. The
 * Mesa shader cache creates files under $HOME; glibc's user lookups try nscd's socket. */
static const char *const refused[] = {
    "socket", "socketpair", "creat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod",
    "fchmod", "fchmodat", "chown", "fchown", "fchownat", "lchown", "truncate", "utimensat",
    "utimes", "mknod", "mknodat", "setrlimit", "tkill", "wait4", "waitid", "setsid",
    "setpgid", "capset",
};

static int rule(scmp_filter_ctx f, uint32_t action, const char *name, unsigned count,
                const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR || (action != SCMP_ACT_ALLOW && for_sanitizer(name)) ||
        (count && for_sanitizer(name)))
        return 0; /* not a call of this architecture, or a sanitizer build allows it */
    int rc = seccomp_rule_add_array(f, action, nr, count, args);
    if (rc < 0)
        pv_log("sandbox: filter rule for %s: %s", name, strerror(-rc));
    return rc;
}

/* open and openat: reading anything (the driver loads libraries and reads /proc and /sys
 * when the guest first asks for a device), writing files that exist (device nodes of GPU
 * drivers), but creating or truncating a file only in the recording folder. */
static int open_rules(scmp_filter_ctx f, const struct pv_vtest_sandbox_config *config)
{
    const uint64_t creating = O_CREAT | O_TRUNC | PV_O_TMPFILE_BIT;
    int rc = 0;
    if (config->allow_file_creation) {
        rc |= rule(f, SCMP_ACT_ALLOW, "open", 0, NULL);
        rc |= rule(f, SCMP_ACT_ALLOW, "openat", 0, NULL);
        return rc;
    }
    struct scmp_arg_cmp open_plain = SCMP_A1(SCMP_CMP_MASKED_EQ, creating, 0);
    rc |= rule(f, SCMP_ACT_ALLOW, "open", 1, &open_plain);
    struct scmp_arg_cmp openat_plain = SCMP_A2(SCMP_CMP_MASKED_EQ, creating, 0);
    rc |= rule(f, SCMP_ACT_ALLOW, "openat", 1, &openat_plain);
    const uint64_t bits[] = { O_CREAT, O_TRUNC, PV_O_TMPFILE_BIT };
    for (size_t i = 0; i < sizeof(bits) / sizeof(*bits); i++) {
        struct scmp_arg_cmp open_creating = SCMP_A1(SCMP_CMP_MASKED_EQ, bits[i], bits[i]);
        rc |= rule(f, SCMP_ACT_ERRNO(EACCES), "open", 1, &open_creating);
        if (config->record_dir_fd >= 0) {
            /* dirfd is an int: compare the low 32 bits only, as the kernel reads it. */
            struct scmp_arg_cmp in_record_dir[2] = {
                SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffu, (uint32_t)config->record_dir_fd),
                SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]),
            };
            rc |= rule(f, SCMP_ACT_ALLOW, "openat", 2, in_record_dir);
            struct scmp_arg_cmp elsewhere[2] = {
                SCMP_A0(SCMP_CMP_NE, (uint32_t)config->record_dir_fd),
                SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]),
            };
            rc |= rule(f, SCMP_ACT_ERRNO(EACCES), "openat", 2, elsewhere);
        } else {
            struct scmp_arg_cmp creating_bit = SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]);
            rc |= rule(f, SCMP_ACT_ERRNO(EACCES), "openat", 1, &creating_bit);
        }
    }
    return rc;
}

/* Calls allowed with some arguments only. */
static int argument_rules(scmp_filter_ctx f)
{
    int rc = 0;
    pid_t self = getpid();
    /* Threads, never processes. glibc creates threads with clone3 when it can, whose flags
     * a filter cannot see: ENOSYS makes it fall back to clone. */
    struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
    rc |= rule(f, SCMP_ACT_ALLOW, "clone", 1, &thread);
    rc |= rule(f, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    /* Signals to itself only (raise, abort, the driver's thread signals). */
    struct scmp_arg_cmp to_self = SCMP_A0(SCMP_CMP_EQ, (uint64_t)self);
    rc |= rule(f, SCMP_ACT_ALLOW, "kill", 1, &to_self);
    rc |= rule(f, SCMP_ACT_ALLOW, "tgkill", 1, &to_self);
    /* Limits may be read, not raised. */
    struct scmp_arg_cmp read_only = SCMP_A2(SCMP_CMP_EQ, 0);
    rc |= rule(f, SCMP_ACT_ALLOW, "prlimit64", 1, &read_only);
    struct scmp_arg_cmp setting = SCMP_A2(SCMP_CMP_NE, 0);
    rc |= rule(f, SCMP_ACT_ERRNO(EPERM), "prlimit64", 1, &setting);
    /* Thread names and timer slack (the driver's threads); other prctl options fail. */
    const int prctl_options[] = { PR_SET_NAME, PR_GET_NAME, PR_SET_TIMERSLACK,
                                  PR_GET_TIMERSLACK, PR_GET_DUMPABLE, PR_GET_PDEATHSIG };
    for (size_t i = 0; i < sizeof(prctl_options) / sizeof(*prctl_options); i++) {
        struct scmp_arg_cmp option = SCMP_A0(SCMP_CMP_EQ, (uint64_t)prctl_options[i]);
        rc |= rule(f, SCMP_ACT_ALLOW, "prctl", 1, &option);
    }
    /* Device ioctls for GPU drivers, but not pushing input into a terminal the worker's
     * stderr may be. The kernel reads the request as 32 bits, and a rule compares all 64 or
     * a masked part: a request is allowed when one of its low 32 bits differs from
     * TIOCSTI's, one rule per bit. */
    for (unsigned bit = 0; bit < 32; bit++) {
        uint64_t mask = 1ull << bit;
        struct scmp_arg_cmp differs = SCMP_A1(SCMP_CMP_MASKED_EQ, mask, ~(uint64_t)TIOCSTI & mask);
        rc |= rule(f, SCMP_ACT_ALLOW, "ioctl", 1, &differs);
    }
    return rc;
}

/* A forbidden call traps here (SCMP_ACT_TRAP, not a silent kill): the worker names the call
 * in its log, then dies of SIGSYS as it would have. Only async-signal-safe calls. */
static void forbidden_call(int sig, siginfo_t *info, void *context)
{
    (void)context;
    char line[96] = "pvgpu: sandbox: forbidden system call ";
    size_t len = strlen(line);
    char digits[16];
    int n = 0;
    unsigned nr = (unsigned)info->si_syscall;
    do {
        digits[n++] = (char)('0' + nr % 10);
        nr /= 10;
    } while (nr && n < (int)sizeof(digits));
    while (n > 0 && len < sizeof(line) - 40)
        line[len++] = digits[--n];
    const char *tail = ": the worker stops\n";
    memcpy(line + len, tail, strlen(tail));
    len += strlen(tail);
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
    signal(sig, SIG_DFL);
    kill(getpid(), sig);
}

int pv_vtest_sandbox_enter(const struct pv_vtest_sandbox_config *config)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        pv_log("sandbox: no_new_privs: %s", strerror(errno));
        return -1;
    }
#ifndef PV_SANDBOX_SANITIZER
    /* Other processes of the same user cannot attach to the worker or read its memory. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
    /* Valgrind runs its own code under a filter its client loads and lacks the seccomp system
     * call libseccomp asks the kernel with: make check-valgrind turns the filter off. */
    const char *off = getenv("PVGPU_NO_SECCOMP");
    if (off && !strcmp(off, "1")) {
        pv_log("sandbox: PVGPU_NO_SECCOMP=1: the worker runs without its system call filter");
        return 0;
    }
    struct sigaction trap = { .sa_sigaction = forbidden_call, .sa_flags = SA_SIGINFO };
    sigemptyset(&trap.sa_mask);
    sigaction(SIGSYS, &trap, NULL);
    scmp_filter_ctx f = seccomp_init(SCMP_ACT_TRAP);
    if (!f) {
        pv_log("sandbox: seccomp_init failed");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++)
        rc |= rule(f, SCMP_ACT_ALLOW, allowed[i], 0, NULL);
    for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++)
        rc |= rule(f, SCMP_ACT_ERRNO(EACCES), refused[i], 0, NULL);
    rc |= open_rules(f, config);
    rc |= argument_rules(f);
#ifdef PV_SANDBOX_SANITIZER
    for (size_t i = 0; i < sizeof(sanitizer_calls) / sizeof(*sanitizer_calls); i++)
        rc |= rule(f, SCMP_ACT_ALLOW, sanitizer_calls[i], 0, NULL);
#endif
    if (rc == 0) {
        rc = seccomp_load(f);
        if (rc < 0)
            pv_log("sandbox: seccomp_load: %s", strerror(-rc));
    }
    seccomp_release(f);
    return rc == 0 ? 0 : -1;
}

void pv_vtest_sandbox_try_forbidden_syscall(void)
{
    char *const argv[] = { NULL };
    syscall(SYS_execve, "", argv, argv);
}
