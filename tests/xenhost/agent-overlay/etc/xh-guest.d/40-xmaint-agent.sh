# The xmaint guest agent in every test guest: an address derived from the
# domain id (10.99.D/256.D%256/16 on eth0; dom0 is 10.99.255.254 on xenbr0)
# or given on the kernel command line (xh_ip=A.B.C.D: two-host runs, where
# domain ids of the two hosts overlap and a guest keeps its address when it
# moves), then the agent in the background with the applications of
# /etc/xmaint/apps (and those of apps-extra that the kernel command line
# names: xh_apps=).  With xh_hostwatch on the command line, every change of
# the host identity the guest reads (xmaint-agent --host --follow) is
# printed on the console as "XH-HOSTID <guest monotonic ms> domid=..
# host-id=.. cpu-signature=..".
[ -x /usr/sbin/xmaint-agent ] || exit 0
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen 2>/dev/null
d=$(xmaint-agent --domid) || { echo "xh-agent: cannot read the domain id"; exit 0; }
echo "$d" >/etc/xh-domid
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
	ip=$(sed -n 's/.*xh_ip=\([0-9.]*\).*/\1/p' /proc/cmdline)
	ip addr add "${ip:-10.99.$((d / 256)).$((d % 256))}/16" dev eth0
	ip link set eth0 up
fi
mkdir -p /var/lib/counter /var/lib/ckpt /srv/www /var/log
# applications asked for on the kernel command line: xh_apps=NAME[,NAME]
for a in $(sed -n 's/.*xh_apps=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' '); do
	cp "/etc/xmaint/apps-extra/$a.conf" /etc/xmaint/apps/ || echo "xh-agent: no application $a"
done
if grep -q xh_hostwatch /proc/cmdline; then
	xmaint-agent --host --follow --interval 100 | while read -r l; do echo "XH-HOSTID $l"; done >/dev/console 2>&1 &
fi
xmaint-agent >/var/log/xmaint-agent.log 2>&1 &
echo "xh-agent: d$d agent started (pid $!)"
