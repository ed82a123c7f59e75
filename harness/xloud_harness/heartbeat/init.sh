#!/bin/busybox sh
# /init of the heartbeat guest (xloud_harness.heartbeat). Every 100 ms of guest
# time it writes one line to ttyS0:
#   xloud-heartbeat boot_id=<32 hex> uptime_ms=<int> seq=<int> memsum=<8 hex>
# boot_id changes at every boot (a reboot during a migration shows), seq
# counts lines (a lost or repeated line shows), memsum is recomputed at every
# line over a memory area filled with random bytes at boot (memory that a
# migration corrupted shows).
/bin/busybox mount -t devtmpfs dev /dev
exec >/dev/ttyS0 2>&1 </dev/null
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
# The memory area is a tmpfs file: its pages live in the guest's RAM. 256 KiB:
# summed at every line, it must stay cheap under TCG.
/bin/busybox mount -t tmpfs -o size=2m mem /mem
/bin/busybox --install -s /bin
export PATH=/bin

read -r boot_id < /proc/sys/kernel/random/boot_id
boot_id=$(echo "$boot_id" | tr -d -)
dd if=/dev/urandom of=/mem/area bs=64k count=4 2>/dev/null

uptime_ms() {
    read -r up _ < /proc/uptime
    frac=${up#*.}
    echo $(( ${up%.*} * 1000 + ${frac#0} * 10 ))
}

seq=0
next=$(uptime_ms)
while :; do
    now=$(uptime_ms)
    sum=$(md5sum /mem/area)
    sum=$(printf %.8s "$sum")
    echo "xloud-heartbeat boot_id=$boot_id uptime_ms=$now seq=$seq" \
         "memsum=$sum"
    seq=$((seq + 1))
    # Next tick on the 100 ms grid; a late line skips ticks rather than
    # bunching up, so that a pause shows as a gap in uptime_ms.
    next=$((next + 100))
    while [ "$next" -le "$now" ]; do next=$((next + 100)); done
    usleep $(( (next - now) * 1000 ))
done
