#!/bin/sh
# xsd-run.sh - run the real xenstored in user space for shell tests and
# benchmarks, like xsd_start()/xsd_stop() in xsd.c.
#
#   out=$(sh tests/xsd/xsd-run.sh start) || exit $?   # 77: no xenstored
#   eval "$out"; export XENSTORED_PATH
#   trap 'sh tests/xsd/xsd-run.sh stop "$XSD_DIR"' EXIT
#   ... xenstore-read -s /local ...  (-s: never fall back to the real xenbus)
#   sh tests/xsd/xsd-run.sh stop "$XSD_DIR"
#
# start prints two lines, XENSTORED_PATH=<dir>/socket and XSD_DIR=<dir>, for
# a fresh private directory under $TMPDIR; the daemon keeps running after
# this script exits, until "stop DIR" kills it and removes DIR (stopping
# twice is fine).  Domains: see xsd-preload.c for the shim's two controls in
# DIR (dead-domains, virq-dom-exc); xsd.c shows how to use them.
#
# Programs: $XENSTORED (set by "make check"), else xenstored in PATH; the
# preload library $XSD_PRELOAD, else the one under $top_builddir (set by
# "make check").  XSD_MAX_DOMID is passed on to the preload library.
# Exit status: 0, 77 when xenstored is missing, 1 on any other error.

set -u

die() { echo "xsd-run: $*" >&2; exit 1; }

nap() { sleep 0.01 2>/dev/null || sleep 1; }

# kill -0 also succeeds on a zombie nobody reaped yet: look at its state.
alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"
}

start() {
	xenstored=${XENSTORED:-$(command -v xenstored 2>/dev/null || :)}
	if [ -z "$xenstored" ] || [ ! -x "$xenstored" ]; then
		echo "xsd-run: no xenstored ('${xenstored}'): set XENSTORED" >&2
		exit 77
	fi
	preload=${XSD_PRELOAD:-}
	if [ -z "$preload" ] && [ -n "${top_builddir:-}" ]; then
		preload=$top_builddir/tests/xsd/.libs/libxsdpreload.so
	fi
	[ -n "$preload" ] || die "set XSD_PRELOAD or top_builddir"
	[ -r "$preload" ] || die "preload library $preload missing: build tests/xsd/libxsdpreload.la"
	case $preload in /*) ;; *) preload=$(pwd)/$preload ;; esac

	# -t: in $TMPDIR, else the system's temporary directory.
	dir=$(mktemp -d -t xsd.XXXXXX) || die "mktemp -d failed"
	case $dir in
	*[!A-Za-z0-9/._+,-]*) rm -rf "$dir"; die "unsafe characters in $dir: change TMPDIR" ;;
	esac

	XENSTORED_RUNDIR=$dir LD_PRELOAD=$preload \
		"$xenstored" -N -F "$dir/pid" </dev/null >"$dir/xenstored.log" 2>&1 &
	pid=$!

	# Ready when it answers a request on its own socket (-s: socket only).
	tries=0
	until XENSTORED_PATH=$dir/socket xenstore-exists -s / >/dev/null 2>&1; do
		if ! alive "$pid" || [ "$tries" -ge 1000 ]; then
			cat "$dir/xenstored.log" >&2
			kill -9 "$pid" 2>/dev/null
			rm -rf "$dir"
			die "xenstored did not start (log above)"
		fi
		tries=$((tries + 1))
		nap
	done
	echo "XENSTORED_PATH=$dir/socket"
	echo "XSD_DIR=$dir"
}

stop() {
	dir=${1:-${XSD_DIR:-}}
	[ -n "$dir" ] || die "usage: xsd-run.sh stop DIR"
	# Only ever remove a directory this script made.
	case ${dir##*/} in xsd.*) ;; *) die "$dir is not an xsd run directory" ;; esac
	[ -d "$dir" ] || return 0
	[ -f "$dir/xenstored.log" ] || die "$dir is not an xsd run directory"
	if [ -s "$dir/pid" ]; then
		pid=$(cat "$dir/pid")
		kill "$pid" 2>/dev/null
		tries=0
		while alive "$pid" && [ "$tries" -lt 200 ]; do
			tries=$((tries + 1))
			nap
		done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}

case ${1:-} in
start) start ;;
stop) shift; stop "$@" ;;
*) echo "usage: xsd-run.sh start | stop DIR" >&2; exit 1 ;;
esac
