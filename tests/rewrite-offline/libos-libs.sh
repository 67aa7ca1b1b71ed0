#!/bin/sh
# SPDX-License-Identifier: MIT
# Rewritten shared libraries under bypass-run: libc.so.6 and ld.so rewritten into a private
# directory, then ls and dash run through them under bypass-run, natively too; outputs and
# statuses must match, and no call may come from the trap: the LibOS took libc's (and the
# rewritten ld.so's) sites from their notes at mmap/load time and sent their stubs to the
# gate, without scanning (a scan would find the arena's raw syscalls and break the stubs).
# usage: libos-libs.sh BYPASS_REWRITE BYPASS_RUN E2E_STATS
set -eu
rw=$1 run=$2 stats=$3
ldso=/lib64/ld-linux-x86-64.so.2
libc=/lib/x86_64-linux-gnu/libc.so.6
[ -x "$ldso" ] && [ -f "$libc" ] || { echo "SKIP: no $ldso or $libc"; exit 77; }
dir=$(mktemp -d /tmp/bypass-rwlibs.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
mkdir "$dir/lib" "$dir/tree" && touch "$dir/tree/a" "$dir/tree/b c"
"$rw" "$libc" "$dir/lib/libc.so.6" && "$rw" "$ldso" "$dir/lib/ld-linux-x86-64.so.2" ||
	fail "bypass-rewrite failed"
chmod +x "$dir/lib/ld-linux-x86-64.so.2"

check() {	# check NAME LOADER ARGS...: native vs bypass-run, and the stats
	name=$1; shift
	set +e
	want=$("$@" 2>&1); wst=$?
	got=$("$run" --stats="$dir/$name.json" "$@" 2>&1); gst=$?
	set -e
	[ "$want" = "$got" ] || fail "$name: output differs: native '$want' vs '$got'"
	[ "$wst" = "$gst" ] || fail "$name: status $gst, natively $wst"
	"$stats" validate "$dir/$name.json" || fail "$name: invalid stats"
	[ "$("$stats" get calls.trap "$dir/$name.json")" = 0 ] || fail "$name: calls came from the trap"
	echo "$name: ok ($("$stats" get sites.found "$dir/$name.json") sites)"
}
check system_ldso_rewritten_libc "$ldso" --library-path "$dir/lib" /bin/ls "$dir/tree"
check rewritten_ldso_and_libc "$dir/lib/ld-linux-x86-64.so.2" --library-path "$dir/lib" \
	/bin/dash -c 'echo a | /bin/cat; x=$(echo sub); echo "$x"; exit 3'
