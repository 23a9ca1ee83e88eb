/* The vtest server: a listening AF_UNIX socket, an accept loop that forks one context worker
 * process per guest connection, and the per-connection protocol handler those workers run. */
#ifndef PV_VTEST_SERVER_H
#define PV_VTEST_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pv_renderer.h"

/* A single message (header excluded) larger than this is refused unless the caller sets
 * another limit. */
#define PV_VTEST_DEFAULT_MAX_MESSAGE_BYTES ((size_t)256 << 20)

struct pv_vtest_options {
    /* Largest accepted message payload in bytes; 0 means the default. */
    size_t max_message_bytes;
    /* Passed to every context the server creates. */
    struct pv_renderer_options renderer;
    /* Optional: a folder (which must exist) where each connection is recorded, see
     * pv_vtest_record.h. NULL records nothing. */
    const char *record_dir;
    /* Optional. Called in the accept-loop process each time a context worker has been reaped,
     * with the guest's process id as the socket reported it when the guest connected (0 if it
     * did not) and the wait status that waitpid reported (see enum pv_vtest_client_result for
     * the exit codes). Lets an embedder, such as `pvgpu run`, stop the guest process whose
     * context went fatal. */
    void (*worker_ended)(void *data, uint32_t context_id, pid_t guest_pid, int wait_status);
    void *worker_ended_data;
    /* Hooks for the tests of the server itself, never for guests one does not control: a
     * guest named PV_VTEST_TEST_FORBIDDEN_SYSCALL_NAME makes its worker try a system call
     * the sandbox forbids (pv_vtest_sandbox.h). */
    bool test_hooks;
};

/* How a connection ended; a context worker exits with this code. */
enum pv_vtest_client_result {
    PV_VTEST_CLIENT_CONTINUE = -1,      /* not ended: pv_vtest_client_serve_request only */
    PV_VTEST_CLIENT_DISCONNECTED = 0,   /* the guest closed the connection */
    PV_VTEST_CLIENT_HOST_ERROR = 1,     /* the host ran out of a resource (memory, fds) */
    PV_VTEST_CLIENT_PROTOCOL_ERROR = 2, /* the guest broke the vtest protocol */
    PV_VTEST_CLIENT_CONTEXT_FATAL = 3,  /* the context could not be created or went fatal */
};

/* The permissions of the socket unless the caller asks for others: its owner's alone, since
 * whoever can connect can make the host run Vulkan and allocate memory. */
#define PV_VTEST_DEFAULT_SOCKET_MODE 0600

/* Creates a listening socket at path with permissions mode (0: the default), replacing a stale
 * socket left by a dead server. Refuses (returns -1 after logging) when a live server already
 * listens there or path is not a socket. The fd is close-on-exec. */
int pv_vtest_listen(const char *path, mode_t mode);

/* Accepts guests on listen_fd until SIGTERM or SIGINT, serving each in its own forked worker
 * process with context ids 1, 2, ... Ignores SIGPIPE. On the way out it terminates the workers
 * still running and waits for them. Returns 0 after a stop signal, -1 if listening failed. The
 * caller keeps listen_fd and the socket path. */
int pv_vtest_serve(int listen_fd, const struct pv_vtest_options *opts);

/* Serves one guest connection on fd in the calling process until it ends, then destroys its
 * context. Does not close fd. Returns an enum pv_vtest_client_result. */
int pv_vtest_serve_client(int fd, uint32_t context_id, const struct pv_vtest_options *opts);

/* The same one request at a time, for callers that must never block on a guest (the fuzz
 * targets feed a whole input into a socketpair, then drain the replies after each request).
 * pv_vtest_serve_client is create, serve_request until it ends, destroy. */
struct pv_vtest_client;

/* NULL when out of memory. opts must outlive the client; fd stays the caller's. */
struct pv_vtest_client *pv_vtest_client_create(int fd, uint32_t context_id,
                                               const struct pv_vtest_options *opts);
/* Reads and serves one request: PV_VTEST_CLIENT_CONTINUE, or how the connection ended. */
int pv_vtest_client_serve_request(struct pv_vtest_client *c);
/* Destroys the context and everything else the connection held. */
void pv_vtest_client_destroy(struct pv_vtest_client *c);
/* Serves requests until the connection ends, then destroys c (with a time limit on the
 * teardown); returns how the connection ended. pv_vtest_serve_client is create, then this. */
int pv_vtest_client_run(struct pv_vtest_client *c);
/* Makes c count the process's fds and memfd mappings before its context is created and after
 * its teardown, and log the difference: for worker processes, which hold nothing else. */
void pv_vtest_client_count_leftovers(struct pv_vtest_client *c);
/* The fd of the folder c records into, or -1: the sandbox lets the worker create files there. */
int pv_vtest_client_record_dir_fd(const struct pv_vtest_client *c);

#endif
