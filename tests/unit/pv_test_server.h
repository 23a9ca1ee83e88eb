/* Runs `pvgpu serve` for a test: a private socket in a fresh temporary folder, stderr captured to a
 * log file the test can search, and a clean stop. The server runs in its own process group, which
 * the test ends as a whole, so per-connection workers never outlive the test. */
#ifndef PV_TEST_SERVER_H
#define PV_TEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct pv_test_server {
    pid_t pid;
    char dir[80];
    char socket_path[108]; /* what fits sockaddr_un */
    char log_path[128];
};

/* The pvgpu executable: $PVGPU if set, else argv1 if given, else NULL. */
const char *pv_test_pvgpu_path(const char *argv1);

/* Starts `<pvgpu> serve --socket <dir>/vtest.sock [--protocol <protocol>]` and waits until the
 * socket accepts connections. protocol NULL leaves the choice to the server's default. Returns 0
 * or -1 (with the reason and the log printed). */
int pv_test_server_start(struct pv_test_server *server, const char *pvgpu, const char *protocol);

/* True while the server process has not exited. */
bool pv_test_server_alive(struct pv_test_server *server);

/* Current size of the log, to search only what a test case added. */
size_t pv_test_server_log_size(const struct pv_test_server *server);

/* Log text from byte offset `from` on (malloc'd, NUL-terminated; "" if unreadable). */
char *pv_test_server_log_since(const struct pv_test_server *server, size_t from);

/* Waits up to timeout_ms for a log line, from byte offset `from` on, that contains needle.
 * Returns the line (malloc'd, without its newline) or NULL. */
char *pv_test_server_wait_log(const struct pv_test_server *server, size_t from, const char *needle,
                              int timeout_ms);

/* The context number the server gave the guest that sent CREATE_RENDERER `name` and
 * CONTEXT_INIT, from its "context N: created for \"name\"" line at or after `from`; -1 if there
 * is none within timeout_ms. */
long pv_test_server_context_of(const struct pv_test_server *server, size_t from, const char *name,
                               int timeout_ms);

/* Prints the log from `from` on to stderr, each line indented, for failure reports. */
void pv_test_server_print_log(const struct pv_test_server *server, size_t from);

/* Prints and counts sanitizer reports (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer
 * "runtime error:") in the log, so that a sanitizer build of pvgpu fails the tests on any finding
 * in the server or its workers, not only on the ones that kill them. */
int pv_test_server_sanitizer_reports(const struct pv_test_server *server);

/* Stops the server (SIGTERM to its process group, SIGKILL after 5 s) and returns its wait status,
 * or -1 if it could not be reaped. The log stays for inspection. */
int pv_test_server_stop(struct pv_test_server *server);

/* Removes the temporary folder with the log and the socket (after a passing run). */
void pv_test_server_remove_files(struct pv_test_server *server);

#endif
