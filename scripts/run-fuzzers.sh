#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (tests/fuzz) with clang in their own build folder and
# runs each for FUZZ_SECONDS (default 60), starting from the committed corpus. New corpus entries
# go to a scratch folder of the build (never into tests/fuzz/corpus), crashes to an artifacts
# folder; both are named at the end. Exit status 1 if any target found something.
#
# Environment: FUZZ_SECONDS, FUZZ_TARGETS (default "vtest decoder ring handlers"), FUZZ_BUILD (default
# build-fuzz), FUZZ_ARGS (extra libFuzzer arguments, e.g. -jobs=2 -workers=2).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac   # libFuzzer runs from elsewhere
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-vtest decoder ring handlers}

if [ ! -f "$build/build.ninja" ]; then
    CC=clang "$root/scripts/meson-setup.sh" "$build" -Dfuzzing=true || exit 1
fi
ninja_targets=()
for t in $targets; do ninja_targets+=("tests/fuzz/fuzz_$t"); done
ninja -C "$build" "${ninja_targets[@]}" || exit 1

# Every sType the generated decoder knows, the fake objects' ids: a head start into pNext chains.
dict=$build/fuzz-venus.dict
python3 "$root/tests/fuzz/make_corpus.py" --build "$build" --dict "$dict" >/dev/null || exit 1

# Any sanitizer report is a crash; leaks are checked per input by libFuzzer.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
summary=()
for t in $targets; do
    scratch=$build/fuzz-corpus/$t
    artifacts=$build/fuzz-artifacts/$t
    log=$build/fuzz-logs/$t.log
    mkdir -p "$scratch" "$artifacts" "$(dirname "$log")"
    dict_arg=()
    [ "$t" = vtest ] || dict_arg=(-dict="$dict")
    # The handler target runs the host driver, whose own leaks are not ours to report.
    lsan=${LSAN_OPTIONS:-}
    [ "$t" = handlers ] && lsan=suppressions=$root/tests/fuzz/host-driver.lsan.supp${lsan:+:$lsan}
    before=$(find "$scratch" -type f | wc -l)
    echo "fuzz: $t for ${seconds}s (log $log)"
    # shellcheck disable=SC2086
    (cd "$build/tests/fuzz" && LSAN_OPTIONS=$lsan "./fuzz_$t" -max_total_time="$seconds" -timeout=60 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict_arg[@]}" ${FUZZ_ARGS:-} \
        "$scratch" "$root/tests/fuzz/corpus/$t") >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    after=$(find "$scratch" -type f | wc -l)
    line="$t: ${execs:-?} execs in ${seconds}s (${rate:-?}/s), ${cov:-no coverage line}, $((after - before)) new inputs in $scratch"
    if [ $rc -ne 0 ]; then
        failed=1
        line="$line; FAILED (exit $rc): see $log and $artifacts"
        grep -E 'ERROR: |runtime error|pvgpu fuzz:|SUMMARY' "$log" | head -n 5 >&2
    fi
    echo "$line"
    summary+=("$line")
done
echo
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit $failed
