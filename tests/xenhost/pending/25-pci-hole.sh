# 25-pci-hole: an HVM guest with two emulated NICs (e1000 at 00:04.0,
# rtl8139 at 00:05.0) gets a substitute with the rtl8139 hidden: the
# PCI-hole shim answers its configuration space as an empty slot, so the
# substitute's kernel does not find it; the original still sees both; the
# visible NIC is bound to its driver in the substitute.
. /xh/lib.sh

ORIG=/var/log/xen/console/ph-orig.serial
SUB=/var/log/xen/console/ph-sub.serial
xh_logs "$ORIG" "$SUB" /var/log/xen/qemu-dm-ph-orig.log /var/log/xen/qemu-dm-ph-sub.log

pci_lines() { grep -a '^XH-PCI' "$1" | tr -d '\r'; }

original() {
	xh_guest_create ph-orig hvm 256 \
		"vif = [ 'model=e1000,bridge=xenbr0', 'model=rtl8139,bridge=xenbr0' ]"
	pci_lines "$ORIG"
	pci_lines "$ORIG" | grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e'
	pci_lines "$ORIG" | grep -q '^XH-PCI 0000:00:05.0 0x10ec:0x8139'
}

substitute() {
	local id
	xl-maint substitute ph-orig --name ph-sub --hide-pci 00:05.0 \
		--ready XMAINT-GUEST-UP --timeout 600
	id=$(xl domid ph-sub)
	# the hiding spec is the substitute's, read-only for it
	[ "$(xenstore-read "/local/domain/$id/xmaint/hide/pci")" = 00:05.0 ]
	xenstore-ls -p "/local/domain/$id/xmaint/hide" | grep -q "(n0,r$id)"
	pgrep -f "xmaint-pci-hole --ready-fd=3 $id 00:05.0" >/dev/null
}

check_substitute() {
	pci_lines "$SUB"
	# the hidden slot is empty, the other NIC works (driver bound, interface up)
	! pci_lines "$SUB" | grep -q '^XH-PCI 0000:00:05.0'
	pci_lines "$SUB" | grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000 net=eth'
	# and the original keeps both
	pci_lines "$ORIG" | grep -q '^XH-PCI 0000:00:05.0'
}

shim_exits() {
	local id
	id=$(xl domid ph-sub)
	xh_guest_destroy ph-sub
	xh_wait_for 20 sh -c "! pgrep -f 'xmaint-pci-hole --ready-fd=3 $id ' >/dev/null"
	cat "/var/log/xen/xmaint-pci-hole-$id.log"
	# the guest probed the hidden slot and was answered all-ones
	grep -Eq "done: [1-9][0-9]* config reads answered empty" "/var/log/xen/xmaint-pci-hole-$id.log"
}

cleanup() { xh_guest_destroy ph-orig; }

xh_step original original
xh_step substitute substitute
xh_step hidden-slot-empty check_substitute
xh_step shim-exits shim_exits
xh_step cleanup cleanup
