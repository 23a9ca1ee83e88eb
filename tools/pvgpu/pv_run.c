/* `pvgpu run -- CMD`: a private host for one command. It gives CMD its own /tmp with a pvgpu
 * server on /tmp/.virgl_test, points CMD's Vulkan loader at the Venus guest driver, and stops
 * CMD when its context dies, because the Mesa driver would otherwise spin forever. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pv_cli.h"
#include "pv_log.h"
#include "pv_vtest_protocol.h"
#include "pv_vtest_server.h"

/* How long CMD gets between SIGTERM and SIGKILL once its context has died. */
#define CMD_STOP_GRACE_MS 2000
/* How long the server gets to stop its workers after SIGTERM (it gives them 2 s itself). */
#define SERVER_STOP_GRACE_MS 5000

#define GUEST_ICD_BESIDE_EXE "guest-driver/virtio_icd.json"

struct run_options {
    char *host_icd;  /* absolute, or NULL to keep the caller's loader set-up */
    char *guest_icd; /* absolute */
    char *record_dir; /* absolute, or NULL */
    struct pv_vtest_options vtest;
    char **command;
};

/* What the server's accept loop tells pvgpu run about each context worker that ended. */
struct worker_report {
    uint32_t context_id;
    int32_t wait_status;
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
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The default guest driver sits next to the executable, as the build tree lays it out. */
static char *default_guest_icd(void)
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
    size_t size = strlen(exe) + 1 + sizeof(GUEST_ICD_BESIDE_EXE);
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s", exe, GUEST_ICD_BESIDE_EXE);
    return path;
}

/* Anything under /tmp disappears behind the private /tmp; better to say so before it does. */
static void warn_if_under_tmp(const char *what, const char *path)
{
    if (path && (!strncmp(path, "/tmp/", 5) || !strcmp(path, "/tmp")))
        fprintf(stderr, "pvgpu run: warning: %s %s is under /tmp, which the private /tmp hides\n",
                what, path);
}

static void warn_if_command_under_tmp(const char *command)
{
    if (!strchr(command, '/'))
        return;
    char *path = realpath(command, NULL);
    warn_if_under_tmp("CMD", path ? path : command);
    free(path);
}

static int resolve_icds(struct run_options *o, const char *host_icd, const char *guest_icd)
{
    if (host_icd) {
        o->host_icd = realpath(host_icd, NULL);
        if (!o->host_icd) {
            fprintf(stderr, "pvgpu run: host ICD %s: %s\n", host_icd, strerror(errno));
            return -1;
        }
        warn_if_under_tmp("the host ICD", o->host_icd);
    }

    char *fallback = NULL;
    if (!guest_icd) {
        const char *env = getenv("PVGPU_GUEST_ICD");
        guest_icd = env && *env ? env : (fallback = default_guest_icd());
    }
    if (guest_icd)
        o->guest_icd = realpath(guest_icd, NULL);
    if (!o->guest_icd) {
        fprintf(stderr,
                "pvgpu run: no Venus guest driver at %s\n"
                "  build it with `make` or scripts/setup-guest-driver.sh, or name one with\n"
                "  --guest-icd JSON or PVGPU_GUEST_ICD\n",
                guest_icd ? guest_icd : GUEST_ICD_BESIDE_EXE);
        free(fallback);
        return -1;
    }
    free(fallback);
    warn_if_under_tmp("the guest ICD", o->guest_icd);
    return 0;
}

static int parse_options(int argc, char **argv, struct run_options *o)
{
    static const struct option long_options[] = {
        { "host-icd", required_argument, NULL, 'H' },
        { "guest-icd", required_argument, NULL, 'G' },
        { "portable", no_argument, NULL, 'p' },
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
    const char *host_icd = NULL, *guest_icd = NULL;

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
        case 'p':
            o->vtest.renderer.portable = true;
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
            /* Absolute now: the server runs behind the private /tmp. */
            free(o->record_dir);
            o->record_dir = pv_cli_record_dir(optarg);
            if (!o->record_dir)
                return 1;
            if (!strncmp(o->record_dir, "/tmp/", 5) || !strcmp(o->record_dir, "/tmp"))
                return pv_cli_usage_error("run: --record %s is under /tmp, which the private "
                                          "/tmp hides; record elsewhere", o->record_dir);
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
    if (resolve_icds(o, host_icd, guest_icd) != 0)
        return 1;
    return -1; /* go on */
}

static void report_worker_end(void *data, uint32_t context_id, int wait_status)
{
    int fd = *(int *)data;
    struct worker_report report = { .context_id = context_id, .wait_status = wait_status };
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
        if (WIFEXITED(status) && WEXITSTATUS(status) == PV_VTEST_CLIENT_CONTEXT_FATAL) {
            stop_command(s, "the guest's context ended (fatal)");
        } else if (WIFSIGNALED(status)) {
            char why[96];
            snprintf(why, sizeof(why), "the guest's context worker died from signal %d",
                     WTERMSIG(status));
            stop_command(s, why);
        }
    }
}

/* Waits for CMD, passing on signals, and stopping it if its host side dies. */
static void supervise_command(struct supervisor *s)
{
    bool killed = false;
    while (!s->cmd_done) {
        int timeout = -1;
        if (s->cmd_kill_at && !killed) {
            int64_t left = s->cmd_kill_at - now_ms();
            if (left <= 0) {
                pv_log("pvgpu run: CMD did not stop, killing it");
                kill(s->cmd, SIGKILL);
                killed = true;
            } else {
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

static int run(const struct run_options *o)
{
    if (pv_private_tmp() != 0)
        return 1;
    int listen_fd = pv_vtest_listen(PV_VTEST_DEFAULT_SOCKET_PATH);
    if (listen_fd < 0)
        return 1;

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
    unlink(PV_VTEST_DEFAULT_SOCKET_PATH);
    sigprocmask(SIG_SETMASK, &original_mask, NULL);
    return rc;
}

int pv_cli_run(int argc, char **argv)
{
    struct run_options o = { 0 };
    int rc = parse_options(argc, argv, &o);
    if (rc < 0) {
        warn_if_command_under_tmp(o.command[0]);
        rc = run(&o);
    }
    free(o.host_icd);
    free(o.guest_icd);
    free(o.record_dir);
    return rc;
}
