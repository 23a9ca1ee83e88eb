/* Monotonic time in nanoseconds, for timeouts and measurements. */
#ifndef PV_TIME_H
#define PV_TIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t pv_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
