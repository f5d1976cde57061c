#!/bin/sh
# libmaint.so exports maint_* symbols only (and its version node).
set -u
lib="${top_builddir:-.}/libmaint/.libs/libmaint.so"
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
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
[ "$soname" = "libmaint.so.0" ] || { echo "FAIL: soname is '$soname'"; exit 1; }
echo "PASS: $count maint_ symbols, soname $soname, nothing else exported"
