# two-host-probe: what the two hosts of a two-host run look like (CPU, link),
# and whether a PVH guest migrates between them with and without levelling.
# Run by hand: xenhost.sh run --hosts 2 --scenario THIS ...
. /xh/lib.sh
XH_VERBOSE=1
cpu() {
	xl info | grep -E 'hw_caps|virt_caps|nr_cpus|cpu_mhz'
	grep -m1 'model name' /proc/cpuinfo
	xen-cpuid -p >/tmp/cpuid.txt 2>&1; grep -E 'policy|^ +(00000001|00000007|80000000|80000001):' /tmp/cpuid.txt
}
xh_step cpu-a xh_on a cpu
xh_step cpu-b xh_on b cpu
xh_step link bash -c 'ping -c 3 10.99.255.253 && time xh-rsh 10.99.255.253 true'
xh_step throughput bash -c 'dd if=/dev/zero bs=1M count=64 | (time xh-rsh 10.99.255.253 "cat >/dev/null")'
mkguest() { XH_GUEST_EXTRA="xh_ip=10.99.1.1 xh_hostwatch" xh_guest_create mg pvh 192 'vif = [ "bridge=xenbr0" ]'
	XH_GUEST_EXTRA="xh_ip=10.99.1.2 xh_hostwatch" xh_guest_create ml pvh 192 'vif = [ "bridge=xenbr0" ]' 'cpuid = "host,bmi1=0,bmi2=0,adx=0,movbe=0"'; }
xh_step guest mkguest
mig_unlevelled() { local rc=0; time xh_migrate mg b || rc=$?; echo rc=$rc; xl list; xh_on b xl list; }
mig_levelled() { time xh_migrate ml b; xl list; xh_on b xl list; }
mig_back() { time xh_on b xh_migrate ml a; xl list; }
xh_step migrate-unlevelled mig_unlevelled
xh_step migrate-levelled mig_levelled
xh_step migrate-back mig_back
hostids() { grep XH-HOSTID "$(xh_guest_console ml)"; xh_on b grep XH-HOSTID "$(xh_guest_console ml)"; }
xh_step hostids hostids
