/* Runs `pvgpu serve` on a private socket for a test; see pv_test_server.h. */
#define _GNU_SOURCE
#include "pv_test_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *pv_test_pvgpu_path(const char *argv1)
{
    const char *env = getenv("PVGPU");
    if (env && *env)
        return env;
    return argv1;
}

static bool socket_accepts(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path))
        return false;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

int pv_test_server_start(struct pv_test_server *server, const char *pvgpu, const char *protocol)
{
    memset(server, 0, sizeof(*server));
    server->pid = -1;
    if (!pvgpu || access(pvgpu, X_OK) != 0) {
        fprintf(stderr, "test: pvgpu executable not found (%s); set PVGPU or build it\n",
                pvgpu ? pvgpu : "PVGPU unset");
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    const int length = snprintf(server->dir, sizeof(server->dir), "%s/pvgpu-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (length < 0 || (size_t)length >= sizeof(server->dir)) {
        fprintf(stderr, "test: TMPDIR too long for a socket path: %s\n", tmp);
        return -1;
    }
    if (!mkdtemp(server->dir)) {
        fprintf(stderr, "test: mkdtemp %s: %s\n", server->dir, strerror(errno));
        return -1;
    }
    snprintf(server->socket_path, sizeof(server->socket_path), "%s/vtest.sock", server->dir);
    snprintf(server->log_path, sizeof(server->log_path), "%s/server.log", server->dir);

    int log_fd = open(server->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        fprintf(stderr, "test: cannot create %s: %s\n", server->log_path, strerror(errno));
        return -1;
    }
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "test: fork: %s\n", strerror(errno));
        close(log_fd);
        return -1;
    }
    if (pid == 0) {
        /* Own process group, so that stopping it reaches the per-connection workers too; and die
         * with the test if the test is killed (meson's timeout). */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(log_fd, STDERR_FILENO);
        dup2(log_fd, STDOUT_FILENO);
        if (protocol)
            execl(pvgpu, pvgpu, "serve", "--socket", server->socket_path, "--protocol", protocol,
                  (char *)NULL);
        else
            execl(pvgpu, pvgpu, "serve", "--socket", server->socket_path, (char *)NULL);
        fprintf(stderr, "test: exec %s: %s\n", pvgpu, strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid); /* also here, so that it holds before the child gets to run */
    close(log_fd);
    server->pid = pid;

    const int64_t deadline = now_ms() + 10000;
    while (!socket_accepts(server->socket_path)) {
        if (!pv_test_server_alive(server)) {
            fprintf(stderr, "test: '%s serve --socket %s' exited before accepting connections; its log:\n",
                    pvgpu, server->socket_path);
            pv_test_server_print_log(server, 0);
            return -1;
        }
        if (now_ms() > deadline) {
            fprintf(stderr, "test: '%s serve' did not accept connections on %s within 10 s; its log:\n",
                    pvgpu, server->socket_path);
            pv_test_server_print_log(server, 0);
            pv_test_server_stop(server);
            return -1;
        }
        usleep(20 * 1000);
    }
    return 0;
}

bool pv_test_server_alive(struct pv_test_server *server)
{
    if (server->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(server->pid, &status, WNOHANG);
    if (r == 0)
        return true;
    if (r == server->pid) {
        if (WIFEXITED(status))
            fprintf(stderr, "test: server exited with status %d\n", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            fprintf(stderr, "test: server killed by signal %d (%s)\n", WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
        server->pid = -1;
    }
    return false;
}

size_t pv_test_server_log_size(const struct pv_test_server *server)
{
    struct stat st;
    return stat(server->log_path, &st) == 0 ? (size_t)st.st_size : 0;
}

char *pv_test_server_log_since(const struct pv_test_server *server, size_t from)
{
    FILE *f = fopen(server->log_path, "rb");
    size_t size = pv_test_server_log_size(server);
    size_t length = 0;
    char *text = malloc((size > from ? size - from : 0) + 1);
    if (!text)
        abort(); /* test code: out of memory is not something to report nicely */
    if (f && size > from && fseek(f, (long)from, SEEK_SET) == 0)
        length = fread(text, 1, size - from, f);
    text[length] = '\0';
    if (f)
        fclose(f);
    return text;
}

char *pv_test_server_wait_log(const struct pv_test_server *server, size_t from, const char *needle,
                              int timeout_ms)
{
    const int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        char *log = pv_test_server_log_since(server, from);
        const char *hit = strstr(log, needle);
        char *line = NULL;
        if (hit) {
            const char *start = hit;
            while (start > log && start[-1] != '\n')
                start--;
            const char *end = strchr(hit, '\n');
            line = strndup(start, end ? (size_t)(end - start) : strlen(start));
        }
        free(log);
        if (line || now_ms() > deadline)
            return line;
        usleep(10 * 1000);
    }
}

long pv_test_server_context_of(const struct pv_test_server *server, size_t from, const char *name,
                               int timeout_ms)
{
    char needle[256];
    snprintf(needle, sizeof(needle), ": created for \"%s\"", name);
    char *line = pv_test_server_wait_log(server, from, needle, timeout_ms);
    if (!line)
        return -1;
    /* "pvgpu[PID]: context N: created for ..." */
    long id = -1;
    const char *context = strstr(line, "context ");
    if (context)
        id = strtol(context + 8, NULL, 10);
    free(line);
    return id;
}

void pv_test_server_print_log(const struct pv_test_server *server, size_t from)
{
    char *text = pv_test_server_log_since(server, from);
    if (!*text)
        fprintf(stderr, "    (log empty)\n");
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        fprintf(stderr, "    | %s\n", line);
        if (!end)
            break;
        line = end + 1;
    }
    free(text);
}

int pv_test_server_sanitizer_reports(const struct pv_test_server *server)
{
    static const char *const markers[] = {
        "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "WARNING: AddressSanitizer",
    };
    char *log = pv_test_server_log_since(server, 0);
    int reports = 0;
    for (char *line = log; line && *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
            if (strstr(line, markers[i])) {
                fprintf(stderr, "    sanitizer: %s\n", line);
                reports++;
                break;
            }
        }
        line = end ? end + 1 : NULL;
    }
    free(log);
    return reports;
}

int pv_test_server_stop(struct pv_test_server *server)
{
    int status = -1;
    if (server->pid > 0) {
        kill(-server->pid, SIGTERM);
        const int64_t deadline = now_ms() + 5000;
        for (;;) {
            pid_t r = waitpid(server->pid, &status, WNOHANG);
            if (r == server->pid || (r < 0 && errno != EINTR))
                break;
            if (now_ms() > deadline) {
                fprintf(stderr, "test: server ignored SIGTERM for 5 s; killing it\n");
                kill(-server->pid, SIGKILL);
                waitpid(server->pid, &status, 0);
                break;
            }
            usleep(10 * 1000);
        }
        /* Workers left behind by a server that exited first. */
        kill(-server->pid, SIGKILL);
        server->pid = -1;
    }
    return status;
}

void pv_test_server_remove_files(struct pv_test_server *server)
{
    if (!server->dir[0])
        return;
    unlink(server->log_path);
    unlink(server->socket_path);
    rmdir(server->dir);
    server->dir[0] = '\0';
}
