#!/bin/sh
# libmaint.so exports maint_* symbols only (and its version node), exactly
# the functions <maint/maint.h> declares, under the soname the libtool
# version in configure.ac gives (CURRENT - AGE).
set -u
lib="${top_builddir:-.}/libmaint/.libs/libmaint.so"
hdr="${top_srcdir:-.}/libmaint/include/maint/maint.h"
want_soname=libmaint.so.1
[ -e "$lib" ] || { echo "SKIP: $lib not built (static build?)"; exit 77; }
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//')
bad=$(printf '%s\n' "$syms" | grep -vE '^(maint_[a-z0-9_]+|LIBMAINT_[0-9.]+)$' || true)
count=$(printf '%s\n' "$syms" | grep -c '^maint_')
if [ -n "$bad" ]; then
    echo "FAIL: libmaint exports symbols outside maint_:"
    echo "$bad"
    exit 1
fi
[ "$count" -ge 20 ] || { echo "FAIL: only $count maint_ symbols exported"; exit 1; }
# the header's functions: a name followed by '(' at the start of a
# declaration (after its return type), never a typedef'd function type
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
sed '/^typedef/d' "$hdr" | sed -n 's/^[a-z].*[ *]\(maint_[a-z0-9_]*\)(.*/\1/p' | sort -u >"$tmp/declared"
printf '%s\n' "$syms" | grep '^maint_' | sort -u >"$tmp/exported"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
if [ -n "$missing" ]; then
    echo "FAIL: declared in maint.h but not exported:"
    echo "$missing"
    exit 1
fi
if [ -n "$extra" ]; then
    echo "FAIL: exported but not declared in maint.h:"
    echo "$extra"
    exit 1
fi
# every symbol in a node of this soname: LIBMAINT_1, or a later LIBMAINT_1.N
# for what was added since (maint_substitute_create_uuid: LIBMAINT_1.1)
nodes=$(objdump -T "$lib" | awk '$NF ~ /^maint_/ {print $(NF-1)}' | sort -u | tr '\n' ' ')
bad_nodes=$(printf '%s\n' $nodes | grep -vxE 'LIBMAINT_1(\.[0-9]+)?' || true)
[ -z "$bad_nodes" ] && case " $nodes" in *" LIBMAINT_1 "*) true ;; *) false ;; esac ||
    { echo "FAIL: version nodes '$nodes' (want LIBMAINT_1 and LIBMAINT_1.N)"; exit 1; }
[ "$(objdump -T "$lib" | awk '$NF == "maint_substitute_create_uuid" {print $(NF-1)}')" = LIBMAINT_1.1 ] ||
    { echo "FAIL: maint_substitute_create_uuid is not in LIBMAINT_1.1"; exit 1; }
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "$want_soname" ] || { echo "FAIL: soname is '$soname' (want $want_soname)"; exit 1; }
echo "PASS: $count maint_ symbols, all declared in maint.h and all of it exported, version nodes $nodes, soname $soname, nothing else exported"
