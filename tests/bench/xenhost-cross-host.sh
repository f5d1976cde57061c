# Benchmark (a two-host test bed scenario, not run by make check):
#   the downtime a client sees while a PVH guest live-migrates between the
#   two hosts (xl migrate over xh-rsh on the link), beside `xl save` +
#   `xl restore` of the same guest on one host, in the same run; and the
#   time from the guest first seeing its new domain id on the destination
#   to it reading the destination's host identity (published by that host's
#   xmaintd).
# A client in dom0 A (http-probe, one request every 10 ms, 60 s timeout: a
# request that waits out the pause is the gap, not a failure) asks
# the guest's web server; the downtime figure is its longest gap between two
# answers during one move.
# Run: tests/xenhost/xenhost.sh run --hosts 2 --stage STAGE --guest-overlay STAGE.guest \
#        --scenario tests/bench/xenhost-cross-host.sh   (stage: tests/xenhost/stage.sh)
# Prints "BENCH ..." lines on host A's console.
# six moves of ~50 s each outlast lib.sh's default step timeout (300 s)
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-1200}
. /xh/lib.sh
ROUNDS=${XH_BENCH_ROUNDS:-6}
SR_ROUNDS=${XH_BENCH_SR_ROUNDS:-3}
LOG=/var/log/xmaintd.log
xh_logs "$LOG" "b:$LOG"
LEVEL='cpuid = [ "0x00000001:ecx=xxxxxxxxx0xxxxxxxxxxxxxxxxxxxxxx", "0x00000007,0:ebx=xxxxxxxxxxxx0xxxxxxxxxx0xxxx0xxx", "0x80000000:eax=10000000000000000000000000001010" ]'
G=bmig
IP=10.99.1.9

bench() { echo "BENCH $*" >/dev/console; }
gap() { sed -n 's/.*"longest_gap_ms":\([0-9.]*\).*/\1/p' "$1"; }
failed() { sed -n 's/.*"failed":\([0-9]*\).*/\1/p' "$1"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
start_xmaintd() { xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file "$1"; }
where() { if running "$G"; then echo a; else echo b; fi; }

# window NAME: ms from the guest's first XH-HOSTID line with its current
# domain id to the first one that also has this host's id (run there)
window() {
	local id d log
	id=$(xsr /local/domain/0/xmaint/host/id)
	d=$(domid "$1")
	log=$(xh_guest_console "$1")
	xh_wait_for 60 grep -q "domid=$d host-id=$id" "$log" || return 1
	grep XH-HOSTID "$log" | tr -d '\r' | awk -v d="domid=$d" -v want="host-id=$id" '
		index($0, d " ") { if (t1 == "") t1 = $2; if (index($0, want)) { print $2 - t1; exit } }'
}

probe_start() {
	rm -f /run/bench.stop /run/bench.json
	http-probe "$IP" 80 --interval-ms 10 --timeout-ms 60000 --stop-file /run/bench.stop \
		--out /run/bench.json </dev/null >/dev/null 2>&1 &
	sleep 2
}
probe_stop() {
	sleep 2
	touch /run/bench.stop
	xh_wait_for 30 test -s /run/bench.json
}

setup() {
	xh_on a start_xmaintd "$LOG"
	xh_on b start_xmaintd "$LOG"
	XH_GUEST_EXTRA="xh_ip=$IP xh_hostwatch" xh_guest_create "$G" pvh 128 'vif = [ "bridge=xenbr0" ]' "$LEVEL" 'cpus = "1"'
	xh_wait_for 60 agent_ready "$G"
	xh_wait_for 30 app_running "$G" web
}

moves() {
	local i from to t0 ms gaps=() walls=() wins=() w
	for ((i = 1; i <= ROUNDS; i++)); do
		from=$(where)
		if [ "$from" = a ]; then to=b; else to=a; fi
		probe_start
		t0=$(now_ms)
		xh_on "$from" xh_migrate "$G" "$to" >/tmp/bench-mig.out 2>&1 || { cat /tmp/bench-mig.out; return 1; }
		ms=$(($(now_ms) - t0))
		probe_stop
		w=$(xh_on "$to" window "$G") || { echo "no identity window on $to"; return 1; }
		gaps+=("$(gap /run/bench.json)")
		walls+=("$ms")
		wins+=("$w")
		bench "live-migration $from->$to round $i: client gap $(gap /run/bench.json) ms, failed $(failed /run/bench.json), xl migrate $ms ms, identity window $w ms"
	done
	echo "${gaps[*]}" >/tmp/bench-gaps
	echo "${walls[*]}" >/tmp/bench-walls
	echo "${wins[*]}" >/tmp/bench-wins
}

save_restore() {
	local i h f=/var/lib/xen/bench.save t0 ms gaps=()
	h=$(where)
	for ((i = 1; i <= SR_ROUNDS; i++)); do
		probe_start
		t0=$(now_ms)
		xh_on "$h" bash -c "xl save $G $f && xl restore $f && rm -f $f" >/tmp/bench-sr.out 2>&1 || { cat /tmp/bench-sr.out; return 1; }
		ms=$(($(now_ms) - t0))
		probe_stop
		gaps+=("$(gap /run/bench.json)")
		bench "save+restore on host $h round $i: client gap $(gap /run/bench.json) ms, xl save+restore $ms ms"
		xh_on "$h" xh_wait_for 60 agent_ready "$G"
	done
	echo "${gaps[*]}" >/tmp/bench-sr-gaps
}

report() {
	local live sr wall win
	live=$(median $(cat /tmp/bench-gaps))
	sr=$(median $(cat /tmp/bench-sr-gaps))
	wall=$(median $(cat /tmp/bench-walls))
	win=$(median $(cat /tmp/bench-wins))
	bench "live migration between hosts: client's longest gap p50 $live ms over $ROUNDS moves (xl migrate p50 $wall ms)"
	bench "xl save + xl restore on one host: client's longest gap p50 $sr ms over $SR_ROUNDS rounds"
	bench "ratio live/save+restore: $(awk -v a="$live" -v b="$sr" 'BEGIN { printf "%.3f", a / b }')"
	bench "identity window (new domid seen -> destination host id read in the guest): p50 $win ms; all: $(cat /tmp/bench-wins)"
}

xh_step setup setup
xh_step moves moves
xh_step save-restore save_restore
xh_step report report
