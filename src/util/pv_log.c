/* Log lines of the host: one line per call, written with a single write so that lines of
 * concurrent processes do not interleave. */
#include "pv_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pv_log_sink_fn log_sink;
static void *log_sink_data;

void pv_log_set_sink(pv_log_sink_fn sink, void *data)
{
    log_sink = sink;
    log_sink_data = data;
}

void pv_logv(const char *fmt, va_list ap)
{
    char line[1024];
    if (log_sink) {
        if (vsnprintf(line, sizeof(line), fmt, ap) < 0)
            return;
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n')
            line[len - 1] = '\0';
        log_sink(log_sink_data, line);
        return;
    }
    int n = snprintf(line, sizeof(line), "pvgpu[%d]: ", (int)getpid());
    if (n < 0)
        return;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (m < 0)
        return;
    size_t len = strlen(line);
    if (len == 0 || line[len - 1] != '\n')
        line[len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}

void pv_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pv_logv(fmt, ap);
    va_end(ap);
}

void pv_debug(const char *fmt, ...)
{
    static int enabled = -1;
    if (enabled < 0)
        enabled = getenv("PVGPU_DEBUG") != NULL;
    if (!enabled)
        return;
    va_list ap;
    va_start(ap, fmt);
    pv_logv(fmt, ap);
    va_end(ap);
}
