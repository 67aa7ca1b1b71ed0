#!/bin/sh
# SPDX-License-Identifier: MIT
# --trace under bypass-run: strace-style lines in the file, the program's own output and
# status unchanged, the filter, %p giving one file per process across fork and exec,
# BYPASS_TRACE surviving execve, and one line per call (as many as --stats counts).
# usage: trace.sh BYPASS_RUN E2E_STATS
set -eu
run=$1 stats=$2
bb=/bin/busybox
dir=$(mktemp -d /tmp/bypass-trace.XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
has() {	# has FILE FIXED-STRING
	grep -qF -- "$2" "$1" || { echo "--- $1:"; tail -20 "$1"; fail "no line with: $2"; }
}

# 1. lines, output and status
set +e
out=$("$run" --trace="$dir/t1" --stats="$dir/s1.json" $bb sh -c \
	'echo hi; read x </nonexistent 2>/dev/null; exit 3')	# builtins only: one process
st=$?
set -e
[ "$st" -eq 3 ] || fail "status $st, not 3"
[ "$out" = hi ] || fail "stdout '$out'"
has "$dir/t1" 'write(1, "hi\n", 3) = 3'
has "$dir/t1" 'openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)'
has "$dir/t1" 'exit_group(3) = ?'
# every call is a line: as many as --stats counted (one process here)
lines=$(wc -l <"$dir/t1")
total=$("$stats" get calls.total "$dir/s1.json")
[ "$lines" -eq "$total" ] || fail "$lines trace lines but $total calls"

# 2. the filter
"$run" --trace="$dir/t2" --trace-filter=write,exit_group $bb sh -c 'echo a; echo b' >/dev/null
grep -qv -e '^\[pid [0-9]*\] write(' -e '^\[pid [0-9]*\] exit_group(' "$dir/t2" &&
	fail "filter let other calls through: $(grep -v 'write(\|exit_group(' "$dir/t2" | head -3)"
[ "$(grep -c 'write(' "$dir/t2")" -eq 2 ] || fail "expected 2 write lines"

# 3. %p: one file per process across fork and exec, each line with its own pid
"$run" --trace="$dir/p.%p" $bb sh -c "$bb true; echo done" >/dev/null
n=$(ls "$dir" | grep -c '^p\.')
[ "$n" -ge 2 ] || fail "only $n per-process files"
for f in "$dir"/p.*; do
	pid=${f##*.}
	grep -qv "^\[pid $pid\] " "$f" && fail "$f has lines of another pid"
done
grep -qF "execve(\"$bb\", [\"$bb\", \"true\"]" "$dir"/p.* || fail "no execve line in the child's file"

# 4. BYPASS_TRACE in the environment (and it survives execve into the child)
BYPASS_TRACE="$dir/e.%p" "$run" $bb sh -c "$bb echo child; true" >/dev/null	# fork, then exec
[ "$(ls "$dir" | grep -c '^e\.')" -ge 2 ] || fail "BYPASS_TRACE did not reach the child"
grep -qF 'write(1, "child\n", 6) = 6' "$dir"/e.* || fail "child's write not traced"

# 5. to stderr, the program's stdout untouched
out=$("$run" --trace $bb echo plain 2>"$dir/err")
[ "$out" = plain ] || fail "stdout '$out'"
has "$dir/err" 'write(1, "plain\n", 6) = 6'
echo "trace: ok ($lines lines = $total calls)"
