#!/bin/sh
# Every xenstore path the code uses must be documented in the schema.
# Paths are written only in libmaint/schema.h; this checks both halves:
#  1. each path in schema.h appears in xenstore-schema/xenstore-paths.md;
#  2. no other C source spells a /local/domain path or an @ watch itself.
set -u
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
schema="$src/xenstore-schema/xenstore-paths.md"
header="$src/libmaint/schema.h"
fail=0
[ -r "$schema" ] && [ -r "$header" ] || { echo "schema or header missing"; exit 99; }

# The documented paths, with placeholders normalised.
documented=$(sed -n 's/^#### \([^ ]*\).*/\1/p' "$schema" |
             sed 's|^~|/local/domain/$DOMID|')

n=0
for path in $(sed -n 's/^#define MAINT_XS_[A-Z_]* *"\([^"]*\)".*/\1/p' "$header"); do
    n=$((n + 1))
    norm=$(printf '%s' "$path" | sed -e 's|^\([a-z]\)|/local/domain/$DOMID/\1|' \
        -e 's|/local/domain/%u|/local/domain/$DOMID|' \
        -e 's|/request/%s|/request/$ID|' -e 's|/response/%s|/response/$ID|' -e 's|/%u$|/$N|' \
        -e 's|/apps/%s|/apps/$APP|' -e 's|/result/%s|/result/$SEQ|' -e 's|/control/%s|/control/$SEQ|' \
        -e 's|/vchan/%s|/vchan/$SEQ|' -e 's|/workflow/%s|/workflow/$ID|')
    if ! printf '%s\n' "$documented" | grep -qxF "$norm"; then
        echo "FAIL: $path (as $norm) is used in libmaint/schema.h but not documented in xenstore-schema/xenstore-paths.md"
        fail=1
    fi
done
[ "$n" -ge 10 ] || { echo "FAIL: found only $n paths in $header"; fail=1; }

# Paths spelled outside schema.h.
stray=$(grep -rnE '"(/local/domain|@introduceDomain|@releaseDomain)' \
        "$src/libmaint" "$src/xmaintd" "$src/xl-maint" "$src/xmaint-agent" --include='*.c' --include='*.h' |
        grep -v '/schema\.h:' || true)
if [ -n "$stray" ]; then
    echo "FAIL: xenstore paths written outside libmaint/schema.h:"
    echo "$stray"
    fail=1
fi
[ $fail -eq 0 ] && echo "PASS: all $n paths of schema.h are documented; none elsewhere"
exit $fail
