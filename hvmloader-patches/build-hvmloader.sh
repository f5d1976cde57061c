#!/bin/bash
# build-hvmloader.sh - build Xen 4.17's hvmloader with xmaint's patch series.
#
# Fetches the Xen source package from Debian's source archive (apt-get source,
# with a private apt configuration that reuses this machine's own Debian
# archive entry; nothing of the machine's apt setup is changed), applies
# hvmloader-patches/0*.patch, builds tools/firmware/hvmloader alone and
# installs the result.  Everything is cached; the build is redone only when
# a patch or this script changes.
#
#   build-hvmloader.sh --out DIR     build (if needed), install DIR/hvmloader
#   build-hvmloader.sh --print-tree  build (if needed), print the build tree
#   build-hvmloader.sh --print-source  fetch (if needed), print the unpatched
#                                      source tree
#   build-hvmloader.sh --print-deps  print the Debian packages it needs
#
# Options: --cache DIR (default $XMAINT_CACHE/hvmloader, XMAINT_CACHE being
# ${XDG_CACHE_HOME:-$HOME/.cache}/xmaint), --force (rebuild), -q (quiet).
#
# Exit status: 0 done; 1 a patch does not apply or the build failed;
# 2 bad usage; 3 the source could not be fetched (no network, archive
# without it, no Debian entry in the apt sources); 4 a needed tool is
# missing (see --print-deps).
set -euo pipefail

XEN_SRC_PACKAGE=xen
XEN_SRC_VERSION=4.17.5+72-g01140da4e8-1
XEN_SRC_DIR=xen-4.17.5+72-g01140da4e8
DEBIAN_SUITE=${XMAINT_DEBIAN_SUITE:-bookworm}
DEB_PACKAGES="gcc libc6-dev make binutils acpica-tools dpkg-dev patch"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROG=$(basename "$0")
CACHE=${XMAINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xmaint}/hvmloader
OUT=
PRINT_TREE=0
PRINT_SOURCE=0
FORCE=0
QUIET=0

die() {
	local rc=$1
	shift
	echo "$PROG: error: $*" >&2
	exit "$rc"
}
say() { [ "$QUIET" = 1 ] || echo "$PROG: $*" >&2; }

usage() {
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--out) [ $# -ge 2 ] || die 2 "--out needs a directory"; OUT=$2; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--cache) [ $# -ge 2 ] || die 2 "--cache needs a directory"; CACHE=$2; shift 2 ;;
	--cache=*) CACHE=${1#--cache=}; shift ;;
	--print-tree) PRINT_TREE=1; shift ;;
	--print-source) PRINT_SOURCE=1; shift ;;
	--print-deps) echo "$DEB_PACKAGES"; exit 0 ;;
	--force) FORCE=1; shift ;;
	-q | --quiet) QUIET=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die 2 "unknown argument '$1'" ;;
	esac
done
[ -n "$OUT" ] || [ "$PRINT_TREE" = 1 ] || [ "$PRINT_SOURCE" = 1 ] ||
	{ usage >&2; die 2 "nothing to do: give --out DIR, --print-tree or --print-source"; }

# --- tools ------------------------------------------------------------------
missing=()
for t in gcc make ld iasl apt-get dpkg-source patch sha256sum flock; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] ||
	die 4 "missing tools: ${missing[*]} (Debian packages: apt-get install $DEB_PACKAGES)"
IASL=$(command -v iasl)

PATCHES=("$HERE"/0*.patch)
[ -f "${PATCHES[0]}" ] || die 1 "no patches (0*.patch) in $HERE"

mkdir -p "$CACHE" || die 1 "cannot create the cache directory $CACHE"
CACHE=$(cd "$CACHE" && pwd)
exec 9>"$CACHE/lock"
flock 9

# --- what the build depends on ----------------------------------------------
stamp=$({
	echo "$XEN_SRC_PACKAGE=$XEN_SRC_VERSION"
	sha256sum <"$0"
	for p in "${PATCHES[@]}"; do
		echo "$(basename "$p")"
		sha256sum <"$p"
	done
} | sha256sum | cut -d' ' -f1)

SRC=$CACHE/source/$XEN_SRC_DIR
BUILD=$CACHE/build
LOG=$CACHE/build.log

# --- fetching the source ----------------------------------------------------

# The machine's Debian archive entries for $DEBIAN_SUITE, as deb-src entries:
# deb822 stanzas from sources.list.d/*.sources whose Suites list the suite,
# or one-line "deb" entries from sources.list.  Only source indices are
# needed, so only deb-src is asked for.
write_src_sources() {
	local dir=$1 f found=0
	: >"$dir/sources.list"
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v suite="$DEBIAN_SUITE" '
			function flush() {
				if (n && ok && deb) {
					for (i = 1; i <= n; i++) print st[i]
					print ""
				}
				n = 0; ok = 0; deb = 0
			}
			/^[ \t]*$/ { flush(); next }
			/^#/ { next }
			/^Types:/ {
				for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1
				st[++n] = "Types: deb-src"; next
			}
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
			/^Enabled:[ \t]*[Nn]o/ { deb = 0 }
			{ st[++n] = $0 }
			END { flush() }' "$f" >>"$dir/sources.list.d/debian-src.sources"
	done
	if [ -s "$dir/sources.list.d/debian-src.sources" ]; then
		found=1
	else
		rm -f "$dir/sources.list.d/debian-src.sources"
	fi
	if [ -r /etc/apt/sources.list ]; then
		awk -v suite="$DEBIAN_SUITE" '
			$1 == "deb" { for (i = 2; i <= NF; i++) if ($i == suite) { $1 = "deb-src"; print; break } }' \
			/etc/apt/sources.list >"$dir/sources.list"
		[ -s "$dir/sources.list" ] && found=1
	fi
	[ "$found" = 1 ]
}

fetch_source() {
	local tmp rc=0 opts
	tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
	mkdir -p "$tmp/etc/sources.list.d" "$tmp/lists/partial" \
		"$tmp/archives/partial" "$tmp/source"
	if ! write_src_sources "$tmp/etc"; then
		rm -rf "$tmp"
		die 3 "no Debian archive entry for suite '$DEBIAN_SUITE' in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
	fi
	opts=(-o "Dir::Etc::sourcelist=$tmp/etc/sources.list"
		-o "Dir::Etc::sourceparts=$tmp/etc/sources.list.d"
		-o "Dir::State::lists=$tmp/lists"
		-o "Dir::Cache::archives=$tmp/archives"
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
		-o "APT::Get::List-Cleanup=0")
	# apt drops root to _apt for downloads; it could not write here.
	[ "$(id -u)" = 0 ] && opts+=(-o "APT::Sandbox::User=root")
	say "fetching $XEN_SRC_PACKAGE=$XEN_SRC_VERSION from Debian's source archive"
	if ! apt-get "${opts[@]}" update >"$tmp/apt.log" 2>&1; then
		rc=3
	elif ! (cd "$tmp/source" && apt-get "${opts[@]}" --only-source source \
		"$XEN_SRC_PACKAGE=$XEN_SRC_VERSION") >>"$tmp/apt.log" 2>&1; then
		rc=3
	elif [ ! -d "$tmp/source/$XEN_SRC_DIR/tools/firmware/hvmloader" ]; then
		rc=3
	fi
	if [ "$rc" != 0 ]; then
		tail -n 15 "$tmp/apt.log" | sed 's/^/  | /' >&2
		rm -rf "$tmp"
		die 3 "cannot fetch the source of $XEN_SRC_PACKAGE=$XEN_SRC_VERSION (network, or the archive no longer serves it)"
	fi
	rm -rf "$CACHE/source"
	mv "$tmp/source" "$CACHE/source"
	: >"$CACHE/source/.complete"
	rm -rf "$tmp"
}

# --- building ---------------------------------------------------------------
build() {
	local tmp p out
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	cp -a "$SRC" "$tmp/xen"
	: >"$LOG"
	for p in "${PATCHES[@]}"; do
		# --fuzz=0: a hunk whose context does not match exactly is an error.
		if ! out=$(patch -d "$tmp/xen" -p1 --forward --batch --fuzz=0 \
			--no-backup-if-mismatch -r - <"$p" 2>&1); then
			printf '%s\n' "$out" | sed 's/^/  | /' >&2
			rm -rf "$tmp"
			die 1 "patch $(basename "$p") does not apply to $XEN_SRC_DIR"
		fi
		printf '%s\n%s\n' "== $(basename "$p")" "$out" >>"$LOG"
		if grep -q "offset" <<<"$out"; then
			say "warning: $(basename "$p") applied with offsets:"
			grep "offset" <<<"$out" | sed 's/^/  | /' >&2
		fi
	done

	# Just enough configuration for the firmware build, no ./configure.
	cat >"$tmp/xen/config/Tools.mk" <<-EOF
		IASL := $IASL
		CONFIG_ROMBIOS := n
		CONFIG_SEABIOS := n
		CONFIG_OVMF := n
		CONFIG_IPXE := n
	EOF
	: >"$tmp/xen/tools/config.h"

	say "building hvmloader (log: $LOG)"
	if ! (cd "$tmp/xen" &&
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
			make -C tools/include xen-dir &&
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C \
			make -j"$(nproc 2>/dev/null || echo 2)" -C tools/firmware/hvmloader) \
		>>"$LOG" 2>&1; then
		grep -v "Legacy Processor() keyword" "$LOG" | tail -n 30 | sed 's/^/  | /' >&2
		rm -rf "$tmp"
		die 1 "the hvmloader build failed (full log: $LOG)"
	fi
	[ -s "$tmp/xen/tools/firmware/hvmloader/hvmloader" ] ||
		{ rm -rf "$tmp"; die 1 "the build produced no hvmloader"; }
	echo "$stamp" >"$tmp/xen/.xmaint-stamp"
	rm -rf "$BUILD"
	mv "$tmp/xen" "$BUILD"
	rm -rf "$tmp"
}

t0=$(date +%s)
if [ "$PRINT_SOURCE" = 1 ] && [ -z "$OUT" ] && [ "$PRINT_TREE" = 0 ]; then
	[ -f "$CACHE/source/.complete" ] && [ -d "$SRC" ] || fetch_source
	echo "$SRC"
	exit 0
fi
if [ "$FORCE" = 1 ] || [ ! -f "$BUILD/.xmaint-stamp" ] ||
	[ "$(cat "$BUILD/.xmaint-stamp")" != "$stamp" ] ||
	[ ! -s "$BUILD/tools/firmware/hvmloader/hvmloader" ]; then
	[ -f "$CACHE/source/.complete" ] && [ -d "$SRC" ] || fetch_source
	build
	say "built in $(($(date +%s) - t0)) s: $BUILD/tools/firmware/hvmloader/hvmloader"
else
	say "up to date: $BUILD/tools/firmware/hvmloader/hvmloader"
fi

if [ -n "$OUT" ]; then
	mkdir -p "$OUT" || die 1 "cannot create $OUT"
	install -m 0644 "$BUILD/tools/firmware/hvmloader/hvmloader" "$OUT/hvmloader.tmp" &&
		mv -f "$OUT/hvmloader.tmp" "$OUT/hvmloader" || die 1 "cannot install into $OUT"
	say "installed $OUT/hvmloader"
fi
[ "$PRINT_SOURCE" = 1 ] && echo "$SRC"
[ "$PRINT_TREE" = 1 ] && echo "$BUILD"
exit 0
