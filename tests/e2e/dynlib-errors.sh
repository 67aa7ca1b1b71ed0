#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input for dynamic programs is ld.so's to report: a missing library and a library of the
# wrong architecture (an ELFCLASS32 copy) must give the same stdout, stderr and exit status
# natively and under bypass-run, as must the good case.  The program has no RUNPATH, so
# LD_LIBRARY_PATH (which reaches the guest's ld.so, never bypass-run's) decides what is found.
# usage: dynlib-errors.sh BYPASS_RUN PROGRAM LIBRARY CASE    CASE: ok | missing | wrong_class
# Exit: 0 same in both runs (and the expected kind of failure); 1 differs; 2 usage.
set -u
[ $# -eq 4 ] || { echo "usage: dynlib-errors.sh BYPASS_RUN PROGRAM LIBRARY CASE" >&2; exit 2; }
br=$1 prog=$2 lib=$3 case=$4
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/lib"
fail() { echo "FAIL dynlib-errors $case: $*"; exit 1; }

case $case in
ok)	cp "$lib" "$tmp/lib/" ;;
missing) ;;
wrong_class) # e_ident[EI_CLASS] = ELFCLASS32: ld.so refuses it by name
	cp "$lib" "$tmp/lib/" &&
		printf '\001' | dd of="$tmp/lib/$(basename "$lib")" bs=1 seek=4 conv=notrunc 2>/dev/null ||
		exit 2 ;;
*)	echo "dynlib-errors: unknown case $case" >&2; exit 2 ;;
esac

run() { # run OUT-PREFIX [RUNNER]: stdout, stderr and status of PROGRAM
	out=$1; shift
	LD_LIBRARY_PATH=$tmp/lib timeout 10 "$@" "$prog" >"$out.out" 2>"$out.err"
	echo $? >"$out.rc"
}
run "$tmp/native"
run "$tmp/bypass" "$br"
for f in rc out err; do
	cmp -s "$tmp/native.$f" "$tmp/bypass.$f" || {
		echo "native $f:"; cat "$tmp/native.$f"; echo "bypass-run $f:"; cat "$tmp/bypass.$f"
		fail "$f differs"
	}
done
rc=$(cat "$tmp/native.rc")
case $case in
ok)	[ "$rc" = 0 ] && grep -q '^needlib says 42$' "$tmp/native.out" || fail "native run failed" ;;
missing) [ "$rc" = 127 ] && grep -q 'cannot open shared object file' "$tmp/native.err" ||
		fail "expected ld.so's 127 and 'cannot open shared object file'" ;;
wrong_class) [ "$rc" = 127 ] && grep -q 'wrong ELF class: ELFCLASS32' "$tmp/native.err" ||
		fail "expected ld.so's 127 and 'wrong ELF class: ELFCLASS32'" ;;
esac
echo "ok dynlib-errors $case: exit $rc, stdout and stderr identical: $(head -c 200 "$tmp/native.err")"
