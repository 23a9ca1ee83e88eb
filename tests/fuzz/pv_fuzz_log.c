/* pv_log for fuzz targets: every log line is still formatted (so that a bad format argument is
 * caught by the sanitizers) but dropped, since hostile inputs log on almost every run. Set
 * PVGPU_FUZZ_LOG=1 to see the lines. Replaces src/util/pv_log.c in the fuzz executables. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pv_fuzz.h"
#include "pv_log.h"

static int show_logs(void)
{
    static int show = -1;
    if (show < 0) {
        const char *env = getenv("PVGPU_FUZZ_LOG");
        show = env && *env && strcmp(env, "0") != 0;
    }
    return show;
}

void pv_logv(const char *fmt, va_list ap)
{
    char line[1024];
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    if (n < 0 || !show_logs())
        return;
    size_t len = strlen(line);
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
    va_list ap;
    va_start(ap, fmt);
    pv_logv(fmt, ap);
    va_end(ap);
}

void pv_fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pvgpu fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
