# 10-smoke: xmaintd in dom0 of a real Xen host; a PV guest; `xl maint status
# --json` lists Domain-0 and the guest with the memory and state xl reports;
# requests written to xenstore are answered, hostile ones refused.
. /xh/lib.sh

LOG=/var/log/xmaintd.log
xh_logs "$LOG" /var/log/xen/console/guest-xm-pv.log /var/log/xen/xl-xm-pv.log

# The object of one domain in `xl maint status --json` / `list --json`.
dom_json() { # JSON NAME
	grep -o "{\"domid\":[0-9]*,\"name\":\"$2\"[^}]*}" <<<"$1"
}
field() { # OBJECT KEY
	sed -n "s/.*\"$2\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$1"
}
# A fresh request nonce (protocol 2: 32 hex digits, echoed in the answer).
nonce() { head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
# Write a request as dom0 and print the response once it is there.
request() { # ID VALUE
	xenstore-write "/local/domain/0/xmaint/request/$1" "$2"
	xh_wait_for 10 xenstore-exists "/local/domain/0/xmaint/response/$1"
	xenstore-read "/local/domain/0/xmaint/response/$1"
}

start_daemon() {
	xmaintd --version
	xmaintd --pidfile /run/xmaintd.pid --state-dir /var/lib/xmaint --log-file "$LOG"
	[ "$(xenstore-read /local/domain/0/xmaint/daemon/state)" = running ]
	grep -q "with hypervisor" "$LOG"
	xl-maint status
}

check_status_json() {
	local json d0 g id
	json=$(xl-maint status --json)
	echo "$json"
	grep -q '"daemon":{"answering":true,"state":"running"' <<<"$json"
	d0=$(dom_json "$json" Domain-0)
	g=$(dom_json "$json" xm-pv)
	[ -n "$d0" ] && [ -n "$g" ]
	id=$(xl domid xm-pv)
	[ "$(field "$g" domid)" = "$id" ]
	[ "$(field "$g" type)" = pv ]
	[ "$(field "$d0" type)" = pv ]
	case "$(field "$g" state)" in running|blocked) ;; *) echo "bad state"; return 1 ;; esac
	# memory: the target is what xl.cfg asked for; what xl list reports matches
	[ "$(field "$g" mem_target_kb)" = 131072 ]
	[ "$(field "$g" mem_max_kb)" -ge 131072 ]
	local xl_mem_g xl_mem_d0 ours_g ours_d0
	xl_mem_g=$(xl list xm-pv | awk 'NR==2 {print $3}')
	xl_mem_d0=$(xl list Domain-0 | awk 'NR==2 {print $3}')
	ours_g=$(( $(field "$g" mem_actual_kb) / 1024 ))
	ours_d0=$(( $(field "$d0" mem_actual_kb) / 1024 ))
	echo "xl list: guest $xl_mem_g MiB, dom0 $xl_mem_d0 MiB; xmaint: $ours_g, $ours_d0"
	[ $(( ours_g - xl_mem_g )) -le 1 ] && [ $(( xl_mem_g - ours_g )) -le 1 ]
	[ $(( ours_d0 - xl_mem_d0 )) -le 1 ] && [ $(( xl_mem_d0 - ours_d0 )) -le 1 ]
	[ "$(field "$g" vcpus_online)" = 1 ]
}

check_guest_published() {
	local id hid
	id=$(xl domid xm-pv)
	xh_wait_for 10 xenstore-exists "/local/domain/$id/xmaint/host/id"
	hid=$(xenstore-read /local/domain/0/xmaint/host/id)
	[ "$(xenstore-read "/local/domain/$id/xmaint/host/id")" = "$hid" ]
	[ "$hid" = "$(cat /var/lib/xmaint/host-id)" ]
	xenstore-ls -p "/local/domain/$id/xmaint" | tee /tmp/perms
	# ~/xmaint/host/id: dom0's, readable by the guest; request: the guest's own
	grep -Eq "^ *id = \"$hid\".*\(n0,r$id\)$" /tmp/perms
	grep -Eq "^ *request = \"\".*\(n$id\)$" /tmp/perms
	grep -Eq "^ *response = \"\".*\(n$id\)$" /tmp/perms
	grep -q "d$id (xm-pv): domain arrived" "$LOG"
}

check_requests() {
	local r n
	n=$(nonce)
	r=$(request s1 '{"op":"list","nonce":"'"$n"'"}'); echo "$r"
	grep -q '"status":"ok"' <<<"$r"
	grep -q "\"nonce\":\"$n\"" <<<"$r"
	grep -q '"name":"xm-pv"' <<<"$r"
	r=$(request s2 '{"op":"host-info","nonce":"'"$(nonce)"'"}'); echo "$r"
	grep -q '"xen_version":"4.17' <<<"$r"
	grep -q '"nr_cpus":2' <<<"$r"
	r=$(request s3 '{"op":"no-such-op","nonce":"'"$(nonce)"'"}'); echo "$r"
	grep -q '"status":"error".*unknown operation' <<<"$r"
	r=$(request s4 'not json at all'); echo "$r"
	grep -q '"status":"error"' <<<"$r"
	r=$(request s5 '{"op":"ping","nonce":"'"$(nonce)"'"}'); echo "$r"
	grep -q '"pong":true' <<<"$r"
	# a client of protocol 1 (no nonce) is told so, not left waiting
	r=$(request s6 '{"op":"ping"}'); echo "$r"
	grep -q '"status":"error".*nonce.*protocol 2' <<<"$r"
	# the front end: a request through libmaint, host information
	xl-maint request ping | grep -q '"pong":true'
	xl-maint host --json | grep -q '"virt_caps":\["pv","hvm"'
	# the guest's live configuration, in libxl's JSON
	xl-maint config xm-pv >/tmp/cfg
	grep -q '"name": "xm-pv"' /tmp/cfg
	grep -q '"max_memkb": 131072' /tmp/cfg
	grep -q '"type": "pv"' /tmp/cfg
	if xl-maint config no-such-domain 2>/tmp/err; then return 1; fi
	grep -q "no such object" /tmp/err
	# bad command lines: usage and non-zero exit
	if xl-maint frobnicate 2>/tmp/err; then return 1; fi
	grep -q "unknown subcommand" /tmp/err
	if xl-maint status --bogus 2>/tmp/err; then return 1; fi
	grep -q "unknown option" /tmp/err
}

check_departure() {
	local id
	id=$(xl domid xm-pv)
	xh_guest_destroy xm-pv
	xh_wait_for 10 grep -q "d$id (xm-pv): died\|d$id (xm-pv): domain departed" "$LOG"
	xl-maint list --json | tee /tmp/list
	! grep -q '"name":"xm-pv"' /tmp/list
}

stop_daemon() {
	local pid
	pid=$(cat /run/xmaintd.pid)
	kill -TERM "$pid"
	xh_wait_for 10 test ! -e /run/xmaintd.pid
	[ "$(xenstore-read /local/domain/0/xmaint/daemon/state)" = stopped ]
	grep -q "stopped after serving" "$LOG"
}

xh_step start-daemon start_daemon
xh_step guest-create xh_guest_create xm-pv pv 128
xh_step status-json check_status_json
xh_step guest-published check_guest_published
xh_step requests check_requests
xh_step departure check_departure
xh_step stop-daemon stop_daemon
