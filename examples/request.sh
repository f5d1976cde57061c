#!/bin/sh
# xenstore-triggered automation without libmaint: write a request as a single
# value under this domain's request directory, wait for the answer, read it.
# Works in dom0 (domid 0) and, with the xenstore tools, inside a guest.
#   examples/request.sh ping
#   examples/request.sh host-info
set -eu
op=${1:?usage: request.sh OP}
dom=$(xenstore-read domid 2>/dev/null || echo 0)
id="sh$$"
base=/local/domain/$dom/xmaint
# protocol 2: a fresh random nonce, echoed in the answer (xenstore-paths.md)
nonce=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
xenstore-rm "$base/response/$id" 2>/dev/null || true
xenstore-write "$base/request/$id" "{\"op\":\"$op\",\"nonce\":\"$nonce\"}"
i=0
until xenstore-exists "$base/response/$id"; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "no answer: is xmaintd running?" >&2; exit 1; }
	sleep 0.1
done
answer=$(xenstore-read "$base/response/$id")
xenstore-rm "$base/response/$id"
case "$answer" in
*"\"nonce\":\"$nonce\""*) echo "$answer" ;;
*) echo "an answer that is not to this request: $answer" >&2; exit 1 ;;
esac
