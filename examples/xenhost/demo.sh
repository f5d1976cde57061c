# The main job on the bundled Xen test host (run in dom0 by run-demo.sh):
# a guest serves HTTP while a client in dom0 keeps asking for it; the guest's
# second network interface is taken away with `xl maint hw-remove` -- a
# substitute without it boots, the applications move across (the web server
# by redirecting the request stream, a counter with its state), the original
# is shut down -- and the client's failed requests and longest gap between
# answers are printed at the end.
. /xh/lib.sh
xh_logs /var/log/xmaintd.log
export XH_VERBOSE=1
VIP=10.99.254.1

show() { echo "\$ $*"; "$@"; }
agent_ready() { [ "$(xenstore-read "/local/domain/$(xl domid web1)/xmaint/agent/state")" = ready ]; }

boot() {
	xh_guest_create web1 pv 256 "vif = [ 'bridge=xenbr0', 'bridge=xenbr0' ]"
	xh_wait_for 60 agent_ready
	xh_guest_exec web1 'ls -1 /sys/class/net; cat /etc/xmaint/apps/*.conf'
}

load_start() {
	rm -f /run/demo.stop /run/demo.json
	http-probe "$VIP" 80 --interval-ms 20 --timeout-ms 3000 --stop-file /run/demo.stop \
		--out /run/demo.json >/dev/null 2>&1 &
	sleep 2
	echo "client started: GET http://$VIP/ every 20 ms"
}

summary() {
	touch /run/demo.stop
	xh_wait_for 20 test -s /run/demo.json
	cat /run/demo.json
	awk -F'[:,{}]' '{
		for (i = 1; i < NF; i++) { k = $i; gsub(/"/, "", k); v[k] = $(i + 1) }
		printf "\nclient: %d requests, %d failed, longest gap between answers %.0f ms\n",
			v["requests"], v["failed"], v["longest_gap_ms"] }' /run/demo.json
	grep -q '"failed":0,' /run/demo.json
}

xh_step start-xmaintd xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file /var/log/xmaintd.log
xh_step boot-guest boot
xh_step service show xl-maint service add web "$VIP:80" web1
xh_step status show xl-maint status
xh_step client load_start
xh_step hw-remove show xl-maint hw-remove web1 --remove vif:1
xh_step result summary
xh_step after show sh -c 'xl list; xl-maint service list; xl-maint workflow list'
xh_step substitute-nics show xh_guest_exec web1-sub 'ls -1 /sys/class/net; tail -n 3 /var/lib/counter/log'
xh_step daemon-log show tail -n 30 /var/log/xmaintd.log
