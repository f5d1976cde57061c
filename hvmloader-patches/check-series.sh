#!/bin/bash
# check-series.sh - test of the hvmloader patch series, on the build machine.
#
#  1. the series applies cleanly (no fuzz, no offset) to the Xen 4.17.5
#     source that Debian serves, patch after patch;
#  2. the patched hvmloader builds (build-hvmloader.sh) and is the patched one;
#  3. the hiding-spec parser and the E820 cutting work (test/hide-host.c, the
#     patched hide.c and e820.c compiled for this machine);
#  4. the patched libacpi builds the tables hvmloader would for a qemu-xen
#     domain (test/acpi-host.c), and, disassembled with iasl and loaded with
#     acpiexec, they show what was asked: without hiding, every slot and
#     vCPU; with hiding, the hidden slots nowhere in the DSDT, the hidden
#     vCPUs not in the MADT, checksums right, the DSDT still compiles and
#     its methods still run.
#
# Exit status (automake): 0 pass, 1 fail, 77 skip (the source cannot be
# fetched, or a tool is missing; the reason is printed), 99 instead of 77
# when XMAINT_REQUIRE_XENHOST=1, and for a broken harness.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_SH=$HERE/build-hvmloader.sh
PASS=0
FAIL=0

skip() {
	echo "check-series: SKIP: $*"
	if [ "${XMAINT_REQUIRE_XENHOST:-0}" = 1 ]; then
		echo "check-series: XMAINT_REQUIRE_XENHOST=1: a skip is a hard failure"
		exit 99
	fi
	exit 77
}
hard() {
	echo "check-series: ERROR: $*"
	exit 99
}
ok() {
	PASS=$((PASS + 1))
	echo "ok - $*"
}
nok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $*"
}
check() { # check DESCRIPTION CMD...
	local what=$1
	shift
	if "$@"; then ok "$what"; else nok "$what"; fi
}
finish() {
	echo "check-series: $PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ] && exit 0
	exit 1
}

for t in gcc iasl acpiexec; do
	command -v "$t" >/dev/null 2>&1 ||
		skip "'$t' is missing (Debian packages: $("$BUILD_SH" --print-deps))"
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- 1 + 2: fetch, apply, build ---------------------------------------------
"$BUILD_SH" --print-source >"$WORK/src.path" 2>"$WORK/build.err"
rc=$?
case $rc in
0) ;;
3 | 4) cat "$WORK/build.err"; skip "build-hvmloader.sh could not get the source or tools (exit $rc)" ;;
*) cat "$WORK/build.err"; hard "build-hvmloader.sh --print-source failed (exit $rc)" ;;
esac
SRC=$(cat "$WORK/src.path")
[ -d "$SRC/tools/firmware/hvmloader" ] || hard "no Xen source at $SRC"

cp -a "$SRC/tools" "$WORK/applied" # only tools/ is patched
applied=1
for p in "$HERE"/0*.patch; do
	name=$(basename "$p")
	if out=$(patch -d "$WORK" -p1 --batch --forward --fuzz=0 --no-backup-if-mismatch \
		-r - <(sed 's#^\(---\|+++\) \([ab]\)/tools/#\1 \2/applied/#' "$p") 2>&1); then
		if grep -Eq 'offset|fuzz' <<<"$out"; then
			nok "$name applies cleanly (it needed offsets/fuzz)"
			sed 's/^/    /' <<<"$out"
			applied=0
		else
			ok "$name applies cleanly"
		fi
	else
		nok "$name applies"
		sed 's/^/    /' <<<"$out"
		applied=0
		break
	fi
done
[ "$applied" = 1 ] || finish

t0=$(date +%s.%N)
"$BUILD_SH" --print-tree >"$WORK/tree.path" 2>"$WORK/build.err"
rc=$?
t1=$(date +%s.%N)
if [ "$rc" != 0 ]; then
	cat "$WORK/build.err"
	case $rc in
	3 | 4) skip "build-hvmloader.sh could not get the source or tools (exit $rc)" ;;
	esac
	nok "the patched hvmloader builds (exit $rc)"
	finish
fi
TREE=$(cat "$WORK/tree.path")
H=$TREE/tools/firmware/hvmloader
ok "the patched hvmloader builds ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, $(stat -c %s "$H/hvmloader") bytes)"
check "hvmloader is a 32-bit ELF image" bash -c "head -c 5 '$H/hvmloader' | od -An -c | grep -q 'E   L   F 001'"
check "hvmloader carries the hiding code" grep -q "xmaint-hide" "$H/hvmloader"
check "the build used the patched mk_dsdt (slot objects at the end)" \
	grep -q "emit_qemu_xen_slots" "$TREE/tools/libacpi/mk_dsdt.c"

# --- 3: the parser and the E820 cutting --------------------------------------
if gcc -O1 -Wall -ffreestanding -fno-builtin -Wno-builtin-declaration-mismatch \
	-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
	-I"$H" -I"$TREE/tools/include" -o "$WORK/hide-host" "$HERE/test/hide-host.c" \
	>"$WORK/cc.log" 2>&1; then
	"$WORK/hide-host" >"$WORK/hide.log" 2>&1
	rc=$?
	grep '^FAIL' "$WORK/hide.log" | sed 's/^/    /'
	check "hiding spec parser and E820 cutting: $(tail -n1 "$WORK/hide.log")" [ "$rc" = 0 ]
else
	sed 's/^/    /' "$WORK/cc.log"
	nok "test/hide-host.c compiles against the patched hvmloader"
fi

# --- 4: the ACPI tables --------------------------------------------------------
if ! gcc -O1 -Wall -DLIBACPI_STDUTILS='"acpi-host-utils.h"' -I"$HERE/test" \
	-I"$TREE/tools/libacpi" -I"$H" -I"$TREE/tools/include" -o "$WORK/acpi-host" \
	"$HERE/test/acpi-host.c" "$TREE/tools/libacpi/build.c" \
	"$TREE/tools/libacpi/static_tables.c" "$H/dsdt_anycpu_qemu_xen.c" \
	>"$WORK/cc.log" 2>&1; then
	sed 's/^/    /' "$WORK/cc.log"
	nok "test/acpi-host.c compiles against the patched libacpi"
	finish
fi

# tables CASE NR_VCPUS HIDDEN_VCPUS HIDDEN_SLOTS: build and disassemble
tables() {
	local d=$WORK/$1
	mkdir -p "$d"
	if ! "$WORK/acpi-host" "$d" "$2" "$3" "$4" >"$d/summary" 2>&1; then
		sed 's/^/    /' "$d/summary"
		return 1
	fi
	(cd "$d" && iasl -d DSDT.dat APIC.dat >iasl-d.log 2>&1) || {
		sed 's/^/    /' "$d/iasl-d.log"
		return 1
	}
}
# no_slot_mention DIR N: the DSDT names slot N nowhere
no_slot_mention() {
	local dsl=$WORK/$1/DSDT.dsl n=$2 hex
	hex=$(printf '%04X' "$n")
	! grep -Eq "Device \(S$n\)|\.S$n\b|\bS${n}_*,|0x${hex}FFFF|_ADR, 0x${hex}0000" "$dsl"
}
slot_described() {
	local dsl=$WORK/$1/DSDT.dsl n=$2 hex
	hex=$(printf '%04X' "$n")
	grep -q "Device (S$n)" "$dsl" && grep -q "0x${hex}FFFF" "$dsl" &&
		grep -q "Notify (\\\\_SB.PCI0.S$n," "$dsl"
}
lapics() { grep '^madt lapic' "$WORK/$1/summary" | awk '{ printf "%s%s", s, $4; s="," }'; }
# recompile DIR: the disassembled DSDT compiles again
recompile() { (cd "$WORK/$1" && iasl -p re DSDT.dsl >re.log 2>&1) || { grep -i error "$WORK/$1/re.log" | head; false; }; }
# runs DIR: acpiexec loads the DSDT (building every object, the routing
# packages included) and runs the hotplug handler _E01 and slot 1's _STA
# without an AML error
runs() {
	local log=$WORK/$1/acpiexec.log
	(cd "$WORK/$1" && timeout 120 acpiexec -b "evaluate \\_GPE._E01; evaluate \\_SB.PCI0.S1._STA" DSDT.dat) >"$log" 2>&1 || return 1
	grep -q "successfully acquired and loaded" "$log" && grep -q "No object was returned from evaluation of .*GPE._E01" "$log" &&
		! grep -q "ACPI Error\|ACPI Exception\|AE_AML" "$log"
}

if tables plain 4 - -; then
	ok "tables without hiding"
	check "plain: slots 4, 5 and 6 are described" bash -c '
		for n in 4 5 6; do
			grep -q "Device (S$n)" "$0/DSDT.dsl" || exit 1
		done' "$WORK/plain"
	check "plain: slot 5 fully described" slot_described plain 5
	check "plain: 31 slot devices" [ "$(grep -c 'Device (S[0-9]*)' "$WORK/plain/DSDT.dsl")" = 31 ]
	check "plain: MADT lists vCPUs 0,1,2,3" [ "$(lapics plain)" = "0,1,2,3" ]
	check "plain: DSDT loads in acpiexec, _E01 runs" runs plain
fi

if tables hidden 4 1 4,5; then
	ok "tables hiding vCPU 1 and slots 4, 5"
	check "hidden: DSDT never names slot 4" no_slot_mention hidden 4
	check "hidden: DSDT never names slot 5" no_slot_mention hidden 5
	check "hidden: slot 3 still fully described" slot_described hidden 3
	check "hidden: slot 6 still fully described" slot_described hidden 6
	check "hidden: 29 slot devices" [ "$(grep -c 'Device (S[0-9]*)' "$WORK/hidden/DSDT.dsl")" = 29 ]
	check "hidden: routing tables have 116 entries" bash -c "
		[ \$(grep -c 'Name (PRT[PA], Package (0x74)' '$WORK/hidden/DSDT.dsl') = 2 ]"
	check "hidden: MADT lists vCPUs 0,2,3" [ "$(lapics hidden)" = "0,2,3" ]
	check "hidden: APIC disassembly has 3 processor entries" \
		[ "$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$WORK/hidden/APIC.dsl")" = 3 ]
	check "hidden: processor object 1 sees a disabled entry" \
		grep -q '^mapa 1 type 0 processor 1 apic 2 flags 0$' "$WORK/hidden/summary"
	check "hidden: processor object 2 sees vCPU 2, enabled" \
		grep -q '^mapa 2 type 0 processor 2 apic 4 flags 1$' "$WORK/hidden/summary"
	check "hidden: the disassembled DSDT compiles again" recompile hidden
	check "hidden: DSDT loads in acpiexec, _E01 runs" runs hidden
fi

if tables most 128 1,64,127 2,3,4,5,6,7,8,9,a,b,c,d,e,f,10,11,12,13,14,15,16,17,18,19,1a,1b,1c,1d,1e,1f; then
	ok "tables hiding slots 2-31 and 3 of 128 vCPUs"
	check "most: only slot 1 is left" [ "$(grep -c 'Device (S[0-9]*)' "$WORK/most/DSDT.dsl")" = 1 ]
	check "most: DSDT never names slot 31" no_slot_mention most 31
	check "most: MADT lists 125 vCPUs" [ "$(grep -c '^madt lapic' "$WORK/most/summary")" = 125 ]
	check "most: DSDT loads in acpiexec, _E01 runs" runs most
fi

if tables slot1 2 - 1; then
	check "slot 1 (PIIX3) cannot be hidden: DSDT unchanged" bash -c "
		cmp -s '$WORK/slot1/DSDT.dat' '$WORK/plain/DSDT.dat'"
fi

finish
