#!/usr/bin/env bash
# xenhost.sh - a real Xen 4.17 host under QEMU for xmaint's integration tests.
#
#   xenhost.sh build                      build/refresh the cached host images
#   xenhost.sh run --stage DIR [--scenario FILE]... [--hosts 2] [options]
#                                         boot Xen + dom0 with DIR overlaid (on two
#                                         linked hosts with --hosts 2), run the
#                                         scenarios, parse the markers
#   xenhost.sh shell [--stage DIR]        boot interactively (dom0 shell on the console)
#   xenhost.sh info                       print cache location and image versions
#   xenhost.sh install-deps               apt-get install the host packages needed
#
# See README.md beside this file for the design, markers and environment.
set -eEuo pipefail
# Exit status: 0 passed, 1 a scenario failed (run), 2 the harness itself failed.
trap 'echo "xenhost: error: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

XH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
XH_SUITE=${XMAINT_XENHOST_SUITE:-bookworm}
XH_CACHE=${XMAINT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xmaint}/xenhost
XH_CHROOT=$XH_CACHE/chroot
XH_OUT=$XH_CACHE/out

# Debian packages installed in the build chroot.  xen-utils-4.17 gives the
# toolstack; qemu-system-xen/seabios/ipxe-qemu the HVM device model and
# firmware; acpica-tools iasl, to disassemble the ACPI tables HVM guests read.
# nftables: the service redirect; procps: pgrep/pkill for the scenarios;
# criu: the guests' checkpoint/restore migration mode.
XH_CHROOT_PKGS="xen-utils-4.17 xenstore-utils busybox-static kmod iproute2 util-linux xz-utils nftables procps criu"
XH_HVM_PKGS="qemu-system-xen seabios ipxe-qemu acpica-tools"
# Packages fetched with apt-get download and unpacked with dpkg-deb -x.
XH_XEN_PKG=xen-hypervisor-4.17-amd64
XH_KERNEL_META=linux-image-amd64
# Host packages the harness itself needs (install-deps, and README.md).
XH_HOST_PKGS="qemu-system-x86 debootstrap cpio debian-archive-keyring"

# QEMU -cpu under TCG: SMAP crashes dom0, RDTSCP makes PVH/HVM guests loop;
# with XSAVE, dom0 programs die of SIGSEGV now and then while PVH/HVM guests
# run (seen in 4 of 5 runs with it, in none of 3 without it).
XH_TCG_CPU=max,-smap,-rdtscp,-xsave
# The second host of a two-host run (--hosts 2) is an older generation of the
# same vendor (both must be AMD: TCG emulates SVM, not VMX): no BMI1/BMI2/
# ADX/MOVBE, another model number and name.  (Family 15 would make Xen refuse
# every domU: "does not allow DomU creation on this CPU", AMD K8 erratum 121.)  A guest that saw host A's
# features cannot be restored on B unless its CPUID policy is levelled.
XH_TCG_CPU_B="$XH_TCG_CPU,-bmi1,-bmi2,-adx,-movbe,family=21,model=2,model-id=xmaint test host B (older generation)"

# nf_tables/nft_chain_nat/nft_nat: the service redirect (nftables DNAT)
# e1000: the NIC of the link between the two hosts of a two-host run
XH_DOM0_MODULES="xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback tun bridge loop
  nf_tables nft_chain_nat nft_nat e1000"
# xenfs/xen-evtchn/xen-gntdev/xen-gntalloc: the guest agent (xenstore, libxenvchan);
# nf_tables and the *_diag, tun and veth modules: criu's start-up probe of the
# kernel (it refuses to run when nf_tables is missing)
XH_GUEST_MODULES="xen-netfront xen-blkfront e1000 8139cp xenfs xen-evtchn xen-gntdev xen-gntalloc
  nf_tables unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag tun veth"

# guest programs copied from the chroot (beside busybox), with their libraries
XH_GUEST_FILES="/usr/sbin/criu"

# dom0 binaries copied from the chroot (paths inside it).
XH_XEN_BIN=/usr/lib/xen-4.17/bin
XH_DOM0_XENBINS="xl xenstored xenconsoled xen-init-dom0 libxl-save-helper xenconsole
  xenstore-control lsevtchn xen-cpuid xen-hvmctx xen-diag readnotes xentop xenpm"
XH_DOM0_FILES="/usr/sbin/nft /usr/bin/pgrep /usr/bin/pkill /usr/bin/bash /usr/bin/busybox /usr/bin/kmod /usr/bin/ip /usr/bin/flock
  /usr/bin/xenstore /usr/bin/xenstore-chmod /usr/bin/xenstore-exists /usr/bin/xenstore-list
  /usr/bin/xenstore-ls /usr/bin/xenstore-read /usr/bin/xenstore-rm /usr/bin/xenstore-watch
  /usr/bin/xenstore-write /usr/lib/x86_64-linux-gnu/libgcc_s.so.1"
XH_DOM0_HVM_FILES="/usr/libexec/xen-qemu-system-i386 /usr/lib/xen-4.17/boot/hvmloader
  /usr/share/seabios/bios-256k.bin /usr/share/seabios/bios.bin
  /usr/share/seabios/vgabios-stdvga.bin /usr/share/seabios/vgabios-cirrus.bin
  /usr/share/qemu/linuxboot.bin /usr/share/qemu/linuxboot_dma.bin
  /usr/share/qemu/kvmvapic.bin /usr/share/qemu/keymaps
  /usr/lib/ipxe/qemu/pxe-e1000.rom /usr/lib/ipxe/qemu/efi-e1000.rom
  /usr/lib/ipxe/qemu/pxe-rtl8139.rom /usr/lib/ipxe/qemu/efi-rtl8139.rom
  /usr/bin/iasl"

die() { echo "xenhost: error: $*" >&2; exit 2; }
say() { echo "xenhost: $*" >&2; }

usage() {
	sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

need_tools() {
	local t missing=()
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
	[ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (see README.md: apt-get install $XH_HOST_PKGS)"
}

now() { date +%s; }

# ---------------------------------------------------------------------------
# apt sources: reuse the machine's own Debian entries, nothing else.
# ---------------------------------------------------------------------------

# Print the deb822 text of the machine's Debian sources (debian.sources only;
# other vendors' files in sources.list.d are never copied).
host_debian_sources() {
	local f=/etc/apt/sources.list.d/debian.sources
	if [ -r "$f" ]; then
		cat "$f"
	elif [ -r /etc/apt/sources.list ]; then
		# one-line format: keep only deb lines that name this suite family
		awk -v s="$XH_SUITE" '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ ("^" s)) { print; break } }' /etc/apt/sources.list |
			sed 's/^/#oneline# /'
	fi
}

# The archive URI for debootstrap: first stanza/line listing $XH_SUITE itself.
host_debian_mirror() {
	host_debian_sources | awk -v suite="$XH_SUITE" '
		/^#oneline# / { for (i=3;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { uri=$i; s=$(i+1); break }
		                if (s == suite) { print uri; exit } next }
		/^[ \t]*$/ { if (ok && uri != "") { print uri; exit } ok=0; uri=""; next }
		/^URIs:/ { uri=$2 }
		/^Suites:/ { for (i=2;i<=NF;i++) if ($i == suite) ok=1 }
		END { if (ok && uri != "") print uri }' | head -n1
}

write_chroot_sources() {
	local root=$1 text
	text=$(host_debian_sources)
	[ -n "$text" ] || die "no Debian apt source found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
	: >"$root/etc/apt/sources.list"
	rm -f "$root"/etc/apt/sources.list.d/*
	if printf '%s\n' "$text" | grep -q '^#oneline# '; then
		printf '%s\n' "$text" | sed -n 's/^#oneline# //p' >"$root/etc/apt/sources.list"
	else
		printf '%s\n' "$text" >"$root/etc/apt/sources.list.d/debian.sources"
	fi
}

# ---------------------------------------------------------------------------
# chroot helpers
# ---------------------------------------------------------------------------

XH_MOUNTS=()
chroot_mount() {
	local root=$1
	if ! mountpoint -q "$root/proc"; then
		mount -t proc proc "$root/proc"
		XH_MOUNTS+=("$root/proc")
	fi
}
chroot_umount_all() {
	local m i
	for ((i = ${#XH_MOUNTS[@]} - 1; i >= 0; i--)); do
		m=${XH_MOUNTS[i]}
		mountpoint -q "$m" && umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	XH_MOUNTS=()
}

# rm -rf that refuses to descend into a mounted filesystem.
safe_rm() {
	local d m
	for d in "$@"; do
		[ -e "$d" ] || continue
		while read -r _ m _; do
			case "$m" in "$d"/*) umount "$m" 2>/dev/null || umount -l "$m" ;; esac
		done </proc/mounts
		rm -rf -- "$d"
	done
}

in_chroot() {
	chroot "$XH_CHROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
		${http_proxy:+http_proxy=$http_proxy} ${https_proxy:+https_proxy=$https_proxy} "$@"
}

XH_APT_OPTS=(-q -y -o DPkg::Lock::Timeout=300 -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0)

chroot_recipe() {
	printf 'suite=%s\npkgs=%s %s\n' "$XH_SUITE" "$XH_CHROOT_PKGS" "$XH_HVM_PKGS"
	host_debian_sources
}

# Create the debootstrap chroot if missing or if its recipe changed.
chroot_ensure() {
	local recipe mirror tmp keyring=()
	recipe=$(chroot_recipe | sha256sum | cut -d' ' -f1)
	if [ -f "$XH_CHROOT/.xh-recipe" ] && [ "$(cat "$XH_CHROOT/.xh-recipe")" = "$recipe" ]; then
		return 0
	fi
	mirror=$(host_debian_mirror)
	[ -n "$mirror" ] || die "cannot find a Debian archive URI for suite $XH_SUITE in the machine's apt sources"
	tmp=$XH_CACHE/chroot.tmp
	safe_rm "$tmp" "$XH_CHROOT"
	say "debootstrap $XH_SUITE (minbase) into the cache ..."
	[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] &&
		keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
	if ! debootstrap --variant=minbase "${keyring[@]}" --include=busybox-static,kmod \
		"$XH_SUITE" "$tmp" "$mirror" >"$XH_CACHE/debootstrap.log" 2>&1; then
		tail -n 30 "$XH_CACHE/debootstrap.log" >&2
		die "debootstrap failed (full log: $XH_CACHE/debootstrap.log)"
	fi
	mv "$tmp" "$XH_CHROOT"
	write_chroot_sources "$XH_CHROOT"
	cp /etc/resolv.conf "$XH_CHROOT/etc/resolv.conf" 2>/dev/null || true
	printf '#!/bin/sh\nexit 101\n' >"$XH_CHROOT/usr/sbin/policy-rc.d"
	chmod 755 "$XH_CHROOT/usr/sbin/policy-rc.d"
	chroot_mount "$XH_CHROOT"
	say "apt-get update/upgrade/install in the chroot ..."
	{
		in_chroot apt-get "${XH_APT_OPTS[@]}" update &&
			in_chroot apt-get "${XH_APT_OPTS[@]}" upgrade &&
			in_chroot apt-get "${XH_APT_OPTS[@]}" --no-install-recommends install $XH_CHROOT_PKGS $XH_HVM_PKGS &&
			in_chroot apt-get "${XH_APT_OPTS[@]}" clean
	} >"$XH_CACHE/apt.log" 2>&1 || {
		tail -n 30 "$XH_CACHE/apt.log" >&2
		chroot_umount_all
		safe_rm "$XH_CHROOT"
		die "apt-get in the chroot failed (full log: $XH_CACHE/apt.log)"
	}
	chroot_umount_all
	# trim what the images never use
	rm -rf "$XH_CHROOT"/usr/share/doc/* "$XH_CHROOT"/usr/share/man/* "$XH_CHROOT"/usr/share/locale/*
	touch "$XH_CHROOT/.xh-updated"
	echo "$recipe" >"$XH_CHROOT/.xh-recipe"
}

# Refresh the package lists (and upgrade) when older than the refresh period.
chroot_refresh() {
	local hours=${XMAINT_XENHOST_REFRESH_HOURS:-24} force=${1:-0} age
	if [ "$force" != 1 ] && [ -f "$XH_CHROOT/.xh-updated" ]; then
		age=$(($(now) - $(stat -c %Y "$XH_CHROOT/.xh-updated")))
		[ "$age" -lt $((hours * 3600)) ] && return 0
	fi
	say "refreshing the chroot's package lists ..."
	write_chroot_sources "$XH_CHROOT"
	cp /etc/resolv.conf "$XH_CHROOT/etc/resolv.conf" 2>/dev/null || true
	chroot_mount "$XH_CHROOT"
	{
		in_chroot apt-get "${XH_APT_OPTS[@]}" update &&
			in_chroot apt-get "${XH_APT_OPTS[@]}" upgrade &&
			in_chroot apt-get "${XH_APT_OPTS[@]}" clean
	} >"$XH_CACHE/apt.log" 2>&1 || {
		chroot_umount_all
		tail -n 30 "$XH_CACHE/apt.log" >&2
		if [ -f "$XH_OUT/stamp" ]; then
			say "warning: refreshing the package lists failed; keeping the images built before"
			return 0
		fi
		die "apt-get update/upgrade in the chroot failed (full log: $XH_CACHE/apt.log)"
	}
	chroot_umount_all
	rm -rf "$XH_CHROOT"/usr/share/doc/* "$XH_CHROOT"/usr/share/man/* "$XH_CHROOT"/usr/share/locale/*
	touch "$XH_CHROOT/.xh-updated"
}

# ---------------------------------------------------------------------------
# copying files between roots, keeping symlink structure
# ---------------------------------------------------------------------------

# copy_path SRCROOT DSTROOT PATH: copy PATH (absolute, as seen inside SRCROOT)
# into DSTROOT.  Symlinks met on the way (in any component) are recreated in
# DSTROOT and their targets copied too, so the copy resolves as in SRCROOT.
copy_path() {
	local sroot=$1 droot=$2 p=$3 depth=${4:-0}
	[ "$depth" -lt 40 ] || die "copy_path: symlink loop at $p"
	p=/${p#/}
	local IFS=/ comps cur="" i n target
	read -ra comps <<<"${p#/}"
	n=${#comps[@]}
	for ((i = 0; i < n; i++)); do
		[ -n "${comps[i]}" ] || continue
		cur="$cur/${comps[i]}"
		if [ -L "$sroot$cur" ]; then
			if [ ! -L "$droot$cur" ] && [ ! -e "$droot$cur" ]; then
				mkdir -p "$droot$(dirname "$cur")"
				cp -a "$sroot$cur" "$droot$cur"
			fi
			target=$(readlink "$sroot$cur")
			case "$target" in /*) ;; *) target="$(dirname "$cur")/$target" ;; esac
			local rest=""
			if ((i + 1 < n)); then rest="/$(IFS=/; echo "${comps[*]:i+1}")"; fi
			copy_path "$sroot" "$droot" "$(normpath "$target$rest")" $((depth + 1))
			return
		fi
	done
	[ -e "$sroot$cur" ] || die "copy_path: $cur not found in $sroot"
	mkdir -p "$droot$(dirname "$cur")"
	if [ -d "$sroot$cur" ]; then
		mkdir -p "$droot$cur"
		cp -a "$sroot$cur/." "$droot$cur/"
	elif [ ! -e "$droot$cur" ]; then
		cp -a "$sroot$cur" "$droot$cur"
	fi
}

normpath() {
	local IFS=/ out=() c
	read -ra parts <<<"${1#/}"
	for c in "${parts[@]}"; do
		case "$c" in
		"" | .) ;;
		..) [ ${#out[@]} -gt 0 ] && unset 'out[${#out[@]}-1]' ;;
		*) out+=("$c") ;;
		esac
	done
	echo "/${out[*]}"
}

is_elf() { [ -f "$1" ] && [ "$(head -c4 "$1" | od -An -c | tr -d ' \n')" = '177ELF' ]; }

# From ldd output on stdin: "LIB /abs/path" for each library (loader
# included) and "MISSING soname" for each one ldd could not find.
parse_ldd() {
	awk '
		/=> not found/ { print "MISSING " $1; next }
		/=> \// { print "LIB " $3; next }
		/^[ \t]*\/[^ ]+ \(0x/ { print "LIB " $1 }' | sort -u
}

make_merged_root() {
	local r=$1
	mkdir -p "$r"/usr/bin "$r"/usr/sbin "$r"/usr/lib "$r"/usr/lib64 \
		"$r"/proc "$r"/sys "$r"/dev "$r"/tmp "$r"/run "$r"/var "$r"/etc "$r"/root "$r"/mnt
	ln -sfn usr/bin "$r/bin"
	ln -sfn usr/sbin "$r/sbin"
	ln -sfn usr/lib "$r/lib"
	ln -sfn usr/lib64 "$r/lib64"
	ln -sfn ../run "$r/var/run"
	ln -sfn ../run/lock "$r/var/lock"
	chmod 1777 "$r/tmp"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
}

# Install busybox applet links for every applet not provided by a real binary.
busybox_links() {
	local r=$1 a name
	"$r/usr/bin/busybox" --list-full | while read -r a; do
		name=${a##*/}
		[ -e "$r/usr/bin/$name" ] || [ -e "$r/usr/sbin/$name" ] || [ -L "$r/usr/bin/$name" ] || [ -L "$r/usr/sbin/$name" ] && continue
		case "$a" in
		sbin/* | usr/sbin/*) ln -s ../bin/busybox "$r/usr/sbin/$name" ;;
		*) ln -s busybox "$r/usr/bin/$name" ;;
		esac
	done
}

# modules_copy KDIR KVER DSTROOT ORDERFILE MODULE...: copy the modules and their
# dependencies into DSTROOT/usr/lib/modules/KVER; write insmod order (paths in
# DSTROOT) to ORDERFILE.  KDIR is a path inside the chroot.
modules_copy() {
	local kdir=$1 kver=$2 dst=$3 order=$4 m line p src
	shift 4
	: >"$order"
	mkdir -p "$dst/usr/lib/modules/$kver"
	for m in "$@"; do
		in_chroot modprobe -d "$kdir" -S "$kver" --show-depends "$m" 2>/dev/null >"$XH_CHROOT/tmp/xh-deps" || {
			say "warning: module $m not found for $kver"
			continue
		}
		while read -r line; do
			case "$line" in
			insmod\ *)
				src=${line#insmod }
				src=${src%% *}          # /xh-build/kernel/lib/modules/KVER/...
				p=${src#"$kdir"}        # /lib/modules/KVER/...
				p=/usr${p#/usr}         # /usr/lib/modules/KVER/... (merged /usr)
				if [ ! -e "$dst$p" ]; then
					mkdir -p "$dst$(dirname "$p")"
					cp "$XH_CHROOT$src" "$dst$p"
					echo "$p" >>"$order"
				fi
				;;
			esac
		done <"$XH_CHROOT/tmp/xh-deps"
	done
	cp "$XH_CHROOT$kdir/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} \
		"$dst/usr/lib/modules/$kver/" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

# Everything that decides the images' content, for the stamp hash.
build_recipe_text() {
	declare -f build_images build_dom0_tree build_guest_tree guest_elf_kernel copy_path normpath \
		parse_ldd make_merged_root busybox_links modules_copy copy_chroot_libs
	printf '%s\n' "$XH_CHROOT_PKGS" "$XH_HVM_PKGS" "$XH_DOM0_MODULES" "$XH_GUEST_MODULES" \
		"$XH_DOM0_XENBINS" "$XH_DOM0_FILES" "$XH_DOM0_HVM_FILES" "$XH_GUEST_FILES" "hvm=${XMAINT_XENHOST_HVM:-1}"
}

# Sets XH_KPKG, XH_VERSIONS and XH_STAMP from the chroot (read-only).
compute_stamp() {
	XH_KPKG=$(in_chroot apt-cache depends "$XH_KERNEL_META" | awk '/Depends: linux-image-/ { print $2; exit }')
	[ -n "$XH_KPKG" ] || die "cannot resolve $XH_KERNEL_META to a kernel package"
	XH_VERSIONS=$(
		in_chroot dpkg-query -W -f '${Package} ${Version}\n' | sort
		for p in "$XH_XEN_PKG" "$XH_KPKG"; do
			echo "$p $(in_chroot apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')"
		done
	)
	XH_STAMP=$( { build_recipe_text; echo "$XH_VERSIONS"; } | sha256sum | cut -d' ' -f1)
}

# True when build would do nothing (no refresh due, same recipe and versions).
build_is_current() {
	local hours=${XMAINT_XENHOST_REFRESH_HOURS:-24} recipe
	[ -f "$XH_OUT/stamp" ] || return 1
	if [ "${XMAINT_XENHOST_TRIM:-0}" = 1 ] && [ ! -d "$XH_CHROOT" ]; then
		[ "$(cat "$XH_OUT/recipe" 2>/dev/null)" = "$(build_recipe_text | sha256sum | cut -d' ' -f1)" ]
		return
	fi
	recipe=$(chroot_recipe | sha256sum | cut -d' ' -f1)
	[ -f "$XH_CHROOT/.xh-recipe" ] && [ "$(cat "$XH_CHROOT/.xh-recipe")" = "$recipe" ] || return 1
	[ -f "$XH_CHROOT/.xh-updated" ] || return 1
	[ $(($(now) - $(stat -c %Y "$XH_CHROOT/.xh-updated"))) -lt $((hours * 3600)) ] || return 1
	compute_stamp
	[ "$(cat "$XH_OUT/stamp")" = "$XH_STAMP" ]
}

cmd_build() {
	local force=0
	while [ $# -gt 0 ]; do
		case "$1" in
		--refresh) force=1 ;;
		-h | --help) usage; return 0 ;;
		*) die "build: unknown option $1" ;;
		esac
		shift
	done
	[ "$(id -u)" = 0 ] || die "build needs root (debootstrap, chroot)"
	need_tools debootstrap chroot dpkg-deb cpio gzip flock sha256sum mountpoint od
	mkdir -p "$XH_CACHE"
	exec 8>"$XH_CACHE/lock"
	# the up-to-date check needs only a shared lock, so it does not wait for
	# runs in progress; a real (re)build takes the lock exclusively
	flock -s 8
	if [ "$force" != 1 ] && build_is_current; then
		say "images up to date ($XH_OUT)"
		return 0
	fi
	flock -x 8
	trap 'chroot_umount_all' EXIT
	local t0
	t0=$(now)
	chroot_ensure
	chroot_refresh "$force"
	compute_stamp
	if [ -f "$XH_OUT/stamp" ] && [ "$(cat "$XH_OUT/stamp")" = "$XH_STAMP" ]; then
		say "images up to date ($XH_OUT)"
	else
		say "building images (xen: $(echo "$XH_VERSIONS" | awk -v p="$XH_XEN_PKG" '$1==p{print $2}'), kernel: $XH_KPKG) ..."
		build_images "$XH_KPKG"
		echo "$XH_VERSIONS" >"$XH_CACHE/out.new/versions.txt"
		echo "$XH_STAMP" >"$XH_CACHE/out.new/stamp"
		build_recipe_text | sha256sum | cut -d' ' -f1 >"$XH_CACHE/out.new/recipe"
		safe_rm "$XH_OUT"
		mv "$XH_CACHE/out.new" "$XH_OUT"
		say "images built in $(($(now) - t0))s: $(du -sh "$XH_OUT" | cut -f1) in $XH_OUT"
	fi
	if [ "${XMAINT_XENHOST_TRIM:-0}" = 1 ]; then
		# keep only the images; the next rebuild starts with debootstrap again
		safe_rm "$XH_CHROOT" "$XH_CACHE/debs"
		say "trimmed the cache to the images (XMAINT_XENHOST_TRIM=1)"
	fi
}

build_images() {
	local kpkg=$1 w=/xh-build new=$XH_CACHE/out.new kver deb
	safe_rm "$new" "$XH_CHROOT$w"
	mkdir -p "$new" "$XH_CHROOT$w/debs" "$XH_CACHE/debs"
	# fetch the hypervisor and the kernel (cached .debs are reused)
	(cd "$XH_CACHE/debs" && rm -f ./*.partial)
	for p in "$XH_XEN_PKG" "$kpkg"; do
		local v f
		v=$(in_chroot apt-cache policy "$p" | awk '/Candidate:/ { print $2 }')
		f=$(ls "$XH_CACHE/debs/${p}_${v/*:/}_"*.deb 2>/dev/null | head -n1 || true)
		if [ -z "$f" ]; then
			in_chroot sh -c "cd $w/debs && apt-get ${XH_APT_OPTS[*]} download $p" >>"$XH_CACHE/apt.log" 2>&1 ||
				die "apt-get download $p failed (see $XH_CACHE/apt.log)"
			# keep only the newest .deb of each package
			rm -f "$XH_CACHE/debs/${p}_"*.deb
			mv "$XH_CHROOT$w/debs/${p}_"*.deb "$XH_CACHE/debs/"
		fi
	done
	dpkg-deb -x "$(ls "$XH_CACHE/debs/${XH_XEN_PKG}_"*.deb | head -n1)" "$XH_CHROOT$w/xen"
	dpkg-deb -x "$(ls "$XH_CACHE/debs/${kpkg}_"*.deb | head -n1)" "$XH_CHROOT$w/kernel"
	deb=$(ls "$XH_CHROOT$w"/xen/boot/xen-4.17*-amd64.gz | head -n1)
	[ -f "$deb" ] || die "no xen-4.17 image in $XH_XEN_PKG"
	gunzip -c "$deb" >"$new/xen"
	kver=$(ls "$XH_CHROOT$w/kernel/lib/modules" | head -n1)
	cp "$XH_CHROOT$w/kernel/boot/vmlinuz-$kver" "$new/vmlinuz"
	echo "$kver" >"$new/kernel-version"
	in_chroot depmod -b "$w/kernel" "$kver"

	build_dom0_tree "$w" "$kver"
	build_guest_tree "$w" "$kver"

	(cd "$XH_CHROOT$w/dom0" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$new/dom0-base.cpio"
	(cd "$XH_CHROOT$w/guest" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$new/guest-base.cpio.gz"
	# library names the dom0 base provides (for resolving the stage's needs)
	(cd "$XH_CHROOT$w/dom0" && find usr/lib usr/lib64 -maxdepth 2 \( -type f -o -type l \) -name '*.so*' -printf '%f\n' | sort -u) >"$new/dom0-libs.txt"
	safe_rm "$XH_CHROOT$w"
}

# copy_chroot_libs ROOT WHAT: the libraries every ELF under ROOT/usr needs
# (ldd inside the chroot).
copy_chroot_libs() {
	local r=$1 f deps elfs=()
	while IFS= read -r f; do is_elf "$f" && elfs+=("${f#"$XH_CHROOT"}"); done < <(find "$r/usr" -type f \( -perm -u+x -o -name '*.so*' \))
	deps=$(in_chroot ldd "${elfs[@]}" 2>/dev/null | parse_ldd) || true
	if grep -q '^MISSING' <<<"$deps"; then
		die "$2 libraries not found in the chroot: $(awk '$1=="MISSING"{printf " %s", $2}' <<<"$deps")"
	fi
	for f in $(awk '$1=="LIB"{print $2}' <<<"$deps"); do copy_path "$XH_CHROOT" "$r" "$f"; done
}

build_dom0_tree() {
	local w=$1 kver=$2 r=$XH_CHROOT$1/dom0 f b
	make_merged_root "$r"
	local files="$XH_DOM0_FILES"
	for b in $XH_DOM0_XENBINS; do files+=" $XH_XEN_BIN/$b"; done
	[ "${XMAINT_XENHOST_HVM:-1}" = 1 ] && files+=" $XH_DOM0_HVM_FILES"
	for f in $files; do copy_path "$XH_CHROOT" "$r" "$f"; done
	copy_path "$XH_CHROOT" "$r" /etc/xen
	# put the toolstack on PATH (Debian keeps it in /usr/lib/xen-4.17/bin)
	for b in $XH_DOM0_XENBINS; do
		case "$b" in libxl-save-helper | xenstored | xenconsoled | xen-init-dom0) ;; *) ln -sfn "$XH_XEN_BIN/$b" "$r/usr/sbin/$b" ;; esac
	done
	ln -sfn "$XH_XEN_BIN/xenstore-control" "$r/usr/bin/xenstore-control"
	for b in modprobe insmod rmmod lsmod depmod modinfo; do ln -sfn ../bin/kmod "$r/usr/sbin/$b"; done
	busybox_links "$r"
	copy_chroot_libs "$r" dom0
	# modules
	modules_copy "$w/kernel" "$kver" "$r" "$r/etc/xh-modules" $XH_DOM0_MODULES
	in_chroot depmod -b "$w/dom0" "$kver"
	# the guest kernel is the dom0 kernel
	mkdir -p "$r/usr/share/xenhost/guest" "$r/var/lib/xen" "$r/var/log/xen/console" "$r/var/lib/xenstored"
	# HVM direct kernel boot wants the bzImage; PV/PVH load a gzip'd ELF much
	# faster than the xz bzImage (libxc decompresses in dom0, under TCG)
	cp "$XH_CHROOT$w/kernel/boot/vmlinuz-$kver" "$r/usr/share/xenhost/guest/vmlinuz"
	guest_elf_kernel "$XH_CHROOT$w/kernel/boot/vmlinuz-$kver" "$r/usr/share/xenhost/guest/vmlinux.gz"
	echo dom0 >"$r/etc/hostname"
}

# guest_elf_kernel BZIMAGE OUT: the bzImage's payload (the vmlinux ELF),
# decompressed and re-gzipped; falls back to a copy of the bzImage.
guest_elf_kernel() {
	local bz=$1 out=$2 setup off len start magic dec tmp=$XH_CHROOT/tmp/xh-vmlinux
	setup=$(od -An -tu1 -j 497 -N1 "$bz" | tr -d ' ')
	[ "$setup" != 0 ] || setup=4
	off=$(od -An -tu4 -j 584 -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j 588 -N4 "$bz" | tr -d ' ')
	start=$(((setup + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N 6 "$bz" | tr -d ' \n')
	case "$magic" in
	fd377a585a00) dec="xz -dc --single-stream" ;;
	1f8b*) dec="gzip -dc" ;;
	*) dec="" ;;
	esac
	if [ -n "$dec" ]; then
		dd if="$bz" bs=1M iflag=skip_bytes,count_bytes skip="$start" count="$len" status=none |
			in_chroot $dec >"$tmp" 2>/dev/null || true
	fi
	if [ -n "$dec" ] && is_elf "$tmp"; then
		gzip -6 -n -c "$tmp" >"$out"
	else
		say "warning: cannot unpack the kernel payload (magic $magic); guests boot the bzImage"
		cp "$bz" "$out"
	fi
	rm -f "$tmp"
}

build_guest_tree() {
	local w=$1 kver=$2 r=$XH_CHROOT$1/guest f
	make_merged_root "$r"
	copy_path "$XH_CHROOT" "$r" /usr/bin/busybox
	busybox_links "$r"
	for f in $XH_GUEST_FILES; do copy_path "$XH_CHROOT" "$r" "$f"; done
	copy_chroot_libs "$r" guest
	modules_copy "$w/kernel" "$kver" "$r" "$r/etc/xh-modules" $XH_GUEST_MODULES
	mkdir -p "$r/etc/xh-guest.d"
}

# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

XH_QPID=""   # host A's QEMU (the one that runs the scenarios)
XH_QPID_B="" # host B's QEMU (two-host runs)
XH_FPID=""
XH_RUN=""
# kill_qemu PID: TERM, then KILL a second later; reaped.
kill_qemu() {
	[ -n "$1" ] || return 0
	if kill -0 "$1" 2>/dev/null; then
		kill -TERM "$1" 2>/dev/null || true
		sleep 1
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}
run_cleanup() {
	trap - ERR
	kill_qemu "$XH_QPID"
	kill_qemu "$XH_QPID_B"
	XH_QPID="" XH_QPID_B=""
	if [ -n "$XH_FPID" ]; then
		kill "$XH_FPID" 2>/dev/null || true
		wait "$XH_FPID" 2>/dev/null || true
	fi
	if [ -n "$XH_RUN" ] && [ "${XMAINT_XENHOST_KEEP:-0}" != 1 ]; then
		rm -rf -- "$XH_RUN"
	elif [ -n "$XH_RUN" ]; then
		say "kept run directory $XH_RUN"
	fi
	XH_RUN=""
	return 0
}

# free_udp_port: a UDP port on the loopback that nothing listens on.
free_udp_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((20000 + RANDOM % 40000))
		ss -Huln "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return 0; }
	done
	die "no free UDP port on the loopback"
}

# cpio (newc, root-owned) of a directory on stdout
cpio_of() { (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

# Move a stage's top-level bin/sbin/lib/lib64 under usr/ (the dom0 and guest
# roots are merged-/usr: those names are symlinks there).
merge_usr() {
	local r=$1 d
	for d in bin sbin lib lib64; do
		if [ -d "$r/$d" ] && [ ! -L "$r/$d" ]; then
			mkdir -p "$r/usr/$d"
			cp -a "$r/$d/." "$r/usr/$d/"
			rm -rf "${r:?}/$d"
		fi
	done
}

# add_host_libs ROOT HAVEFILE: copy from this machine the shared libraries that
# ELF files under ROOT need and that neither ROOT nor HAVEFILE's list provides.
add_host_libs() {
	local r=$1 have=$2 f deps lib base ldpath elfs=()
	while IFS= read -r f; do is_elf "$f" && elfs+=("$f"); done < <(find "$r" -type f)
	[ ${#elfs[@]} -gt 0 ] || return 0
	ldpath=$(find "$r" \( -type f -o -type l \) -name '*.so*' -printf '%h\n' | sort -u | paste -sd: -)
	deps=$(LD_LIBRARY_PATH=${ldpath}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ldd "${elfs[@]}" 2>/dev/null | parse_ldd) || true
	for lib in $(awk '$1=="MISSING"{print $2}' <<<"$deps"); do
		grep -qxF "$lib" "$have" 2>/dev/null || [ -n "$(find "$r" -name "$lib" -print -quit)" ] ||
			die "a staged program needs $lib, which is neither staged nor installed on this machine"
	done
	for lib in $(awk '$1=="LIB"{print $2}' <<<"$deps"); do
		case "$lib" in "$r"/*) continue ;; esac
		base=${lib##*/}
		grep -qxF "$base" "$have" 2>/dev/null && continue
		copy_path / "$r" "$lib"
	done
}

scenario_name() { local b=${1##*/}; echo "${b%.sh}"; }

accel_probe() {
	# echo kvm or tcg.  KVM only when Xen demonstrably boots dom0 under it.
	local want=${XMAINT_XENHOST_ACCEL:-auto} key cache log pid i
	case "$want" in
	tcg | kvm) echo "$want"; return 0 ;;
	auto) ;;
	*) die "XMAINT_XENHOST_ACCEL must be auto, tcg or kvm" ;;
	esac
	if [ ! -w /dev/kvm ]; then echo tcg; return 0; fi
	key=$({ qemu-system-x86_64 --version | head -n1; uname -r; grep -m1 -E '^(model name|flags)' /proc/cpuinfo; cat "$XH_OUT/stamp"; } | sha256sum | cut -c1-16)
	cache=$XH_CACHE/accel-$key
	if [ -f "$cache" ]; then cat "$cache"; return 0; fi
	say "probing whether Xen boots under KVM ..."
	log=$(mktemp -t xh-kvmprobe.XXXXXX)
	qemu-system-x86_64 -machine pc -accel kvm -cpu host -smp 1 -m 1024 -display none -monitor none \
		-serial "file:$log" -no-reboot -nic none -kernel "$XH_OUT/xen" \
		-append "dom0_mem=512M console=com1 com1=115200,8n1" \
		-initrd "$XH_OUT/vmlinuz console=hvc0 earlyprintk=xen" </dev/null >/dev/null 2>&1 &
	pid=$!
	local result=tcg
	for ((i = 0; i < 60; i++)); do
		if grep -q 'Linux version' "$log" 2>/dev/null; then result=kvm; break; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$log"
	echo "$result" >"$cache"
	say "accelerator probe: $result"
	echo "$result"
}

cmd_run() {
	local stage="" scenarios=() logfile="" quiet=0 timeout=${XMAINT_XENHOST_TIMEOUT:-900}
	local guest_overlays=() envs=() interactive=0 hosts=1
	[ -n "${XMAINT_XENHOST_GUEST_OVERLAY:-}" ] && guest_overlays+=("$XMAINT_XENHOST_GUEST_OVERLAY")
	while [ $# -gt 0 ]; do
		case "$1" in
		--stage) stage=$2; shift ;;
		--scenario) scenarios+=("$2"); shift ;;
		--log) logfile=$2; shift ;;
		--timeout) timeout=$2; shift ;;
		--guest-overlay) guest_overlays+=("$2"); shift ;;
		--env) envs+=("$2"); shift ;;
		--hosts) hosts=$2; shift ;;
		-q | --quiet) quiet=1 ;;
		--interactive) interactive=1 ;;
		-h | --help) usage; return 0 ;;
		*) die "run: unknown option $1" ;;
		esac
		shift
	done
	need_tools qemu-system-x86_64 cpio gzip flock ldd od
	case "$hosts" in 1 | 2) ;; *) die "--hosts must be 1 or 2" ;; esac
	[ "$hosts" = 1 ] || [ "$interactive" = 0 ] || die "shell: one host only"
	[ -f "$XH_OUT/stamp" ] || die "no host images in $XH_OUT: run '$0 build' first"
	[ -z "$stage" ] || [ -d "$stage" ] || die "stage directory $stage does not exist"
	local s
	for s in "${scenarios[@]}"; do [ -f "$s" ] || die "scenario $s not found"; done
	[ -d "$XH_SRC/guest-overlay" ] && guest_overlays=("$XH_SRC/guest-overlay" "${guest_overlays[@]}")
	exec 8>"$XH_CACHE/lock"
	flock -s 8
	# One test host at a time on this machine: TCG guests time out when
	# QEMUs share the CPUs.  XMAINT_XENHOST_PARALLEL=1 skips the wait.
	if [ "${XMAINT_XENHOST_PARALLEL:-0}" != 1 ]; then
		exec 9>"$XH_CACHE/run.lock"
		if ! flock -n 9; then
			say "another test host runs on this machine; waiting for it to end"
			flock 9
		fi
	fi

	trap run_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	XH_RUN=$(mktemp -d -t xenhost-run.XXXXXX)
	case "$XH_RUN" in *[,\ ]*) die "temporary directory $XH_RUN must not contain commas or spaces (QEMU -initrd syntax)" ;; esac
	local t0 ov=$XH_RUN/overlay gov=$XH_RUN/guest-overlay
	t0=$(now)
	mkdir -p "$ov/xh/scenarios" "$ov/usr/share/xenhost/guest" "$gov"

	# guest ramdisk = base + overlays (+ the libraries their programs need)
	install -m 755 "$XH_SRC/guest-init.sh" "$gov/init"
	for s in "${guest_overlays[@]}"; do
		[ -d "$s" ] || die "guest overlay $s is not a directory"
		(cd "$s" && find . -mindepth 1 ! -name 'README*' | cpio -pdm --quiet "$gov")
	done
	merge_usr "$gov"
	add_host_libs "$gov" /dev/null
	{ gzip -dc "$XH_OUT/guest-base.cpio.gz"; cpio_of "$gov"; } | gzip -1 >"$ov/usr/share/xenhost/guest/initrd.img"

	# dom0 overlay = stage + libraries + harness files
	if [ -n "$stage" ]; then
		cp -a "$stage/." "$ov/"
		merge_usr "$ov"
		add_host_libs "$ov" "$XH_OUT/dom0-libs.txt"
	fi
	install -m 755 "$XH_SRC/dom0-init.sh" "$ov/init"
	install -m 644 "$XH_SRC/lib.sh" "$ov/xh/lib.sh"
	: >"$ov/xh/scenarios.list"
	for s in "${scenarios[@]}"; do
		local n
		n=$(scenario_name "$s")
		grep -qxF "$n" "$ov/xh/scenarios.list" && die "two scenarios named $n"
		install -m 644 "$s" "$ov/xh/scenarios/$n.sh"
		echo "$n" >>"$ov/xh/scenarios.list"
	done
	{
		local v
		while IFS='=' read -r v _; do printf 'export %s=%q\n' "$v" "${!v}"; done < <(env | grep -E '^XH_[A-Za-z0-9_]*=' || true)
		for v in "${envs[@]}"; do
			[[ "$v" == *=* ]] || die "--env wants NAME=VALUE, got $v"
			printf 'export %s=%q\n' "${v%%=*}" "${v#*=}"
		done
		[ "$interactive" = 1 ] && echo "export XH_INTERACTIVE=1"
	} >"$ov/xh/env"
	{ cat "$XH_OUT/dom0-base.cpio"; cpio_of "$ov" | gzip -1; } >"$XH_RUN/dom0.img"

	local accel cpu cpu_b
	accel=$(accel_probe)
	if [ "$accel" = kvm ]; then
		cpu=host,-smap
		cpu_b="host,-smap,-bmi1,-bmi2,-adx,-movbe"
	else
		cpu=${XMAINT_XENHOST_CPU:-$XH_TCG_CPU}
		cpu_b=${XMAINT_XENHOST_CPU_B:-$XH_TCG_CPU_B}
		accel=tcg,thread=${XMAINT_XENHOST_TCG_THREAD:-multi}
	fi
	local log=${logfile:-$XH_RUN/console.log} log_b=""
	[ "$hosts" = 2 ] && log_b=${log%.log}-b.log
	mkdir -p "$(dirname "$log")"
	: >"$log"
	local mem=${XMAINT_XENHOST_MEM:-3072} dom0mem=${XMAINT_XENHOST_DOM0_MEM:-1024}
	[ "$hosts" = 2 ] && mem=${XMAINT_XENHOST_MEM:-2560}
	local xenargs="dom0_mem=${dom0mem}M,max:${dom0mem}M dom0_max_vcpus=2 console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all ${XMAINT_XENHOST_XEN_ARGS:-}"
	local dom0args="console=hvc0 earlyprintk=xen quiet ${XMAINT_XENHOST_DOM0_ARGS:-}"
	# qemu_cmd ROLE CPU [NIC...]: the QEMU command line of one host in QEMU_CMD
	qemu_cmd() {
		local role=$1 c=$2
		shift 2
		QEMU_CMD=(qemu-system-x86_64 -machine pc -accel "$accel" -cpu "$c" -smp 2 -m "$mem"
			-display none -no-reboot "$@"
			-kernel "$XH_OUT/xen" -append "$xenargs"
			-initrd "$XH_OUT/vmlinuz $dom0args${role:+ xh_host=$role},$XH_RUN/dom0.img")
	}
	case "$XH_OUT" in *[,\ ]*) die "cache path $XH_OUT must not contain commas or spaces (QEMU -initrd syntax)" ;; esac
	local QEMU_CMD=()
	if [ "$hosts" = 2 ]; then
		# One point-to-point Ethernet between the two QEMUs, UDP on the
		# loopback: nothing else is reachable from either host.
		local pa pb
		pa=$(free_udp_port)
		pb=$(free_udp_port)
		[ "$pa" != "$pb" ] || pb=$((pa + 1))
		qemu_cmd a "$cpu" -nic none -netdev "socket,id=link,udp=127.0.0.1:$pb,localaddr=127.0.0.1:$pa" \
			-device e1000,netdev=link,mac=52:54:00:58:48:0a
	else
		qemu_cmd "" "$cpu" -nic none
	fi
	say "images ready in $(($(now) - t0))s; booting Xen ($accel, ${mem}M, $hosts host(s), timeout ${timeout}s) ..."

	if [ "$interactive" = 1 ]; then
		trap - EXIT
		"${QEMU_CMD[@]}" -serial mon:stdio
		run_cleanup
		return
	fi

	local tb
	tb=$(now)
	"${QEMU_CMD[@]}" -monitor none -serial "file:$log" </dev/null >"$XH_RUN/qemu.out" 2>&1 &
	XH_QPID=$!
	if [ "$hosts" = 2 ]; then
		: >"$log_b"
		qemu_cmd b "$cpu_b" -nic none -netdev "socket,id=link,udp=127.0.0.1:$pa,localaddr=127.0.0.1:$pb" \
			-device e1000,netdev=link,mac=52:54:00:58:48:0b
		"${QEMU_CMD[@]}" -monitor none -serial "file:$log_b" </dev/null >"$XH_RUN/qemu-b.out" 2>&1 &
		XH_QPID_B=$!
		say "host B: -cpu $cpu_b; console log $log_b; link udp 127.0.0.1:$pa <-> 127.0.0.1:$pb"
	fi
	if [ "$quiet" = 1 ]; then
		tail -n +1 -s 0.3 -F --pid="$XH_QPID" "$log" 2>/dev/null | tr -d '\r' | grep --line-buffered -E 'XH-(STEP|SCENARIO|BEGIN|END|HOST|NOTE)' &
	else
		tail -n +1 -s 0.3 -F --pid="$XH_QPID" "$log" 2>/dev/null | tr -d '\r' &
	fi
	XH_FPID=$!
	local timed_out=0 end_seen=""
	while kill -0 "$XH_QPID" 2>/dev/null; do
		if [ $(($(now) - tb)) -ge "$timeout" ]; then
			timed_out=1
			break
		fi
		if [ -z "$end_seen" ] && grep -q 'XH-END' "$log"; then end_seen=$(now); fi
		if [ -n "$end_seen" ] && [ $(($(now) - end_seen)) -ge 30 ]; then
			say "XH-END seen but QEMU did not exit within 30s; killing it"
			break
		fi
		sleep 1
	done
	local qrc=0
	if kill -0 "$XH_QPID" 2>/dev/null; then
		kill_qemu "$XH_QPID"
	else
		wait "$XH_QPID" || qrc=$?
	fi
	XH_QPID=""
	if [ -n "$XH_QPID_B" ]; then
		# host A told B to power off at its end; give it a few seconds
		local i
		for ((i = 0; i < 10; i++)); do kill -0 "$XH_QPID_B" 2>/dev/null || break; sleep 1; done
		kill_qemu "$XH_QPID_B"
		XH_QPID_B=""
		sed -i 's/\r$//' "$log_b"
	fi
	wait "$XH_FPID" 2>/dev/null || true
	XH_FPID=""
	sed -i 's/\r$//' "$log"
	local elapsed=$(($(now) - tb))

	# ---- verdict ----
	local ok=1 passed=0 failed=0 n
	if [ "$timed_out" = 1 ]; then
		say "TIMEOUT: no end after ${timeout}s (set XMAINT_XENHOST_TIMEOUT or --timeout)"
		ok=0
	fi
	grep -q 'XH-END' "$log" || { [ "$timed_out" = 1 ] || say "the host stopped before XH-END (QEMU exit $qrc)"; ok=0; }
	for s in "${scenarios[@]}"; do
		n=$(scenario_name "$s")
		if grep -qE "XH-SCENARIO $n PASS\b" "$log"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			ok=0
			if grep -qE "XH-SCENARIO $n FAIL\b" "$log"; then
				say "scenario $n FAILED:"
			elif grep -qE "XH-BEGIN $n\b" "$log"; then
				say "scenario $n did not finish:"
			else
				say "scenario $n never started"
			fi
			grep -E "XH-(STEP|OUT) $n |XH-SCENARIO $n " "$log" | grep -vE 'XH-STEP [^ ]+ [^ ]+ PASS' | tail -n 150 >&2 || true
		fi
	done
	if grep -q 'XH-NOTE ' "$log"; then
		say "notes from the host:"
		grep 'XH-NOTE ' "$log" | sed 's/^/  /' >&2
	fi
	if [ "$ok" = 1 ]; then
		say "all ${passed} scenario(s) passed; boot to XH-END ${elapsed}s"
	else
		say "last console lines${log_b:+ of host A}:"
		grep -vE '^XH-OUT ' "$log" | tail -n 40 | sed 's/^/  | /' >&2
		[ -s "$XH_RUN/qemu.out" ] && { say "qemu said:"; sed 's/^/  | /' "$XH_RUN/qemu.out" >&2; }
		if [ "$hosts" = 2 ]; then
			say "last console lines of host B:"
			tail -n 40 "$log_b" | sed 's/^/  B| /' >&2
			[ -s "$XH_RUN/qemu-b.out" ] && { say "host B's qemu said:"; sed 's/^/  B| /' "$XH_RUN/qemu-b.out" >&2; }
		fi
		[ -n "$logfile" ] && say "full console log: $logfile${log_b:+ (host B: $log_b)}"
	fi
	echo "xenhost: ${passed} passed, ${failed} failed"
	[ "$ok" = 1 ] && exit 0
	exit 1
}

cmd_shell() {
	cmd_run --interactive "$@"
}

cmd_info() {
	echo "cache: $XH_CACHE"
	if [ -f "$XH_OUT/stamp" ]; then
		echo "kernel: $(cat "$XH_OUT/kernel-version")"
		grep -E '^(xen-utils-4.17|xen-hypervisor-[^ ]*|linux-image-[^ ]*|qemu-system-xen) ' "$XH_OUT/versions.txt" | sed 's/^/package: /' || true
		local d
		for d in "$XH_OUT" "$XH_CHROOT" "$XH_CACHE/debs"; do
			[ -e "$d" ] && echo "size: $(du -sh "$d" | cut -f1) $d"
		done
		return 0
	else
		echo "not built"
	fi
}

cmd_install_deps() {
	[ "$(id -u)" = 0 ] || die "install-deps needs root"
	apt-get -o DPkg::Lock::Timeout=300 update -q
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends $XH_HOST_PKGS
}

main() {
	local cmd=${1:-}
	[ $# -gt 0 ] && shift
	case "$cmd" in
	build) cmd_build "$@" ;;
	run) cmd_run "$@" ;;
	shell) cmd_shell "$@" ;;
	info) cmd_info "$@" ;;
	install-deps) cmd_install_deps "$@" ;;
	host-packages) echo "$XH_HOST_PKGS" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
	esac
}

main "$@"
