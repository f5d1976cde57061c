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
#   XMAINT_XENHOST_LOG           console log path (default $PWD/xenhost-console.log)
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

scenarios=()
if [ -n "${XMAINT_XENHOST_SCENARIOS:-}" ]; then
	for n in $XMAINT_XENHOST_SCENARIOS; do
		case "$n" in
		*/*) f=$n ;;      # a path (e.g. a pending/ scenario)
		*) f=$here/scenarios/${n%.sh}.sh ;;
		esac
		[ -f "$f" ] || hard "no scenario $f"
		scenarios+=(--scenario "$f")
	done
else
	for f in "$here"/scenarios/*.sh; do
		[ -f "$f" ] && scenarios+=(--scenario "$f")
	done
fi
[ ${#scenarios[@]} -gt 0 ] || hard "no scenarios in $here/scenarios"

echo "test-xenhost: building/checking the host images"
t0=$(date +%s)
"$here/xenhost.sh" build || hard "xenhost.sh build failed"
echo "test-xenhost: images ready after $(($(date +%s) - t0))s"

stage=$(mktemp -d -t xmaint-stage.XXXXXX) || hard "mktemp failed"
trap 'rm -rf -- "$stage" "$stage.log" "$stage.guest"' EXIT
"$here/stage.sh" "$builddir" "$stage"
case $? in
0) ;;
77) skip "the patched hvmloader cannot be built here (see above)" ;;
*) hard "staging the build failed" ;;
esac

guest_overlay=$stage.guest

log=${XMAINT_XENHOST_LOG:-$PWD/xenhost-console.log}
"$here/xenhost.sh" run --stage "$stage" --guest-overlay "$guest_overlay" "${scenarios[@]}" --log "$log"
rc=$?
case $rc in
0) exit 0 ;;
1) echo "test-xenhost: FAIL (console log: $log)"; exit 1 ;;
*) hard "xenhost.sh run failed to run (exit $rc; console log: $log)" ;;
esac
