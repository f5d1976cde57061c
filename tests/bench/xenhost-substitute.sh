# Benchmark (a Xen test host scenario, not run by make check):
#   time from `xl maint substitute` to the substitute reporting ready, beside
#   `xl create` of the same configuration by hand, in the same run.
# Run:  tests/xenhost/xenhost.sh run --stage STAGE --scenario tests/bench/xenhost-substitute.sh
# Prints "BENCH ..." lines on the console.
. /xh/lib.sh
ROUNDS=${XH_BENCH_ROUNDS:-3}

now() { cut -d' ' -f1 /proc/uptime; }

wait_marker() { # LOG
	until grep -aq XMAINT-GUEST-UP "$1" 2>/dev/null; do sleep 0.1; done
}

xh_step original xh_guest_create bo pv 128

manual=() tool=()
for r in $(seq 1 "$ROUNDS"); do
	# by hand: the original's xl.cfg under a new name
	sed "s/^name = .*/name = \"bm$r\"/; s/xh_name=bo/xh_name=bm$r/" /etc/xen/xh/bo.cfg >/tmp/bm$r.cfg
	rm -f /var/log/xen/console/guest-bm$r.log
	t0=$(now)
	xl create -q /tmp/bm$r.cfg
	wait_marker /var/log/xen/console/guest-bm$r.log
	t1=$(now)
	manual+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
	xl destroy bm$r

	t0=$(now)
	xl-maint substitute bo --name bs$r --ready XMAINT-GUEST-UP --timeout 300 >/dev/null 2>&1
	t1=$(now)
	tool+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
	xl destroy bs$r
	echo "BENCH round $r: xl create ${manual[-1]} s, xl maint substitute ${tool[-1]} s"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m=$(med "${manual[@]}") t=$(med "${tool[@]}")
echo "BENCH median: xl create + boot $m s; xl maint substitute to ready $t s; ratio $(awk -v a="$t" -v b="$m" 'BEGIN{printf "%.2f", a/b}') (goal <= 1.1)"
xh_step cleanup xh_guest_destroy bo
