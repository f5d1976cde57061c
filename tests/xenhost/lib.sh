# lib.sh - sourced by xenhost scenarios inside dom0 (bash).  See README.md.
#
#   xh_logs FILE...              tail these files when a step fails
#   xh_step NAME CMD [ARG]...    run one step; prints "XH-STEP <scenario> NAME PASS|FAIL"
#   xh_wait_for TIMEOUT CMD...   poll CMD every 0.5 s until it succeeds
#   xh_guest_create NAME TYPE MEM_MB [CFG-LINE]...   (TYPE pv|pvh|hvm) create + wait
#   xh_guest_start / xh_guest_wait_up NAME [TIMEOUT]  the two halves of it
#   xh_guest_exec NAME CMD       run a shell command in a pv/pvh test guest
#   xh_guest_console NAME        path of the guest's console log
#   xh_guest_destroy NAME        xl destroy and wait until it is gone
#   xh_figure TEXT...            print "XH-FIGURE <scenario> TEXT" on the console
# Two-host runs (xenhost.sh run --hosts 2):
#   xh_on HOST CMD [ARG]...      run CMD on dom0 of host a or b (over the link)
#   xh_host_ip HOST              that dom0's address on the link
#   xh_migrate NAME TO [OPT]...  live-migrate guest NAME to host TO (xl migrate)
#   xh_move_saved NAME TO        PV: xl save, copy over the link, xl restore on TO

XH_SCENARIO=${XH_SCENARIO:-$(basename "$0" .sh)}
XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-300}
XH_GUEST_TIMEOUT=${XH_GUEST_TIMEOUT:-120}
XH_HVM_GUEST_TIMEOUT=${XH_HVM_GUEST_TIMEOUT:-240}
XH_GUEST_KERNEL=${XH_GUEST_KERNEL:-/usr/share/xenhost/guest/vmlinux.gz}
XH_HVM_GUEST_KERNEL=${XH_HVM_GUEST_KERNEL:-/usr/share/xenhost/guest/vmlinuz}
XH_GUEST_RAMDISK=${XH_GUEST_RAMDISK:-/usr/share/xenhost/guest/initrd.img}
XH_CFG_DIR=/etc/xen/xh
XH_LOGS=()

# xh_logs [HOST:]FILE...: files whose tails a failing step prints; "b:FILE"
# is a file on host b's dom0 (two-host runs).
xh_logs() { XH_LOGS+=("$@"); }

XH_HOST=${XH_HOST:-a}
XH_HOSTS=${XH_HOSTS:-a}
XH_RSH_PORT=7000

xh_host_ip() {
	case "$1" in
	a) echo 10.99.255.254 ;;
	b) echo 10.99.255.253 ;;
	*) echo "xh_host_ip: no host '$1' (a or b)" >&2; return 2 ;;
	esac
}

# xh_on HOST CMD [ARG]...: run CMD on host HOST's dom0 (here when HOST is this
# host) and return its exit status.  CMD may be any function this shell
# knows (lib.sh's and the scenario's own: their definitions are sent along);
# variables are not: pass values as arguments.  The command runs in /tmp with
# lib.sh sourced and XH_SCENARIO set, stdin from this shell's stdin.
xh_on() {
	local h=$1
	shift
	if [ "$h" = "$XH_HOST" ]; then
		"$@"
		return
	fi
	case " $XH_HOSTS " in *" $h "*) ;; *) echo "xh_on: no host '$h' in this run (hosts: $XH_HOSTS)" >&2; return 2 ;; esac
	xh-rsh -p "$XH_RSH_PORT" "$(xh_host_ip "$h")" \
		"cd /tmp && . /xh/env && . /xh/lib.sh && $(declare -f) && XH_SCENARIO=$XH_SCENARIO && $(printf '%q ' "$@")"
}

xh__now() { cut -d' ' -f1 /proc/uptime; }

# xh_step NAME CMD [ARG]...: run CMD (a command or a shell function) in a
# subshell with "set -eo pipefail", its output captured, killed with its
# children after XH_STEP_TIMEOUT seconds.  Variables it sets do not reach the
# scenario.  On failure: the marker, the output, the registered logs' tails,
# and the scenario exits 1 (later steps are skipped).
xh_step() {
	local name=$1
	shift
	case "$name" in *[[:space:]]* | "") echo "xh_step: bad step name '$name'" >&2; exit 2 ;; esac
	local out t0 t1 rc pid wd opts=$-
	out=$(mktemp /tmp/xh-step.XXXXXX)
	t0=$(xh__now)
	set +e
	set -m # own process groups, so a timeout kills the step's children too
	(
		set -eo pipefail
		"$@"
	) >"$out" 2>&1 </dev/null &
	pid=$!
	(
		sleep "$XH_STEP_TIMEOUT"
		echo "xh_step: timed out after ${XH_STEP_TIMEOUT}s" >>"$out"
		kill -KILL -- "-$pid"
	) >/dev/null 2>&1 &
	wd=$!
	set +m
	wait "$pid"
	rc=$?
	kill -KILL -- "-$wd" 2>/dev/null
	wait "$wd" 2>/dev/null
	[[ $opts == *e* ]] && set -e
	t1=$(xh__now)
	local secs
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	if [ "$rc" = 0 ]; then
		echo "XH-STEP $XH_SCENARIO $name PASS (${secs}s)"
		[ "${XH_VERBOSE:-0}" = 1 ] && sed "s/^/XH-OUT $XH_SCENARIO $name | /" "$out"
		rm -f "$out"
		return 0
	fi
	echo "XH-STEP $XH_SCENARIO $name FAIL (exit $rc, ${secs}s)"
	local p="XH-OUT $XH_SCENARIO $name |"
	echo "$p \$ $*"
	tail -n 200 "$out" | sed "s/^/$p /"
	local f h
	for f in "${XH_LOGS[@]}"; do
		h=$XH_HOST
		case "$f" in [ab]:/*) h=${f%%:*} f=${f#?:} ;; esac
		if [ "$XH_HOSTS" = a ]; then
			echo "$p --- last lines of $f ---"
		else
			echo "$p --- last lines of $f on host $h ---"
		fi
		xh_on "$h" bash -c "if [ -f '$f' ]; then tail -n 40 '$f'; else echo '(no such file)'; fi" 2>&1 |
			tr -d '\r' | sed "s/^/$p /"
	done
	for h in $XH_HOSTS; do
		echo "$p --- xl list (host $h) ---"
		xh_on "$h" xl list 2>&1 | sed "s/^/$p /"
	done
	rm -f "$out"
	: >"/tmp/xh-failed-$XH_SCENARIO"
	exit 1
}

# xh_wait_for TIMEOUT CMD [ARG]...: 0 when CMD succeeds within TIMEOUT seconds.
xh_wait_for() {
	local timeout=$1 end
	shift
	end=$(($(date +%s) + timeout))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "xh_wait_for: '$*' still failing after ${timeout}s" >&2
			return 1
		fi
		sleep 0.5
	done
}

# (pv/pvh: xenconsoled names the log after the domain's name when it first
# sees it: a guest that arrived by live migration logs to
# guest-NAME--incoming.log; the newer of the two is the current one)
xh_guest_console() {
	local d=/var/log/xen/console
	if [ -f "$XH_CFG_DIR/$1.hvm" ] || [ -f "$d/$1.serial" ]; then
		echo "$d/$1.serial"
	elif [ "$d/guest-$1--incoming.log" -nt "$d/guest-$1.log" ]; then
		echo "$d/guest-$1--incoming.log"
	else
		echo "$d/guest-$1.log"
	fi
}

# xh_guest_cfg NAME TYPE MEM_MB [CFG-LINE]...: write $XH_CFG_DIR/NAME.cfg, print its path.
xh_guest_cfg() {
	local name=$1 type=$2 mem=$3 cfg
	shift 3
	mkdir -p "$XH_CFG_DIR"
	cfg=$XH_CFG_DIR/$name.cfg
	rm -f "$XH_CFG_DIR/$name.hvm"
	{
		echo "name = \"$name\""
		echo "type = \"$type\""
		echo "memory = $mem"
		echo "vcpus = 1"
		if [ "$type" = hvm ]; then
			echo "kernel = \"$XH_HVM_GUEST_KERNEL\""
		else
			echo "kernel = \"$XH_GUEST_KERNEL\""
		fi
		echo "ramdisk = \"$XH_GUEST_RAMDISK\""
		echo "on_crash = \"destroy\""
		echo "on_reboot = \"destroy\""
		case "$type" in
		pv | pvh)
			echo "extra = \"console=hvc0 quiet xh_name=$name${XH_GUEST_EXTRA:+ $XH_GUEST_EXTRA}\""
			;;
		hvm)
			# XH_HVM_UNPLUG: Linux's xen_emul_unplug (never: the emulated
			# NICs and disks stay, as the hiding scenarios need; all: the PV
			# drivers take over, as on a production PVHVM guest)
			echo "extra = \"console=ttyS0 quiet xen_emul_unplug=${XH_HVM_UNPLUG:-never} xh_name=$name${XH_GUEST_EXTRA:+ $XH_GUEST_EXTRA}\""
			echo "device_model_version = \"qemu-xen\""
			echo "serial = \"file:/var/log/xen/console/$name.serial\""
			echo "vnc = 0"
			echo "sdl = 0"
			;;
		*)
			echo "xh_guest_cfg: type must be pv, pvh or hvm, not '$type'" >&2
			return 2
			;;
		esac
		local l
		for l in "$@"; do echo "$l"; done
	} >"$cfg"
	[ "$type" = hvm ] && : >"$XH_CFG_DIR/$name.hvm"
	echo "$cfg"
}

# xh_guest_start NAME TYPE MEM_MB [CFG-LINE]...: write the config and xl create.
xh_guest_start() {
	local name=$1 cfg
	cfg=$(xh_guest_cfg "$@") || return
	rm -f "$(xh_guest_console "$name")"
	xl create "$cfg" || {
		echo "xh_guest_start: xl create $cfg failed; config:" >&2
		sed 's/^/  /' "$cfg" >&2
		return 1
	}
}

# xh_guest_wait_up NAME [TIMEOUT]: wait for "XMAINT-GUEST-UP NAME" on its
# console.  If the domain disappears before that (under TCG a PVH/HVM guest
# now and then triple-faults early in Linux; see README.md), it is created
# again from its config, up to XH_GUEST_RETRIES (1) times, with an
# "XH-NOTE" line on the console; then it fails.
xh_guest_wait_up() {
	local name=$1 timeout=${2:-} log t0 end why="" retries=${XH_GUEST_RETRIES:-1}
	log=$(xh_guest_console "$name")
	if [ -z "$timeout" ]; then
		if [ -f "$XH_CFG_DIR/$name.hvm" ]; then timeout=$XH_HVM_GUEST_TIMEOUT; else timeout=$XH_GUEST_TIMEOUT; fi
	fi
	t0=$(xh__now)
	end=$(($(date +%s) + timeout))
	while :; do
		if grep -q "XMAINT-GUEST-UP $name" "$log" 2>/dev/null; then
			echo "guest $name up after $(awk -v a="$t0" -v b="$(xh__now)" 'BEGIN { printf "%.1f", b - a }')s"
			return 0
		fi
		if ! xl domid "$name" >/dev/null 2>&1; then
			if [ "$retries" -gt 0 ] && [ -f "$XH_CFG_DIR/$name.cfg" ]; then
				retries=$((retries - 1))
				echo "XH-NOTE $XH_SCENARIO guest $name died while booting; creating it again" >/dev/console
				echo "xh_guest_wait_up: $name died while booting; xl dmesg (tail):"
				xl dmesg 2>&1 | grep -v ' save: \| restore: ' | tail -n 8 | sed 's/^/  | /'
				rm -f "$log"
				xl create "$XH_CFG_DIR/$name.cfg" || { why="xl create $name failed on retry"; break; }
				end=$(($(date +%s) + timeout))
				continue
			fi
			why="domain $name is gone (crashed or shut down)"
			break
		fi
		if [ "$(date +%s)" -ge "$end" ]; then
			why="no 'XMAINT-GUEST-UP $name' within ${timeout}s"
			break
		fi
		sleep 0.5
	done
	echo "xh_guest_wait_up: $why; console $log:" >&2
	tail -n 30 "$log" 2>&1 | tr -d '\r' | sed 's/^/  | /' >&2
	echo "xl list:" >&2
	xl list >&2 2>&1
	echo "xl dmesg (tail):" >&2
	xl dmesg 2>&1 | grep -v ' save: \| restore: ' | tail -n 25 | sed 's/^/  | /' >&2
	return 1
}

# xh_guest_create NAME TYPE MEM_MB [CFG-LINE]...
xh_guest_create() {
	xh_guest_start "$@" && xh_guest_wait_up "$1"
}

# xh_guest_destroy NAME: destroy and wait until xl no longer knows it.
xh_guest_destroy() {
	local name=$1
	xl destroy "$name" || return
	xh_wait_for 30 bash -c "! xl domid '$name'"
}

# xh_find_hvmloader: print the path of xmaint's patched hvmloader in dom0
# (XH_HVMLOADER, or where stage.sh puts it); fail with a hint if there is none.
xh_find_hvmloader() {
	local f
	for f in ${XH_HVMLOADER:-} /usr/lib/xmaint/hvmloader /usr/local/lib/xmaint/hvmloader; do
		[ -s "$f" ] && { echo "$f"; return 0; }
	done
	echo "no patched hvmloader in dom0: stage it (hvmloader-patches/build-hvmloader.sh --out STAGE/usr/lib/xmaint; tests/xenhost/stage.sh does) or set XH_HVMLOADER" >&2
	return 1
}

# xh_guest_exec NAME CMD [TIMEOUT]: run CMD (sh, in the guest) through the
# guest's console; prints its output, returns its exit status.  pv/pvh only;
# CMD is at most ~3000 bytes.
# Crash a PV guest's kernel (sysrq c through its console): returns at once.
xh_guest_crash() {
	local tty
	tty=$(xenstore-read "/local/domain/$(xl domid "$1")/console/tty") || return
	printf 'XHX crash-%s %s\n' "$RANDOM" "$(echo 'echo c >/proc/sysrq-trigger' | base64 | tr -d '\n')" >"$tty"
}

xh_guest_exec() {
	local name=$1 cmd=$2 timeout=${3:-60} domid tty log id b64 size
	[ -f "$XH_CFG_DIR/$name.hvm" ] && { echo "xh_guest_exec: not for HVM guests" >&2; return 2; }
	domid=$(xl domid "$name") || return
	tty=$(xenstore-read "/local/domain/$domid/console/tty") || { echo "xh_guest_exec: no console tty for $name" >&2; return 1; }
	log=$(xh_guest_console "$name")
	id=$$-$RANDOM$RANDOM
	b64=$(printf '%s\n' "$cmd" | base64 | tr -d '\n')
	size=$(stat -c %s "$log" 2>/dev/null || echo 0)
	printf 'XHX %s %s\n' "$id" "$b64" >"$tty" || return
	local end=$(($(date +%s) + timeout)) text
	while :; do
		text=$(tail -c +"$((size + 1))" "$log" | tr -d '\r')
		if grep -q "^XH-GX-$id-RC=" <<<"$text"; then break; fi
		if [ "$(date +%s)" -ge "$end" ]; then
			echo "xh_guest_exec: no answer from $name within ${timeout}s" >&2
			return 124
		fi
		sleep 0.3
	done
	awk -v b="XH-GX-$id-BEGIN" -v e="XH-GX-$id-RC=" '
		index($0, e) == 1 { exit }
		on { print }
		$0 == b { on = 1 }' <<<"$text"
	return "$(sed -n "s/^XH-GX-$id-RC=//p" <<<"$text" | head -n1)"
}

# ---- short helpers the scenarios share ---------------------------------------
# xh_figure TEXT...: a measured figure: "XH-FIGURE <scenario> TEXT" on the
# console (kept in the run's log) and in the step's output
xh_figure() { echo "XH-FIGURE $XH_SCENARIO $*" | tee /dev/console; }
domid() { xl domid "$1" 2>/dev/null; }
running() { xl domid "$1" >/dev/null 2>&1; }
xsr() { xenstore-read "$@" 2>/dev/null; }
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }  # busybox date has no %N
# "set -e" ignores a failure after "!": negative checks go through nope.
nope() {
	if "$@"; then
		echo "unexpectedly succeeded: $*"
		return 1
	fi
	return 0
}
# fails CMD... must fail; its output (stdout+stderr) is left in $FAILS_OUT.
fails() {
	if FAILS_OUT=$("$@" 2>&1); then
		echo "unexpectedly succeeded: $*: $FAILS_OUT"
		return 1
	fi
	echo "$FAILS_OUT"
}
# the xmaint agent of guest NAME, and its applications
agent_ready() { [ "$(xsr "/local/domain/$(domid "$1")/xmaint/agent/state")" = ready ]; }
app_status() { xsr "/local/domain/$(domid "$1")/xmaint/agent/apps/$2/status"; }
app_running() { [ "$(app_status "$1" "$2")" = running ]; }

# client_ok JSON DOMID...: an http-probe report with no failed request and
# answers from each domain given
client_ok() {
	local f=$1 d
	shift
	grep -q '"failed":0,' "$f" || { echo "the client saw failures: $(cat "$f")"; return 1; }
	for d in "$@"; do
		grep -q "\"d$d\":[1-9]" "$f" || { echo "no answer from d$d: $(cat "$f")"; return 1; }
	done
}

# moved OLD NEW APP...: OLD is retired and each APP runs in NEW
moved() {
	local old=$1 new=$2 a
	shift 2
	nope running "$old" || return
	for a in "$@"; do
		app_running "$new" "$a" || { echo "$a is not running in $new"; return 1; }
	done
}

# count_continuous GUEST FILE DOMID... : a counter's log ("N dDOMID" lines)
# must be 1..N without a gap or a repeat, counted by the domains in the order
# given, each in turn (never back to an earlier one), each at least once.
count_continuous() {
	local out g=$1 f=$2
	shift 2
	out=$(xh_guest_exec "$g" "cat $f") || return
	awk -v doms="$*" '
		BEGIN { n = split(doms, d, " "); cur = 1 }
		{ if ($1 != NR) { print "counter line " NR " is " $1; bad = 1; exit }
		  while (cur <= n && $2 != "d" d[cur]) cur++
		  if (cur > n) { print "line " NR ": " $2 " out of order (domains: " doms ")"; bad = 1; exit }
		  seen[cur]++ }
		END { if (bad) exit 1
		      for (i = 1; i <= n; i++) if (!seen[i]) { print "nothing counted by d" d[i]; exit 1 }
		      printf "%d values, continuous:", NR
		      for (i = 1; i <= n; i++) printf " d%s %d", d[i], seen[i]
		      print "" }' <<<"$(tr -d '\r' <<<"$out")"
}

# ---- two hosts ----------------------------------------------------------------
# xh_guest_type NAME: pv, pvh or hvm, from libxl's view of the running domain
xh_guest_type() {
	xl list -l "$1" | awk -F'"' '/"type": "(pv|pvh|hvm)"/ { print $4; exit }'
}

# xh_migrate NAME TO [XL-MIGRATE-OPTION]...: live-migrate guest NAME from this
# host to host TO with Xen's own `xl migrate`, whose transport is xh-rsh over
# the link instead of ssh (`-s xh-rsh`: xl runs "xh-rsh <TO's address> xl
# migrate-receive" and speaks its protocol over that pipe).  A PV guest is
# refused here: Debian's hypervisor is built without shadow paging, so Xen
# cannot track a PV guest's dirty pages ("Failed to enable logdirty"): move it
# with xh_move_saved.
xh_migrate() {
	local name=$1 to=$2 type
	shift 2
	type=$(xh_guest_type "$name") || return
	if [ "$type" = pv ]; then
		echo "xh_migrate: $name is a PV guest: this hypervisor (Debian's, without shadow paging) cannot live-migrate PV guests; use xh_move_saved (save, transfer, restore)" >&2
		return 3
	fi
	xl migrate -s xh-rsh "$@" "$name" "$(xh_host_ip "$to")"
}

# xh_move_saved NAME TO: move guest NAME to host TO by xl save here, a copy
# of the image over the link, and xl restore there (PV guests; any type works).
xh_move_saved() {
	local name=$1 to=$2 f=/var/lib/xen/xh-move-$1.save ip
	ip=$(xh_host_ip "$to") || return
	xl save "$name" "$f" || return
	xh-rsh "$ip" "cat >$f" <"$f" || { rm -f "$f"; return 1; }
	rm -f "$f"
	xh-rsh "$ip" "xl restore $f; rc=\$?; rm -f $f; exit \$rc"
}
