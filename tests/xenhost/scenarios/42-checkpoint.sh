# 42-checkpoint: an application moved by checkpoint/restore (criu).  A PV
# guest runs "ckpt", a counter whose count lives only in a shell's memory,
# as the init of its own PID namespace.  An os-patch moves it to a
# substitute: criu dumps it, the images travel with /var/lib/ckpt over
# libxenvchan, criu restores it there.  The count goes on (no reset, no
# repeat, never counted by both domains: a restart would begin at 1 again),
# the restored process is again the init of its own PID namespace, and the
# old domain is retired.  Then back, with xmaintd killed mid-move.
. /xh/lib.sh

LOG=/var/log/xmaintd.log
STATE=/var/lib/xmaint
G=ck-app
xh_logs "$LOG" /var/log/xen/console/guest-$G.log /var/log/xen/console/guest-$G-sub.log

ck_lines() { xh_guest_exec "$1" 'cat /var/lib/ckpt/log' | tr -d '\r' | wc -l; }
ck_more_than() { [ "$(ck_lines "$1")" -gt "$2" ]; }
# the application's process is the init of a PID namespace of its own
own_pidns() {
	xh_guest_exec "$1" 'grep NSpid /proc/$(cat /run/xmaint-agent/ckpt.pid)/status' | tee /run/nspid
	grep -Eq 'NSpid:[[:space:]]+[0-9]+[[:space:]]+1$' <<<"$(tr -d '\r' </run/nspid)"
}

setup() {
	pkill -x xmaintd || true
	xh_wait_for 20 nope pgrep -x xmaintd
	xmaintd --pidfile /run/xmaintd.pid --state-dir "$STATE" --log-file "$LOG"
	XH_GUEST_EXTRA="xh_apps=ckpt" xh_guest_create "$G" pv 256 "vif = [ 'bridge=xenbr0' ]"
	xh_wait_for 60 agent_ready "$G"
	xh_wait_for 30 app_running "$G" ckpt
	xh_wait_for 30 ck_more_than "$G" 2
	own_pidns "$G"
	domid "$G" >/run/ck-first
}

move() {
	local old new n0 files
	old=$(domid "$G")
	if ! xl-maint os-patch "$G" --name "$G-sub" --patch 'true' --timeout 600; then
		xh_guest_exec "$G" 'tail -n 40 /var/lib/ckpt/dump.log /var/log/xmaint-app-ckpt.log'
		return 1
	fi
	new=$(domid "$G-sub")
	nope running "$G"
	app_running "$G-sub" ckpt
	n0=$(ck_lines "$G-sub")
	xh_wait_for 30 ck_more_than "$G-sub" "$((n0 + 2))"
	count_continuous "$G-sub" /var/lib/ckpt/log "$(cat /run/ck-first)" "$new"
	own_pidns "$G-sub"
	# the images were consumed by the restore (the log, carried with them, stays)
	files=$(xh_guest_exec "$G-sub" 'ls -1 /var/lib/ckpt' | tr -d '\r')
	echo "$files"
	grep -qx log <<<"$files"
	nope grep -q '\.img$' <<<"$files"
}

# Back again, xmaintd killed (SIGKILL) as the transfer begins -- the
# application dumped, its images not yet across -- and started again: the
# workflow resumes from its journal, the count goes on in a third domain.
killed_move() {
	local second id
	second=$(domid "$G-sub")
	kill "$(cat /run/xmaintd.pid)"
	xh_wait_for 20 nope pgrep -x xmaintd
	XMAINT_FAULT=transfer xmaintd --pidfile /run/xmaintd.pid --state-dir "$STATE" --log-file "$LOG"
	xl-maint os-patch "$G-sub" --name "$G" --patch 'true' --no-wait
	xh_wait_for 300 nope pgrep -x xmaintd
	grep "XMAINT_FAULT=transfer: killing" "$LOG"
	id=$(ls -t "$STATE"/workflows/ | grep journal | head -n1 | sed 's/\.journal$//')
	xmaintd --pidfile /run/xmaintd.pid --state-dir "$STATE" --log-file "$LOG"
	xl-maint workflow wait "$id"
	grep -q "workflow $id: resuming" "$LOG"
	nope running "$G-sub"
	app_running "$G" ckpt
	xh_wait_for 30 ck_more_than "$G" "$(($(ck_lines "$G") + 1))"
	count_continuous "$G" /var/lib/ckpt/log "$(cat /run/ck-first)" "$second" "$(domid "$G")"
	own_pidns "$G"
}

cleanup() {
	kill "$(cat /run/xmaintd.pid)" 2>/dev/null
	for n in "$G" "$G-sub"; do xl destroy "$n" 2>/dev/null || true; done
	true
}

xh_step setup setup
xh_step move move
xh_step killed-move killed_move
xh_step cleanup cleanup
