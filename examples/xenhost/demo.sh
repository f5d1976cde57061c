# The main job on the bundled Xen test host (run in dom0 by run-demo.sh):
# xmaintd starts, a guest boots, and `xl maint` shows what the daemon sees.
. /xh/lib.sh
xh_logs /var/log/xmaintd.log
export XH_VERBOSE=1

show() { echo "\$ $*"; "$@"; }

xh_step start-xmaintd xmaintd --state-dir /var/lib/xmaint --log-file /var/log/xmaintd.log
xh_step boot-guest xh_guest_create web1 pv 128
xh_step xl-maint-status show xl-maint status
xh_step xl-maint-host show xl-maint host
xh_step xl-maint-status-json show xl-maint status --json
xh_step request-from-xenstore show /usr/share/xmaint/examples/request.sh ping
xh_step daemon-log show cat /var/log/xmaintd.log
