#!/bin/bash
# /init of the xenhost dom0 (see README.md).  Brings up the Xen toolstack,
# runs every scenario listed in /xh/scenarios.list, prints XH-END, powers off.
# In a two-host run (xh_host=a|b on the kernel command line) both hosts put
# their link NIC into xenbr0 and serve xh-rsh; host a runs the scenarios and
# at its end tells host b to power off; host b only serves.
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
XH_HOST=a XH_HOSTS=a
for a in $(cat /proc/cmdline); do
	case "$a" in xh_host=[ab]) XH_HOST=${a#xh_host=} XH_HOSTS="a b" ;; esac
done
export XH_HOST XH_HOSTS
# every dom0 program (scenarios, xh-rsh's commands) sees the role
printf 'export XH_HOST=%s XH_HOSTS="%s"\n' "$XH_HOST" "$XH_HOSTS" >>/xh/env
if [ "$XH_HOSTS" = a ]; then hostname dom0; else hostname "dom0-$XH_HOST"; fi

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
	# unless told otherwise; dom0 is 10.99.255.254 (host b: .253)
	if [ "$XH_HOST" = b ]; then
		ip addr add 10.99.255.253/16 dev xenbr0
	else
		ip addr add 10.99.255.254/16 dev xenbr0
	fi
	echo 1 >/proc/sys/net/ipv4/ip_forward
else
	echo "xenhost: no bridge xenbr0 (bridge module missing?)"
fi

if [ "$XH_HOSTS" != a ]; then
	# the link to the other host: its NIC is a port of xenbr0, so guests keep
	# their addresses when they move and reach both dom0s
	modprobe -q e1000 || die_boot "modprobe e1000 failed"
	nic=""
	for _ in $(seq 1 50); do
		for n in /sys/class/net/*; do
			[ "$(basename "$(readlink -f "$n/device/driver" 2>/dev/null)")" = e1000 ] && nic=${n##*/}
		done
		[ -n "$nic" ] && break
		sleep 0.2
	done
	[ -n "$nic" ] || die_boot "no e1000 NIC for the link between the hosts"
	ip link set "$nic" master xenbr0 && ip link set "$nic" up || die_boot "cannot bridge $nic"
	command -v xh-rsh >/dev/null || die_boot "no xh-rsh in dom0 (stage.sh builds it)"
	(setsid xh-rsh -l 7000 </dev/null >/var/log/xh-rsh.log 2>&1 &)
fi

echo "XH-HOST READY $(uptime_s)s dom0${XH_HOST:+ $XH_HOST} $(xl info 2>/dev/null | awk '/^xen_version/ {print $3}')"

if [ "$XH_HOST" = b ]; then
	# host b serves host a's commands until a says it is done
	while [ ! -e /run/xh-end ]; do sleep 1; done
	echo "XH-END $(uptime_s)s"
	sync
	poweroff -f
	sleep 60
fi
if [ "$XH_HOSTS" != a ]; then
	peer_ok=0
	for _ in $(seq 1 600); do
		xh-rsh 10.99.255.253 true 2>/dev/null && { peer_ok=1; break; }
		sleep 0.5
	done
	[ "$peer_ok" = 1 ] || die_boot "host b does not answer on the link (xh-rsh 10.99.255.253)"
	echo "XH-HOST PEER b answers after $(uptime_s)s"
fi

# Destroy every domU, so one scenario's leftovers never reach the next.
destroy_all_domus() {
	local d
	for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do
		echo "xenhost: destroying leftover domain $d"
		xl destroy "$d" >/dev/null 2>&1
	done
	# and the other host's (a scenario that moved guests there)
	[ "$XH_HOSTS" != a ] && [ "$XH_HOST" = a ] &&
		xh-rsh 10.99.255.253 "$(declare -f destroy_all_domus); XH_HOSTS=a destroy_all_domus" 2>&1
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
[ "$XH_HOSTS" != a ] && xh-rsh 10.99.255.253 'touch /run/xh-end' >/dev/null 2>&1
echo "XH-END $(uptime_s)s"
sync
poweroff -f
sleep 60
