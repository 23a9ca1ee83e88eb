/* `pvgpu run -- CMD`: a private host for one command. A guest userland (`--guest trixie`, a
 * Debian root) runs CMD chrooted with the host's socket folder as its /tmp; a guest driver of
 * the host system (`--guest bookworm`, or --guest-icd) runs CMD in a private /tmp with the
 * socket at /tmp/.virgl_test, the path Mesa 22.3.6 always uses. Either way CMD's Vulkan loader
 * sees the Venus driver only, the host serves the guest's protocol generation, and the process
 * of CMD whose context dies is stopped, because older drivers would otherwise spin forever. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pv_cli.h"
#include "pv_log.h"
#include "pv_vtest_protocol.h"
#include "pv_vtest_server.h"

/* How long a guest process gets between SIGTERM and SIGKILL once its context has died. */
#define CMD_STOP_GRACE_MS 2000
/* Guest processes being stopped at once, at most; more wait for a free slot. */
#define MAX_STOPPING_GUESTS 16
/* How far up from a guest process pvgpu run looks for CMD. */
#define MAX_PROCESS_DEPTH 64
/* How long the server gets to stop its workers after SIGTERM (it gives them 2 s itself). */
#define SERVER_STOP_GRACE_MS 5000

#define GUEST_ICD_BESIDE_EXE "guest-driver/virtio_icd.json"
#define GUEST_ROOTS_BESIDE_EXE "guest-roots"
/* The guest a plain `pvgpu run` gives CMD: Debian's current stable release. */
#define DEFAULT_GUEST "trixie"

struct run_options {
    char *host_icd;   /* absolute, or NULL to keep the caller's loader set-up */
    char *guest_root; /* absolute: a guest userland CMD runs in; NULL: CMD runs on the host */
    char *guest_icd;  /* absolute on the host, or inside guest_root */
    char *record_dir; /* absolute, or NULL */
    char **binds;     /* absolute folders bound into guest_root */
    size_t bind_count;
    char socket_dir[64]; /* guest_root only: the folder that is the guest's /tmp */
    struct pv_vtest_options vtest;
    char **command;
};

/* What the server's accept loop tells pvgpu run about each context worker that ended. */
struct worker_report {
    uint32_t context_id;
    int32_t guest_pid;
    int32_t wait_status;
};

/* A guest process of CMD's (not CMD itself) that got SIGTERM, and when SIGKILL follows. */
struct stopping_guest {
    pid_t pid;
    int64_t kill_at;
};

struct supervisor {
    pid_t cmd;
    pid_t server;
    int signal_fd;
    int report_fd;
    bool cmd_done;
    int cmd_status;
    bool server_done;
    int server_status;
    /* While CMD is being stopped: when SIGKILL follows the SIGTERM (0: not stopping). */
    int64_t cmd_kill_at;
    struct stopping_guest stopping[MAX_STOPPING_GUESTS];
    size_t stopping_count;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Guests sit next to the executable, as the build tree lays them out: name is a path below
 * the executable's folder. */
static char *beside_exe(const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    size_t size = strlen(exe) + 1 + strlen(name) + 1;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s", exe, name);
    return path;
}

static int resolve_host_icd(struct run_options *o, const char *host_icd)
{
    if (!host_icd)
        return 0;
    o->host_icd = realpath(host_icd, NULL);
    if (!o->host_icd) {
        fprintf(stderr, "pvgpu run: host ICD %s: %s\n", host_icd, strerror(errno));
        return -1;
    }
    return 0;
}

/* A guest driver of the host system, given by its ICD JSON. */
static int resolve_guest_icd(struct run_options *o, const char *guest_icd)
{
    o->guest_icd = realpath(guest_icd, NULL);
    if (!o->guest_icd) {
        fprintf(stderr,
                "pvgpu run: no Venus guest driver at %s\n"
                "  build the 2022-generation driver with scripts/setup-guest-driver.sh, or name\n"
                "  one with --guest-icd JSON\n", guest_icd);
        return -1;
    }
    return 0;
}

/* A guest userland: a Debian root with Mesa's Venus driver. */
static int resolve_guest_root(struct run_options *o, const char *root, const char *name)
{
    o->guest_root = realpath(root, NULL);
    if (o->guest_root)
        o->guest_icd = pv_guest_root_icd(o->guest_root);
    if (!o->guest_icd) {
        fprintf(stderr, "pvgpu run: no guest userland with a Venus driver at %s\n", root);
        if (name)
            fprintf(stderr, "  make it with scripts/setup-guest-roots.sh %s\n", name);
        return -1;
    }
    return 0;
}

/* --guest: bookworm (Mesa 22.3.6 built from Debian's source, the 2022 protocol), trixie or sid
 * (Debian roots made by scripts/setup-guest-roots.sh, the current protocol), or the path of a
 * root. --guest-icd instead names a driver of the host system. */
static int resolve_guest(struct run_options *o, const char *guest, const char *guest_icd,
                         bool protocol_given)
{
    if (guest_icd && guest)
        return pv_cli_usage_error("run: --guest and --guest-icd exclude each other");
    if (guest_icd)
        return resolve_guest_icd(o, guest_icd) == 0 ? 0 : 1;
    if (!guest) {
        const char *env = getenv("PVGPU_GUEST");
        guest = env && *env ? env : DEFAULT_GUEST;
    }
    int rc;
    if (!strcmp(guest, "bookworm")) {
        char *icd = beside_exe(GUEST_ICD_BESIDE_EXE);
        rc = icd ? resolve_guest_icd(o, icd) : -1;
        free(icd);
        if (!protocol_given)
            o->vtest.renderer.generation = PV_VENUS_2022;
    } else if (!strchr(guest, '/')) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", GUEST_ROOTS_BESIDE_EXE, guest);
        char *root = beside_exe(sub);
        rc = root ? resolve_guest_root(o, root, guest) : -1;
        free(root);
    } else {
        rc = resolve_guest_root(o, guest, NULL);
    }
    return rc == 0 ? 0 : 1;
}

static int add_bind(struct run_options *o, const char *dir)
{
    char *path = realpath(dir, NULL);
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(path);
        return pv_cli_usage_error("run: --bind %s is not a folder", dir);
    }
    char **binds = realloc(o->binds, (o->bind_count + 1) * sizeof(*binds));
    if (!binds) {
        free(path);
        return 1;
    }
    o->binds = binds;
    o->binds[o->bind_count++] = path;
    return 0;
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
    static const struct option long_options[] = {
        { "host-icd", required_argument, NULL, 'H' },
        { "guest-icd", required_argument, NULL, 'G' },
        { "guest", required_argument, NULL, 'g' },
        { "protocol", required_argument, NULL, 'P' },
        { "bind", required_argument, NULL, 'b' },
        { "validate", no_argument, NULL, 'V' },
        { "max-objects", required_argument, NULL, 'O' },
        { "max-memory", required_argument, NULL, 'M' },
        { "max-blobs", required_argument, NULL, 'B' },
        { "max-rings", required_argument, NULL, 'R' },
        { "max-message-bytes", required_argument, NULL, 'm' },
        { "record", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *host_icd = NULL, *guest_icd = NULL, *guest = NULL;
    bool protocol_given = false;
    int rc;

    opterr = 0;
    optind = 1;
    int opt;
    /* '+': stop at CMD, so that CMD's own options stay CMD's. */
    while ((opt = getopt_long(argc, argv, "+:h", long_options, NULL)) != -1) {
        switch (opt) {
        case 'H':
            host_icd = optarg;
            break;
        case 'G':
            guest_icd = optarg;
            break;
        case 'g':
            guest = optarg;
            break;
        case 'P':
            if (!pv_cli_parse_protocol(optarg, &o->vtest.renderer))
                return PV_CLI_EXIT_USAGE;
            protocol_given = true;
            break;
        case 'b':
            if ((rc = add_bind(o, optarg)) != 0)
                return rc;
            break;
        case 'V':
            o->vtest.renderer.validate = true;
            break;
        case 'O':
        case 'M':
        case 'B':
        case 'R':
            if (!pv_cli_parse_limit(opt, optarg, &o->vtest.renderer))
                return 64;
            break;
        case 'm':
            if (!pv_cli_parse_bytes(optarg, &o->vtest.max_message_bytes))
                return pv_cli_usage_error("--max-message-bytes needs a positive byte count, not '%s'",
                                          optarg);
            break;
        case 'r':
            /* Absolute now: the server may run behind a private /tmp. */
            free(o->record_dir);
            o->record_dir = pv_cli_record_dir(optarg);
            if (!o->record_dir)
                return 1;
            o->vtest.record_dir = o->record_dir;
            break;
        case 'h':
            pv_cli_print_usage(stdout);
            return 0;
        case ':':
            return pv_cli_usage_error("run: %s needs a value", argv[optind - 1]);
        default:
            return pv_cli_usage_error("run: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return pv_cli_usage_error("run: no command given (pvgpu run [options] -- CMD [ARGS...])");
    o->command = &argv[optind];
    if (resolve_host_icd(o, host_icd) != 0)
        return 1;
    if ((rc = resolve_guest(o, guest, guest_icd, protocol_given)) != 0)
        return rc;
    if (o->bind_count && !o->guest_root)
        return pv_cli_usage_error("run: --bind is for guest userlands (--guest NAME|ROOT)");
    if (o->vtest.renderer.validate && !pv_cli_check_validation())
        return 1;
    return -1; /* go on */
}

static void report_worker_end(void *data, uint32_t context_id, pid_t guest_pid, int wait_status)
{
    int fd = *(int *)data;
    struct worker_report report = { .context_id = context_id, .guest_pid = guest_pid,
                                    .wait_status = wait_status };
    /* Non-blocking and under PIPE_BUF: either the whole report goes or, if pvgpu run stopped
     * reading, nothing does and the server carries on. */
    ssize_t ignored = write(fd, &report, sizeof(report));
    (void)ignored;
}

/* The server process: its own process group, so that a terminal's Ctrl-C reaches CMD (which
 * may want to shut down cleanly through the host) but not the host itself. */
static void run_server(const struct run_options *o, int listen_fd, int report_fd,
                       pid_t parent, const sigset_t *original_mask)
{
    setpgid(0, 0);
    /* Should pvgpu run itself be killed, the host must not linger without its guest. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    sigprocmask(SIG_SETMASK, original_mask, NULL);
    if (o->host_icd) {
        setenv("VK_ICD_FILENAMES", o->host_icd, 1);
        setenv("VK_DRIVER_FILES", o->host_icd, 1);
    }
    struct pv_vtest_options opts = o->vtest;
    opts.worker_ended = report_worker_end;
    opts.worker_ended_data = &report_fd;
    int rc = pv_vtest_serve(listen_fd, &opts);
    _exit(rc == 0 ? 0 : 1);
}

/* Whether a comma-separated option list such as VN_DEBUG's already names option. */
static bool has_debug_option(const char *list, const char *option)
{
    size_t len = strlen(option);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncmp(p, option, len))
            return true;
        p += n + (end ? 1 : 0);
    }
    return false;
}

/* CMD: the guest. Only it sees the guest driver; the server keeps the caller's loader set-up. */
static void run_command(const struct run_options *o, pid_t parent, const sigset_t *original_mask)
{
    /* Without pvgpu run there is no host, and the driver would spin forever. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(1);
    sigprocmask(SIG_SETMASK, original_mask, NULL);
    if (o->guest_root &&
        pv_guest_root_enter(o->guest_root, o->socket_dir, o->binds, o->bind_count) != 0)
        _exit(126);
    setenv("VK_ICD_FILENAMES", o->guest_icd, 1);
    setenv("VK_DRIVER_FILES", o->guest_icd, 1);
    const char *debug = getenv("VN_DEBUG");
    if (!debug || !*debug) {
        setenv("VN_DEBUG", "vtest", 1);
    } else if (!has_debug_option(debug, "vtest")) {
        size_t size = strlen(debug) + sizeof(",vtest");
        char *value = malloc(size);
        if (value) {
            snprintf(value, size, "%s,vtest", debug);
            setenv("VN_DEBUG", value, 1);
            free(value);
        }
    }
    execvp(o->command[0], o->command);
    int err = errno;
    fprintf(stderr, "pvgpu run: cannot run %s: %s\n", o->command[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
}

static void stop_command(struct supervisor *s, const char *why)
{
    if (s->cmd_done || s->cmd_kill_at)
        return;
    pv_log("pvgpu run: %s; stopping CMD", why);
    kill(s->cmd, SIGTERM);
    s->cmd_kill_at = now_ms() + CMD_STOP_GRACE_MS;
}

/* The parent of pid, from /proc; 0 when pid is gone. */
static pid_t parent_of(pid_t pid)
{
    char path[64], text[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    text[n] = '\0';
    /* "pid (comm) state ppid ...": comm may hold anything, so parse from its last ')'. */
    const char *end = strrchr(text, ')');
    int ppid = 0;
    char state;
    if (!end || sscanf(end + 1, " %c %d", &state, &ppid) != 2)
        return 0;
    return (pid_t)ppid;
}

/* Whether pid is CMD or runs under it: a process id from a guest's socket is stopped only
 * then, so that a process that left and whose id was reused is never hit. */
static bool runs_under_command(const struct supervisor *s, pid_t pid)
{
    for (int depth = 0; pid > 1 && depth < MAX_PROCESS_DEPTH; depth++) {
        if (pid == s->cmd)
            return true;
        pid = parent_of(pid);
    }
    return false;
}

/* Stops the guest process whose context ended: CMD itself, or one process CMD started (a
 * script running several Vulkan programs sees that one fail, and goes on). */
static void stop_guest(struct supervisor *s, pid_t guest, const char *why)
{
    if (guest <= 0 || guest == s->cmd) {
        stop_command(s, why);
        return;
    }
    if (!runs_under_command(s, guest)) {
        pv_debug("pvgpu run: %s; guest process %d has already gone", why, (int)guest);
        return;
    }
    pv_log("pvgpu run: %s; stopping guest process %d", why, (int)guest);
    kill(guest, SIGTERM);
    if (s->stopping_count < MAX_STOPPING_GUESTS)
        s->stopping[s->stopping_count++] =
            (struct stopping_guest){ .pid = guest, .kill_at = now_ms() + CMD_STOP_GRACE_MS };
}

/* SIGKILL for the guest processes that outlived their grace; returns the ms until the next
 * is due, or -1. */
static int kill_stopping_guests(struct supervisor *s)
{
    int64_t now = now_ms(), next = -1;
    size_t i = 0;
    while (i < s->stopping_count) {
        struct stopping_guest *g = &s->stopping[i];
        if (g->kill_at > now) {
            if (next < 0 || g->kill_at - now < next)
                next = g->kill_at - now;
            i++;
            continue;
        }
        if (runs_under_command(s, g->pid)) {
            pv_log("pvgpu run: guest process %d did not stop, killing it", (int)g->pid);
            kill(g->pid, SIGKILL);
        }
        *g = s->stopping[--s->stopping_count];
    }
    return (int)next;
}

static void reap_children(struct supervisor *s)
{
    int status;
    if (!s->cmd_done && waitpid(s->cmd, &status, WNOHANG) == s->cmd) {
        s->cmd_done = true;
        s->cmd_status = status;
    }
    if (!s->server_done && waitpid(s->server, &status, WNOHANG) == s->server) {
        s->server_done = true;
        s->server_status = status;
    }
}

static void handle_signals(struct supervisor *s)
{
    struct signalfd_siginfo info;
    while (read(s->signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
        if (info.ssi_signo == SIGCHLD) {
            reap_children(s);
            continue;
        }
        /* A signal the kernel sent to the whole foreground process group (the terminal's
         * Ctrl-C) has reached CMD already; pass on only those sent to pvgpu run itself. */
        if ((int32_t)info.ssi_code <= 0 && !s->cmd_done)
            kill(s->cmd, (int)info.ssi_signo);
    }
}

static void handle_reports(struct supervisor *s)
{
    struct worker_report report;
    while (read(s->report_fd, &report, sizeof(report)) == (ssize_t)sizeof(report)) {
        int status = report.wait_status;
        char why[96];
        if (WIFEXITED(status) && WEXITSTATUS(status) == PV_VTEST_CLIENT_CONTEXT_FATAL) {
            snprintf(why, sizeof(why), "context %u ended (fatal)", (unsigned)report.context_id);
            stop_guest(s, report.guest_pid, why);
        } else if (WIFSIGNALED(status)) {
            snprintf(why, sizeof(why), "the worker of context %u died from signal %d",
                     (unsigned)report.context_id, WTERMSIG(status));
            stop_guest(s, report.guest_pid, why);
        }
    }
}

/* Waits for CMD, passing on signals, and stopping it if its host side dies. */
static void supervise_command(struct supervisor *s)
{
    bool killed = false;
    while (!s->cmd_done) {
        int timeout = kill_stopping_guests(s);
        if (s->cmd_kill_at && !killed) {
            int64_t left = s->cmd_kill_at - now_ms();
            if (left <= 0) {
                pv_log("pvgpu run: CMD did not stop, killing it");
                kill(s->cmd, SIGKILL);
                killed = true;
            } else if (timeout < 0 || left < timeout) {
                timeout = (int)left;
            }
        }
        struct pollfd fds[2] = {
            { .fd = s->signal_fd, .events = POLLIN },
            { .fd = s->report_fd, .events = POLLIN },
        };
        int n = poll(fds, s->report_fd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR) {
            pv_log("pvgpu run: poll: %s", strerror(errno));
            kill(s->cmd, SIGKILL);
            waitpid(s->cmd, &s->cmd_status, 0);
            s->cmd_done = true;
            break;
        }
        if (n <= 0)
            continue;
        if (fds[0].revents)
            handle_signals(s);
        if (s->report_fd >= 0 && fds[1].revents) {
            if (fds[1].revents & POLLIN)
                handle_reports(s);
            else
                s->report_fd = -1; /* hung up: the server is gone, SIGCHLD will say so */
        }
        if (s->server_done && !s->cmd_done)
            stop_command(s, "the host ended unexpectedly");
    }
}

/* Ends the server after CMD: SIGTERM lets it stop its workers; SIGKILL to the whole process
 * group if it does not manage in time. */
static void stop_server(struct supervisor *s)
{
    if (!s->server_done)
        kill(s->server, SIGTERM);
    int64_t deadline = now_ms() + SERVER_STOP_GRACE_MS;
    while (!s->server_done) {
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            pv_log("pvgpu run: the host did not stop, killing it");
            kill(-s->server, SIGKILL);
            kill(s->server, SIGKILL);
            waitpid(s->server, &s->server_status, 0);
            s->server_done = true;
            break;
        }
        struct pollfd pfd = { .fd = s->signal_fd, .events = POLLIN };
        if (poll(&pfd, 1, (int)left) > 0)
            handle_signals(s);
        reap_children(s);
    }
    if (WIFEXITED(s->server_status) && WEXITSTATUS(s->server_status) != 0)
        pv_log("pvgpu run: the host exited with status %d", WEXITSTATUS(s->server_status));
    else if (WIFSIGNALED(s->server_status) && WTERMSIG(s->server_status) != SIGKILL)
        pv_log("pvgpu run: the host died from signal %d", WTERMSIG(s->server_status));
}

static int exit_code_of(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

/* What a host-side guest needs that lives under /tmp stays visible behind the private /tmp:
 * the driver (and its library, beside it), the working folder, CMD, the recording folder. */
static int enter_private_tmp(const struct run_options *o)
{
    char cwd[PATH_MAX];
    char *command = strchr(o->command[0], '/') ? realpath(o->command[0], NULL) : NULL;
    const char *keep[] = { o->guest_icd, getcwd(cwd, sizeof(cwd)), command, o->record_dir };
    int rc = pv_private_tmp(keep, sizeof(keep) / sizeof(*keep));
    free(command);
    return rc;
}

/* The socket: at /tmp/.virgl_test behind a private /tmp for a host-side guest; in a fresh
 * private folder, which becomes the guest's /tmp, for a guest userland. */
static int listen_for_guest(struct run_options *o)
{
    if (!o->guest_root)
        return enter_private_tmp(o) == 0 ? pv_vtest_listen(PV_VTEST_DEFAULT_SOCKET_PATH, 0) : -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(o->socket_dir, sizeof(o->socket_dir), "%s/pvgpu-run-XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(o->socket_dir)) {
        fprintf(stderr, "pvgpu run: cannot make a socket folder %s: %s\n", o->socket_dir,
                strerror(errno));
        o->socket_dir[0] = '\0';
        return -1;
    }
    char path[sizeof(o->socket_dir) + sizeof("/.virgl_test")];
    snprintf(path, sizeof(path), "%s/.virgl_test", o->socket_dir);
    return pv_vtest_listen(path, 0);
}

/* Removes the socket folder of a guest userland, and what CMD left in its /tmp. */
static void remove_socket_dir(const struct run_options *o)
{
    if (!o->socket_dir[0])
        return;
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--one-file-system", "--", o->socket_dir, (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static int run(struct run_options *o)
{
    int listen_fd = listen_for_guest(o);
    if (listen_fd < 0) {
        remove_socket_dir(o);
        return 1;
    }

    int rc = 1;
    int reports[2] = { -1, -1 };
    int signal_fd = -1;
    struct supervisor s = { .cmd = -1, .server = -1 };
    sigset_t handled, original_mask;
    sigemptyset(&handled);
    sigaddset(&handled, SIGCHLD);
    sigaddset(&handled, SIGINT);
    sigaddset(&handled, SIGTERM);
    sigprocmask(SIG_BLOCK, &handled, &original_mask);

    if (pipe2(reports, O_CLOEXEC | O_NONBLOCK) != 0 ||
        (signal_fd = signalfd(-1, &handled, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
        fprintf(stderr, "pvgpu run: %s\n", strerror(errno));
        goto out;
    }

    s.signal_fd = signal_fd;
    s.report_fd = reports[0];
    fflush(NULL);
    pid_t parent = getpid();
    s.server = fork();
    if (s.server < 0) {
        fprintf(stderr, "pvgpu run: cannot start the host: %s\n", strerror(errno));
        goto out;
    }
    if (s.server == 0) {
        close(signal_fd);
        close(reports[0]);
        run_server(o, listen_fd, reports[1], parent, &original_mask);
    }
    setpgid(s.server, s.server); /* here as well, so that it holds before the child runs */
    close(listen_fd);
    listen_fd = -1;
    close(reports[1]);
    reports[1] = -1;

    s.cmd = fork();
    if (s.cmd < 0) {
        fprintf(stderr, "pvgpu run: cannot start %s: %s\n", o->command[0], strerror(errno));
        stop_server(&s);
        goto out;
    }
    if (s.cmd == 0)
        run_command(o, parent, &original_mask);

    supervise_command(&s);
    stop_server(&s);
    rc = exit_code_of(s.cmd_status);

out:
    if (signal_fd >= 0)
        close(signal_fd);
    for (int i = 0; i < 2; i++) {
        if (reports[i] >= 0)
            close(reports[i]);
    }
    if (listen_fd >= 0)
        close(listen_fd);
    if (o->guest_root)
        remove_socket_dir(o);
    else
        unlink(PV_VTEST_DEFAULT_SOCKET_PATH);
    sigprocmask(SIG_SETMASK, &original_mask, NULL);
    return rc;
}

int pv_cli_run(int argc, char **argv)
{
    struct run_options o = { 0 };
    int rc = parse_options(argc, argv, &o);
    if (rc < 0)
        rc = run(&o);
    free(o.host_icd);
    free(o.guest_root);
    free(o.guest_icd);
    free(o.record_dir);
    for (size_t i = 0; i < o.bind_count; i++)
        free(o.binds[i]);
    free(o.binds);
    return rc;
}
