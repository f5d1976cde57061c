# 00-boot: the Xen test host itself works, independent of xmaint.
. /xh/lib.sh

xh_logs /var/log/xen/console/guest-xh-pv.log /var/log/xen/console/guest-xh-pvh.log \
	/var/log/xen/xl-xh-pv.log /var/log/xen/xl-xh-pvh.log

check_xl_info() {
	xl info >/tmp/xl-info
	cat /tmp/xl-info
	grep -Eq '^xen_version +: 4\.17\.' /tmp/xl-info
	grep -Eq '^virt_caps +:.*\bpv\b' /tmp/xl-info
}

check_listed() {
	xl list
	xl list xh-pv >/dev/null
	xl list xh-pvh >/dev/null
}

check_exec() {
	local out
	out=$(xh_guest_exec xh-pv 'hostname; grep -c ^processor /proc/cpuinfo')
	echo "$out"
	[ "$(echo "$out" | head -n1)" = xh-pv ]
	# the exit status comes back too
	if xh_guest_exec xh-pvh 'exit 3'; then return 1; else [ $? = 3 ]; fi
}

start_both() {
	xh_guest_start xh-pv pv 128
	xh_guest_start xh-pvh pvh 128 'cpus = "1"'   # pinned: TCG triple faults (README)
}

destroy_both() {
	xh_guest_destroy xh-pv
	xh_guest_destroy xh-pvh
	! xl list | grep -q xh-
}

xh_step xl-info check_xl_info
# start both, then wait: the two guests boot in parallel
xh_step guests-start start_both
xh_step pv-up xh_guest_wait_up xh-pv
xh_step pvh-up xh_guest_wait_up xh-pvh
xh_step xl-list check_listed
xh_step guest-exec check_exec
xh_step destroy destroy_both

# HVM (qemu-xen device model, hvmloader, SeaBIOS, direct kernel boot): off by
# default, because under TCG it takes about a minute and now and then the
# guest triple-faults early in Linux (see README.md).  XH_BOOT_HVM=1 turns it on.
if [ "${XH_BOOT_HVM:-0}" = 1 ]; then
	xh_logs /var/log/xen/qemu-dm-xh-hvm.log /var/log/xen/console/xh-hvm.serial
	xh_step hvm-up xh_guest_create xh-hvm hvm 256
	xh_step hvm-destroy xh_guest_destroy xh-hvm
fi
