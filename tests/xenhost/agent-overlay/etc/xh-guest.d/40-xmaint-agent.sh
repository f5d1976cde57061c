# The xmaint guest agent in every test guest: an address derived from the
# domain id (10.99.D/256.D%256/16 on eth0; dom0 is 10.99.255.254 on xenbr0),
# then the agent in the background with the applications of /etc/xmaint/apps
# (and those of apps-extra that the kernel command line names: xh_apps=).
[ -x /usr/sbin/xmaint-agent ] || exit 0
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen 2>/dev/null
d=$(xmaint-agent --domid) || { echo "xh-agent: cannot read the domain id"; exit 0; }
echo "$d" >/etc/xh-domid
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
	ip addr add "10.99.$((d / 256)).$((d % 256))/16" dev eth0
	ip link set eth0 up
fi
mkdir -p /var/lib/counter /var/lib/ckpt /srv/www /var/log
# applications asked for on the kernel command line: xh_apps=NAME[,NAME]
for a in $(sed -n 's/.*xh_apps=\([^ ]*\).*/\1/p' /proc/cmdline | tr , ' '); do
	cp "/etc/xmaint/apps-extra/$a.conf" /etc/xmaint/apps/ || echo "xh-agent: no application $a"
done
xmaint-agent >/var/log/xmaint-agent.log 2>&1 &
echo "xh-agent: d$d agent started (pid $!)"
