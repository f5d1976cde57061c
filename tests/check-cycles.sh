#!/bin/sh
# No cycle between xmaintd's files: file A depends on file B when A calls a
# function B defines (an xmd_ name defined at the start of a line in B).
# The edges go to tsort, which names the files of any loop.  main.c, the
# top, and the files' own calls are left out.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/xmaintd
tmp=${TMPDIR:-/tmp}/check-cycles.$$
trap 'rm -f "$tmp".*' EXIT
# definitions: "name file"
for f in "$src"/*.c; do
	sed -n 's/^[a-z][a-zA-Z0-9_ *]*[ *]\(xmd_[a-z0-9_]*\)(.*[^;]$/\1/p' "$f" |
		sed "s|\$| $(basename "$f")|"
done | sort -u >"$tmp.defs"
# calls: "name file"
for f in "$src"/*.c; do
	grep -o 'xmd_[a-z0-9_]*(' "$f" | tr -d '(' | sort -u | sed "s|\$| $(basename "$f")|"
done >"$tmp.calls"
# edges "caller callee", never a file to itself, main.c not among them
awk 'NR == FNR { def[$1] = $2; next }
     ($1 in def) && def[$1] != $2 && $2 != "main.c" { print $2, def[$1] }' \
	"$tmp.defs" "$tmp.calls" | sort -u >"$tmp.edges"
if [ ! -s "$tmp.defs" ] || [ ! -s "$tmp.edges" ]; then
	echo "no definitions or no calls found under $src"
	exit 99
fi
echo "xmaintd's files, each before the files it calls:"
if ! tsort "$tmp.edges" 2>"$tmp.err" | sed 's/^/    /'; then
	:
fi
if [ -s "$tmp.err" ]; then
	echo "FAIL: a cycle between xmaintd's files:"
	sed 's/^/    /' "$tmp.err"
	echo "the edges (caller callee):"
	sed 's/^/    /' "$tmp.edges"
	exit 1
fi
echo "ok: no cycle ($(wc -l <"$tmp.edges") dependencies between $(ls "$src"/*.c | wc -l) files)"
