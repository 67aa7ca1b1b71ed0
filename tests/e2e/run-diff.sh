#!/bin/sh
# SPDX-License-Identifier: MIT
# Differential run: PROGRAM natively and under RUNNER (bypass-run), each in its own fresh empty
# directory with stdin from /dev/null; stdout and exit status must be identical. Prints one
# "ok"/"FAIL" summary line (on a mismatch: the first differing lines), then the runner's stderr
# tail when it failed.
#
# usage: run-diff.sh RUNNER [--name NAME] [--expect-status N] [--checker E2E_STATS]
#                    [--stats off|valid|ratio=MIN|maxtrap=F] [--applets BUSYBOX]
#                    [--native-stderr-forbid ERE] -- PROGRAM [ARGS...]
#   --expect-status N  the native run must exit N (else the test environment is broken)
#   --stats valid      pass --stats=DIR/%p.json; the runner's own pid must leave a file and
#                      every file must be a valid report (e2e_stats validate)
#   --stats ratio=MIN  as valid, plus (fast+libos)/total >= MIN summed over all files
#   --stats maxtrap=F  as ratio=1-F: at most the fraction F of all calls went through the trap
#   --native-stderr-forbid ERE
#                      the native run's stderr must not match ERE (grep -E): a missing program,
#                      library or module would otherwise fail the same way in both runs and pass
#   --applets BUSYBOX  both runs get PATH=DIR and nothing else, DIR (in the temp dir) holding
#                      one symlink to BUSYBOX per applet of `BUSYBOX --list` (busybox included),
#                      so a command found through PATH is always a busybox applet
# Exit: 0 identical (and stats fine), 1 mismatch or bad stats, 2 usage / runner missing.
set -u

die() { echo "run-diff: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: run-diff.sh RUNNER [options] -- PROGRAM [ARGS...]"
runner=$1; shift
name= expect= checker= stats=off applets= forbid=
while [ $# -gt 0 ]; do
	case $1 in
	--name) name=$2; shift 2 ;;
	--expect-status) expect=$2; shift 2 ;;
	--checker) checker=$2; shift 2 ;;
	--stats) stats=$2; shift 2 ;;
	--applets) applets=$2; shift 2 ;;
	--native-stderr-forbid) forbid=$2; shift 2 ;;
	--) shift; break ;;
	*) die "unknown option $1" ;;
	esac
done
[ $# -ge 1 ] || die "no PROGRAM given"
[ -n "$name" ] || name=$*
[ -x "$runner" ] || die "runner $runner not found or not executable (build the bypass-run target)"
case $stats in
maxtrap=*)
	stats=ratio=$(awk -v f="${stats#maxtrap=}" 'BEGIN {
		if (f !~ /^([0-9]+\.?[0-9]*|\.[0-9]+)$/ || f + 0 > 1) exit 1
		printf "%.6f", 1 - f }') || die "bad --stats maxtrap=F: F must be a fraction in [0, 1]" ;;
esac
case $stats in
off) ;;
valid|ratio=*) [ -x "$checker" ] || die "--stats $stats needs --checker PATH to e2e_stats" ;;
*) die "bad --stats $stats" ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-e2e.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
mkdir "$work/native" "$work/run" "$work/stats"
# Deterministic locale and a PATH that finds busybox in both runs (only its applets with
# --applets: never /bin/sh or a dynamic /usr/bin program).
LC_ALL=C; export LC_ALL
PATH=/usr/local/bin:/usr/bin:/bin; export PATH
if [ -n "$applets" ]; then
	[ -x "$applets" ] || die "--applets $applets: not found or not executable"
	mkdir "$work/bin" || die "mkdir $work/bin failed"
	list=$("$applets" --list) && [ -n "$list" ] || die "$applets --list failed"
	for a in $list; do
		ln -s "$applets" "$work/bin/$a" || die "ln -s $applets $work/bin/$a failed"
	done
	[ -e "$work/bin/busybox" ] || ln -s "$applets" "$work/bin/busybox" || die "ln busybox failed"
	PATH=$work/bin
fi

(cd "$work/native" && exec "$@") </dev/null >"$work/native.out" 2>"$work/native.err"
ns=$?

if [ "$stats" = off ]; then
	(cd "$work/run" && exec "$runner" -- "$@") </dev/null >"$work/run.out" 2>"$work/run.err" &
else
	(cd "$work/run" && exec "$runner" "--stats=$work/stats/%p.json" -- "$@") \
		</dev/null >"$work/run.out" 2>"$work/run.err" &
fi
rpid=$!
wait $rpid
rs=$?

show_stderr() {
	if [ -s "$work/run.err" ]; then
		echo "  runner stderr (last 15 lines):"
		tail -n 15 "$work/run.err" | sed 's/^/  | /'
	fi
}

if [ -n "$expect" ] && [ "$ns" != "$expect" ]; then
	echo "FAIL $name: native run exited $ns, expected $expect (environment broken?)"
	sed 's/^/  native: /' "$work/native.out" | grep -i fail | head -n 10
	tail -n 5 "$work/native.err" | sed 's/^/  native stderr: /'
	exit 1
fi

if [ -n "$forbid" ] && grep -Eq -- "$forbid" "$work/native.err"; then
	echo "FAIL $name: the native run's stderr shows a missing program, library or module" \
		"(environment broken?):"
	grep -E -- "$forbid" "$work/native.err" | head -n 5 | sed 's/^/  native stderr: /'
	exit 1
fi

if ! cmp -s "$work/native.out" "$work/run.out" || [ "$ns" != "$rs" ]; then
	# First differing line, 1-based; "(eof)" when one output is shorter.
	line=$(awk 'NR==FNR { a[FNR]=$0; n=FNR; next }
		{ if (!(FNR in a) || a[FNR] != $0) { print FNR; found=1; exit } m=FNR }
		END { if (!found) { if (n > m) print m+1; else print 0 } }' \
		"$work/native.out" "$work/run.out")
	msg="FAIL $name: exit native=$ns runner=$rs"
	if [ "$line" != 0 ]; then
		nl=$(sed -n "${line}{p;q}" "$work/native.out")
		rl=$(sed -n "${line}{p;q}" "$work/run.out")
		[ "$(wc -l <"$work/native.out")" -ge "$line" ] || nl="(eof)"
		[ "$(wc -l <"$work/run.out")" -ge "$line" ] || rl="(eof)"
		msg="$msg; stdout differs at line $line: native '$nl' vs runner '$rl'"
	else
		msg="$msg; stdout identical ($(wc -l <"$work/native.out") lines)"
	fi
	printf "%s\n" "$msg"
	show_stderr
	exit 1
fi

summary="ok $name: exit $ns, stdout identical ($(wc -l <"$work/native.out") lines)"
if [ "$stats" != off ]; then
	set -- "$work"/stats/*.json
	if [ ! -f "$work/stats/$rpid.json" ]; then
		echo "FAIL $name: outputs match but no stats file for the runner's pid $rpid" \
			"(found: $(ls "$work/stats" | tr '\n' ' '))"
		show_stderr
		exit 1
	fi
	if ! err=$("$checker" validate "$@" 2>&1); then
		echo "FAIL $name: outputs match but a stats report is invalid: $(echo "$err" | head -n 3 | tr '\n' ' ')"
		exit 1
	fi
	case $stats in
	ratio=*)
		if ! out=$("$checker" ratio "${stats#ratio=}" "$@" 2>&1); then
			echo "FAIL $name: outputs match but too many trapped calls: $(echo "$out" | tr '\n' ' ')"
			exit 1
		fi
		summary="$summary; $out" ;;
	*) summary="$summary; $# stats file(s) valid" ;;
	esac
fi
printf "%s\n" "$summary"
exit 0
