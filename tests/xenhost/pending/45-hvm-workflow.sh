# 45-hvm-workflow: hw-remove on an HVM guest (qemu-xen) serving HTTP under
# load: its rtl8139 at 00:05.0 is taken away -- the substitute boots
# xmaint's patched hvmloader with the slot in its hiding spec and the
# PCI-hole shim answering the slot as empty -- the web server moves by
# redirect, the counter with its state, the original is shut down.  The
# client sees no failed request; the substitute's Linux never saw 00:05.0.
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-1200}
XH_HVM_GUEST_TIMEOUT=${XH_HVM_GUEST_TIMEOUT:-600}
. /xh/lib.sh

LOG=/var/log/xmaintd.log
VIP=10.99.254.3
G=hw-hvm
NICS='vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]'
xh_logs "$LOG" /var/log/xen/console/$G.serial /var/log/xen/console/$G-sub.serial /run/hprobe.json

pci_lines() { grep -a '^XH-PCI' "$1" | tr -d '\r'; }

setup() {
	pgrep -x xmaintd >/dev/null ||
		xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file "$LOG"
	XH_GUEST_RETRIES=2 xh_guest_create "$G" hvm 256 "$NICS" 'tsc_mode = "native"'
	xh_wait_for 120 agent_ready "$G"
	xh_wait_for 60 app_running "$G" web
	pci_lines /var/log/xen/console/$G.serial
	pci_lines /var/log/xen/console/$G.serial | grep -q '^XH-PCI 0000:00:05.0 0x10ec:0x8139'
	xl-maint service remove web >/dev/null 2>&1 || true   # an earlier scenario's
	xl-maint service add web "$VIP:80" "$G"
	http-probe "$VIP" 80 --duration-s 2 | grep -q '"failed":0,'
}

hw_remove() {
	local old new loader
	loader=$(xh_find_hvmloader)
	old=$(domid "$G")
	rm -f /run/hstop /run/hprobe.json
	http-probe "$VIP" 80 --interval-ms 50 --timeout-ms 3000 --stop-file /run/hstop --out /run/hprobe.json &
	sleep 2
	xl-maint hw-remove "$G" --hide-pci 00:05.0 --firmware "$loader" --drain 1000 --timeout 900
	sleep 2
	touch /run/hstop
	xh_wait_for 20 test -s /run/hprobe.json
	cat /run/hprobe.json
	new=$(domid "$G-sub")
	grep -q '"failed":0,' /run/hprobe.json
	grep -q "\"d$new\":[1-9]" /run/hprobe.json
	nope xl domid "$G"
	app_running "$G-sub" web
	app_running "$G-sub" counter
	# the substitute's Linux never saw the hidden slot; the e1000 works
	pci_lines /var/log/xen/console/$G-sub.serial
	nope sh -c "grep -a '^XH-PCI 0000:00:05.0' /var/log/xen/console/$G-sub.serial"
	pci_lines /var/log/xen/console/$G-sub.serial | grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000'
	[ "$(xsr "/local/domain/$new/xmaint/hide/pci")" = 00:05.0 ]
	pgrep -f "xmaint-pci-hole.* $new 00:05.0" >/dev/null
}

cleanup() {
	xl-maint service remove web
	xl destroy "$G-sub" 2>/dev/null
	true
}

xh_step setup setup
xh_step hw-remove hw_remove
xh_step cleanup cleanup
