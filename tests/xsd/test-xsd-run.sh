#!/bin/sh
# test-xsd-run.sh - xsd-run.sh starts a working xenstored and stops it.
# Run by "make check" (top_srcdir, top_builddir, XENSTORED in the environment).

set -u
helper=${top_srcdir:-$(dirname "$0")/../..}/tests/xsd/xsd-run.sh

command -v xenstore-read >/dev/null 2>&1 || {
	echo "SKIP: xenstore-read (Debian package xenstore-utils) is not installed"
	exit 77
}
out=$(sh "$helper" start) || { [ $? = 77 ] && exit 77; exit 99; }
eval "$out"
export XENSTORED_PATH
trap 'sh "$helper" stop "$XSD_DIR"' EXIT
fail=0
dead() {
	[ ! -r "/proc/$1/stat" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"
}
check() {
	if "$@"; then echo "ok: $*"; else echo "FAILED: $*"; fail=1; fi
}

check test -S "$XENSTORED_PATH"
check test "$XENSTORED_PATH" = "$XSD_DIR/socket"
check xenstore-write -s /test/shell hello
check test "$(xenstore-read -s /test/shell)" = hello
pid=$(cat "$XSD_DIR/pid")
check kill -0 "$pid"

sh "$helper" stop "$XSD_DIR"
check test ! -e "$XSD_DIR"
check dead "$pid"
check sh "$helper" stop "$XSD_DIR"            # idempotent

[ "$fail" = 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit "$fail"
