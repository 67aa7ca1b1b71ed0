#!/bin/sh
# SPDX-License-Identifier: MIT
# Exhaustiveness: every syscall is intercepted and counted, in every execution context.
#   exhaustive.sh enosys   RUNNER CHECKER PROG N
#     PROG (e2e_enosys) does N raw 0x1337 and N raw 500 syscalls under --stats=FILE; the
#     report must count exactly N of each, and PROG must have seen -ENOSYS every time.
#   exhaustive.sh contexts RUNNER CHECKER PROG K
#     PROG (e2e_coverage) does K raw 0x1337 syscalls in the main thread, a thread, a signal
#     handler, a forked, a vforked and an exec'd child under BYPASS_STATS=DIR/%p.json: the
#     reports must add up to 6*K, the fork and exec children each have their own file with
#     exactly K, the main process K*3 (or K*4 if the vfork child's calls are booked to it).
# Exit: 0 pass, 1 fail, 2 usage/setup error, 77 skipped (stats disabled in this build).
set -u
[ $# -eq 5 ] || { echo "usage: exhaustive.sh enosys|contexts RUNNER CHECKER PROG N" >&2; exit 2; }
mode=$1 runner=$2 checker=$3 prog=$4 n=$5
[ -x "$runner" ] || { echo "exhaustive: runner $runner missing (build bypass-run)" >&2; exit 2; }
if [ "${BYPASS_E2E_STATS:-ON}" = OFF ]; then
	echo "SKIP: stats checks disabled (BYPASS_E2E_STATS=OFF): runner writes no reports"
	exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-e2e.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
num() { "$checker" get "$1" "$2" || bad "cannot read $1 from $2"; }

case $mode in
enosys)
	(cd "$work" && exec "$runner" "--stats=$work/stats.json" -- "$prog" "$n") \
		</dev/null >"$work/out" 2>"$work/err"
	st=$?
	cat "$work/out"
	[ $st -eq 0 ] || bad "program exited $st"
	for nr in 4919 500; do
		grep -qx "syscall $nr: $n of $n returned -ENOSYS" "$work/out" ||
			bad "program did not see -ENOSYS for all $n calls of $nr"
	done
	[ -f "$work/stats.json" ] || { bad "no stats file written"; tail -n 15 "$work/err"; exit 1; }
	"$checker" validate "$work/stats.json" || bad "invalid stats report"
	for nr in 4919 500; do
		c=$(num "syscalls.$nr" "$work/stats.json")
		[ "$c" = "$n" ] && echo "syscall $nr: counted $c" || bad "syscall $nr counted ${c:-?}, expected $n"
	done
	;;
contexts)
	mkdir "$work/stats"
	(cd "$work" && BYPASS_STATS="$work/stats/%p.json" exec "$runner" -- "$prog" "$n" "$work/pids") \
		</dev/null >"$work/out" 2>"$work/err"
	st=$?
	cat "$work/out"
	[ $st -eq 0 ] || bad "program exited $st"
	[ -f "$work/pids" ] || { bad "program wrote no pid file"; tail -n 15 "$work/err"; exit 1; }
	set -- "$work"/stats/*.json
	[ -f "$1" ] || { bad "no stats files written"; tail -n 15 "$work/err"; exit 1; }
	"$checker" validate "$@" || bad "invalid stats report(s)"
	total=$("$checker" sum syscalls.4919 "$@")
	echo "stats files: $#; syscall 4919 summed over them: $total (expected $((6 * n)))"
	[ "$total" = $((6 * n)) ] || bad "sum of syscall 4919 is $total, expected $((6 * n))"
	while read -r ctx pid; do
		f="$work/stats/$pid.json"
		if [ ! -f "$f" ]; then
			[ "$ctx" = vfork ] && continue # may be booked to the parent (shared memory)
			bad "no stats file for the $ctx process"
			continue
		fi
		c=$(num syscalls.4919 "$f")
		case $ctx in
		main) [ "$c" = $((3 * n)) ] || [ "$c" = $((4 * n)) ] ||
			bad "main process counted $c, expected $((3 * n)) (or $((4 * n)) with the vfork child's)" ;;
		*) [ "$c" = "$n" ] || bad "$ctx child counted $c, expected $n" ;;
		esac
		echo "$ctx: $c"
	done <"$work/pids"
	;;
*) echo "exhaustive: unknown mode $mode" >&2; exit 2 ;;
esac
[ $fail -eq 0 ] || { echo "runner stderr (last 15 lines):"; tail -n 15 "$work/err"; }
exit $fail
