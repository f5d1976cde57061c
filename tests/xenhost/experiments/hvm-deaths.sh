# hvm-deaths: how often HVM guests die of TCG triple faults on the Xen test
# host, under the load of tests/xenhost/scenarios/45-hvm-workflow.sh: an HVM
# guest (qemu-xen, an e1000 and an rtl8139, tsc_mode native) serves a client
# every 50 ms while XH_PROBE_BOOTS (4) more HVM guests boot one after the
# other beside it.  XH_PROBE_CFG adds an xl.cfg line to every guest (e.g.
# 'cpus = "1"' to hold the vCPU on one physical CPU).  Not part of make
# check; run it by hand (tests/xenhost/README.md, "Staging by hand"):
#   XH_PROBE_CFG='cpus = "1"' XH_PROBE_BOOTS=5 XMAINT_XENHOST_TIMEOUT=2400 \
#     tests/xenhost/xenhost.sh run --stage STAGE --guest-overlay STAGE.guest \
#     --env XH_SCENARIO_TIMEOUT=2400 --scenario tests/xenhost/experiments/hvm-deaths.sh
# Each boot prints "XH-NOTE probe: NAME up in Ns" or "NAME DIED after Ns";
# the last line counts boots, deaths and Xen's "Triple fault" lines.
XH_STEP_TIMEOUT=3000
XH_HVM_GUEST_TIMEOUT=400
. /xh/lib.sh
LOG=/var/log/xmaintd.log
VIP=10.99.254.3
NICS='vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]'
N=${XH_PROBE_BOOTS:-4}
res() { echo "XH-NOTE probe: $*" >/dev/console; echo "probe: $*"; }
boot1() { # NAME -> 0 up, 1 died
	local t0=$(date +%s)
	XH_GUEST_RETRIES=0 xh_guest_create "$1" hvm 256 "$NICS" 'tsc_mode = "native"' ${XH_PROBE_CFG:+"$XH_PROBE_CFG"} && { res "$1 up in $(( $(date +%s) - t0 ))s"; return 0; }
	res "$1 DIED after $(( $(date +%s) - t0 ))s"; xl dmesg | grep -A3 'Triple fault' | tail -4; return 1
}
run() {
	xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file "$LOG"
	local deaths=0 boots=0 i
	until boot1 pa; do deaths=$((deaths+1)); boots=$((boots+1)); xl destroy pa 2>/dev/null; done
	boots=$((boots+1))
	xh_wait_for 120 agent_ready pa
	xh_wait_for 60 app_running pa web
	xl-maint service add web "$VIP:80" pa
	http-probe "$VIP" 80 --interval-ms 50 --timeout-ms 3000 --stop-file /run/hstop --out /run/hp.json &
	for i in $(seq 1 "$N"); do
		boots=$((boots+1))
		boot1 pb$i || deaths=$((deaths+1))
		sleep 10
		running pa && [ "$(xl list pa | awk 'NR==2{print $5}' | tr -d -)" != s ] || { res "pa died while pb$i booted"; deaths=$((deaths+1)); break; }
		xl destroy pb$i 2>/dev/null || true
	done
	touch /run/hstop; sleep 3; cat /run/hp.json
	res "boots=$boots deaths=$deaths triple=$(xl dmesg | grep -c 'Triple fault') xen-args=$(xl info | grep xen_commandline)"
}
xh_step run run
