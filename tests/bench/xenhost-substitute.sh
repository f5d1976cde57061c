# Benchmark (a Xen test host scenario, not run by make check):
#   time from `xl maint substitute` to the substitute reporting ready, beside
#   `xl create` of the same configuration by hand, in the same run.
# Run:  tests/xenhost/xenhost.sh run --stage STAGE --scenario tests/bench/xenhost-substitute.sh
#       [--env XH_BENCH_ROUNDS=N] [--env XH_BENCH_TYPE=hvm]
# XH_BENCH_TYPE: pv (default: a PV guest, 128 MiB) or hvm (an HVM guest with
# an e1000 and an rtl8139, the substitute hiding the rtl8139 with the patched
# hvmloader and the PCI-hole shim, as in scenarios/25-hvm-hide.sh; needs the
# staging of README.md, "Staging by hand").
# Prints "BENCH ..." lines on the console.  A round whose guest dies while
# booting (TCG triple faults, PVH/HVM) is reported and left out.  The two
# runs of a round alternate in order, and each starts only once the domain
# before it is gone and Xen's free memory has settled (freeing a domain's
# memory under TCG takes seconds and slows a creation beside it).
. /xh/lib.sh
ROUNDS=${XH_BENCH_ROUNDS:-3}
TYPE=${XH_BENCH_TYPE:-pv}
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-600}

now() { cut -d' ' -f1 /proc/uptime; }
log_of() { # NAME: its console log
	if [ "$TYPE" = hvm ]; then echo "/var/log/xen/console/$1.serial"; else echo "/var/log/xen/console/guest-$1.log"; fi
}

# wait_marker NAME: until its console shows the marker; 1 if it dies first
wait_marker() {
	local log n=0
	log=$(log_of "$1")
	until grep -aq XMAINT-GUEST-UP "$log" 2>/dev/null; do
		n=$((n + 1))
		if [ $((n % 20)) = 0 ] && ! xl domid "$1" >/dev/null 2>&1; then return 1; fi
		sleep 0.1
	done
}

# settle NAME: NAME gone, and Xen's free memory unchanged for 2 s (30 s at most)
settle() {
	local a b n=0
	xh_wait_for 60 bash -c "! xl domid $1"
	a=$(xl info | awk '/^free_memory/ { print $3 }')
	while [ $n -lt 15 ]; do
		sleep 2
		b=$(xl info | awk '/^free_memory/ { print $3 }')
		[ "$a" = "$b" ] && return 0
		a=$b n=$((n + 1))
	done
}

# by_hand R: xl create of the original's xl.cfg under a new name (and its
# own serial file) until the marker; appends to manual[]
by_hand() {
	local r=$1 t0 t1
	sed "s/^name = .*/name = \"bm$r\"/; s/xh_name=bo/xh_name=bm$r/; s#/bo\.serial#/bm$r.serial#" \
		/etc/xen/xh/bo.cfg >/tmp/bm$r.cfg
	rm -f "$(log_of bm$r)"
	t0=$(now)
	xl create -q /tmp/bm$r.cfg
	if wait_marker bm$r; then
		t1=$(now)
		manual+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
		m=${manual[-1]}
	else
		m="(died while booting, left out)"
	fi
	xl destroy bm$r 2>/dev/null || true
	settle bm$r
}

# with_tool R: xl maint substitute of the running original until ready
with_tool() {
	local r=$1 t0 t1
	t0=$(now)
	if xl-maint substitute bo --name bs$r "${SUBOPTS[@]}" --ready XMAINT-GUEST-UP \
		--timeout 400 >/tmp/bs$r.out 2>&1; then
		t1=$(now)
		tool+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
		t=${tool[-1]}
		xl destroy bs$r
	else
		t="(failed, left out: $(tail -n 2 /tmp/bs$r.out | tr '\n' ' '))"
	fi
	settle bs$r
}

case "$TYPE" in
pv)
	xh_step original xh_guest_create bo pv 128
	SUBOPTS=()
	;;
hvm)
	xh_step original xh_guest_create bo hvm 256 \
		'vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]' 'tsc_mode = "native"'
	SUBOPTS=(--hide-pci 00:05.0 --firmware /usr/lib/xmaint/hvmloader)
	;;
*) echo "XH_BENCH_TYPE must be pv or hvm"; exit 1 ;;
esac

manual=() tool=()
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then by_hand "$r"; with_tool "$r"; else with_tool "$r"; by_hand "$r"; fi
	echo "BENCH round $r ($TYPE): xl create $m s, xl maint substitute $t s"
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
if [ ${#manual[@]} -gt 0 ] && [ ${#tool[@]} -gt 0 ]; then
	m=$(med "${manual[@]}") t=$(med "${tool[@]}")
	echo "BENCH median ($TYPE, ${#manual[@]}/${#tool[@]} rounds): xl create + boot $m s; xl maint substitute to ready $t s; ratio $(awk -v a="$t" -v b="$m" 'BEGIN{printf "%.2f", a/b}') (goal <= 1.1)"
else
	echo "BENCH median ($TYPE): no complete rounds"
fi
xh_step cleanup xh_guest_destroy bo
