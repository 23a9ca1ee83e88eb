/* Log lines of the host. Everything goes to stderr with a "pvgpu" prefix, so that a log of
 * several processes (server, context workers) can be grepped. */
#ifndef PV_LOG_H
#define PV_LOG_H

#include <stdarg.h>

#if defined(__GNUC__)
#define PV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PV_PRINTF(a, b)
#endif

void pv_log(const char *fmt, ...) PV_PRINTF(1, 2);
void pv_logv(const char *fmt, va_list ap);

/* An embedder (the virglrenderer ABI's log callback) may take the lines instead of stderr: the
 * sink gets each line without the prefix and without its newline. NULL restores stderr. Set it
 * before the host starts threads. */
typedef void (*pv_log_sink_fn)(void *data, const char *line);
void pv_log_set_sink(pv_log_sink_fn sink, void *data);

/* Verbose lines only when PVGPU_DEBUG is set in the environment. */
void pv_debug(const char *fmt, ...) PV_PRINTF(1, 2);

#endif
