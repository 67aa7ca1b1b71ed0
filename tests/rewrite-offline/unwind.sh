#!/bin/sh
# SPDX-License-Identifier: MIT
# Unwinding through the stubs of a rewritten file (its rebuilt .eh_frame/.eh_frame_hdr),
# one case per case_<name>() function below (CMakeLists.txt registers each as ctest
# rewrite-offline.unwind.<name>):
#   gdb stopped inside a stub (catch syscall write) backtraces through it to main;
#   pthread_cancel of a thread blocked in a rewritten read() unwinds through the stub
#   (its cleanup runs) and backtrace() in a signal handler reaches past it, both with a
#   rewritten static program and with a rewritten libc.so.6 and ld.so;
#   eu-elflint has no new complaint on a program with a symbol table.
# usage: unwind.sh BYPASS_REWRITE STATIC_PROG DYNAMIC_PROG [CASE...]   (tests/unwindprog.c)
#        unwind.sh --list
# Exit: 0 all passed, 1 some case failed, 2 usage / environment broken, 77 skipped.
# shellcheck disable=SC2317  # case_* functions are called indirectly
# shellcheck disable=SC2015  # "A && B || fail": fail when either is false, on purpose
set -u

TIMEOUT=30
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
die() { echo "unwind.sh: $*" >&2; exit 2; }
list_cases() { sed -n 's/^case_\([a-z0-9_]*\)() *{.*/\1/p' "$self"; }

[ "${1:-}" = --list ] && { list_cases; exit 0; }
[ $# -ge 3 ] || die "usage: unwind.sh BYPASS_REWRITE STATIC_PROG DYNAMIC_PROG [CASE...] | --list"
rw=$1 sprog=$2 dprog=$3; shift 3
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
rw=$(abs "$rw") sprog=$(abs "$sprog") dprog=$(abs "$dprog")
for f in "$rw" "$sprog" "$dprog"; do [ -x "$f" ] || die "$f: not found or not executable"; done
tmo=$(command -v timeout) || die "timeout(1) not found"

work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-rw-unwind.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
LC_ALL=C; export LC_ALL
case_failed=0	# read by run_cases (cases.sh)
# shellcheck disable=SC2034  # case_failed: read by run_cases
fail() { echo "  FAIL: $*"; case_failed=1; }

# The static program, rewritten (once per case directory).
static_rw() {
	[ -f prog.rw ] || "$rw" "$sprog" prog.rw >/dev/null || die "rewriting $sprog failed"
	echo "$PWD/prog.rw"
}

# A directory with libc.so.6 and ld.so rewritten; prints the ld.so to run programs with.
libs_rw() {
	libc=$(ls /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6 2>/dev/null | head -n 1)
	ldso=$(ls /lib64/ld-linux-x86-64.so.2 2>/dev/null | head -n 1)
	[ -n "$libc" ] && [ -n "$ldso" ] || { echo "SKIP: no libc.so.6 or ld.so here"; exit 77; }
	mkdir -p lib
	"$rw" "$libc" lib/libc.so.6 >/dev/null && "$rw" "$ldso" lib/ld.so >/dev/null ||
		die "rewriting $libc or $ldso failed"
	echo "$PWD/lib/ld.so"
}

# expect_ok WHAT REGEX CMD...: CMD exits 0 and prints a line matching REGEX.
expect_ok() {
	what=$1 re=$2; shift 2
	got=$("$tmo" "$TIMEOUT" "$@" 2>&1); st=$?
	[ "$st" = 0 ] && echo "$got" | grep -Eq "$re" || fail "$what: exit $st, printed '$got'"
}

# ---- cases --------------------------------------------------------------------------------

case_gdb_backtrace() {	# stopped in a stub, gdb walks through it to say() and main()
	command -v gdb >/dev/null || { echo "SKIP: gdb missing (apt-get install gdb)"; exit 77; }
	p=$(static_rw)
	# shellcheck disable=SC2016  # $pc is gdb's
	"$tmo" "$TIMEOUT" gdb -batch -nx -ex 'catch syscall write' -ex run -ex 'p/x $pc' -ex bt \
		--args "$p" say >gdb.out 2>&1
	# the stop is inside the stubs: [lo, hi) of .bypass.tramp from readelf
	re='.* \.bypass\.tramp *PROGBITS *\([0-9a-f]*\) [0-9a-f]* \([0-9a-f]*\) .*'
	# shellcheck disable=SC2046  # address and size, as two words
	set -- $(readelf -SW "$p" | sed -n "s/$re/\\1 \\2/p")
	[ $# = 2 ] || { fail "no .bypass.tramp in readelf -SW"; return; }
	pc=$(sed -n 's/^[$]1 = \(0x[0-9a-f]*\)$/\1/p' gdb.out)
	[ -n "$pc" ] || { fail "gdb did not stop: $(tail -n 5 gdb.out)"; return; }
	[ $((pc)) -ge $((0x$1)) ] && [ $((pc)) -lt $((0x$1 + 0x$2)) ] ||
		fail "stopped at $pc, outside the stubs [0x$1, +0x$2)"
	grep -Eq '^#1 .* in say' gdb.out || fail "no frame #1 in say(): $(grep '^#' gdb.out | head -n 4)"
	grep -Eq '^#2 .* in main ' gdb.out || fail "no frame #2 in main(): $(grep '^#' gdb.out | head -n 4)"
	! grep -q 'Backtrace stopped' gdb.out || fail "$(grep 'Backtrace stopped' gdb.out)"
}

case_cancel_static() {
	expect_ok "pthread_cancel" "^canceled=1 cleanup=1$" "$(static_rw)" cancel
}

case_backtrace_static() {
	expect_ok "backtrace()" "caller_found=1$" "$(static_rw)" backtrace
}

case_cancel_libc() {	# the stub is libc's read(); libgcc_s finds it through libc's header
	ldso=$(libs_rw)
	expect_ok "pthread_cancel" "^canceled=1 cleanup=1$" "$ldso" --library-path lib "$dprog" cancel
}

case_backtrace_libc() {
	ldso=$(libs_rw)
	expect_ok "backtrace()" "caller_found=1$" "$ldso" --library-path lib "$dprog" backtrace
}

case_elflint_symtab() {	# __EH_FRAME_BEGIN__ & co. stay inside their (renamed) section
	command -v eu-elflint >/dev/null || { echo "SKIP: eu-elflint missing (apt-get install elfutils)"; exit 77; }
	p=$(static_rw)
	eu-elflint --gnu-ld "$sprog" 2>&1 | sed 's/^[^:]*: //; s/section \[ *[0-9]*\]/section/' |
		sort >lint.in
	eu-elflint --gnu-ld "$p" 2>&1 | sed 's/^[^:]*: //; s/section \[ *[0-9]*\]/section/' |
		sort >lint.out
	new=$(comm -13 lint.in lint.out)
	[ -z "$new" ] || fail "new elflint complaints: $(echo "$new" | head -n 3)"
	readelf -SW "$p" | grep -q ' \.eh_frame_hdr ' || fail "no .eh_frame_hdr section"
	readelf -lW "$p" | grep -q 'GNU_EH_FRAME' || fail "no PT_GNU_EH_FRAME"
}

. "$(dirname "$self")/cases.sh"
run_cases "$@"
