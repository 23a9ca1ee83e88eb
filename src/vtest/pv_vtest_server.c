/* The vtest accept loop: one forked context worker per guest connection, so that a guest that
 * crashes the renderer or exhausts its memory takes down only its own process. The loop itself
 * never touches Vulkan. */
#define _GNU_SOURCE
#include "pv_vtest_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pv_log.h"
#include "pv_time.h"
#include "pv_vtest_sandbox.h"

/* Sanitizer builds check each context worker for leaks: it ends with _exit, which skips the
 * check LeakSanitizer makes at exit, and the worker is where a guest makes the host allocate. */
#if defined(__SANITIZE_ADDRESS__)
#define PV_WORKER_LEAK_CHECK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PV_WORKER_LEAK_CHECK 1
#endif
#endif
#ifdef PV_WORKER_LEAK_CHECK
#include <sanitizer/lsan_interface.h>
#endif

/* How long workers get to finish after SIGTERM before they are killed. */
#define WORKER_STOP_GRACE_MS 2000

/* Set by the SIGTERM/SIGINT handler; signal handling is the only reason for a global. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_child_signal(int sig)
{
    /* Nothing to do: delivery interrupts ppoll and the loop reaps. */
    (void)sig;
}

struct worker {
    pid_t pid;
    uint32_t context_id;
    pid_t guest_pid; /* the connecting process (SO_PEERCRED), 0 if unknown */
};

struct server {
    int listen_fd;
    const struct pv_vtest_options *opts;
    struct worker *workers;
    size_t worker_count;
    size_t worker_capacity;
    uint32_t next_context_id;
    bool stopping;
    sigset_t wait_mask; /* the signal mask while the loop sleeps */
};

static int fill_address(struct sockaddr_un *addr, const char *path)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(addr->sun_path)) {
        pv_log("vtest: socket path too long: %s", path);
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr->sun_path, path);
    return 0;
}

/* Removes a socket left behind by a dead server. A live one, or anything that is not a socket,
 * is left alone: taking over another server's path would strand its guests. */
static int remove_stale_socket(const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat(addr->sun_path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK(st.st_mode)) {
        pv_log("vtest: %s exists and is not a socket", addr->sun_path);
        errno = EEXIST;
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -1;
    int rc = connect(probe, (const struct sockaddr *)addr, sizeof(*addr));
    int err = errno;
    close(probe);
    if (rc == 0) {
        pv_log("vtest: another server is listening on %s", addr->sun_path);
        errno = EADDRINUSE;
        return -1;
    }
    if (err != ECONNREFUSED && err != ENOENT) {
        pv_log("vtest: cannot probe %s: %s", addr->sun_path, strerror(err));
        errno = err;
        return -1;
    }
    if (unlink(addr->sun_path) != 0 && errno != ENOENT) {
        pv_log("vtest: cannot remove the stale socket %s: %s", addr->sun_path, strerror(errno));
        return -1;
    }
    return 0;
}

int pv_vtest_listen(const char *path, mode_t mode)
{
    if (!mode)
        mode = PV_VTEST_DEFAULT_SOCKET_MODE;
    struct sockaddr_un addr;
    if (fill_address(&addr, path) != 0 || remove_stale_socket(&addr) != 0)
        return -1;

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pv_log("vtest: socket: %s", strerror(errno));
        return -1;
    }
    /* Created private, then given its mode before it listens: no guest can connect in
     * between. */
    mode_t old_umask = umask(0077);
    int bound = bind(fd, (const struct sockaddr *)&addr, sizeof(addr));
    int bind_errno = errno;
    umask(old_umask);
    if (bound != 0) {
        pv_log("vtest: cannot bind %s: %s", path, strerror(bind_errno));
        close(fd);
        return -1;
    }
    if (chmod(path, mode & 0777) != 0) {
        pv_log("vtest: cannot set the mode of %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        pv_log("vtest: cannot listen on %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    return fd;
}

static void report_worker_end(struct server *s, const struct worker *w, int status)
{
    if (WIFEXITED(status)) {
        int code = WEXITSTATUS(status);
        if (code == PV_VTEST_CLIENT_DISCONNECTED)
            pv_debug("context worker %" PRIu32 " done", w->context_id);
        else
            pv_log("context worker %" PRIu32 " exited with status %d", w->context_id, code);
    } else if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        /* Workers that die from the SIGTERM of a shutdown are not news. */
        if (!(s->stopping && sig == SIGTERM))
            pv_log("context worker %" PRIu32 " killed by signal %d (%s)", w->context_id, sig,
                   strsignal(sig));
    }
    if (s->opts->worker_ended)
        s->opts->worker_ended(s->opts->worker_ended_data, w->context_id, w->guest_pid, status);
}

/* Reaps the workers that have ended; with block, waits for every worker. */
static void reap_workers(struct server *s, bool block)
{
    size_t i = 0;
    while (i < s->worker_count) {
        struct worker w = s->workers[i];
        int status;
        pid_t pid = waitpid(w.pid, &status, block ? 0 : WNOHANG);
        if (pid == 0 || (pid < 0 && errno == EINTR)) {
            i++;
            continue;
        }
        /* pid < 0 otherwise means someone else reaped it (ECHILD): forget it all the same. */
        s->workers[i] = s->workers[--s->worker_count];
        if (pid > 0)
            report_worker_end(s, &w, status);
    }
}

static void sleep_ms(const struct server *s, long ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    ppoll(NULL, 0, &ts, &s->wait_mask);
}

static int64_t now_ms(void)
{
    return (int64_t)(pv_now_ns() / 1000000);
}

/* Terminates every worker, giving them a moment to release their contexts first. */
static void stop_workers(struct server *s)
{
    s->stopping = true;
    for (size_t i = 0; i < s->worker_count; i++)
        kill(s->workers[i].pid, SIGTERM);
    int64_t deadline = now_ms() + WORKER_STOP_GRACE_MS;
    for (;;) {
        reap_workers(s, false);
        if (s->worker_count == 0 || now_ms() >= deadline)
            break;
        sleep_ms(s, 20);
    }
    for (size_t i = 0; i < s->worker_count; i++) {
        pv_log("context worker %" PRIu32 " did not stop, killing it", s->workers[i].context_id);
        kill(s->workers[i].pid, SIGKILL);
    }
    reap_workers(s, true);
}

/* The guest connection of this worker process, for its stop signal. */
static int worker_client_fd = -1;

/* A stopping worker hangs up on its guest: the serve loop then sees the end of the
 * connection and releases the context as at any disconnect, instead of dying with it held. */
static void on_worker_stop_signal(int sig)
{
    (void)sig;
    if (worker_client_fd >= 0)
        shutdown(worker_client_fd, SHUT_RDWR);
}

/* The child side of a fork: serve one guest and exit with the outcome. */
static void run_worker(struct server *s, int client_fd, uint32_t context_id, pid_t parent,
                       const sigset_t *original_mask)
{
    /* A worker whose accept loop is gone has nobody to report to and nobody to stop it. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(PV_VTEST_CLIENT_HOST_ERROR);
    close(s->listen_fd);
    free(s->workers);
    worker_client_fd = client_fd;
    struct sigaction stop_action = { .sa_handler = on_worker_stop_signal };
    sigaction(SIGTERM, &stop_action, NULL);
    sigaction(SIGINT, &stop_action, NULL);
    signal(SIGCHLD, SIG_DFL);
    sigset_t mask = *original_mask;
    sigdelset(&mask, SIGTERM);
    sigdelset(&mask, SIGINT);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    pv_vtest_sandbox_close_inherited_fds(client_fd);
    pv_vtest_sandbox_set_limits();
    struct pv_vtest_client *c = pv_vtest_client_create(client_fd, context_id, s->opts);
    if (!c)
        _exit(PV_VTEST_CLIENT_HOST_ERROR);
    pv_vtest_client_count_leftovers(c);
    const char *stats = getenv("PVGPU_COMMAND_STATS");
    struct pv_vtest_sandbox_config sandbox = {
        .record_dir_fd = pv_vtest_client_record_dir_fd(c),
        .allow_file_creation = stats && *stats,
    };
    if (pv_vtest_sandbox_enter(&sandbox) != 0) {
        pv_log("context %" PRIu32 ": the worker cannot enter its sandbox, dropping the guest",
               context_id);
        _exit(PV_VTEST_CLIENT_HOST_ERROR);
    }
    int rc = pv_vtest_client_run(c);
    close(client_fd);
#ifdef PV_WORKER_LEAK_CHECK
    /* The report goes to the server's log; the status makes the accept loop log it too. */
    if (__lsan_do_recoverable_leak_check()) {
        pv_log("context worker %" PRIu32 ": LeakSanitizer found leaks", context_id);
        rc = PV_VTEST_CLIENT_HOST_ERROR;
    }
#endif
    _exit(rc);
}

static void start_worker(struct server *s, int client_fd, const sigset_t *original_mask)
{
    if (s->worker_count == s->worker_capacity) {
        size_t capacity = s->worker_capacity ? s->worker_capacity * 2 : 8;
        struct worker *grown = realloc(s->workers, capacity * sizeof(*grown));
        if (!grown) {
            pv_log("vtest: no memory for another guest, refusing it");
            close(client_fd);
            return;
        }
        s->workers = grown;
        s->worker_capacity = capacity;
    }

    uint32_t context_id = s->next_context_id++;
    if (s->next_context_id == 0)
        s->next_context_id = 1;
    /* Who connected, as the kernel saw it at connect(): the guest cannot choose it. */
    struct ucred peer = { 0 };
    socklen_t peer_size = sizeof(peer);
    if (getsockopt(client_fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0)
        peer.pid = 0;

    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        pv_log("vtest: cannot fork a worker for context %" PRIu32 ": %s", context_id,
               strerror(errno));
        close(client_fd);
        return;
    }
    if (pid == 0)
        run_worker(s, client_fd, context_id, parent, original_mask);

    close(client_fd);
    s->workers[s->worker_count++] = (struct worker){ .pid = pid, .context_id = context_id,
                                                     .guest_pid = peer.pid };
    pv_log("context %" PRIu32 ": guest connected, worker pid %d", context_id, (int)pid);
}

/* Accepts one pending connection. Returns -1 only when listening cannot go on. */
static int accept_one(struct server *s, const sigset_t *original_mask)
{
    int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0) {
        start_worker(s, fd, original_mask);
        return 0;
    }
    switch (errno) {
    case EINTR:
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case ECONNABORTED:
    case EPROTO:
        return 0;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        /* Out of resources for now: back off instead of spinning on the pending connection. */
        pv_log("vtest: accept: %s", strerror(errno));
        sleep_ms(s, 100);
        return 0;
    default:
        pv_log("vtest: accept: %s", strerror(errno));
        return -1;
    }
}

int pv_vtest_serve(int listen_fd, const struct pv_vtest_options *opts)
{
    static const struct pv_vtest_options defaults = { 0 };
    struct server s = {
        .listen_fd = listen_fd,
        .opts = opts ? opts : &defaults,
        .next_context_id = 1,
    };

    /* A guest that hangs up must never kill the host. */
    signal(SIGPIPE, SIG_IGN);

    /* The handled signals stay blocked except while the loop sleeps in ppoll, so that none can
     * slip in between checking the stop flag and going to sleep. */
    sigset_t handled, original_mask;
    sigemptyset(&handled);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGCHLD);
    sigprocmask(SIG_BLOCK, &handled, &original_mask);
    s.wait_mask = original_mask;
    sigdelset(&s.wait_mask, SIGTERM);
    sigdelset(&s.wait_mask, SIGINT);
    sigdelset(&s.wait_mask, SIGCHLD);

    struct sigaction stop_action = { .sa_handler = on_stop_signal };
    struct sigaction child_action = { .sa_handler = on_child_signal, .sa_flags = SA_NOCLDSTOP };
    sigemptyset(&stop_action.sa_mask);
    sigemptyset(&child_action.sa_mask);
    struct sigaction old_term, old_int, old_chld;
    stop_requested = 0;
    sigaction(SIGTERM, &stop_action, &old_term);
    sigaction(SIGINT, &stop_action, &old_int);
    sigaction(SIGCHLD, &child_action, &old_chld);

    /* Non-blocking, so that a connection withdrawn between poll and accept cannot stall us. */
    int fd_flags = fcntl(listen_fd, F_GETFL);
    if (fd_flags >= 0)
        fcntl(listen_fd, F_SETFL, fd_flags | O_NONBLOCK);

    int rc = 0;
    while (!stop_requested) {
        reap_workers(&s, false);
        struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
        int n = ppoll(&pfd, 1, NULL, &s.wait_mask);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            pv_log("vtest: poll: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (pfd.revents & (POLLERR | POLLNVAL)) {
            pv_log("vtest: the listening socket failed");
            rc = -1;
            break;
        }
        if ((pfd.revents & POLLIN) && accept_one(&s, &original_mask) != 0) {
            rc = -1;
            break;
        }
    }

    stop_workers(&s);
    free(s.workers);

    if (fd_flags >= 0)
        fcntl(listen_fd, F_SETFL, fd_flags);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigprocmask(SIG_SETMASK, &original_mask, NULL);
    return rc;
}
