/* What every fuzz target defines: libFuzzer's entry points. The same target source builds as a
 * libFuzzer binary (-Dfuzzing=true, clang) and as a replay executable that runs a corpus once
 * (pv_fuzz_replay_main.c), which the normal test suite does with any compiler. */
#ifndef PV_FUZZ_H
#define PV_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A finding of the target's own checks (an invariant of the code under test broken): report it
 * and abort, which libFuzzer and the replay runner both treat as a crash. */
void pv_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
