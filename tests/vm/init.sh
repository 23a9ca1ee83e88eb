#!/bin/busybox sh
# /init of the VM test bed's guest (tests/vm/run_vm.py builds the initramfs): loads virtio-gpu,
# runs each line of /opt/pv/plan ("NAME SECONDS COMMAND ARGS...") with its output framed for the
# host to parse on the serial console, then powers the VM off.
/bin/busybox --install -s /bin
export PATH=/bin:/opt/pv/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /dev/pts
mount -t tmpfs tmpfs /tmp
echo "=== PVVM BOOTED uptime=$(cut -d' ' -f1 /proc/uptime)"
# Each line: a module and its parameters.
while read -r m params; do
    insmod /lib/modules/$m $params || echo "=== PVVM INSMOD-FAILED $m"
done < /lib/modules/order
i=0
while [ ! -e /dev/dri/renderD128 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -e /dev/dri/renderD128 ] || echo "=== PVVM NO-RENDER-NODE"
export HOME=/tmp XDG_CACHE_HOME=/tmp MESA_SHADER_CACHE_DISABLE=true
export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/virtio_icd.json
export VK_DRIVER_FILES=$VK_ICD_FILENAMES PV_GUEST_SHADER_DIR=/opt/pv/shaders
while read -r name seconds command; do
    [ -n "$name" ] || continue
    echo "=== PVVM BEGIN $name"
    start=$(cut -d' ' -f1 /proc/uptime)
    timeout "$seconds" $command 2>&1
    rc=$?
    end=$(cut -d' ' -f1 /proc/uptime)
    echo "=== PVVM END $name rc=$rc start=$start end=$end"
done < /opt/pv/plan
echo "=== PVVM DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
