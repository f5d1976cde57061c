#!/bin/bash
# /init of the xenhost dom0 (see README.md).  Brings up the Xen toolstack,
# runs every scenario listed in /xh/scenarios.list, prints XH-END, powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/usr/local/lib:/usr/local/lib/x86_64-linux-gnu:/usr/local/lib64:/usr/lib/x86_64-linux-gnu:/usr/lib:/usr/lib64
export HOME=/root TERM=${TERM:-linux}
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run/lock /run/xen /run/xenstored /var/log/xen/console /var/lib/xen /var/lib/xenstored
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
exec </dev/console >/dev/console 2>&1
dmesg -n 3 2>/dev/null

uptime_s() { cut -d' ' -f1 /proc/uptime; }

die_boot() {
	echo "XH-HOST FAIL $*"
	echo "XH-END"
	sync
	poweroff -f
	sleep 60
}

[ -f /xh/env ] && . /xh/env
hostname dom0

for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback tun bridge loop; do
	modprobe -q "$m" || echo "xenhost: modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || die_boot "cannot mount xenfs"
grep -q control_d /proc/xen/capabilities 2>/dev/null || die_boot "not running as Xen dom0"

xenstored --pid-file=/run/xenstored.pid || die_boot "xenstored did not start"
for _ in $(seq 1 100); do xenstore-list / >/dev/null 2>&1 && break; sleep 0.1; done
xenstore-list / >/dev/null 2>&1 || die_boot "xenstored does not answer"
xen-init-dom0 >/var/log/xen/xen-init-dom0.log 2>&1 || die_boot "xen-init-dom0 failed: $(cat /var/log/xen/xen-init-dom0.log)"
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
	die_boot "xenconsoled did not start"

ip link set lo up
if ip link add xenbr0 type bridge 2>/dev/null; then
	ip link set xenbr0 up
	# the guests' network: each guest takes 10.99.D/256.D%256 (its domid)
	ip addr add 10.99.255.254/16 dev xenbr0
	echo 1 >/proc/sys/net/ipv4/ip_forward
else
	echo "xenhost: no bridge xenbr0 (bridge module missing?)"
fi

echo "XH-HOST READY $(uptime_s)s dom0 $(xl info 2>/dev/null | awk '/^xen_version/ {print $3}')"

# Destroy every domU, so one scenario's leftovers never reach the next.
destroy_all_domus() {
	local d
	for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do
		echo "xenhost: destroying leftover domain $d"
		xl destroy "$d" >/dev/null 2>&1
	done
}

while read -r name; do
	[ -n "$name" ] || continue
	echo "XH-BEGIN $name"
	t0=$(uptime_s)
	rm -f "/tmp/xh-failed-$name"
	(cd /tmp && XH_SCENARIO=$name timeout -s KILL "${XH_SCENARIO_TIMEOUT:-600}" bash "/xh/scenarios/$name.sh" </dev/null)
	rc=$?
	t1=$(uptime_s)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ] && [ ! -e "/tmp/xh-failed-$name" ]; then
		echo "XH-SCENARIO $name PASS (${secs}s)"
	else
		[ "$rc" = 137 ] && echo "xenhost: scenario $name killed after ${XH_SCENARIO_TIMEOUT:-600}s"
		echo "XH-SCENARIO $name FAIL (exit $rc, ${secs}s)"
	fi
	destroy_all_domus
done </xh/scenarios.list

if [ "${XH_INTERACTIVE:-0}" = 1 ]; then
	echo "xenhost: interactive dom0 shell; 'poweroff -f' ends the session"
	setsid bash -c 'exec bash -i </dev/hvc0 >/dev/hvc0 2>&1'
fi
echo "XH-END $(uptime_s)s"
sync
poweroff -f
sleep 60
