#!/bin/sh
# /init of the xenhost test guest (busybox).  Loads the frontend modules,
# runs the hooks in /etc/xh-guest.d, prints "XMAINT-GUEST-UP <name>" on the
# console and then serves xh_guest_exec requests read from the console.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/usr/local/lib:/usr/local/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/usr/lib
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /run /var/log
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
name=
for a in $(cat /proc/cmdline); do
	case "$a" in
	xh_name=*) name=${a#xh_name=} ;;
	esac
done
[ -n "$name" ] || name=guest
hostname "$name"
exec </dev/console >/dev/console 2>&1
dmesg -n 1 2>/dev/null
stty -echo 2>/dev/null

if [ -f /etc/xh-modules ]; then
	while read -r m; do insmod "$m" 2>/dev/null; done </etc/xh-modules
fi
for h in /etc/xh-guest.d/*; do
	[ -f "$h" ] || continue
	sh "$h" || echo "xh-guest: hook $h failed ($?)"
done

# `xl shutdown`: the kernel runs poweroff, which signals PID 1 (busybox's
# convention); this init then stops its processes and powers off.
trap 'echo "xh-guest: shutting down"; kill -TERM -1 2>/dev/null; sync; poweroff -f' USR2 TERM

echo "XMAINT-GUEST-UP $name"

# Requests arrive as one line: "XHX <id> <base64 of a shell script>".
while :; do
	while read -r tag id b64; do
		[ "$tag" = XHX ] || continue
		echo "$b64" | base64 -d >/tmp/xhx.sh 2>/dev/null
		echo "XH-GX-$id-BEGIN"
		sh /tmp/xhx.sh </dev/null 2>&1
		echo "XH-GX-$id-RC=$?"
	done
	sleep 1
done
