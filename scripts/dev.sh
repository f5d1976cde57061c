#!/usr/bin/env bash
# dev.sh — set up a fresh Debian 12 machine for xmaint, build, and run.
#
#   scripts/dev.sh demo    install, build, boot the bundled Xen test host and
#                          run the main job there (examples/xenhost/demo.sh)
#   scripts/dev.sh test    install, build, run every test: unit, real
#                          xenstored, the real Xen host, then an ASan+UBSan
#                          build's tests, a TSan build's, and `make distcheck`
#   scripts/dev.sh deps    install the Debian packages only
#   scripts/dev.sh build   configure and build in _build/
#
# Needs root (or sudo) for apt-get.  Build trees: _build/, _build-asan/,
# _build-tsan/.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)

# Build and test dependencies (README.md lists them too).
PKGS="build-essential autoconf automake libtool pkg-config
  libxen-dev xen-utils-4.17 xen-utils-common xenstore-utils
  libyajl-dev libnftables-dev libglib2.0-dev libcunit1-dev acpica-tools dpkg-dev patch
  qemu-system-x86 debootstrap cpio debian-archive-keyring xz-utils"

say() { printf '\n==> %s\n' "$*"; }

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

deps() {
	local missing=() p
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "Debian packages: all present"
		return
	fi
	say "installing: ${missing[*]}"
	sudo_ apt-get -o DPkg::Lock::Timeout=300 update
	# xen-utils prints "Can't find hypervisor information" here and succeeds.
	sudo_ env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
		install -y --no-install-recommends "${missing[@]}"
}

configure_in() { # DIR [configure args]
	local dir=$1
	shift
	[ -x configure ] || ./autogen.sh
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" --prefix=/usr --sysconfdir=/etc \
		--localstatedir=/var --runstatedir=/run "$@")
}

build() {
	say "configure and build (_build/)"
	./autogen.sh >/dev/null
	configure_in _build
	make -C _build -j"$jobs"
}

check_logs() { # DIR: print the logs of failed tests
	local f
	for f in $(find "$1" -name '*.log' -path '*tests*' 2>/dev/null); do
		grep -q '^FAIL\|^ERROR' "${f%.log}.trs" 2>/dev/null || continue
		echo "---- $f"
		tail -n 80 "$f"
	done
}

run_tests() {
	say "make check (unit, real xenstored, real Xen host under QEMU)"
	# Scenarios take ~6 min on an idle machine; TCG guests boot several times
	# slower on a busy one: generous guest, step, scenario and host limits.
	XMAINT_REQUIRE_XENHOST=1 XMAINT_XENHOST_TIMEOUT=${XMAINT_XENHOST_TIMEOUT:-4800} \
		XH_GUEST_TIMEOUT=${XH_GUEST_TIMEOUT:-300} XH_STEP_TIMEOUT=${XH_STEP_TIMEOUT:-900} \
		XH_SCENARIO_TIMEOUT=${XH_SCENARIO_TIMEOUT:-2400} \
		make -C _build -j"$jobs" check || {
		check_logs _build
		return 1
	}
	say "ASan+UBSan build: make check (the Xen host was exercised above)"
	configure_in _build-asan --enable-sanitizers
	make -C _build-asan -j"$jobs"
	XMAINT_XENHOST=skip make -C _build-asan -j"$jobs" check || {
		check_logs _build-asan
		return 1
	}
	say "TSan build: make check (the unit and daemon tests; threads in xmaintd)"
	configure_in _build-tsan --enable-sanitizers=thread
	make -C _build-tsan -j"$jobs"
	XMAINT_XENHOST=skip make -C _build-tsan -j"$jobs" check || {
		check_logs _build-tsan
		return 1
	}
	say "make distcheck"
	XMAINT_XENHOST=skip make -C _build -j"$jobs" distcheck
	say "all tests passed"
}

demo() {
	say "the main job on the bundled Xen test host"
	"$top/examples/xenhost/run-demo.sh" "$top/_build"
}

case "${1:-}" in
deps) deps ;;
build) deps; build ;;
test) deps; build; run_tests ;;
demo) deps; build; demo ;;
*) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 2 ;;
esac
