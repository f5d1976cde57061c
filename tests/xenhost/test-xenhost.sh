#!/usr/bin/env bash
# test-xenhost.sh - the automake test that boots a real Xen 4.17 host under
# QEMU, installs xmaint into its dom0 and runs tests/xenhost/scenarios/*.sh.
#
# Exit: 0 all scenarios passed, 1 a scenario failed, 77 skipped (reason
# printed), 99 hard error (the harness could not run).
#
# Where things are found:
#   source tree: top_srcdir if set, else two levels above this script
#   build tree:  abs_top_builddir, else top_builddir, else the nearest
#                directory at or above $PWD holding config.status
# Environment:
#   XMAINT_XENHOST=skip          skip (77)
#   XMAINT_REQUIRE_XENHOST=1     a missing tool or root is a hard error (99), not a skip
#   XMAINT_XENHOST_SCENARIOS     names to run (e.g. "00-boot 10-smoke"); default all
#   XMAINT_XENHOST_HOSTS         2: the two-host test bed (test-xenhost-2.sh):
#                                scenarios-2host/, and the harness's own
#                                clean-up checks (a failing scenario, Ctrl-C,
#                                a timeout: no QEMU may survive any of them)
#   XMAINT_XENHOST_LOG           console log path (default $PWD/xenhost-console.log,
#                                two hosts: xenhost2-console.log and ...-b.log)
#   and the xenhost.sh variables (README.md).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/../..}" && pwd)

skip() {
	if [ "${XMAINT_REQUIRE_XENHOST:-0}" = 1 ]; then
		echo "test-xenhost: ERROR: $* (XMAINT_REQUIRE_XENHOST=1)"
		exit 99
	fi
	echo "test-xenhost: SKIP: $*"
	exit 77
}
hard() {
	echo "test-xenhost: ERROR: $*"
	exit 99
}

if [ "${XMAINT_XENHOST:-}" = skip ]; then
	echo "test-xenhost: SKIP: XMAINT_XENHOST=skip"
	exit 77
fi

builddir=${abs_top_builddir:-${top_builddir:-}}
if [ -z "$builddir" ]; then
	d=$PWD
	while [ "$d" != / ] && [ ! -f "$d/config.status" ]; do d=$(dirname "$d"); done
	[ -f "$d/config.status" ] && builddir=$d
fi
[ -n "$builddir" ] && [ -d "$builddir" ] || hard "cannot find the build tree (set top_builddir or abs_top_builddir)"
builddir=$(cd "$builddir" && pwd)

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap and chroot build the host images)"
missing=()
for t in qemu-system-x86_64 debootstrap cpio dpkg-deb chroot flock make gzip; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] || skip "missing tools: ${missing[*]} (apt-get install $("$here/xenhost.sh" host-packages))"

hosts=${XMAINT_XENHOST_HOSTS:-1}
case "$hosts" in
1) sdir=$here/scenarios logname=xenhost-console.log ;;
2) sdir=$here/scenarios-2host logname=xenhost2-console.log ;;
*) hard "XMAINT_XENHOST_HOSTS must be 1 or 2" ;;
esac
scenarios=()
if [ -n "${XMAINT_XENHOST_SCENARIOS:-}" ]; then
	for n in $XMAINT_XENHOST_SCENARIOS; do
		case "$n" in
		*/*) f=$n ;;      # a path (e.g. a pending/ scenario)
		*) f=$sdir/${n%.sh}.sh ;;
		esac
		[ -f "$f" ] || hard "no scenario $f"
		scenarios+=(--scenario "$f")
	done
else
	for f in "$sdir"/*.sh; do
		[ -f "$f" ] && scenarios+=(--scenario "$f")
	done
fi
[ ${#scenarios[@]} -gt 0 ] || hard "no scenarios in $sdir"

echo "test-xenhost: building/checking the host images"
t0=$(date +%s)
"$here/xenhost.sh" build || hard "xenhost.sh build failed"
echo "test-xenhost: images ready after $(($(date +%s) - t0))s"

stage=$(mktemp -d -t xmaint-stage.XXXXXX) || hard "mktemp failed"
trap 'rm -rf -- "$stage" "$stage.log" "$stage.guest" "$stage.cleanup"' EXIT
# one staging at a time per build tree: test-xenhost.sh and test-xenhost-2.sh
# run side by side under make -j (their QEMUs wait for each other anyway),
# and two `make install`s in one build tree could relink the same files
mkdir -p "$builddir/tests/xenhost"
(flock 9 && "$here/stage.sh" "$builddir" "$stage") 9>"$builddir/tests/xenhost/.stage.lock"
case $? in
0) ;;
77) skip "the patched hvmloader cannot be built here (see above)" ;;
*) hard "staging the build failed" ;;
esac

guest_overlay=$stage.guest

# One test host at a time on this machine, for the whole test: xenhost.sh
# waits for another run by itself, but the clean-up checks below are runs of
# their own, and test-xenhost.sh must not let test-xenhost-2.sh's QEMUs in
# between them (the Ctrl-C check waits a bounded time for its hosts to boot).
if [ "${XMAINT_XENHOST_PARALLEL:-0}" != 1 ]; then
	cache=${XMAINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xmaint}/xenhost
	mkdir -p "$cache"
	exec 7>"$cache/run.lock"
	if ! flock -n 7; then
		echo "test-xenhost: another test host runs on this machine; waiting for it to end"
		flock 7
	fi
	export XMAINT_XENHOST_PARALLEL=1
fi

# survivors LOG: print the processes whose command line names LOG (the
# QEMUs of a run write their consoles there; so does the harness's tail);
# nothing when none is left (pgrep never lists itself)
survivors() { pgrep -af -- "$1"; }

# The harness's clean-up on its three other exit paths, two hosts each time:
# a scenario that fails at once, Ctrl-C once both hosts are up, the overall
# timeout.  Nothing the run started may be left in the process table.
cleanup_checks() {
	local d=$stage.cleanup clog rc pid i left
	mkdir -p "$d"
	printf '. /xh/lib.sh\nxh_step fails false\n' >"$d/fails.sh"
	printf '. /xh/lib.sh\nxh_step waits sleep 100000\n' >"$d/waits.sh"
	clog=$d/fail.log
	rc=0
	"$here/xenhost.sh" run --hosts 2 --stage "$stage" --scenario "$d/fails.sh" --log "$clog" -q --timeout 600 >"$d/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$d/out"; echo "test-xenhost: a failing scenario gave exit $rc, not 1"; return 1; }
	left=$(survivors "${clog%.log}")
	[ -z "$left" ] || { echo "test-xenhost: left running after a failed scenario:"; echo "$left"; return 1; }
	echo "test-xenhost: clean-up after a failed scenario: nothing left"
	clog=$d/int.log
	set -m # its own process group, where SIGINT is not ignored
	"$here/xenhost.sh" run --hosts 2 --stage "$stage" --scenario "$d/waits.sh" --log "$clog" -q --timeout 600 >"$d/out" 2>&1 &
	pid=$!
	set +m
	for ((i = 0; i < 300; i++)); do
		grep -q 'XH-BEGIN' "$clog" 2>/dev/null && break
		sleep 1
	done
	grep -q 'XH-BEGIN' "$clog" || { kill -TERM "$pid"; cat "$d/out"; echo "test-xenhost: the two hosts did not come up"; return 1; }
	kill -INT "$pid"
	rc=0
	wait "$pid" || rc=$?
	[ "$rc" = 130 ] || { cat "$d/out"; echo "test-xenhost: Ctrl-C gave exit $rc, not 130"; return 1; }
	left=$(survivors "${clog%.log}")
	[ -z "$left" ] || { echo "test-xenhost: left running after Ctrl-C:"; echo "$left"; return 1; }
	echo "test-xenhost: clean-up after Ctrl-C: nothing left"
	clog=$d/timeout.log
	rc=0
	"$here/xenhost.sh" run --hosts 2 --stage "$stage" --scenario "$d/waits.sh" --log "$clog" -q --timeout 45 >"$d/out" 2>&1 || rc=$?
	grep -q 'TIMEOUT' "$d/out" && [ "$rc" = 1 ] || { cat "$d/out"; echo "test-xenhost: a timeout gave exit $rc"; return 1; }
	left=$(survivors "${clog%.log}")
	[ -z "$left" ] || { echo "test-xenhost: left running after a timeout:"; echo "$left"; return 1; }
	echo "test-xenhost: clean-up after a timeout: nothing left"
}

log=${XMAINT_XENHOST_LOG:-$PWD/$logname}
"$here/xenhost.sh" run --hosts "$hosts" --stage "$stage" --guest-overlay "$guest_overlay" "${scenarios[@]}" --log "$log"
rc=$?
left=$(survivors "${log%.log}")
if [ -n "$left" ]; then
	echo "test-xenhost: FAIL: left running after the run:"
	echo "$left"
	exit 1
fi
case $rc in
0) ;;
1) echo "test-xenhost: FAIL (console log: $log$([ "$hosts" = 2 ] && echo " and ${log%.log}-b.log"))"; exit 1 ;;
*) hard "xenhost.sh run failed to run (exit $rc; console log: $log)" ;;
esac
if [ "$hosts" = 2 ]; then
	cleanup_checks || exit 1
fi
exit 0
