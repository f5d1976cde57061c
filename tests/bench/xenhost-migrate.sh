# Benchmark (a Xen test host scenario, not run by make check):
#   how long an application is unavailable while it moves to a substitute,
#   per migration mode, beside the downtime of `xl save` + `xl restore` of
#   the same domain, measured in the same run.
#   - redirect: the web server (port 80), a second instance takes the stream;
#   - state:    kv (port 8080), stopped, its state copied, started again;
#   - checkpoint: ckpt (a counter in a shell's memory), dumped by criu, its
#     images copied, restored;
#   - save+restore: the whole domain saved to a file and restored.
# A client (http-probe, one request every 10 ms, 3 s timeout) asks each
# service address; the figure is its longest gap between two answers.  ckpt
# serves nothing: its figure is the time from its agent reporting it
# "stopping" in the old domain (the dump freezes it) to "running" in the new
# one, xenstore polled from dom0 every ~20 ms.
# Run: tests/xenhost/xenhost.sh run --stage STAGE --guest-overlay STAGE.guest \
#        --scenario tests/bench/xenhost-migrate.sh     (stage: tests/xenhost/stage.sh)
# Prints "BENCH ..." lines on the console.
. /xh/lib.sh
ROUNDS=${XH_BENCH_ROUNDS:-3}
VIP_WEB=10.99.254.1
VIP_KV=10.99.254.2
xh_logs /var/log/xmaintd.log

gap() { sed -n 's/.*"longest_gap_ms":\([0-9.]*\).*/\1/p' "$1"; }
failed() { sed -n 's/.*"failed":\([0-9]*\).*/\1/p' "$1"; }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
p99() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.99); print v[i < 1 ? 1 : i] }'; }

probe() { # VIP PORT OUT
	http-probe "$1" "$2" --interval-ms 10 --timeout-ms 3000 --stop-file /run/bench.stop --out "$3" &
}

# ck_watch OLD-DOMID NEW-NAME OUT: ms from ckpt leaving "running" in the old
# domain to "running" in the new one
ck_watch() {
	local t0="" nd=""
	while [ ! -e /run/bench.stop ]; do
		[ -n "$nd" ] || nd=$(domid "$2")
		if [ -z "$t0" ] && [ "$(xsr "/local/domain/$1/xmaint/agent/apps/ckpt/status")" != running ]; then
			t0=$(now_ms)
		fi
		if [ -n "$t0" ] && [ -n "$nd" ] &&
			[ "$(xsr "/local/domain/$nd/xmaint/agent/apps/ckpt/status")" = running ]; then
			echo $(($(now_ms) - t0)) >"$3"
			return
		fi
		sleep 0.02
	done
}

setup() {
	mkdir -p /var/tmp                 # where xl save writes
	pkill -x xmaintd || true          # one an earlier scenario left running
	sleep 1
	xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file /var/log/xmaintd.log
	xl-maint service remove web >/dev/null 2>&1 || true
	xl-maint service remove kv >/dev/null 2>&1 || true
	XH_GUEST_EXTRA="xh_apps=ckpt" xh_guest_create bm pv 256 "vif = [ 'bridge=xenbr0' ]"
	xh_wait_for 60 agent_ready bm
	sleep 3
	xl-maint service add web "$VIP_WEB:80" bm
	xl-maint service add kv "$VIP_KV:8080" bm
}

web=() kv=() ck=() sr=() cur=bm
for r in $(seq 1 "$ROUNDS"); do
	[ "$r" = 1 ] && xh_step setup setup
	next=bm$r
	rm -f /run/bench.stop /run/web.json /run/kv.json /run/ck.ms
	probe "$VIP_WEB" 80 /run/web.json
	probe "$VIP_KV" 8080 /run/kv.json
	ck_watch "$(domid "$cur")" "$next" /run/ck.ms &
	sleep 2
	xh_step "move-$r" xl-maint os-patch "$cur" --name "$next" --patch true --drain 500 --timeout 600
	sleep 2
	touch /run/bench.stop
	wait
	cat /run/web.json /run/kv.json
	web+=("$(gap /run/web.json)")
	kv+=("$(gap /run/kv.json)")
	ck+=("$(cat /run/ck.ms)")
	echo "BENCH round $r: redirect gap ${web[-1]} ms (failed $(failed /run/web.json)), state gap ${kv[-1]} ms (failed $(failed /run/kv.json)), checkpoint ${ck[-1]} ms"
	cur=$next

	# the same domain saved and restored, the same client on the same address
	rm -f /run/bench.stop /run/sr.json
	probe "$VIP_WEB" 80 /run/sr.json
	sleep 2
	xh_step "save-restore-$r" sh -c "xl save $cur /var/tmp/bm.save && xl restore /var/tmp/bm.save && rm -f /var/tmp/bm.save"
	xh_wait_for 30 sh -c "grep -q . /dev/null; http-probe $VIP_WEB 80 --duration-s 1 | grep -q '\"ok\":[1-9]'"
	sleep 1
	touch /run/bench.stop
	wait
	cat /run/sr.json
	sr+=("$(gap /run/sr.json)")
	echo "BENCH round $r: xl save + xl restore gap ${sr[-1]} ms"
	# the restored domain's agent republishes nothing for its new domid yet:
	# give the next round a fresh original (the address stays, from the guest)
	xh_wait_for 60 agent_ready "$cur" || true
done
mw=$(median "${web[@]}") mk=$(median "${kv[@]}") ms=$(median "${sr[@]}")
echo "BENCH redirect gap: p50 $mw ms, p99 $(p99 "${web[@]}") ms"
echo "BENCH state gap: p50 $mk ms, p99 $(p99 "${kv[@]}") ms"
echo "BENCH checkpoint (not running): p50 $(median "${ck[@]}") ms, p99 $(p99 "${ck[@]}") ms"
echo "BENCH save+restore gap: p50 $ms ms, p99 $(p99 "${sr[@]}") ms"
echo "BENCH ratio redirect/save+restore $(awk -v a="$mw" -v b="$ms" 'BEGIN{printf "%.3f", a/b}') (goal <= 0.1); state/save+restore $(awk -v a="$mk" -v b="$ms" 'BEGIN{printf "%.3f", a/b}'); checkpoint/save+restore $(awk -v a="$(median "${ck[@]}")" -v b="$ms" 'BEGIN{printf "%.3f", a/b}')"
