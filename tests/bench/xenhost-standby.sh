# Benchmark (a Xen test host scenario, not run by make check):
#   hot-standby failover -- time from the active's kernel crash (sysrq c) to
#   the protected web application answering on the standby (the longest gap
#   a client asking every 10 ms sees), and the memory moved
#   per second (the standby's growth by the protected areas until xl reports
#   it reached) -- beside a cold start: `xl create` of a fresh domain with the
#   full memory until the same application answers, in the same run.
# Run: tests/xenhost/xenhost.sh run --stage STAGE --guest-overlay STAGE.guest \
#        --scenario tests/bench/xenhost-standby.sh    (stage: tests/xenhost/stage.sh)
# Prints "BENCH ..." lines on the console.
. /xh/lib.sh
ROUNDS=${XH_BENCH_ROUNDS:-3}
VIP=10.99.254.7
xh_logs /var/log/xmaintd.log

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

pkill -x xmaintd || true          # one an earlier scenario left running
sleep 1
rm -f /var/lib/xmaint/standby.json  # a fresh table for the measurement
xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file /var/log/xmaintd.log
fail=() cold=() rate=()
for r in $(seq 1 "$ROUNDS"); do
	a=ba$r s=bs$r
	xh_step "pair-$r" sh -c "true"
	xh_guest_create "$a" pv 256 "maxmem = 512" "vif = [ 'bridge=xenbr0' ]" >/dev/null
	xh_guest_create "$s" pv 256 "maxmem = 512" "vif = [ 'bridge=xenbr0' ]" >/dev/null
	xh_wait_for 60 agent_ready "$a"
	xh_wait_for 60 agent_ready "$s"
	xl-maint service remove web >/dev/null 2>&1
	xl-maint service add web "$VIP:80" "$a" >/dev/null
	xl-maint standby create "$a" "$s" --standby-min 128M --reserve 128M >/dev/null
	xh_wait_for 60 sh -c "xl-maint standby show --json | grep -q '\"name\":\"web\",\"kb\":[0-9]*,\"owner\":$(domid "$a")'"
	xh_wait_for 60 sh -c "[ \$(xl list $s | awk 'NR == 2 { print \$3 }') -le 132 ]"
	sid=$(domid "$s")
	mem0=$(xl list "$s" | awk 'NR == 2 { print $3 }')
	# a client asking every 10 ms from before the fault until the standby answers
	http-probe "$VIP" 80 --interval-ms 10 --timeout-ms 200 --until "d$sid" --out /tmp/fo.json &
	probe=$!
	sleep 1
	logl=$(wc -l </var/log/xmaintd.log)
	t0=$(now_ms)
	xh_guest_crash "$a"               # the active's kernel panics
	wait "$probe"
	t1=$(now_ms)
	echo "BENCH round $r: client: $(cat /tmp/fo.json)"
	tail -n +"$((logl + 1))" /var/log/xmaintd.log | grep -E "failed|started|target|service|sent" | sed 's/^/BENCH   /'
	until [ "$(xl list "$s" | awk 'NR == 2 { print $3 }')" -ge $((mem0 + 47)) ]; do sleep 0.05; done
	t2=$(now_ms)
	fail+=("$(sed -n 's/.*"longest_gap_ms":\([0-9]*\).*/\1/p' /tmp/fo.json)")
	rate+=("$(awk -v kb=$((48 * 1024)) -v ms=$((t2 - t0)) 'BEGIN { printf "%.1f", kb / 1024 / (ms / 1000) }')")
	echo "BENCH round $r: failover to an answer ${fail[-1]} ms; 48 MiB moved in $((t2 - t0)) ms (${rate[-1]} MiB/s)"
	xl destroy "$s"
	# the next round starts from an empty resource table (application names
	# are unique in the table, and this round's pair has failed over)
	pkill -x xmaintd || true
	sleep 1
	rm -f /var/lib/xmaint/standby.json
	xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file /var/log/xmaintd.log

	# cold start: a fresh domain with the full memory, until web answers
	c=bc$r
	t0=$(now_ms)
	xh_guest_start "$c" pv 304 "vif = [ 'bridge=xenbr0' ]" >/dev/null
	xh_wait_for 120 agent_ready "$c"
	cid=$(domid "$c")
	xl-maint service remove web >/dev/null 2>&1
	xl-maint service add web "$VIP:80" "$c" >/dev/null
	http-probe "$VIP" 80 --interval-ms 10 --timeout-ms 200 --until "d$cid" --out /tmp/cold.json
	t1=$(now_ms)
	cold+=("$((t1 - t0))")
	echo "BENCH round $r: cold start to an answer ${cold[-1]} ms"
	xl destroy "$c"
done
mf=$(median "${fail[@]}") mc=$(median "${cold[@]}")
echo "BENCH failover p50 $mf ms; cold start p50 $mc ms; ratio $(awk -v a="$mf" -v b="$mc" 'BEGIN { printf "%.3f", a / b }') (goal <= 0.1); memory moved p50 $(median "${rate[@]}") MiB/s"
