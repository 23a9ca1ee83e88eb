#!/usr/bin/env bash
# `make check-valgrind`: the host under valgrind's memcheck, leaks included. valgrind follows
# forks, so `pvgpu run`'s server process and every context worker are checked, each in its own
# log; programs the host execs (the guests) run natively (--trace-children=no).
#
# Runs: full vulkaninfo on every guest and every guest program of tests/guest on the bookworm
# (2022) and trixie (current) guests through `pvgpu run`; the unit tests
# that drive `pvgpu serve` with raw and malformed vtest traffic (their pvgpu is a valgrind
# wrapper); the fuzz corpus replays. Passes only with zero errors and zero definitely or
# indirectly lost bytes in every process (still-reachable memory is allowed).
#
# Environment: BUILD (default build), VALGRIND_OUT (logs; default $BUILD/valgrind),
# VALGRIND_ONLY (a regular expression: run only the checks whose names match).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
case "$build" in /*) ;; *) build=$root/$build ;; esac
out=${VALGRIND_OUT:-$build/valgrind}
only=${VALGRIND_ONLY:-.}
pvgpu=$build/pvgpu

command -v valgrind >/dev/null || { echo "check-valgrind: valgrind not found; run scripts/install-deps.sh" >&2; exit 1; }
[ -x "$pvgpu" ] || { echo "check-valgrind: $pvgpu missing; build with ninja -C $build" >&2; exit 1; }
# pvgpu run's private /tmp keeps what lives under the old one beside the guest driver (the
# build), nothing else: the workers write their logs to $out from behind it.
tmp_top() { case "$1/" in /tmp/*) local rest=${1#/tmp/}; echo "${rest%%/*}" ;; esac; }
if [ -n "$(tmp_top "$out")" ] && [ "$(tmp_top "$out")" != "$(tmp_top "$build")" ]; then
    echo "check-valgrind: $out is under /tmp apart from the build, which pvgpu run hides" >&2
    exit 1
fi
rm -rf "$out"
mkdir -p "$out"

# Vulkan drivers stay loaded, so that memory only they point to is not "definitely lost" once
# the loader unloads them (see keep-libraries-loaded.c). The guests inherit it too: harmless.
keep=$out/keep-libraries-loaded.so
cc -shared -fPIC -O2 -o "$keep" "$root/scripts/keep-libraries-loaded.c" || exit 1
export LD_PRELOAD=$keep${LD_PRELOAD:+:$LD_PRELOAD}

# Fair scheduling: valgrind runs one thread at a time, and by default a busy one (a ring worker
# in a long lavapipe copy) can keep the ring monitor from running for seconds, after which a
# current guest aborts on its ring's expired ALIVE bit (seen with guest_copies on trixie).
valgrind_args=(--trace-children=no --vgdb=no --leak-check=full
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99 --suppressions="$root/tests/valgrind.supp" --num-callers=30
    --fair-sched=yes)

# Valgrind cannot run a process under a seccomp filter (it has no seccomp system call to give
# libseccomp, and the filter would judge valgrind's own calls): the workers run without theirs.
export PVGPU_NO_SECCOMP=1

# A pvgpu that runs itself under valgrind, for tests that start pvgpu on their own.
wrapper=$out/pvgpu-under-valgrind
cat >"$wrapper" <<EOF
#!/bin/sh
exec valgrind ${valgrind_args[*]} --log-file="\$PVGPU_VALGRIND_LOG_PREFIX.%p.log" "$pvgpu" "\$@"
EOF
chmod +x "$wrapper"

failures=()
checks=0

# Every log of a check must report zero errors; a process that exec'd another program leaves
# a log without a summary, which is fine.
check_logs() {
    local name=$1 bad=0 f
    for f in "$out/$name".*.log; do
        [ -e "$f" ] || continue
        if grep -q 'ERROR SUMMARY:' "$f" && ! grep -q 'ERROR SUMMARY: 0 errors' "$f"; then
            bad=1
        fi
        if grep -qE '(definitely|indirectly) lost: [1-9]' "$f"; then
            bad=1
        fi
        if [ $bad -ne 0 ]; then
            echo "    valgrind: errors in $f:" >&2
            sed -n '/Parent PID/,$p' "$f" | head -n 40 | sed 's/^/    /' >&2
            break
        fi
    done
    return $bad
}

run_check() {
    local name=$1
    shift
    [[ $name =~ $only ]] || return 0
    checks=$((checks + 1))
    local start=$SECONDS
    current=$name
    "$@" >"$out/$name.out" 2>&1
    local status=$?
    local verdict=ok
    if [ $status -ne 0 ]; then
        verdict="FAIL (exit $status, output $out/$name.out)"
        tail -n 15 "$out/$name.out" | sed 's/^/    /' >&2
    fi
    if ! check_logs "$name"; then
        verdict="FAIL (valgrind errors, logs $out/$name.*.log)"
    fi
    printf '%-32s %-6s %4ds\n' "$name" "${verdict%% *}" $((SECONDS - start))
    [ "$verdict" = ok ] || failures+=("$name: $verdict")
}

# pvgpu run under valgrind: the supervisor, the server and the context workers. GUEST picks the
# guest; a root guest sees the guest programs and the output folder through --bind.
pvgpu_run() {
    local binds=()
    [ "$GUEST" = bookworm ] || binds=(--bind "$guest_dir" --bind "$out")
    valgrind "${valgrind_args[@]}" --log-file="$out/$current.%p.log" "$pvgpu" run --guest "$GUEST" \
        "${binds[@]}" -- "$@"
}

echo "check-valgrind: logs in $out"
guest_dir=$build/tests/guest
for GUEST in bookworm trixie sid; do
    run_check "vulkaninfo-$GUEST" pvgpu_run vulkaninfo
done

# Every program on the 2022 generation and on the current one.
for GUEST in bookworm trixie; do
    for program in "$guest_dir"/guest_*; do
        [ -x "$program" ] && [ -f "$program" ] || continue
        name=${program##*/}
        [ "$name" = guest_misuse ] && continue   # invalid usage on purpose: invalid-usage below
        mkdir -p "$out/guest-out"
        run_check "$name-$GUEST" pvgpu_run "$program" --shader-dir "$guest_dir" --out-dir "$out/guest-out"
    done
done

# Tests that start pvgpu themselves get the wrapper as their pvgpu.
for t in test_vtest_handshake test_malformed_streams; do
    exe=$build/tests/$t
    [ -x "$exe" ] || continue
    run_check "$t" env PVGPU="$wrapper" PVGPU_VALGRIND_LOG_PREFIX="$out/$t" PVGPU_BUILD_DIR="$build" "$exe"
done
for t in invalid_usage guest_killed; do
    run_check "$t" env PVGPU="$wrapper" PVGPU_VALGRIND_LOG_PREFIX="$out/$t" PVGPU_BUILD_DIR="$build" \
        bash "$root/tests/stack/$t.sh"
done

for target in vtest decoder ring; do
    exe=$build/tests/fuzz/fuzz_${target}_replay
    [ -x "$exe" ] || continue
    run_check "fuzz-replay-$target" valgrind "${valgrind_args[@]}" \
        --log-file="$out/fuzz-replay-$target.%p.log" "$exe" "$root/tests/fuzz/corpus/$target"
done

echo
if [ $checks -eq 0 ]; then
    echo "check-valgrind: nothing matched VALGRIND_ONLY=$only" >&2
    exit 1
fi
if [ ${#failures[@]} -gt 0 ]; then
    echo "check-valgrind: ${#failures[@]} of $checks checks failed:" >&2
    printf '  %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "check-valgrind: all $checks checks clean (0 errors, 0 bytes definitely or indirectly lost)"
