#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmarks bypass-run against native runs and prints one table of figures. Not a test: it
# never judges timings (the "goal" column is information). Run through `cmake --build BUILD
# --target bench`; `ctest -L bench` runs the --quick smoke mode, which checks only that every
# figure was measured.
#
# usage: run-bench.sh [options] BYPASS_RUN
#   --rounds R         syscall cost: R rounds, native and bypass-run alternating (default 11)
#   --calls N          raw getpid calls per run (default 2000000)
#   --spawns S         start-up: S timed runs of each command, alternating (default 200)
#   --busybox PATH     start-up program, run as `PATH true` (default /bin/busybox)
#   --getpid PROG      the bench_getpid program (default: next to BYPASS_RUN's build tree)
#   --spawn-time PROG  the bench_spawn_time program (same default)
#   --no-callgrind     skip the callgrind instruction counts
#   --quick            smoke mode: R=3, N=200000, S=10, no callgrind (about 1 s)
# Exit: 0 table printed; 1 a run failed or (in --quick) a figure is missing; 2 usage.
set -eu

die() { echo "run-bench: $*" >&2; exit 2; }
fail() { echo "run-bench: $*" >&2; exit 1; }

rounds=11 calls=2000000 spawns=200 busybox=/bin/busybox getpid='' spawn_time='' callgrind=yes
quick=no
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) [ $# -ge 2 ] || die "$1 needs a value"; rounds=$2; shift 2 ;;
	--calls) [ $# -ge 2 ] || die "$1 needs a value"; calls=$2; shift 2 ;;
	--spawns) [ $# -ge 2 ] || die "$1 needs a value"; spawns=$2; shift 2 ;;
	--busybox) [ $# -ge 2 ] || die "$1 needs a value"; busybox=$2; shift 2 ;;
	--getpid) [ $# -ge 2 ] || die "$1 needs a value"; getpid=$2; shift 2 ;;
	--spawn-time) [ $# -ge 2 ] || die "$1 needs a value"; spawn_time=$2; shift 2 ;;
	--no-callgrind) callgrind=no; shift ;;
	--quick) quick=yes rounds=3 calls=200000 spawns=10 callgrind=no; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see the usage at the top of $0)" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: run-bench.sh [options] BYPASS_RUN"
bypass=$1
for v in "$rounds" "$calls" "$spawns"; do
	case $v in ''|*[!0-9]*|0) die "counts must be positive integers, got '$v'" ;; esac
done
[ -x "$bypass" ] || die "$bypass not found or not executable (build the bypass-run target)"
bench_dir=$(cd "$(dirname "$bypass")/../tests/bench" 2>/dev/null && pwd) || bench_dir=.
[ -n "$getpid" ] || getpid=$bench_dir/bench_getpid
[ -n "$spawn_time" ] || spawn_time=$bench_dir/bench_spawn_time
[ -x "$getpid" ] || die "$getpid not found (build the bench_getpid target or pass --getpid)"
[ -x "$spawn_time" ] || die "$spawn_time not found (build bench_spawn_time or pass --spawn-time)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bypass-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# median: the middle of the numbers on stdin (the mean of the two middle ones for an even count).
median() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR == 0) exit 1
		      if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# calc EXPR: floating-point arithmetic with awk, e.g. calc "1.5 - 0.25" -> 1.25.
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# ms NS_EXPR: nanoseconds as milliseconds with three decimals (start-up differences are small).
ms() { awk "BEGIN { printf \"%.3f\", ($1) / 1e6 }"; }
# field KEY LINE: the value of KEY=value in a "k=v k=v" line.
field() { printf ' %s\n' "$2" | sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p"; }
# json_obj NAME FILE: the inside of the flat object "NAME": {...} of a --stats report.
json_obj() { sed -n "s/.*\"$1\": *{\\([^}]*\\)}.*/\\1/p" "$2"; }
# json_num KEY TEXT: the number after "KEY": in TEXT.
json_num() { printf '%s\n' "$2" | sed -n "s/.*\"$1\": *\\([0-9][0-9]*\\).*/\\1/p"; }

# --- (a) syscall cost: raw getpid, native and hooked, alternating rounds ------------------------
: >"$tmp/native" && : >"$tmp/hooked"
i=0
while [ "$i" -lt "$rounds" ]; do
	out=$("$getpid" "$calls") || fail "native $getpid failed"
	field ns_per_call "$out" >>"$tmp/native"
	out=$("$bypass" "$getpid" "$calls") || fail "bypass-run $getpid failed"
	field ns_per_call "$out" >>"$tmp/hooked"
	i=$((i + 1))
done
sc_native=$(median <"$tmp/native")
sc_hooked=$(median <"$tmp/hooked")
sc_over=$(calc "$sc_hooked - $sc_native")
sc_min_n=$(sort -n "$tmp/native" | sed -n 1p) sc_max_n=$(sort -n "$tmp/native" | sed -n '$p')
sc_min_h=$(sort -n "$tmp/hooked" | sed -n 1p) sc_max_h=$(sort -n "$tmp/hooked" | sed -n '$p')
# Which path the loop's calls took (a separate, untimed run).
"$bypass" --stats="$tmp/getpid.json" "$getpid" 1000 >/dev/null || fail "bypass-run --stats failed"
gp_calls=$(json_obj calls "$tmp/getpid.json")
gp_total=$(json_num total "$gp_calls") gp_fast=$(json_num fast "$gp_calls")
gp_libos=$(json_num libos "$gp_calls") gp_trap=$(json_num trap "$gp_calls")

# --- (b) start-up: busybox true, native and hooked, alternating ---------------------------------
su_native=n/a su_hooked=n/a su_over=n/a su_p90_n=n/a su_p90_h=n/a
bb_sites="n/a (no $busybox)" bb_calls=n/a
if [ -x "$busybox" ]; then
	# One untimed run of each first: page cache and (once there is one) the plan cache warm.
	"$busybox" true || fail "$busybox true failed natively"
	"$bypass" "$busybox" true || fail "bypass-run $busybox true failed"
	"$spawn_time" "$spawns" "$busybox" true -- "$bypass" "$busybox" true >"$tmp/spawn" ||
		fail "bench_spawn_time failed"
	n=$(sed -n 1p "$tmp/spawn") h=$(sed -n 2p "$tmp/spawn")
	su_native=$(ms "$(field median_ns "$n")") su_hooked=$(ms "$(field median_ns "$h")")
	su_p90_n=$(ms "$(field p90_ns "$n")") su_p90_h=$(ms "$(field p90_ns "$h")")
	su_over=$(ms "$(field median_ns "$h") - $(field median_ns "$n")")

	# --- (c) what the rewriter did with busybox -----------------------------------------------
	"$bypass" --stats="$tmp/busybox.json" "$busybox" true || fail "bypass-run --stats failed"
	s=$(json_obj sites "$tmp/busybox.json") c=$(json_obj calls "$tmp/busybox.json")
	bb_sites="$(json_num found "$s") found, $(json_num displaced "$s") displaced,"
	bb_sites="$bb_sites $(json_num island "$s") island, $(json_num trap "$s") trap"
	bb_calls="$(json_num total "$c") total, $(json_num fast "$c") fast,"
	bb_calls="$bb_calls $(json_num libos "$c") libos, $(json_num trap "$c") trap"
fi

# --- optional: callgrind instructions per getpid call -------------------------------------------
# Per call = (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up and exit cancel out.
cg_native=skipped cg_hooked=skipped cg_note=
[ "$callgrind" = no ] || command -v valgrind >/dev/null 2>&1 || cg_note="no valgrind"
cg_ir() { # cg_ir [RUNNER] PROG N: instructions executed, or nothing when the run failed
	valgrind --tool=callgrind --callgrind-out-file=/dev/null --smc-check=all "$@" \
		2>"$tmp/cg.err" >/dev/null || return 0
	sed -n 's/.*Collected : *\([0-9][0-9]*\).*/\1/p' "$tmp/cg.err"
}
if [ "$callgrind" = yes ] && [ -z "$cg_note" ]; then
	a=$(cg_ir "$getpid" 10000) b=$(cg_ir "$getpid" 110000)
	cg_native=n/a
	[ -z "$a" ] || [ -z "$b" ] || cg_native=$(calc "($b - $a) / 100000")
	a=$(cg_ir "$bypass" "$getpid" 10000) b=
	[ -z "$a" ] || b=$(cg_ir "$bypass" "$getpid" 110000)
	cg_hooked=n/a
	if [ -n "$b" ]; then
		cg_hooked=$(calc "($b - $a) / 100000")
	else
		# bypass-run says why it cannot run under valgrind (e.g. FSGSBASE is not emulated).
		cg_note=$(sed -n 's/^bypass-run: //p' "$tmp/cg.err" | sed -n 1p)
		cg_note="bypass-run under valgrind: ${cg_note:-failed}"
	fi
fi

# --- the table ----------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | sed -n 1p)
# below X LIMIT: "met" or "missed" (information for the reader; nothing fails on it).
below() { awk "BEGIN { print ($1 <= $2) ? \"met\" : \"missed\" }"; }
goal_sc=$(below "$sc_over" 10) goal_su=n/a
[ "$su_over" = n/a ] || goal_su=$(below "$su_over" 3)
row() { printf '%-46s %13s %13s %11s  %s\n' "$@" | sed "s/ *\$//"; }
rule=$(printf '%0108d' 0 | tr 0 -)
echo "bypass benchmark: native vs bypass-run ($bypass)"
load=$(cut -d" " -f1-3 /proc/loadavg 2>/dev/null) || load=n/a
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), load average $load"
echo "$rule"
row "figure" "native" "bypass-run" "overhead" "goal / note"
echo "$rule"
row "raw getpid, ns/call (median of $rounds runs)" "$sc_native" "$sc_hooked" "$sc_over ns" \
	"<= 10 ns: $goal_sc"
row "  min-max of the runs ($calls calls each)" "$sc_min_n-$sc_max_n" "$sc_min_h-$sc_max_h" \
	"$(calc "$sc_min_h - $sc_min_n") ns" "overhead of the minima"
row "  callgrind instructions per call" "$cg_native" "$cg_hooked" "" "${cg_note:+see below}"
row "  paths taken, fast/libos/trap (of $gp_total)" "" "$gp_fast/$gp_libos/$gp_trap" "" \
	"bench_getpid 1000 under --stats"
row "busybox true start-up, ms (median of $spawns)" "$su_native" "$su_hooked" "$su_over ms" \
	"<= 3 ms: $goal_su"
row "  p90, ms" "$su_p90_n" "$su_p90_h" "" ""
echo "busybox true sites: $bb_sites"
echo "busybox true calls: $bb_calls"
[ -z "$cg_note" ] || echo "callgrind: $cg_note"
echo "$rule"
echo "anchors (issue): zpoline costs 18-30 ns per call on these machines, SaBRe 27-35,"
echo "lazypoline 41-112. Goal: hooked overhead <= 10 ns; start-up within 3 ms of native with the"
echo "plan cache warm (one untimed run of each command precedes the timed ones)."
[ "$quick" = no ] || echo "--quick smoke mode: too few runs for these figures to mean anything."

# Smoke mode: every figure must have been measured (a number); timings are never judged.
if [ "$quick" = yes ]; then
	figures="$sc_native $sc_hooked $sc_over $gp_fast"
	[ ! -x "$busybox" ] || figures="$figures $su_native $su_hooked $su_over"
	for v in $figures; do
		case $v in ''|*[!0-9.-]*) fail "smoke: a figure is missing ('$v')" ;; esac
	done
	[ "$gp_fast" -gt 0 ] || fail "smoke: no getpid call took the fast path"
	[ -x "$busybox" ] || echo "SKIP start-up: $busybox not found"
fi
exit 0
