#!/usr/bin/env bash
# Every memory type of a GPU host, natively and through pvgpu (the bookworm guest of a folder
# packed by bench/carry.sh): the memtypes guest program up to 1 GiB per allocation, then the
# upload benchmark through each memory type, REPS interleaved repetitions (default 3); first,
# which host-visible types the driver exports as an fd another process maps (memexport). Writes
# OUT/memexport.txt, OUT/memtypes-{native,pvgpu}.log, OUT/pvgpu-server.log and OUT/upload.txt
# (one line per run: type mode mib_per_s, or n/a with its reason).
#
#   bench/memory-types.sh DIR HOST_ICD OUT
set -u
dir=$(cd "$1" && pwd); host_icd=$2; out=$3
reps=${REPS:-3}
mkdir -p "$out"
export LD_LIBRARY_PATH=$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
cat >"$dir/virtio_icd.json" <<JSON
{"file_format_version": "1.0.0", "ICD": {"library_path": "$dir/lib/libvulkan_virtio.so", "api_version": "1.3.230"}}
JSON
native() { VK_ICD_FILENAMES=$host_icd VK_DRIVER_FILES=$host_icd timeout 300 "$@"; }
guest() {
    timeout 300 "$dir/pvgpu" run --host-icd "$host_icd" --guest-icd "$dir/virtio_icd.json" --protocol 2022 -- "$@"
}

native "$dir/bench/memexport" 2>&1 | grep -E '^(result|info external)' | tee "$out/memexport.txt"
native "$dir/bench/guest_memtypes" --max-size 1024 >"$out/memtypes-native.log" 2>&1
echo "memtypes native: exit $? ($(tail -n 1 "$out/memtypes-native.log"))"
guest "$dir/bench/guest_memtypes" --max-size 1024 >"$out/memtypes-pvgpu.log" 2>"$out/pvgpu-server.log"
echo "memtypes pvgpu: exit $? ($(tail -n 1 "$out/memtypes-pvgpu.log"))"
if diff <(grep '^digest' "$out/memtypes-native.log") <(grep '^digest' "$out/memtypes-pvgpu.log") >"$out/memtypes.diff"; then
    echo "memtypes digests: identical"
else
    echo "memtypes digests differ:"; cat "$out/memtypes.diff"
fi
grep -E 'memory type|cannot' "$out/pvgpu-server.log"
grep '^info type [0-9]*: flags' "$out/memtypes-native.log" | sed 's/^/native /'
grep '^info type [0-9]*: flags' "$out/memtypes-pvgpu.log" | sed 's/^/guest  /'

types=$(grep -c '^info type [0-9]*: flags' "$out/memtypes-native.log")
: >"$out/upload.txt"
for rep in $(seq "$reps"); do
    for type in $(seq 0 $((types - 1))); do
        for mode in native pvgpu; do
            if [ "$mode" = native ]; then run=native; else run=guest; fi
            line=$($run "$dir/bench/pvbench" upload --size 256 --iterations 5 --memory-type "$type" \
                   --shader-dir "$dir/bench" 2>/dev/null | grep '^result upload')
            echo "$rep $type $mode ${line:-failed}" >>"$out/upload.txt"
        done
    done
done
echo "upload MiB/s, median of $reps (type: native / pvgpu):"
for type in $(seq 0 $((types - 1))); do
    for mode in native pvgpu; do
        grep " $type $mode " "$out/upload.txt" | grep -o 'mib_per_s=[0-9]*' | cut -d= -f2 | sort -n |
            awk -v t="$type" -v m="$mode" '{ v[NR] = $1 } END { printf "%s %s %s\n", t, m, NR ? v[int((NR + 1) / 2)] : "n/a" }'
    done
done
