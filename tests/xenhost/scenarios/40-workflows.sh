# 40-workflows: a PV guest serves HTTP (busybox httpd, moved by redirect)
# and runs a counter (moved with its state over libxenvchan), both managed by
# xmaint-agent.  A client in dom0 asks the service address all the time.
#  - hw-remove: the guest's second network interface is taken away: a
#    substitute without it boots, takes the applications over, the original
#    is shut down: the client sees no failed request, the counter continues
#    (no reset, never two instances at once);
#  - bad input: a workflow on a missing domain, a second one on a busy
#    domain, garbage from an agent, an agent claiming another domain's app;
#  - kill -9 of xmaintd at every step of an os-patch, the guest agent killed
#    too: each restart resumes it, it finishes; the journal says what happened;
#  - hw-add: a network interface is added back through a substitute;
#  - reconfigure: restarted with more memory while a substitute serves;
#  - a substitute destroyed mid-step: the workflow rolls back;
#  - a substitute whose kernel panics mid-step: xmaintd, its toolstack,
#    destroys it (on_crash=destroy); the workflow rolls back in seconds;
#  - os-upgrade: the substitute boots a new system (kernel command line);
#  - app-maint: the second web instance gets a new release before the cut-over.
. /xh/lib.sh

LOG=/var/log/xmaintd.log
VIP=10.99.254.1
G=wf-app
STATE=/var/lib/xmaint
xh_logs "$LOG" /var/log/xen/console/guest-$G.log /var/log/xen/console/guest-$G-sub.log \
	/var/log/xen/console/guest-$G-sub2.log /run/probe.json

has_if() { xh_guest_exec "$1" 'ls -1 /sys/class/net' | tr -d '\r' | grep -qx "$2"; }

start_daemon() {
	xmaintd --pidfile /run/xmaintd.pid --state-dir "$STATE" --log-file "$LOG" "$@"
	[ "$(xsr /local/domain/0/xmaint/daemon/state)" = running ]
}

boot() { # NAME
	xh_guest_create "$1" pv 256 "vif = [ 'bridge=xenbr0', 'bridge=xenbr0' ]"
	xh_wait_for 60 agent_ready "$1"
	xh_wait_for 30 app_running "$1" web
	xh_wait_for 30 app_running "$1" counter
	xenstore-ls "/local/domain/$(domid "$1")/xmaint/agent"
}

service() {
	xl-maint service remove web >/dev/null 2>&1 || true   # an earlier scenario's
	xl-maint service add web "$VIP:80" "$G"
	xl-maint service list
	nft list table ip xmaint
	http-probe "$VIP" 80 --duration-s 3 --out /run/probe0.json
	cat /run/probe0.json
	grep -q '"failed":0,' /run/probe0.json
	grep -q "\"d$(domid "$G")\":[1-9]" /run/probe0.json
}

probe_start() {
	rm -f /run/probe.stop /run/probe.json
	http-probe "$VIP" 80 --interval-ms 20 --timeout-ms 3000 --stop-file /run/probe.stop \
		--out /run/probe.json &
	echo $! >/run/probe.pid
}
probe_stop() {
	touch /run/probe.stop
	xh_wait_for 20 test -s /run/probe.json
	cat /run/probe.json
}
# under_load CMD...: CMD while the client asks (its report in /run/probe.json)
under_load() {
	probe_start
	sleep 1
	"$@"
	sleep 2
	probe_stop
}

hw_remove() {
	local old new
	old=$(domid "$G")
	has_if "$G" eth1
	probe_start
	sleep 2
	xl-maint hw-remove "$G" --remove vif:1 --drain 1000 --timeout 600
	sleep 3
	probe_stop
	new=$(domid "$G-sub")
	echo "original d$old, substitute d$new"
	# the client: no failed request, answers from both instances
	client_ok /run/probe.json "$old" "$new"
	# the original is retired; the substitute has no eth1 and serves
	moved "$G" "$G-sub" web counter
	nope has_if "$G-sub" eth1
	has_if "$G-sub" eth0
	count_continuous "$G-sub" /var/lib/counter/log "$old" "$new"
	xl-maint workflow list
	grep -h '"event"' "$STATE"/workflows/*.journal | tail -n 20
}

bad_input() {
	local out sub id
	# a workflow on a domain that does not exist
	fails xl-maint os-patch no-such-domain --patch true
	grep -q "no running domain no-such-domain" <<<"$FAILS_OUT"
	# hw-remove without a device, a malformed BDF or device: usage errors
	fails xl-maint hw-remove "$G-sub"
	grep -q "say which device goes" <<<"$FAILS_OUT"
	fails xl-maint hw-remove "$G-sub" --hide-pci 99:99.9
	fails xl-maint hw-remove "$G-sub" --remove eth1
	# a device the domain does not have: the workflow fails, nothing is left
	fails xl-maint hw-remove "$G-sub" --name "$G-sub4" --remove vif:7
	nope running "$G-sub4"
	# a second workflow on a busy domain
	sub=$G-sub
	xl-maint os-patch "$sub" --name "$G-sub2" --patch 'sleep 20' --no-wait
	fails xl-maint os-patch "$sub" --name "$G-sub3" --patch true
	grep -q "busy with workflow" <<<"$FAILS_OUT"
	id=$(xl-maint workflow list --json | grep -o '"id":"[^"]*os-patch[^"]*"' | tail -n1 | cut -d'"' -f4)
	# abort it: it rolls back, the substitute of the substitute goes away
	xl-maint workflow abort "$id"
	fails xl-maint workflow wait "$id"
	xl-maint workflow show "$id" | grep -q "rolled-back"
	nope running "$G-sub2"
	app_running "$sub" web
	app_running "$sub" counter
	# garbage from the agent: a spec that is not JSON, one for a huge app
	# list, a name outside the rules; xmaintd logs and ignores them
	d=$(domid "$sub")
	xenstore-write "/local/domain/$d/xmaint/agent/apps/evil/spec" '{"mode":"redirect","port":99999}'
	xenstore-write "/local/domain/$d/xmaint/agent/apps/bad@name/spec" '{"mode":"state"}'
	xenstore-write "/local/domain/$d/xmaint/agent/apps/junk/spec" "$(head -c 3000 /dev/urandom | base64 -w0 | head -c 3000)"
	xl-maint status >/dev/null
	xenstore-rm "/local/domain/$d/xmaint/agent/apps/evil"
	xenstore-rm "/local/domain/$d/xmaint/agent/apps/bad@name"
	xenstore-rm "/local/domain/$d/xmaint/agent/apps/junk"
	grep -c "refused" "$LOG" || true
}

# hw-add: a network interface comes back; only the substitute gets it.
hw_add() {
	nope has_if "$G-sub" eth1
	under_load xl-maint hw-add "$G-sub" --name "$G" --add vif:bridge=xenbr0 --drain 500
	client_ok /run/probe.json
	moved "$G-sub" "$G" web counter
	has_if "$G" eth1
}

# kill -9 of xmaintd at every step of one os-patch workflow, one after the
# other: each restarted daemon resumes the workflow from its journal and is
# killed again at the next step (XMAINT_FAULT); the last one finishes it.
# The guest agent in the substitute is killed and restarted mid-workflow too.
daemon_dies_at() { # STEP
	local since
	since=$(wc -l <"$LOG")
	XMAINT_FAULT=$1 start_daemon
	xh_wait_for 600 nope pgrep -x xmaintd
	tail -n +"$since" "$LOG" | grep "XMAINT_FAULT=$1: killing"
}

killed_everywhere() {
	local id step
	kill "$(cat /run/xmaintd.pid)"
	xh_wait_for 20 nope pgrep -x xmaintd
	XMAINT_FAULT=substitute start_daemon
	xl-maint os-patch "$G" --name "$G-sub" --patch 'echo again >/etc/xh-patched2' \
		--drain 500 --no-wait
	xh_wait_for 60 nope pgrep -x xmaintd
	grep "XMAINT_FAULT=substitute: killing" "$LOG"
	id=$(ls -t "$STATE"/workflows/ | grep journal | head -n1 | sed 's/\.journal$//')
	for step in patch transfer switch retire; do
		daemon_dies_at "$step"
		if [ "$step" = patch ]; then
			# the new domain's agent dies and comes back while xmaintd is down
			xh_guest_exec "$G-sub" 'killall xmaint-agent; sleep 1; xmaint-agent >>/var/log/xmaint-agent.log 2>&1 &'
		fi
	done
	start_daemon
	xl-maint workflow wait "$id"
	grep -c "resuming" "$LOG"
	[ "$(grep -c "workflow $id: resuming" "$LOG")" -ge 5 ]
	moved "$G" "$G-sub" web counter kv
	[ "$(xh_guest_exec "$G-sub" 'cat /etc/xh-patched2' | tr -d '\r')" = again ]
	# the journal tells the story
	grep -h '"event"' "$STATE/workflows/$id.journal" | cut -c1-160
	grep -q '"event":"end","state":"done"' "$STATE/workflows/$id.journal"
}

# reconfigure: the applications move to a substitute while the guest is
# restarted with more memory, then come back; the client sees no failure.
reconfigure() {
	under_load xl-maint reconfigure "$G-sub" --name "$G" --set memory=320 --drain 500
	client_ok /run/probe.json
	xl list "$G-sub"
	[ "$(xl list "$G-sub" | awk 'NR == 2 { print $3 }')" -ge 319 ]
	moved "$G" "$G-sub" web counter
	[ "$(xsr "/local/domain/$(domid "$G-sub")/xmaint/role")" = reconfigured ]
}

# A guest crash mid-step: the substitute is destroyed while its patch runs;
# the workflow rolls back and the applications stay (or come back) home.
substitute_crash() {
	local id
	xl-maint os-patch "$G-sub" --name "$G" --patch 'sleep 60' --no-wait
	id=$(xl-maint workflow list --json | grep -o '"id":"[^"]*"' | tail -n1 | cut -d'"' -f4)
	xh_wait_for 300 sh -c "xl-maint workflow show $id | grep -q 'step: *patch'"
	xl destroy "$G"
	fails xl-maint workflow wait "$id"
	xl-maint workflow show "$id" | grep -q "rolled-back"
	moved "$G" "$G-sub" web counter
	http-probe "$VIP" 80 --duration-s 2 | grep -q '"failed":0,'
}

# A substitute's kernel panics mid-step (sysrq c).  No xl process watches a
# domain xmaintd made: xmaintd follows its on_crash (destroy, from the
# guest's configuration) and destroys it; the workflow waiting on its agent
# sees it gone and rolls back at once, not after the agent's 120 s.  The
# applications stay in the original, nothing is left over, the journal
# tells it.
substitute_panic() {
	local id sub since t0 t1 j
	since=$(($(wc -l <"$LOG") + 1))
	xl-maint os-patch "$G-sub" --name "$G" --patch 'sleep 150' --no-wait
	id=$(xl-maint workflow list --json | grep -o '"id":"[^"]*"' | tail -n1 | cut -d'"' -f4)
	xh_wait_for 300 sh -c "xl-maint workflow show $id | grep -q 'step: *patch'"
	sub=$(domid "$G")
	t0=$(now_ms)
	xh_guest_crash "$G"
	fails xl-maint workflow wait "$id"
	t1=$(now_ms)
	echo "d$sub panicked; workflow $id ended $((t1 - t0)) ms later"
	tail -n +"$since" "$LOG" | grep -E "d$sub \($G\)|workflow $id"
	xl-maint workflow show "$id" | grep -q "rolled-back"
	tail -n +"$since" "$LOG" | grep -q "d$sub ($G): crashed; destroyed (on_crash=destroy)"
	[ $((t1 - t0)) -lt 30000 ]
	# the applications run in the original, the only domain besides dom0
	moved "$G" "$G-sub" web counter
	xl list
	[ "$(xl list | awk 'NR > 1 { print $1 }' | sort | tr '\n' ' ')" = "Domain-0 $G-sub " ]
	http-probe "$VIP" 80 --duration-s 2 | grep -q '"failed":0,'
	# the journal: the substitute it made, what became of it, the rollback
	j=$STATE/workflows/$id.journal
	grep -h '"event"' "$j" | cut -c1-200
	grep -q "\"event\":\"created\",\"step\":\"substitute\",\"domid\":\"$sub\"" "$j"
	grep -q "\"event\":\"domain\",\"domid\":\"$sub\",\"what\":\"crashed; destroyed (on_crash=destroy)\"" "$j"
	grep -q "\"event\":\"rollback\",\"reason\":\"d$sub's agent: .*d$sub is gone" "$j"
	grep -q '"event":"end","state":"rolled-back"' "$j"
}

# os-upgrade: the substitute boots the new system (here: the same kernel
# with a new command line), the applications move, the old one is retired.
os_upgrade() {
	local old
	old=$(domid "$G-sub")
	under_load xl-maint os-upgrade "$G-sub" --name "$G" --drain 500 \
		--cmdline "console=hvc0 quiet xh_name=$G xh_release=2"
	client_ok /run/probe.json "$(domid "$G")"
	xh_guest_exec "$G" 'cat /proc/cmdline' | grep -q "xh_release=2"
	moved "$G-sub" "$G" web counter kv
	echo "d$old retired; $G (d$(domid "$G")) runs the new system"
}

# app-maint: the second web instance, in the substitute, gets release 2
# before the request stream cuts over to it; no request fails.
app_maint() {
	under_load xl-maint app-maint "$G" --name "$G-sub" --change 'echo 2 >/etc/xh-web-release' \
		--drain 500
	client_ok /run/probe.json "$(domid "$G-sub")"
	busybox wget -q -O - "http://$VIP/" | tee /run/page
	grep -q "^release 2" /run/page
	moved "$G" "$G-sub" web counter
}

cleanup() {
	xl-maint service remove web
	kill "$(cat /run/xmaintd.pid)" 2>/dev/null
	for n in "$G" "$G-sub" "$G-sub2" "$G-sub4"; do xl destroy "$n" 2>/dev/null || true; done
	true
}

fresh_daemon() {
	# a daemon an earlier scenario left behind goes first
	pkill -x xmaintd || true
	xh_wait_for 20 nope pgrep -x xmaintd
	start_daemon
}

xh_step daemon fresh_daemon
xh_step boot boot "$G"
xh_step service service
xh_step hw-remove hw_remove
xh_step bad-input bad_input
xh_step hw-add hw_add
xh_step killed-everywhere killed_everywhere
xh_step reconfigure reconfigure
xh_step substitute-crash substitute_crash
xh_step substitute-panic substitute_panic
xh_step os-upgrade os_upgrade
xh_step app-maint app_maint
xh_step cleanup cleanup
