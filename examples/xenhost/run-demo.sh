#!/usr/bin/env bash
# Boot the bundled Xen test host with this build installed in dom0 and run
# examples/xenhost/demo.sh there.  Usage: run-demo.sh BUILD-DIR
set -euo pipefail
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:?usage: run-demo.sh BUILD-DIR}" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/xmaint-stage.XXXXXX")
trap 'rm -rf "$stage" "$stage.guest" "$stage.log"' EXIT
"$src/tests/xenhost/stage.sh" "$build" "$stage"
"$src/tests/xenhost/xenhost.sh" build
"$src/tests/xenhost/xenhost.sh" run --stage "$stage" --guest-overlay "$stage.guest" \
	--scenario "$src/examples/xenhost/demo.sh"
