#!/usr/bin/env bash
# test-xenhost-2.sh - the automake test of the two-host test bed: two Xen
# 4.17 hosts under QEMU on one private link, the scenarios of
# tests/xenhost/scenarios-2host/, then the harness's clean-up checks.
# Everything else as test-xenhost.sh (its environment, its exit codes).
export XMAINT_XENHOST_HOSTS=2
exec "$(dirname "${BASH_SOURCE[0]}")/test-xenhost.sh" "$@"
