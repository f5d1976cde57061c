#!/bin/sh
# examples/os-patch.c builds as a toolstack builds it: against an installed
# libmaint (the library, <maint/maint.h> and libmaint.pc staged under a
# temporary DESTDIR), with nothing but `pkg-config libmaint`; and it runs
# (its usage error) against that staged library.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
[ -e "$b/libmaint/.libs/libmaint.so" ] || { echo "SKIP: no shared libmaint (static build?)"; exit 77; }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
${MAKE:-make} -s -C "$b" DESTDIR="$tmp/root" install-libLTLIBRARIES \
	install-maintincludeHEADERS install-pkgconfigDATA >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; echo "FAIL: staging libmaint"; exit 99; }
pc=$(find "$tmp/root" -name libmaint.pc | head -n1)
[ -n "$pc" ] || { echo "FAIL: libmaint.pc not staged"; exit 1; }
export PKG_CONFIG_PATH="${pc%/*}" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
flags=$(pkg-config --cflags --libs libmaint) || { echo "FAIL: pkg-config libmaint"; exit 1; }
libdir=${pc%/pkgconfig/*}           # the staged library directory
# a sanitizer build's libmaint needs its runtime first in the program
san=
objdump -p "$b/libmaint/.libs/libmaint.so" | grep -q 'NEEDED.*libasan' &&
	san="-fsanitize=address,undefined"
# the example must need nothing but what pkg-config says
if ! ${CC:-cc} -Wall -Werror $san -o "$tmp/os-patch" "$s/examples/os-patch.c" $flags \
	-Wl,-rpath-link,"$libdir" >"$tmp/cc.log" 2>&1; then
	cat "$tmp/cc.log"
	echo "FAIL: examples/os-patch.c does not build with pkg-config libmaint ($flags)"
	exit 1
fi
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/os-patch" 2>&1)
rc=$?
if [ "$rc" != 2 ] || ! printf '%s' "$out" | grep -q "usage:"; then
	echo "FAIL: the staged example did not run (exit $rc): $out"
	exit 1
fi
echo "PASS: examples/os-patch.c built with: pkg-config --cflags --libs libmaint ($flags), runs"
