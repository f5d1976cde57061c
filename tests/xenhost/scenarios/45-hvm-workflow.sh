# 45-hvm-workflow: the workflows on an HVM guest (qemu-xen) serving HTTP
# (and running a counter) under load, with an e1000 at 00:04.0 and an
# rtl8139 at 00:05.0; a client in dom0 asks the service address every 50 ms.
#  - hw-remove: the rtl8139 is taken away -- the substitute boots xmaint's
#    patched hvmloader with the slot in its hiding spec and the PCI-hole shim
#    answering the slot as empty -- the web server moves by redirect, the
#    counter with its state, the original is shut down.  The client sees no
#    failed request; the substitute's Linux never saw 00:05.0.
#  - hw-add: an e1000 is added through a substitute of that substitute: the
#    new one has it (00:06.0, with its driver) and still not the rtl8139 (the
#    hiding spec is inherited); again no failed request.
# The guests keep their vCPU on physical CPU 1 (cpus = "1", inherited by
# the substitutes): unpinned, HVM guests here died of TCG triple faults in
# about one boot in three (tests/xenhost/README.md).  Each HVM boot takes
# 100-190 s under TCG: about 8 minutes in all, more when a guest dies anyway
# and a phase runs again (see tcg_death), so run it with XH_SCENARIO_TIMEOUT
# of 900 s or more (scripts/dev.sh gives 2400).  A phase with its retries
# may take up to ~25 min: its steps get at least that.
[ "${XH_STEP_TIMEOUT:-0}" -ge 1500 ] || XH_STEP_TIMEOUT=1500
XH_HVM_GUEST_TIMEOUT=${XH_HVM_GUEST_TIMEOUT:-400}
. /xh/lib.sh

LOG=/var/log/xmaintd.log
VIP=10.99.254.3
G=hw-hvm
NICS='vif = [ "model=e1000,bridge=xenbr0", "model=rtl8139,bridge=xenbr0" ]'
xh_logs "$LOG" /var/log/xen/console/$G.serial /var/log/xen/console/$G-sub.serial \
	/var/log/xen/console/$G-add.serial /run/hprobe.json

serial() { echo "/var/log/xen/console/$1.serial"; }
pci_lines() { grep -a '^XH-PCI' "$(serial "$1")" | tr -d '\r'; }
shim_for() { pgrep -f "xmaint-pci-hole.* $1 00:05.0" >/dev/null; } # DOMID

setup() {
	pgrep -x xmaintd >/dev/null ||
		xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file "$LOG"
	# tsc_mode native and the vCPU held on one physical CPU (both inherited
	# by the substitutes): far fewer TCG triple faults (README.md)
	XH_GUEST_RETRIES=2 xh_guest_create "$G" hvm 256 "$NICS" 'tsc_mode = "native"' 'cpus = "1"'
	xh_wait_for 120 agent_ready "$G"
	xh_wait_for 60 app_running "$G" web
	xh_wait_for 60 app_running "$G" counter
	pci_lines "$G"
	pci_lines "$G" | grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000 net=eth0'
	pci_lines "$G" | grep -q '^XH-PCI 0000:00:05.0 0x10ec:0x8139 '
	xl-maint service remove web >/dev/null 2>&1 || true   # an earlier scenario's
	xl-maint service add web "$VIP:80" "$G"
	http-probe "$VIP" 80 --duration-s 2 | grep -q '"failed":0,'
}

probe_start() {
	rm -f /run/hstop /run/hprobe.json
	http-probe "$VIP" 80 --interval-ms 50 --timeout-ms 3000 --stop-file /run/hstop \
		--out /run/hprobe.json &
	sleep 2
}
probe_stop() {
	sleep 2
	touch /run/hstop
	xh_wait_for 20 test -s /run/hprobe.json
	cat /run/hprobe.json
}

# Under TCG an HVM guest now and then triple-faults (README.md), while
# booting or even idle: Xen then "reboots" it (shutdown reason reboot,
# on_reboot destroy), which xmaintd logs as "dN (NAME): shut down (reboot)".
# Nothing in this scenario reboots a guest, so such a line means that TCG
# death: the phase is run again from a sound state, with an XH-NOTE; any
# other failure fails the step.
tcg_death() { # SINCE-LINE: a guest of this scenario "rebooted" since that log line
	tail -n +"$1" "$LOG" | grep -Eq "\\(($G|$G-sub|$G-add)\\): shut down \\(reboot\\)"
}
note_tcg_death() { # WHAT
	local l
	l=$(tail -n +"$since" "$LOG" | grep -E 'shut down \(reboot\)' | tail -n 1 | sed 's/.*notice: //')
	echo "XH-NOTE $XH_SCENARIO $1: a guest died under TCG ($l; $(xl dmesg | grep -c 'Triple fault') triple fault(s) in xl dmesg); running it again" >/dev/console
	echo "note: $1: $l"
	xl dmesg | grep 'Triple fault' | tail -n 3
}
# A guest that triple-faulted stays behind, shut down, when xmaintd made it
# (no xl process acts on its on_reboot): alive = it exists and runs.
alive() { xl list "$1" 2>/dev/null | awk 'NR == 2 { ok = $5 !~ /[scd]/ } END { exit !ok }'; }
gone() { # NAME...: destroy those that exist
	local n
	for n in "$@"; do running "$n" && xh_guest_destroy "$n"; done
	true
}

# The workflows, each under the client's load: WF-TYPE SOURCE NEW [OPTION]...
# The client's result is left in /run/hprobe.json.
run_workflow() {
	local type=$1 src=$2 new=$3 rc=0
	shift 3
	probe_start
	xl-maint "$type" "$src" --name "$new" --drain 1000 --timeout 600 "$@" || rc=$?
	probe_stop
	return "$rc"
}
remove_workflow() {
	run_workflow hw-remove "$G" "$G-sub" --hide-pci 00:05.0 --firmware "$(xh_find_hvmloader)"
}
add_workflow() {
	run_workflow hw-add "$G-sub" "$G-add" --add vif:bridge=xenbr0,model=e1000
}

# phase WHAT SRC NEW RUN RESTORE: RUN (a workflow from SRC to NEW under the
# client's load) up to 3 times while what fails it is a TCG death of one of
# this scenario's guests.  Before a retry NEW is destroyed and, unless SRC
# survived with its applications running at home, RESTORE makes SRC again.
# Sets OLD (SRC's domid in the run that passed) and NEW_ID.
phase() {
	local what=$1 src=$2 new=$3 run=$4 restore=$5 try since
	for try in 1 2 3; do
		OLD=$(domid "$src")
		since=$(($(wc -l <"$LOG") + 1))
		if "$run"; then
			NEW_ID=$(domid "$new")
			echo "$what: source d$OLD, new domain d$NEW_ID"
			return 0
		fi
		[ "$try" -lt 3 ] && tcg_death "$since" || return 1
		note_tcg_death "$what"
		gone "$new"
		if ! { alive "$src" && agent_ready "$src" &&
			app_running "$src" web && app_running "$src" counter; }; then
			"$restore" || return
		fi
	done
}
restore_original() { gone "$G"; setup; }
# hw-add's source is hw-remove's substitute: make it again the same way
restore_substitute() {
	gone "$G-sub" "$G"
	setup && phase hw-remove "$G" "$G-sub" remove_workflow restore_original
}

# landed SRC NEW: after a phase, the client saw no failure and was answered
# by both domains, SRC is retired with both applications in NEW, whose Linux
# never saw the hidden slot 00:05.0 (hidden by its spec, the shim answering
# it) and has the e1000 at 00:04.0.
landed() {
	local src=$1 new=$2
	client_ok /run/hprobe.json "$OLD" "$NEW_ID"
	moved "$src" "$new" web counter
	pci_lines "$new"
	nope sh -c "grep -a '^XH-PCI 0000:00:05.0' $(serial "$new")"
	pci_lines "$new" | grep -q '^XH-PCI 0000:00:04.0 0x8086:0x100e driver=e1000 net=eth0'
	[ "$(xsr "/local/domain/$NEW_ID/xmaint/hide/pci")" = 00:05.0 ]
	shim_for "$NEW_ID"
}

hw_remove() {
	phase hw-remove "$G" "$G-sub" remove_workflow restore_original || return
	landed "$G" "$G-sub"
}

# A NIC comes through a substitute of the substitute, which keeps 00:05.0
# hidden (what its source hides; no --hide-pci, no --firmware given here).
hw_add() {
	phase hw-add "$G-sub" "$G-add" add_workflow restore_substitute || return
	landed "$G-sub" "$G-add"
	# and the NIC added, with its driver
	pci_lines "$G-add" | grep -q '^XH-PCI 0000:00:06.0 0x8086:0x100e driver=e1000 net=eth'
}

cleanup() {
	xl-maint service remove web
	gone "$G-add" "$G-sub" "$G"
}

xh_step setup setup
xh_step hw-remove hw_remove
xh_step hw-add hw_add
xh_step cleanup cleanup
