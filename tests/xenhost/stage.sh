#!/usr/bin/env bash
# stage.sh BUILD-DIR STAGE: what the Xen test host gets from a build.
#  - STAGE: `make install DESTDIR=STAGE` of BUILD-DIR (dom0's xmaint), plus
#    http-probe (tests/tools/), the client the workflow scenarios and the
#    demo measure a service with;
#  - STAGE.guest: the guests' ramdisk overlay: the static xmaint-agent with
#    the test applications of agent-overlay/ (a web server, a counter);
#  - for the HVM scenario (25-hvm-hide): xmaint's patched hvmloader as
#    STAGE/usr/lib/xmaint/hvmloader, built by hvmloader-patches/
#    build-hvmloader.sh from Debian's Xen source (fetched and built once,
#    cached under $XMAINT_CACHE/hvmloader), and xh-pcicfg (guest-tools/), a
#    static program that scenario puts into its guests' ramdisk, as
#    STAGE/usr/share/xenhost/guest-tools/xh-pcicfg;
#  - xh-rsh (host-tools/), the remote shell of two-host runs (xl migrate's
#    transport and xh_on), as STAGE/usr/local/bin/xh-rsh.
# Exit 1 with a message when something cannot be built; 77 when the
# hvmloader source cannot be fetched or its build tools are missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:?usage: stage.sh BUILD-DIR STAGE}
stage=${2:?usage: stage.sh BUILD-DIR STAGE}

if ! make -C "$build" install DESTDIR="$stage" >"$stage.log" 2>&1; then
	tail -n 40 "$stage.log"
	echo "stage.sh: make install DESTDIR=$stage failed in $build" >&2
	exit 1
fi
mkdir -p "$stage/usr/local/bin"
"${CC:-cc}" -O2 -static -s -o "$stage/usr/local/bin/http-probe" "$top/tests/tools/http-probe.c" || {
	echo "stage.sh: cannot build tests/tools/http-probe.c statically (libc6-dev)" >&2
	exit 1
}
"${CC:-cc}" -O2 -static -s -o "$stage/usr/local/bin/xh-rsh" "$here/host-tools/xh-rsh.c" || {
	echo "stage.sh: cannot build tests/xenhost/host-tools/xh-rsh.c statically (libc6-dev)" >&2
	exit 1
}
rc=0
"$top/hvmloader-patches/build-hvmloader.sh" -q --out "$stage/usr/lib/xmaint" || rc=$?
case $rc in
0) ;;
3 | 4) echo "stage.sh: the patched hvmloader cannot be built here (build-hvmloader.sh exit $rc)" >&2; exit 77 ;;
*) echo "stage.sh: build-hvmloader.sh failed (exit $rc)" >&2; exit 1 ;;
esac
mkdir -p "$stage/usr/share/xenhost/guest-tools"
"${CC:-cc}" -O2 -static -s -o "$stage/usr/share/xenhost/guest-tools/xh-pcicfg" "$here/guest-tools/xh-pcicfg.c" || {
	echo "stage.sh: cannot build tests/xenhost/guest-tools/xh-pcicfg.c statically (libc6-dev)" >&2
	exit 1
}
rm -rf "$stage.guest"
mkdir -p "$stage.guest/usr/sbin"
cp -a "$here/agent-overlay/." "$stage.guest/"
install -m 755 "$build/xmaint-agent/xmaint-agent" "$stage.guest/usr/sbin/xmaint-agent"
