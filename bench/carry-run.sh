#!/usr/bin/env bash
# Runs the benchmarks from a folder packed by bench/carry.sh: bench/run.py without the reference
# host (absent there), then draws and compute once more through pvgpu with PVGPU_COMMAND_STATS,
# which gives the host's time per command. Results go to OUT. GUEST picks the guest: bookworm
# (default: the packed 22.3.6 driver, served the 2022 protocol) or trixie or sid (their packed
# Mesa 25.0.7 or 26.2.6 on their own libc, served the current protocol).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "$1" && pwd); host_icd=$2; out=$3; shift 3
guest=${GUEST:-bookworm}
mkdir -p "$out"
export LD_LIBRARY_PATH=$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cat >"$dir/virtio_icd.json" <<JSON
{"file_format_version": "1.0.0", "ICD": {"library_path": "$dir/lib/libvulkan_virtio.so", "api_version": "1.3.230"}}
JSON
if [ "$guest" = bookworm ]; then
    guest_args=(--guest bookworm --guest-icd "$dir/virtio_icd.json")
    stats_args=(--guest-icd "$dir/virtio_icd.json" --protocol 2022)
    stats_pvbench=$dir/bench/pvbench
else
    guest_args=(--guest "$guest" --packed-guest "$guest=$dir/guest-$guest")
    stats_args=(--guest-icd "$dir/guest-$guest/virtio_icd.json" --protocol current)
    stats_pvbench=$dir/guest-$guest/pvbench
fi
work=$(mktemp -d /var/tmp/pvgpu-bench.XXXXXX)
python3 "$root/bench/run.py" --pvgpu "$dir/pvgpu" --pvbench "$dir/bench/pvbench" --shader-dir "$dir/bench" \
    --host-icd "$host_icd" --no-reference --results-dir "$out" \
    --out-dir "$work/runs" "${guest_args[@]}" "$@"
for workload in draws compute; do
    mkdir -p "$work/stats-$workload"
    PVGPU_COMMAND_STATS=$work/stats-$workload timeout 120 "$dir/pvgpu" run --host-icd "$host_icd" \
        "${stats_args[@]}" -- "$stats_pvbench" "$workload" --shader-dir "$dir/bench" \
        >"$work/stats-$workload.log" 2>&1
    { grep '^result' "$work/stats-$workload.log"; sort -k3 -n -r "$work/stats-$workload"/*.txt | head -n 12; } \
        >"$out/stats-$guest-$workload.txt"
    echo "== host time per command ($guest, $workload): name count ns"; cat "$out/stats-$guest-$workload.txt"
done
