/* The case table of the malformed-stream test (test_malformed_streams.c runs the cases; some
 * live in files of their own, such as malformed_device_cases.c for commands that need a
 * device). A case sends one bad stream; the host must end that guest's context with a log line
 * the expectation describes, and keep serving the others. */
#ifndef PV_TEST_MALFORMED_H
#define PV_TEST_MALFORMED_H

#include <stddef.h>
#include <stdint.h>

#include "pv_test_venus_calls.h"

/* Which servers a case runs against. */
enum {
    GEN_CURRENT = 1 << PV_TEST_GENERATION_CURRENT,
    GEN_2022 = 1 << PV_TEST_GENERATION_2022,
    GEN_BOTH = GEN_CURRENT | GEN_2022,
};

/* What the fatal log line of a case must say. */
struct expectation {
    /* The reason starts with one of these ('|'-separated), e.g. "vkCreateInstance: ". */
    const char *starts;
    /* Each entry: the reason contains one of these ('|'-separated, case-insensitive). */
    const char *contains[3];
    /* Non-zero: the reason names this object id in hex (any zero padding). */
    uint64_t id;
};

struct test_case {
    const char *name; /* also the guest's process name in CREATE_RENDERER */
    const char *what;
    /* Sends the bad stream (after any valid set-up it checks itself). Returns 0, or -1 if the
     * set-up already failed. */
    int (*send)(struct pv_test_guest *guest, struct expectation *expect);
    unsigned generations;
    /* If set: checks what the guest sees once the host has dropped it. Returns 0 or -1. */
    int (*after)(struct pv_test_guest *guest);
};

/* The objects every device case starts from. */
#define INSTANCE_ID 0x00005eed10000010ull
#define PHYSICAL_DEVICE_ID 0x00005eed20000020ull
#define DEVICE_ID 0x00005eed30000030ull

/* Helpers of the device cases (malformed_device_cases.c). An instance, its physical devices
 * and DEVICE_ID (Vulkan 1.3, timeline semaphores, one queue of family 0), every step checked: */
int pv_malformed_start_device(struct pv_test_guest *guest);
/* Sends what encode writes in one batch and waits until the host has run it: */
int pv_malformed_submit_setup(struct pv_test_guest *guest, void (*encode)(struct pv_test_cs *cs));
/* Sends one command after seeking the reply stream to its start: */
int pv_malformed_send_one(struct pv_test_guest *guest,
                          void (*encode)(struct pv_test_cs *cs, const void *arg), const void *arg);

/* Cases on a device's commands (malformed_device_cases.c). */
extern const struct test_case pv_malformed_device_cases[];
extern const size_t pv_malformed_device_case_count;

/* The valid counterpart of those cases, on a guest of its own: the same commands where they are
 * valid are answered and nothing goes fatal. Returns 0 or -1 (after printing why). */
int pv_malformed_device_positive(struct pv_test_guest *guest);

/* Cases on resources and the ranges commands name in them (malformed_resource_cases.c):
 * memory binding, image copies, indirect arguments, push constants. */
extern const struct test_case pv_malformed_resource_cases[];
extern const size_t pv_malformed_resource_case_count;
int pv_malformed_resource_positive(struct pv_test_guest *guest);

#endif
