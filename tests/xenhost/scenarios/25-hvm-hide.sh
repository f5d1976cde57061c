# 25-hvm-hide: an HVM substitute with hardware hidden from it (issue 3).
#
# The original hh-orig (qemu-xen, 256 MiB, one vCPU online of two, an e1000
# at 00:04.0 and an rtl8139 at 00:05.0, Debian's hvmloader) gets a substitute
# from `xl maint substitute --hide-pci 00:05.0 --hide-vcpu 1 --hide-mem ...
# --firmware <xmaint's patched hvmloader>`: libmaint writes the hiding spec
# (read-only for the guest), starts the PCI-hole shim (qemu-dm-shims/) for
# the paused substitute and unpauses it.  Both guests run a probe before
# their readiness marker ("XHH ..." lines on their serial console): PCI
# configuration dword 0 of both slots read through ports 0xCF8/0xCFC
# (xh-pcicfg, a static program), the E820 map, the CPUs, a ping from the
# visible NIC to dom0 on xenbr0, then, through that NIC, an upload of the
# ACPI tables it reads from /sys/firmware/acpi/tables to dom0 (not over the
# emulated UART: heavy serial output makes these guests triple-fault under
# TCG far more often).
# Checked:
#  - a BDF the original does not have (00:1f.0) is refused, nothing created;
#  - in the substitute the hidden slot reads all-ones (vendor 0xffff), the
#    shim counted those reads, 00:05.0 is absent from /sys/bus/pci/devices,
#    the e1000 is bound to its driver with an interface that pings dom0;
#  - the substitute's DSDT (and SSDTs), disassembled with iasl in dom0, never
#    name slot 5 while slot 4 is described; the original's describe both;
#  - the substitute's MADT lists vCPU 0 only, its E820 map has no RAM in the
#    hidden range; the original's have both;
#  - the original still sees both NICs (config space and Linux);
#  - destroying the substitute ends the shim.
# Needs in dom0: the patched hvmloader and xh-pcicfg (tests/xenhost/stage.sh stages
# both; README.md, "Staging by hand"), iasl (in the host image).
# About 3-3.5 min on an idle machine; each guest re-created after a TCG
# triple fault adds ~1.5 min.

# HVM guests here boot in ~100 s under TCG (more on a busy machine).
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-600}
XH_HVM_GUEST_TIMEOUT=${XH_HVM_GUEST_TIMEOUT:-300}
. /xh/lib.sh

O=hh-orig
S=hh-sub
W=/run/xh-hvm-hide
HIDE_PCI=00:05.0
HIDE_VCPU=1
HIDE_MEM_START=0x8000000
HIDE_MEM_END=0x8ffffff
DOM0_IP=10.99.0.1
UPLOAD_PORT=7415 # dom0 receives the guests' ACPI tables here
NICS='vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]'
PCICFG=${XH_PCICFG:-/usr/share/xenhost/guest-tools/xh-pcicfg}
O_LOG=/var/log/xen/console/$O.serial
S_LOG=/var/log/xen/console/$S.serial # the substitute's own serial file

xh_logs "$O_LOG" "$S_LOG" /var/log/xen/qemu-dm-$O.log /var/log/xen/qemu-dm-$S.log \
	"$W/xl-dmesg-$S.txt"

# The probe both guests run before "XMAINT-GUEST-UP" (busybox sh).
write_probe() {
	cat <<EOF
#!/bin/sh
# 25-hvm-hide probe: what this guest was given, as "XHH ..." lines.
x() { echo "XHH \$*"; }
x begin
x time start \$(cut -d' ' -f1 /proc/uptime)
# where the boot's time went: kernel log gaps of 2 s or more
dmesg | awk '{ t = substr(\$0, 2, index(\$0, "]") - 2) + 0
	if (t - p >= 2) printf "XHH gap %.1f s before: %s\\n", t - p, substr(\$0, 1, 110)
	p = t }'
x cpus possible=\$(cat /sys/devices/system/cpu/possible) online=\$(cat /sys/devices/system/cpu/online) nproc=\$(grep -c '^processor' /proc/cpuinfo)
for s in 00:04.0 00:05.0; do x cfg \$(/usr/bin/xh-pcicfg \$s 2>&1); done
dmesg | sed 's/^\[[ 0-9.]*\] //' | grep '^BIOS-e820: ' | while IFS= read -r l; do x dmesg "\$l"; done
tables=
for t in /sys/firmware/acpi/tables/*; do
	[ -f "\$t" ] || continue
	tables="\$tables \${t##*/}"
	x table "\${t##*/}" "\$(wc -c <"\$t")"
done
x time net \$(cut -d' ' -f1 /proc/uptime)
# the visible e1000: an address from its MAC, then ping dom0 on xenbr0
dev=\$(ls /sys/bus/pci/devices/0000:00:04.0/net 2>/dev/null | head -n1)
if [ -n "\$dev" ]; then
	mac=\$(cat /sys/class/net/\$dev/address)
	b5=\$((0x\$(echo "\$mac" | cut -d: -f5))) b6=\$((0x\$(echo "\$mac" | cut -d: -f6)))
	addr=10.99.\$((b5 % 250 + 1)).\$((b6 % 250 + 2))
	ip addr add "\$addr/16" dev "\$dev"
	ip link set "\$dev" up
	i=0
	while [ \$i -lt 20 ] && [ "\$(cat /sys/class/net/\$dev/carrier 2>/dev/null)" != 1 ]; do sleep 0.5; i=\$((i + 1)); done
	ok=0 i=0
	while [ \$i -lt 5 ]; do
		if ping -c 1 -W 3 $DOM0_IP >/dev/null 2>&1; then ok=1; break; fi
		i=\$((i + 1))
	done
	x net dev=\$dev mac=\$mac addr=\$addr ping=\$ok tries=\$((i + 1))
	# the ACPI tables to dom0 through that NIC (a few packets; printing them
	# on the emulated UART takes ~10000 port writes, tens of seconds)
	if { echo "\$mac"; cd /sys/firmware/acpi/tables && tar -cf - \$tables | gzip; } |
		nc $DOM0_IP $UPLOAD_PORT; then
		x upload ok
	else
		x upload failed
	fi
else
	x net dev=none
fi
x time end \$(cut -d' ' -f1 /proc/uptime)
x end
EOF
}

prepare() {
	local loader cpio
	loader=$(xh_find_hvmloader)
	echo "patched hvmloader: $loader ($(sha256sum <"$loader" | cut -c1-16))"
	[ -x "$PCICFG" ] || { echo "no $PCICFG in dom0 (tests/xenhost/stage.sh stages it; or set XH_PCICFG)"; return 1; }
	command -v iasl >/dev/null || { echo "no iasl in dom0 (acpica-tools in the host image)"; return 1; }
	rm -rf "$W"
	mkdir -p "$W/tree/etc/xh-guest.d" "$W/tree/usr/bin"
	echo "$loader" >"$W/loader"
	write_probe >"$W/tree/etc/xh-guest.d/40-hvm-hide-probe.sh"
	cp "$PCICFG" "$W/tree/usr/bin/xh-pcicfg"
	cpio=cpio
	command -v cpio >/dev/null 2>&1 || cpio="busybox cpio"
	# The kernel unpacks concatenated (compressed) cpio archives in order.
	(cd "$W/tree" && find . | $cpio -o -H newc 2>/dev/null) | gzip -c >"$W/probe.cpio.gz"
	cat "$XH_GUEST_RAMDISK" "$W/probe.cpio.gz" >"$W/initrd.img"
	ls -l "$W/initrd.img"
	# dom0's end of the guests' network, and a receiver for their uploads:
	# "MAC\n" + a tar.gz of the guest's ACPI tables, kept as up/MAC.tgz
	ip addr add "$DOM0_IP/16" dev xenbr0
	ip addr show dev xenbr0
	mkdir -p "$W/up"
	printf '#!/bin/sh\nread -r mac\ncat >"%s/up/$mac.tgz.part" && mv "%s/up/$mac.tgz.part" "%s/up/$mac.tgz"\n' \
		"$W" "$W" "$W" >"$W/recv.sh"
	chmod 755 "$W/recv.sh"
	busybox nc -ll -p "$UPLOAD_PORT" -e "$W/recv.sh" </dev/null >/dev/null 2>&1 &
	echo $! >"$W/recv.pid"
}

# Under TCG an HVM guest now and then triple-faults (README.md), while
# booting or even idle: the emulated SVM saves Xen's state as the guest's,
# most likely when the guest's vCPU has moved between physical CPUs.  The
# vCPUs are held on physical CPU 1 (cpus, inherited by the substitute, like
# tsc_mode = "native", which leaves RDTSC to the guest); the original and the
# substitute still get two retries; an original found dead later is booted
# again.
original() {
	XH_GUEST_RETRIES=2 XH_GUEST_RAMDISK=$W/initrd.img xh_guest_create "$O" hvm 256 \
		"maxvcpus = 2" "$NICS" 'tsc_mode = "native"' 'cpus = "1"'
}
original_running() {
	xl domid "$O" >/dev/null 2>&1 && return 0
	echo "XH-NOTE $XH_SCENARIO the original $O died (a triple fault under TCG?); booting it again" >/dev/console
	original
}

count_domains() { xl list | tail -n +2 | wc -l; }
# shim_running DOMID [BDF]: a PCI-hole shim for DOMID runs (dom0 has no pgrep)
shim_running() { ps -o args | grep "^[^ ]*xmaint-pci-hole --ready-fd=3 $1 ${2:-}" >/dev/null; }

# A slot the original does not have is refused before anything is created.
bad_bdf() {
	local before
	original_running
	before=$(count_domains)
	if xl-maint substitute "$O" --name hh-bad --hide-pci 00:1f.0 --dry-run >/dev/null 2>"$W/err"; then
		echo "dry run with 00:1f.0 succeeded"
		return 1
	fi
	cat "$W/err"
	grep -q "no PCI device 00:1f.0 in '$O'" "$W/err"
	grep -q "00:04.0" "$W/err" # it names what the original has
	if xl-maint substitute "$O" --name hh-bad --hide-pci 00:05.0 --hide-pci 00:1f.0 \
		--firmware "$(cat "$W/loader")" --ready XMAINT-GUEST-UP --timeout 60 2>"$W/err"; then
		echo "substitute with 00:1f.0 succeeded"
		return 1
	fi
	cat "$W/err"
	grep -q "no PCI device 00:1f.0 in '$O'" "$W/err"
	[ "$(count_domains)" = "$before" ]
	if xl domid hh-bad 2>/dev/null; then echo "hh-bad exists"; return 1; fi
	if ps -o args | grep '^[^ ]*xmaint-pci-hole'; then echo "a shim runs"; return 1; fi
}

substitute_once() {
	xl-maint substitute "$O" --name "$S" --hide-pci "$HIDE_PCI" --hide-vcpu "$HIDE_VCPU" \
		--hide-mem "$HIDE_MEM_START-$HIDE_MEM_END" --firmware "$(cat "$W/loader")" \
		--ready XMAINT-GUEST-UP --timeout 420
}

# hvmloader's lines reach the Xen console ring: empty it first so the
# substitute's are still there when it is up.
substitute() {
	local t0 id try
	for try in 1 2 3; do
		original_running
		xl dmesg -c >>"$W/xl-dmesg-before.txt"
		t0=$(xh__now)
		substitute_once && break
		# the tool removes a substitute that dies while booting: try again
		if [ "$try" = 3 ] || xl domid "$S" >/dev/null 2>&1; then return 1; fi
		echo "XH-NOTE $XH_SCENARIO substitute $S died while booting; creating it again" >/dev/console
	done
	echo "substitute ready after $(awk -v a="$t0" -v b="$(xh__now)" 'BEGIN { printf "%.1f", b - a }')s"
	id=$(xl domid "$S")
	xl dmesg | grep -a "(d$id) " >"$W/xl-dmesg-$S.txt" || true
	# the hiding spec is the substitute's, read-only for it
	xenstore-ls -p "/local/domain/$id/xmaint/hide" | tee "$W/spec-perms.txt"
	[ "$(xenstore-read "/local/domain/$id/xmaint/hide/pci")" = "$HIDE_PCI" ]
	[ "$(grep -c "(n0,r$id)\$" "$W/spec-perms.txt")" = 3 ]
	shim_running "$id" "$HIDE_PCI"
	echo "$id" >"$W/sub-domid"
}

# The probe's lines of a console log (from the last "XHH begin" to "XHH end").
probe_complete() { # LOG OUT
	tr -d '\r' <"$1" | sed -n 's/^XHH //p' | awk '$0 == "begin" { n = 0; delete l } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' >"$2"
	grep -q '^end$' "$2" || { echo "no complete probe output in $1"; return 1; }
	sed 's/^/  /' "$2"
	tr -d '\r' <"$1" | grep '^XH-PCI' | tee "$2.pci"
}

probes() {
	probe_complete "$O_LOG" "$W/probe-$O.txt"
	probe_complete "$S_LOG" "$W/probe-$S.txt"
}

check_loader_log() {
	local f=$W/xl-dmesg-$S.txt
	grep -E "xmaint-hide|hidden|left out|Invoking" "$f" | sed 's/^/  /'
	grep -q "xmaint-hide: PCI 00:05.0 hidden" "$f"
	grep -q "pci dev 05 hidden: slot left empty" "$f"
	grep -q "ACPI: PCI slot 00:05 left out of the DSDT" "$f"
	grep -q "xmaint-hide: vCPU 1 hidden" "$f"
	grep -q "xmaint-hide: E820: ${HIDE_MEM_START#0x}-${HIDE_MEM_END#0x} left out" "$f"
	if grep -E "malformed|not recognised|no qemu-xen PCI slot objects" "$f"; then return 1; fi
}

# Configuration dword 0 (device << 16 | vendor) through ports 0xCF8/0xCFC.
check_config_space() {
	local o=$W/probe-$O.txt s=$W/probe-$S.txt
	grep '^cfg ' "$o" "$s"
	grep -q '^cfg 00:04.0 0x00 0x100e8086$' "$o"
	grep -q '^cfg 00:05.0 0x00 0x813910ec$' "$o"
	grep -q '^cfg 00:04.0 0x00 0x100e8086$' "$s"
	# the hidden slot reads as empty: vendor (and device) 0xffff
	grep -q '^cfg 00:05.0 0x00 0xffffffff$' "$s"
}

check_linux_pci() {
	local o=$W/probe-$O.txt.pci s=$W/probe-$S.txt.pci
	grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000 net=eth' "$o"
	grep -q '^XH-PCI 0000:00:05.0 0x10ec:0x8139 ' "$o"
	grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000 net=eth' "$s"
	if grep '^XH-PCI 0000:00:05.0' "$s"; then echo "the substitute's Linux found 00:05.0"; return 1; fi
	[ "$(wc -l <"$o")" = "$(($(wc -l <"$s") + 1))" ]
}

check_network() {
	grep '^net ' "$W/probe-$O.txt" "$W/probe-$S.txt"
	grep -q '^net dev=eth[0-9]* .* ping=1 ' "$W/probe-$S.txt"
}

# tables GUEST: the ACPI tables GUEST uploaded (as read from its
# /sys/firmware/acpi/tables), checked against the sizes it printed; the AML
# ones and the MADT disassembled with iasl
tables() {
	local p=$W/probe-$1.txt d=$W/acpi-$1 mac n size
	grep -q '^upload ok$' "$p" || { echo "$1 did not upload its tables"; return 1; }
	mac=$(val "$p" mac)
	xh_wait_for 10 test -s "$W/up/$mac.tgz"
	rm -rf "$d"
	mkdir -p "$d"
	tar -C "$d" -xzf "$W/up/$mac.tgz"
	sed -n 's/^table //p' "$p" >"$d.sizes" # (dom0 has no /dev/fd for <(...))
	while read -r n size; do
		[ "$(stat -c %s "$d/$n")" = "$size" ] || { echo "$1: $n is not $size bytes"; return 1; }
	done <"$d.sizes"
	(cd "$d" && for n in DSDT SSDT* APIC; do
		[ -f "$n" ] || continue
		cp "$n" "$n.dat"
		iasl -d "$n.dat" >>iasl.log 2>&1 || { cat iasl.log; exit 1; }
	done)
	ls -l "$d"
}
# no_slot_mention GUEST N: no AML table of GUEST names slot N
no_slot_mention() {
	local hex
	hex=$(printf '%04X' "$2")
	if grep -m 5 -E "Device \(S$2\)|\.S$2\b|\bS$2_*,|0x${hex}FFFF|_ADR, 0x${hex}0000" \
		"$W/acpi-$1"/DSDT.dsl "$W/acpi-$1"/SSDT*.dsl 2>/dev/null; then
		echo "$1 names slot $2"
		return 1
	fi
}
slot_described() { # GUEST N
	local dsl=$W/acpi-$1/DSDT.dsl hex
	hex=$(printf '%04X' "$2")
	grep -q "Device (S$2)" "$dsl"
	grep -q "0x${hex}FFFF" "$dsl"
	grep -q "Name (_ADR, 0x${hex}0000)" "$dsl"
}
# aml GUEST N: the byte patterns that name slot N in the DSDT: NameSeg
# "Sn__", DWordConst 0x000nFFFF, 0x000n0000 (1 = present)
aml() {
	local b
	b=" $(od -An -v -tx1 "$W/acpi-$1/DSDT.dat" | tr -s ' \n' '  ') "
	has() { case "$b" in *" $1 "*) echo 1 ;; *) echo 0 ;; esac; }
	echo "name=$(has "53 3$2 5f 5f") prt=$(has "0c ff ff 0$2 00") adr=$(has "0c 00 00 0$2 00")"
}

check_acpi() {
	tables "$O"
	tables "$S"
	# the substitute: nothing names slot 5, slot 4 is described
	no_slot_mention "$S" 5
	slot_described "$S" 4
	# the original: both (so the patterns above are the right ones)
	slot_described "$O" 5
	slot_described "$O" 4
	if cmp -s "$W/acpi-$O/DSDT.dat" "$W/acpi-$S/DSDT.dat"; then echo "the same DSDT"; return 1; fi
	echo "AML bytes: $O slot 5 $(aml "$O" 5), $S slot 5 $(aml "$S" 5), slot 4 $(aml "$S" 4)"
	[ "$(aml "$S" 5)" = "name=0 prt=0 adr=0" ]
	[ "$(aml "$S" 4)" = "name=1 prt=1 adr=1" ]
	[ "$(aml "$O" 5)" = "name=1 prt=1 adr=1" ]
}

val() { # FILE KEY: the value of " KEY=..." on the first line that has it
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1" | head -n1
}

check_cpus() {
	local o=$W/probe-$O.txt s=$W/probe-$S.txt lo ls
	grep '^cpus' "$o" "$s"
	lo=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$W/acpi-$O/APIC.dsl")
	ls=$(grep -c 'Subtable Type : 00 \[Processor Local APIC\]' "$W/acpi-$S/APIC.dsl")
	echo "MADT local APICs: $O $lo, $S $ls"
	[ "$lo" = 2 ]
	[ "$ls" = 1 ]
	# the substitute's vCPU 1 is not even a possible CPU; the original's is
	[ "$(val "$s" possible)" = 0 ]
	[ "$(val "$o" possible)" = 0-1 ]
}

check_e820() {
	local o=$W/probe-$O.txt s=$W/probe-$S.txt
	grep 'BIOS-e820' "$o" "$s"
	# usable RAM overlapping the hidden range in a probe
	ram_in() {
		grep 'BIOS-e820: \[mem 0x[0-9a-f]*-0x[0-9a-f]*\] usable' "$1" |
			sed 's/.*\[mem \(0x[0-9a-f]*\)-\(0x[0-9a-f]*\)\].*/\1 \2/' |
			while read -r a b; do
				if [ $((a)) -le $((HIDE_MEM_END)) ] && [ $((b)) -ge $((HIDE_MEM_START)) ]; then
					echo "$a-$b"
				fi
			done
	}
	ram_in "$s" >"$W/ram-$S.txt"
	ram_in "$o" >"$W/ram-$O.txt"
	echo "usable RAM over the hidden range: $S '$(cat "$W/ram-$S.txt")', $O '$(cat "$W/ram-$O.txt")'"
	[ ! -s "$W/ram-$S.txt" ]
	[ -s "$W/ram-$O.txt" ]
}

shim_exits() {
	local id log
	id=$(cat "$W/sub-domid")
	log=/var/log/xen/xmaint-pci-hole-$id.log
	shim_running "$id"
	xh_guest_destroy "$S"
	xh_wait_for 30 bash -c "! { ps -o args | grep '^[^ ]*xmaint-pci-hole --ready-fd=3 $id ' >/dev/null; }"
	cat "$log"
	# the guest probed the hidden slot and was answered all-ones
	grep -Eq "done: [1-9][0-9]* config reads answered empty" "$log"
}

cleanup() {
	if xl domid "$O" >/dev/null 2>&1; then
		xh_guest_destroy "$O"
	else
		echo "XH-NOTE $XH_SCENARIO the original $O died after the substitute was made (a triple fault under TCG?)" >/dev/console
	fi
	kill "$(cat "$W/recv.pid")" 2>/dev/null || true
	ip addr del "$DOM0_IP/16" dev xenbr0
}

xh_step prepare prepare
xh_step original original
xh_step bad-bdf bad_bdf
xh_step substitute substitute
xh_step probes probes
xh_step hvmloader-log check_loader_log
xh_step config-space check_config_space
xh_step linux-pci check_linux_pci
xh_step network check_network
xh_step acpi-iasl check_acpi
xh_step madt-cpus check_cpus
xh_step e820 check_e820
xh_step shim-exits shim_exits
xh_step cleanup cleanup
