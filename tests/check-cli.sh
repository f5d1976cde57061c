#!/bin/sh
# The front ends' command lines: help, prefixes, usage errors, exit codes.
# (Commands that need Xen run on the Xen test host: scenarios/10-smoke.sh.)
set -u
b=${top_builddir:-.}
xl="$b/xl-maint/xl-maint"
fail=0
expect() { # WANT-EXIT PATTERN-IN-OUTPUT CMD...
	want=$1 pat=$2
	shift 2
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" != "$want" ] || ! printf '%s' "$out" | grep -q -- "$pat"; then
		echo "FAIL: $* -> exit $got (want $want), output:"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=1
	else
		echo "ok: $*"
	fi
}
expect 0 "Subcommands:" "$xl" --help
expect 0 "Subcommands:" "$xl" help
expect 0 "Usage: xl maint \[-v\] status \[--json\]" "$xl" help status
expect 0 "Usage: xl maint \[-v\] status" "$xl" stat --help
expect 0 "xl maint 0.1.0" "$xl" vers
expect 1 "unknown subcommand 'frobnicate'" "$xl" frobnicate
expect 1 "unknown option '-x'" "$xl" -x list
expect 1 "unknown option '--bogus'" "$xl" list --bogus
expect 1 "unexpected argument 'extra'" "$xl" host extra
expect 1 "missing argument" "$xl" config
expect 1 "missing argument" "$xl" request
expect 1 "no subcommand 'nope'" "$xl" help nope
expect 1 "Subcommands:" "$xl"
expect 1 "is not an option of this subcommand" "$xl" request --json ping
expect 2 "Unknown option" "$b/xmaintd/xmaintd" --bogus
expect 0 "xmaintd 0.1.0" "$b/xmaintd/xmaintd" --version
exit $fail
