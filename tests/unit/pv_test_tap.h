/* TAP output for single-file test programs: check() prints one "ok N - ..." or "not ok N - ..."
 * line per assertion, tap_done() the plan and the exit status. Header-only: each program gets its
 * own counters. */
#ifndef PV_TEST_TAP_H
#define PV_TEST_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int tap_number, tap_failures;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s %d - ", ok ? "ok" : "not ok", ++tap_number);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    if (!ok)
        tap_failures++;
}

/* Prints the plan (after the tests, as TAP allows) and returns the exit status. */
static inline int tap_done(void)
{
    printf("1..%d\n", tap_number);
    return tap_failures ? 1 : 0;
}

#endif
