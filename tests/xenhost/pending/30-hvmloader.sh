# 30-hvmloader: xmaint's patched hvmloader (hvmloader-patches/) hides hardware
# from an HVM guest on a real Xen host.
#
# Two HVM guests (qemu-xen, 256 MiB, two vCPUs, an e1000 at 00:04.0 and an
# rtl8139 at 00:05.0) boot one after the other with a probe added to their
# ramdisk that prints, on the serial console, what the firmware told Linux
# ("XHV" lines: PCI devices and drivers, Linux's PCI/driver messages, the
# ACPI tables, the MADT's LAPIC entries, the CPUs, the BIOS E820 map):
#  - xh-hide: created paused with xl.cfg firmware_override = the patched
#    hvmloader; the hiding spec (slot 00:05.0, vCPU 1, memory
#    0x8000000-0x8ffffff) is written to xenstore, owned by dom0 and read-only
#    for the guest, before it is unpaused;
#  - xh-stock: Debian's hvmloader, no spec, vCPU 1 offline (maxvcpus = 2).
# Checked:
#  - hvmloader read the spec and acted on it (its lines on the Xen console);
#  - the DSDT xh-hide reads from /sys/firmware/acpi/tables has none of the
#    AML that names slot 5 -- the NameSeg "S5__" (Device S5 and the Notify
#    targets in _E01), the routing entries' address 0x0005FFFF, _ADR
#    0x00050000 -- while slot 4's are there, and xh-stock's DSDT has both
#    (so the byte patterns are the right ones); check-series.sh disassembles
#    the same patched tables with iasl on the build machine;
#  - xh-hide's MADT has one LAPIC entry (vCPU 0), xh-stock's two, and only
#    xh-stock's Linux counts vCPU 1 as a possible CPU;
#  - firmware left 00:05.0 alone in xh-hide (decoding off, so no BARs
#    placed: its driver logs "enabling device (0000 -> ...)") and ACPI has
#    no interrupt route for it, while the e1000 and, in xh-stock, both NICs
#    were set up by firmware and routed;
#  - xh-hide's E820 map has no RAM in the hidden range, xh-stock's has;
#  - both guests see the e1000; what xh-hide's Linux does with the rtl8139
#    is reported ("XH-NOTE"), not judged: without the PCI-hole ioreq server
#    (qemu-dm-shims/) its config space still answers, so Linux may still
#    find the device and give it BARs itself.
#
# Needs the patched hvmloader in dom0: $XH_HVMLOADER, or
# <prefix>/lib/xmaint/hvmloader of the staged tree (build-hvmloader.sh --out).

# HVM guests under TCG: allow for slow boots and one retry each (the guests
# boot one after the other: two at once double the time and the failures).
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-520}
XH_HVM_GUEST_TIMEOUT=${XH_HVM_GUEST_TIMEOUT:-240}
. /xh/lib.sh

G1=xh-hide
G2=xh-stock
MEM=256
HIDE_PCI=00:05.0
HIDE_VCPUS=1
HIDE_MEM_START=0x8000000
HIDE_MEM_END=0x8ffffff
STOCK_HVMLOADER=/usr/lib/xen-4.17/boot/hvmloader
W=/run/xh-hvmloader
NICS='vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]'

xh_logs "$W/xl-dmesg-$G1.txt" /var/log/xen/qemu-dm-$G1.log /var/log/xen/console/$G1.serial \
	/var/log/xen/qemu-dm-$G2.log /var/log/xen/console/$G2.serial

find_hvmloader() {
	local f
	for f in ${XH_HVMLOADER:-} /usr/lib/xmaint/hvmloader /usr/local/lib/xmaint/hvmloader; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	echo "no patched hvmloader in dom0: stage it (hvmloader-patches/build-hvmloader.sh --out STAGE/usr/lib/xmaint) or set XH_HVMLOADER" >&2
	return 1
}

# The probe the guests run before "XMAINT-GUEST-UP" (busybox sh).
write_probe() {
	cat <<'EOF'
#!/bin/sh
# 30-hvmloader probe: what the firmware told this guest, as "XHV ..." lines.
x() { echo "XHV $*"; }
x begin
x cpus possible=$(cat /sys/devices/system/cpu/possible) present=$(cat /sys/devices/system/cpu/present) online=$(cat /sys/devices/system/cpu/online) nproc=$(grep -c '^processor' /proc/cpuinfo)
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/vendor" ] || continue
	drv=none
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	x pci "${d##*/}" "$(cat "$d/vendor")" "$(cat "$d/device")" "driver=$drv" "irq=$(cat "$d/irq")"
done
dmesg | sed 's/^\[[ 0-9.]*\] //' |
	grep -E '^(pci 0000:00:0[0-9a-f]\.[0-7]: (reg 0x|BAR [0-9]+: assigned)|BIOS-e820: |8139cp |e1000 |.*PCI INT)' |
	while IFS= read -r l; do x dmesg "$l"; done
for t in /sys/firmware/acpi/tables/*; do
	[ -f "$t" ] && x table "${t##*/}" "$(wc -c <"$t")" "$(sha256sum <"$t" | cut -c1-16)"
done
# AML that names slot n: NameSeg "Sn__", DWordConst 0x000nFFFF, 0x000n0000
dsdt=" $(od -An -v -tx1 /sys/firmware/acpi/tables/DSDT | tr -s ' \n' '  ') "
has() { case "$dsdt" in *" $1 "*) echo 1 ;; *) echo 0 ;; esac; }
for n in 4 5; do
	x aml slot=$n name=$(has "53 3$n 5f 5f") prt=$(has "0c ff ff 0$n 00") adr=$(has "0c 00 00 0$n 00")
done
od -An -v -tu1 /sys/firmware/acpi/tables/APIC | tr -s ' \n' '\n\n' | grep -v '^$' | awk '
	{ b[NR] = $1 }
	END {
		i = 45; n = 0
		while (i + 1 <= NR && b[i + 1] >= 2) {
			if (b[i] == 0) { n++; printf "XHV lapic processor=%d apic=%d flags=%d\n", b[i + 2], b[i + 3], b[i + 4] }
			i += b[i + 1]
		}
		printf "XHV madt lapics=%d\n", n
	}'
x end
EOF
}

prepare() {
	local loader cpio
	loader=$(find_hvmloader)
	echo "patched hvmloader: $loader ($(sha256sum <"$loader" | cut -c1-16))"
	[ -s "$STOCK_HVMLOADER" ] || { echo "no stock hvmloader at $STOCK_HVMLOADER"; return 1; }
	rm -rf "$W"
	mkdir -p "$W/tree/etc/xh-guest.d"
	echo "$loader" >"$W/loader"
	write_probe >"$W/tree/etc/xh-guest.d/30-hvmloader-probe.sh"
	cpio=cpio
	command -v cpio >/dev/null 2>&1 || cpio="busybox cpio"
	# The kernel unpacks concatenated (compressed) cpio archives in order.
	(cd "$W/tree" && find . | $cpio -o -H newc 2>/dev/null) | gzip -c >"$W/probe.cpio.gz"
	cat "$XH_GUEST_RAMDISK" "$W/probe.cpio.gz" >"$W/initrd.img"
	ls -l "$W/initrd.img"
}

write_spec() { # DOMID
	local d=$1 k=/local/domain/$1/xmaint
	xenstore-write "$k/hide/pci" "$HIDE_PCI" "$k/hide/vcpus" "$HIDE_VCPUS" \
		"$k/hide/memory" "${HIDE_MEM_START#0x}-${HIDE_MEM_END#0x}"
	# owner dom0, the guest may only read
	xenstore-chmod -r "$k" n0 "r$d"
	xenstore-ls -p "$k"
}

# Save hvmloader's lines of domain DOMID from the Xen console once it is
# done (collected while it runs, in case the console ring wraps).
save_loader_log() { # DOMID FILE
	local end=$(($(date +%s) + 60))
	: >"$2.all"
	while :; do
		xl dmesg | grep -a "(d$1) " >>"$2.all" || true
		grep -q "(d$1) Invoking " "$2.all" && break
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "hvmloader of d$1 did not finish within 60 s"
			break
		fi
		sleep 0.5
	done
	awk '!seen[$0]++' "$2.all" >"$2"
	rm -f "$2.all"
}

create_hidden_once() {
	local cfg d
	cfg=$XH_CFG_DIR/$G1.cfg
	rm -f "$(xh_guest_console "$G1")"
	xl create -p "$cfg"
	d=$(xl domid "$G1")
	write_spec "$d"
	xl unpause "$G1"
	save_loader_log "$d" "$W/xl-dmesg-$G1.txt"
}

# xh-hide: created paused, the spec written, then unpaused.  A retry must do
# all of that again (lib.sh's own retry would start it without the spec).
start_hidden() {
	XH_GUEST_RAMDISK=$W/initrd.img xh_guest_cfg "$G1" hvm "$MEM" \
		"vcpus = 2" "$NICS" "firmware_override = \"$(cat "$W/loader")\"" >/dev/null
	create_hidden_once
}

# The stock guest has the same two vCPUs, but only vCPU 0 online (maxvcpus):
# Debian's hvmloader still lists vCPU 1 in the MADT (disabled, hot-pluggable)
# and Linux counts it as possible, and an SMP guest under TCG on a busy
# machine takes minutes longer to boot.
create_stock() {
	XH_GUEST_RAMDISK=$W/initrd.img xh_guest_create "$G2" hvm "$MEM" "maxvcpus = 2" "$NICS"
}

wait_hidden() {
	if XH_GUEST_RETRIES=0 xh_guest_wait_up "$G1"; then
		return 0
	fi
	echo "XH-NOTE $XH_SCENARIO $G1 did not come up; creating it again with its spec" >/dev/console
	xl destroy "$G1" 2>/dev/null || true
	xh_wait_for 30 bash -c "! xl domid $G1"
	create_hidden_once
	XH_GUEST_RETRIES=0 xh_guest_wait_up "$G1"
}

# The probe's lines of guest NAME (from the first "XHV begin" to "XHV end").
probe() { # NAME
	tr -d '\r' <"$(xh_guest_console "$1")" | sed -n '/^XHV begin/,/^XHV end/p' | sed 's/^XHV //'
}

probe_complete() {
	probe "$1" | grep -q '^end$' || { echo "no complete probe output from $1"; return 1; }
	probe "$1" >"$W/probe-$1.txt"
	sed 's/^/  /' "$W/probe-$1.txt"
}

# Checks are one simple command per line: "set -e" ignores a failure inside
# "a && b" or after "!", so those forms go through not_in.
not_in() { # PATTERN FILE: fail if the extended regexp matches
	if grep -Eq "$1" "$2"; then
		echo "unexpected in $2: $(grep -E "$1" "$2" | head -n3)"
		return 1
	fi
}

check_loader_log() {
	local f=$W/xl-dmesg-$G1.txt
	grep -E "xmaint-hide|hidden|left out|ACPI: |E820|Invoking" "$f" | sed 's/^/  /'
	grep -q "xmaint-hide: PCI 00:05.0 hidden" "$f"
	grep -q "xmaint-hide: vCPU 1 hidden" "$f"
	grep -q "xmaint-hide: memory ${HIDE_MEM_START#0x}-${HIDE_MEM_END#0x} hidden" "$f"
	grep -q "pci dev 05 hidden: slot left empty" "$f"
	grep -q "CPU1 hidden: not started" "$f"
	grep -q "ACPI: PCI slot 00:05 left out of the DSDT" "$f"
	grep -q "xmaint-hide: E820: ${HIDE_MEM_START#0x}-${HIDE_MEM_END#0x} left out" "$f"
	not_in "malformed|not recognised|no qemu-xen PCI slot objects" "$f"
}

check_spec_readonly() {
	# the guest may read its spec but not change it: every node (n0,rDOMID)
	local d
	d=$(xl domid "$G1")
	xenstore-ls -p "/local/domain/$d/xmaint" >"$W/spec-perms.txt"
	cat "$W/spec-perms.txt"
	[ "$(grep -c "(n0,r$d)\$" "$W/spec-perms.txt")" = 4 ]
	[ "$(wc -l <"$W/spec-perms.txt")" = 4 ]
}

val() { # FILE KEY: the value of " KEY=..." on the first line that has it
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | head -n1
}

check_acpi() {
	local h=$W/probe-$G1.txt s=$W/probe-$G2.txt
	grep '^aml\|^table DSDT\|^table APIC' "$h" "$s"
	# hidden guest: nothing names slot 5, slot 4 is described
	grep -q '^aml slot=5 name=0 prt=0 adr=0$' "$h"
	grep -q '^aml slot=4 name=1 prt=1 adr=1$' "$h"
	# stock guest: both described (the patterns are the right ones)
	grep -q '^aml slot=5 name=1 prt=1 adr=1$' "$s"
	grep -q '^aml slot=4 name=1 prt=1 adr=1$' "$s"
	# a different DSDT
	[ "$(grep '^table DSDT' "$h")" != "$(grep '^table DSDT' "$s")" ]
}

check_cpus() {
	local h=$W/probe-$G1.txt s=$W/probe-$G2.txt
	grep '^lapic\|^madt\|^cpus' "$h" "$s"
	[ "$(val "$h" lapics)" = 1 ]
	grep -q '^lapic processor=0 apic=0 flags=1$' "$h"
	[ "$(val "$s" lapics)" = 2 ]
	grep -q '^lapic processor=1 apic=2 ' "$s"
	# hidden: vCPU 1 is not even a possible CPU; stock: it is
	[ "$(val "$h" nproc)" = 1 ]
	[ "$(val "$h" possible)" = 0 ]
	[ "$(val "$s" possible)" = 0-1 ]
}

# Firmware that sets a device up enables its decoding (command register I/O
# and memory bits) after placing its BARs; a driver that finds decoding off
# enables it itself and logs "enabling device (0000 -> 0003)".  (This
# kernel does not log the BAR values its PCI scan finds.)
firmware_left_off() { # PROBE BDF
	grep -q "^dmesg [^ ]* 0000:$2: enabling device (0000 -> " "$1"
}

check_pci() {
	local h=$W/probe-$G1.txt s=$W/probe-$G2.txt
	grep '^pci\|^dmesg pci\|^dmesg .*PCI INT\|^dmesg 8139\|^dmesg e1000' "$h" "$s" || true
	# both see the e1000 at 00:04.0, set up by firmware
	grep -q '^pci 0000:00:04.0 0x8086 0x100e driver=e1000' "$h"
	grep -q '^pci 0000:00:04.0 0x8086 0x100e driver=e1000' "$s"
	not_in '^dmesg [^ ]* 0000:00:04.0: enabling device \(0000 -> ' "$h"
	not_in '^dmesg [^ ]* 0000:00:04.0: enabling device \(0000 -> ' "$s"
	# stock: the rtl8139 at 00:05.0, set up by firmware, routed by ACPI
	grep -q '^pci 0000:00:05.0 0x10ec 0x8139' "$s"
	not_in '^dmesg [^ ]* 0000:00:05.0: enabling device \(0000 -> ' "$s"
	not_in '^dmesg [^ ]* 0000:00:05.0: (PCI INT A: no GSI|can.t derive routing)' "$s"
	# hidden: if Linux found 00:05.0 through config space, firmware had left
	# it alone (decoding off, so no BARs placed) and ACPI has no route for it
	if grep -q '^pci 0000:00:05.0 ' "$h"; then
		firmware_left_off "$h" 00:05.0
		grep -Eq '^dmesg [^ ]* 0000:00:05.0: (PCI INT A: no GSI|can.t derive routing)' "$h"
	fi
}

check_e820() {
	local h=$W/probe-$G1.txt s=$W/probe-$G2.txt
	grep 'BIOS-e820' "$h" "$s"
	# usable RAM overlapping [start, end] in a probe
	ram_in() {
		grep 'BIOS-e820: \[mem 0x[0-9a-f]*-0x[0-9a-f]*\] usable' "$1" |
			sed 's/.*\[mem \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\].*/\1 \2/' |
			while read -r a b; do
				if [ $((a)) -le $((HIDE_MEM_END)) ] && [ $((b)) -ge $((HIDE_MEM_START)) ]; then
					echo "$a-$b"
				fi
			done
	}
	ram_in "$h" >"$W/ram-hidden.txt"
	ram_in "$s" >"$W/ram-stock.txt"
	echo "usable RAM over the hidden range: $G1 '$(cat "$W/ram-hidden.txt")', $G2 '$(cat "$W/ram-stock.txt")'"
	[ ! -s "$W/ram-hidden.txt" ]
	[ -s "$W/ram-stock.txt" ]
}

report_hidden_nic() {
	local h=$W/probe-$G1.txt line
	if line=$(grep '^pci 0000:00:05.0 ' "$h"); then
		echo "XH-NOTE $XH_SCENARIO $G1: Linux still finds 00:05.0 through config space ($line); its BARs came from Linux, not hvmloader (the PCI-hole shim makes the slot read empty)" >/dev/console
	else
		echo "XH-NOTE $XH_SCENARIO $G1: 00:05.0 absent from /sys/bus/pci/devices" >/dev/console
	fi
	echo "$line"
}

xh_step prepare prepare
xh_step start-hidden start_hidden
xh_step loader-log check_loader_log
xh_step spec-readonly check_spec_readonly
xh_step hidden-up wait_hidden
xh_step probe-hidden probe_complete "$G1"
xh_step destroy-hidden xh_guest_destroy "$G1"
xh_step stock-up create_stock
xh_step probe-stock probe_complete "$G2"
xh_step destroy-stock xh_guest_destroy "$G2"
xh_step acpi-dsdt check_acpi
xh_step madt-cpus check_cpus
xh_step pci-bars check_pci
xh_step e820 check_e820
xh_step hidden-nic report_hidden_nic
