#!/bin/sh
# SPDX-License-Identifier: MIT
# Benchmarks bypass-run against native runs and prints one table of figures: raw syscall cost,
# start-up of busybox and of dynamic programs (cold and warm plan cache), nginx requests/s over
# kernel networking, and the cost of --trace=FILE next to strace. Not a test: it never judges
# timings (the "goal" column is information). It starts nginx servers of its own on loopback
# and always stops them (-s quit, or SIGTERM to their master by pid when interrupted). Run
# through `cmake --build BUILD --target bench`; `ctest -L bench` runs the --quick smoke mode,
# which checks only that every figure was measured.
#
# usage: run-bench.sh [options] BYPASS_RUN
#   --rounds R         syscall cost: R rounds, native and bypass-run alternating (default 11)
#   --calls N          raw getpid calls per run (default 2000000)
#   --spawns S         start-up: S timed runs of each command, alternating (default 200)
#   --busybox PATH     start-up program, run as `PATH true` (default /bin/busybox)
#   --getpid PROG      the bench_getpid program (default: next to BYPASS_RUN's build tree)
#   --spawn-time PROG  the bench_spawn_time program (same default)
#   --no-callgrind     skip the callgrind instruction counts
#   --starts T         dynamic start-up (/bin/true, python3 -c pass, nginx -t): T timed runs of
#                      native, cold plan cache and warm plan cache, alternating (default 21)
#   --python PATH      the python3 to start (default /usr/bin/python3: not a pyenv shim script)
#   --nginx PATH       nginx for `-t` and for requests/s (default /usr/sbin/nginx)
#   --wrk-runs W       nginx requests/s: W wrk runs against each server, alternating (default 3)
#   --wrk-secs D       seconds per wrk run (default 5)
#   --loop L           --trace cost: iterations of the busybox sh loop (default 20000)
#   --trace-rounds K   --trace cost: K runs each of native, --trace=FILE, strace (default 5)
#   --quick            smoke mode: R=3, N=200000, S=10, T=3, L=2000, K=1, no callgrind and no
#                      nginx requests/s (a few seconds)
# Exit: 0 table printed; 1 a run failed or (in --quick) a figure is missing; 2 usage.
set -eu

die() { echo "run-bench: $*" >&2; exit 2; }
fail() { echo "run-bench: $*" >&2; exit 1; }

rounds=11 calls=2000000 spawns=200 busybox=/bin/busybox getpid='' spawn_time='' callgrind=yes
quick=no starts=21 python=/usr/bin/python3 nginx=/usr/sbin/nginx wrk_runs=3 wrk_secs=5
loop=20000 trace_rounds=5
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) [ $# -ge 2 ] || die "$1 needs a value"; rounds=$2; shift 2 ;;
	--calls) [ $# -ge 2 ] || die "$1 needs a value"; calls=$2; shift 2 ;;
	--spawns) [ $# -ge 2 ] || die "$1 needs a value"; spawns=$2; shift 2 ;;
	--busybox) [ $# -ge 2 ] || die "$1 needs a value"; busybox=$2; shift 2 ;;
	--getpid) [ $# -ge 2 ] || die "$1 needs a value"; getpid=$2; shift 2 ;;
	--spawn-time) [ $# -ge 2 ] || die "$1 needs a value"; spawn_time=$2; shift 2 ;;
	--no-callgrind) callgrind=no; shift ;;
	--starts) [ $# -ge 2 ] || die "$1 needs a value"; starts=$2; shift 2 ;;
	--python) [ $# -ge 2 ] || die "$1 needs a value"; python=$2; shift 2 ;;
	--nginx) [ $# -ge 2 ] || die "$1 needs a value"; nginx=$2; shift 2 ;;
	--wrk-runs) [ $# -ge 2 ] || die "$1 needs a value"; wrk_runs=$2; shift 2 ;;
	--wrk-secs) [ $# -ge 2 ] || die "$1 needs a value"; wrk_secs=$2; shift 2 ;;
	--loop) [ $# -ge 2 ] || die "$1 needs a value"; loop=$2; shift 2 ;;
	--trace-rounds) [ $# -ge 2 ] || die "$1 needs a value"; trace_rounds=$2; shift 2 ;;
	--quick) quick=yes rounds=3 calls=200000 spawns=10 callgrind=no starts=3 loop=2000
		trace_rounds=1; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see the usage at the top of $0)" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: run-bench.sh [options] BYPASS_RUN"
bypass=$1
for v in "$rounds" "$calls" "$spawns" "$starts" "$wrk_runs" "$wrk_secs" "$loop" "$trace_rounds"
do
	case $v in ''|*[!0-9]*|0) die "counts must be positive integers, got '$v'" ;; esac
done
[ -x "$bypass" ] || die "$bypass not found or not executable (build the bypass-run target)"
bench_dir=$(cd "$(dirname "$bypass")/../tests/bench" 2>/dev/null && pwd) || bench_dir=.
[ -n "$getpid" ] || getpid=$bench_dir/bench_getpid
[ -n "$spawn_time" ] || spawn_time=$bench_dir/bench_spawn_time
[ -x "$getpid" ] || die "$getpid not found (build the bench_getpid target or pass --getpid)"
[ -x "$spawn_time" ] || die "$spawn_time not found (build bench_spawn_time or pass --spawn-time)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bypass-bench.XXXXXX")
master=''	# the pid of the nginx master we started, while it runs
cleanup() {
	# Never leave a server running: the master we started (by its pid) stops its workers.
	if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
		kill -TERM "$master" 2>/dev/null || true
		wait_for 10 master_gone || echo "run-bench: nginx master $master still runs" >&2
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
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
# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 0.1 s); 1 on timeout.
wait_for() {
	_n=$(($1 * 10)); shift
	while [ "$_n" -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done
	return 1
}
master_gone() { ! kill -0 "$master" 2>/dev/null; }
# signed NS_EXPR: nanoseconds as milliseconds with their sign, e.g. +1.250 or -0.100.
signed() { awk "BEGIN { printf \"%+.3f\", ($1) / 1e6 }"; }

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
# The same for a call the LibOS serves itself (a world switch), with a tenth the calls.
: >"$tmp/mnative" && : >"$tmp/mhooked"
i=0
while [ "$i" -lt "$rounds" ]; do
	out=$("$getpid" $((calls / 10)) sigprocmask) || fail "native $getpid sigprocmask failed"
	field ns_per_call "$out" >>"$tmp/mnative"
	out=$("$bypass" "$getpid" $((calls / 10)) sigprocmask) || fail "bypass-run sigprocmask failed"
	field ns_per_call "$out" >>"$tmp/mhooked"
	i=$((i + 1))
done
lc_native=$(median <"$tmp/mnative")
lc_hooked=$(median <"$tmp/mhooked")
lc_over=$(calc "$lc_hooked - $lc_native")
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

# --- (f) offline rewriting (bypass-rewrite, issue 5) ----------------------------------------------
rwtool=$(dirname "$bypass")/bypass-rewrite
libc=/lib/x86_64-linux-gnu/libc.so.6
ow_note=
if [ ! -x "$rwtool" ]; then
	ow_note="$rwtool not built"
elif [ ! -x "$busybox" ]; then
	ow_note="$busybox not found"
else
	ow_runs=$((spawns / 20 > 3 ? spawns / 20 : 3))
	mkdir "$tmp/rw"
	"$spawn_time" "$ow_runs" "$rwtool" --force "$busybox" "$tmp/rw/busybox" -- \
		"$rwtool" --force "$libc" "$tmp/rw/libc.so.6" >"$tmp/rwtime" || fail "bypass-rewrite failed"
	ow_bb_ms=$(ms "$(field median_ns "$(sed -n 1p "$tmp/rwtime")")")
	ow_libc_ms=$(ms "$(field median_ns "$(sed -n 2p "$tmp/rwtime")")")
	ow_bb_in=$(stat -L -c %s "$busybox") ow_bb_out=$(stat -c %s "$tmp/rw/busybox")
	ow_libc_in=$(stat -L -c %s "$libc") ow_libc_out=$(stat -c %s "$tmp/rw/libc.so.6")
	ow_bb_grow=$(calc "100 * ($ow_bb_out - $ow_bb_in) / $ow_bb_in")
	ow_libc_grow=$(calc "100 * ($ow_libc_out - $ow_libc_in) / $ow_libc_in")
	# start-up: original natively, rewritten natively, rewritten under bypass-run
	"$tmp/rw/busybox" true && "$bypass" "$tmp/rw/busybox" true || fail "rewritten busybox failed"
	"$spawn_time" "$spawns" "$busybox" true -- "$tmp/rw/busybox" true -- \
		"$bypass" "$tmp/rw/busybox" true >"$tmp/rwspawn" || fail "bench_spawn_time failed"
	ow_su_orig=$(ms "$(field median_ns "$(sed -n 1p "$tmp/rwspawn")")")
	ow_su_rw=$(ms "$(field median_ns "$(sed -n 2p "$tmp/rwspawn")")")
	ow_su_rwb=$(ms "$(field median_ns "$(sed -n 3p "$tmp/rwspawn")")")
	# a syscall through a rewritten site, natively
	"$rwtool" --force "$getpid" "$tmp/rw/getpid" || fail "bypass-rewrite $getpid failed"
	: >"$tmp/gn" && : >"$tmp/gr"
	i=0
	while [ "$i" -lt "$rounds" ]; do
		field ns_per_call "$("$getpid" "$calls")" >>"$tmp/gn"
		field ns_per_call "$("$tmp/rw/getpid" "$calls")" >>"$tmp/gr"
		i=$((i + 1))
	done
	ow_gp_n=$(median <"$tmp/gn") ow_gp_r=$(median <"$tmp/gr")
fi

# --- (d) start-up of dynamic programs: native, cold and warm plan cache -------------------------
# Cold: every timed run gets a fresh empty BYPASS_CACHE_DIR (bench_spawn_time --fresh), so it
# scans and plans every file and writes the plans. Warm: a directory filled by one untimed run.
# nginx -t parses the server configuration of (e) and exits; it binds nothing.
ngx_dir=$tmp/nginx port=$((30000 + $$ % 20000))
ngx_conf() {
	cat >"$ngx_dir/nginx.conf" <<CONF
worker_processes 2;
daemon on;
pid $ngx_dir/nginx.pid;
error_log $ngx_dir/logs/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $ngx_dir/tmp/body;
    proxy_temp_path $ngx_dir/tmp/proxy;
    fastcgi_temp_path $ngx_dir/tmp/fastcgi;
    uwsgi_temp_path $ngx_dir/tmp/uwsgi;
    scgi_temp_path $ngx_dir/tmp/scgi;
    server { listen 127.0.0.1:$port; root $ngx_dir/html; }
}
CONF
}
if [ -x "$nginx" ]; then
	# The workers run as nginx's default user (www-data, or nobody): they must reach the file.
	chmod 755 "$tmp"
	mkdir -p "$ngx_dir/html" "$ngx_dir/logs" "$ngx_dir/tmp"
	chmod 755 "$ngx_dir" "$ngx_dir/html"
	head -c 1024 /dev/urandom >"$ngx_dir/html/1k.bin"
	chmod 644 "$ngx_dir/html/1k.bin"
	ngx_conf
fi
# startup NAME CMD...: times CMD natively, cold and warm; sets ds_NAME to "n c w cover wover",
# ms with three decimals, or leaves it unset when CMD cannot run here (noted in ds_skip).
ds_skip=''
startup() {
	_name=$1; shift
	if ! "$@" >/dev/null 2>&1; then
		ds_skip="$ds_skip $_name"; return 0
	fi
	mkdir "$tmp/warm.$_name" "$tmp/cold.$_name"
	BYPASS_CACHE_DIR=$tmp/warm.$_name "$bypass" "$@" >/dev/null 2>"$tmp/startup.err" ||
		fail "bypass-run $* failed: $(tail -3 "$tmp/startup.err")"
	# The variable set for bench_spawn_time reaches the warm runs; --fresh overrides it.
	BYPASS_CACHE_DIR=$tmp/warm.$_name "$spawn_time" "$starts" "$@" -- \
		--fresh "BYPASS_CACHE_DIR=$tmp/cold.$_name" "$bypass" "$@" -- "$bypass" "$@" \
		>"$tmp/spawn.$_name" 2>"$tmp/startup.err" ||
		fail "bench_spawn_time $*: $(tail -3 "$tmp/startup.err")"
	_n=$(field median_ns "$(sed -n 1p "$tmp/spawn.$_name")")
	_c=$(field median_ns "$(sed -n 2p "$tmp/spawn.$_name")")
	_w=$(field median_ns "$(sed -n 3p "$tmp/spawn.$_name")")
	_v="$(ms "$_n") $(ms "$_c") $(ms "$_w") $(signed "$_c - $_n") $(signed "$_w - $_n")"
	eval "ds_$_name=\$_v"
}
startup true /bin/true
if [ -x "$python" ]; then startup python "$python" -c pass; else ds_skip="$ds_skip python"; fi
if [ -x "$nginx" ]; then
	startup nginx "$nginx" -t -c "$ngx_dir/nginx.conf" -p "$ngx_dir"
else
	ds_skip="$ds_skip nginx"
fi

# --- (e) nginx requests/s over kernel networking, native and under bypass-run --------------------
# Master + 2 workers as a daemon; wrk -t2 -c50 on loopback; the runs alternate native and
# bypass-run, each with a freshly started server, stopped with -s quit before the next.
rq_native=n/a rq_hooked=n/a rq_ratio=n/a rq_range_n=n/a rq_range_h=n/a rq_errors=n/a rq_note=''
if [ "$quick" = yes ]; then
	rq_note="--quick mode"
elif [ ! -x "$nginx" ]; then
	rq_note="no $nginx (apt-get install nginx-light)"
elif ! command -v wrk >/dev/null 2>&1; then
	rq_note="no wrk (apt-get install wrk)"
fi
workers() { ps -o pid= --ppid "$master" 2>/dev/null | wc -l; }
two_workers() { [ "$(workers)" -eq 2 ]; }
# ngx_start native|bypass: starts the server, on another port while the one chosen is taken.
ngx_start() {
	_try=0
	while :; do
		rm -f "$ngx_dir/nginx.pid"
		if [ "$1" = bypass ]; then
			"$bypass" "$nginx" -c "$ngx_dir/nginx.conf" -p "$ngx_dir" 2>"$tmp/ngx.err" &&
				break
		else
			"$nginx" -c "$ngx_dir/nginx.conf" -p "$ngx_dir" 2>"$tmp/ngx.err" && break
		fi
		grep -q 'Address already in use' "$tmp/ngx.err" "$ngx_dir/logs/error.log" ||
			fail "nginx ($1) did not start: $(tail -3 "$tmp/ngx.err")"
		_try=$((_try + 1))
		[ "$_try" -lt 10 ] || fail "nginx: no free port from $((port - 9)) to $port"
		port=$((port + 1))
		ngx_conf
	done
	wait_for 10 test -s "$ngx_dir/nginx.pid" || fail "nginx ($1): no pid file"
	master=$(cat "$ngx_dir/nginx.pid")
	wait_for 10 two_workers || fail "nginx ($1): master $master has not 2 workers"
}
ngx_stop() {
	"$nginx" -c "$ngx_dir/nginx.conf" -p "$ngx_dir" -s quit 2>"$tmp/ngx.err" ||
		fail "nginx -s quit: $(tail -3 "$tmp/ngx.err")"
	wait_for 15 master_gone || fail "nginx master $master did not quit"
	master=''
}
if [ -z "$rq_note" ]; then
	: >"$tmp/rq.native" && : >"$tmp/rq.bypass"
	i=0 rq_errors=0
	while [ "$i" -lt "$wrk_runs" ]; do
		for mode in native bypass; do
			ngx_start "$mode"
			wrk -t2 -c50 -d"${wrk_secs}s" "http://127.0.0.1:$port/1k.bin" >"$tmp/wrk.out" 2>&1 ||
				fail "wrk against nginx ($mode): $(tail -3 "$tmp/wrk.out")"
			ngx_stop
			r=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk.out")
			[ -n "$r" ] || fail "wrk printed no Requests/sec: $(tail -3 "$tmp/wrk.out")"
			echo "$r" >>"$tmp/rq.$mode"
			# Errors do not stop the run; the table says how many there were.
			e=$(awk '/Socket errors|Non-2xx/ { for (i = 1; i <= NF; i++)
				if ($i ~ /^[0-9]+,?$/) s += $i } END { print s + 0 }' "$tmp/wrk.out")
			rq_errors=$((rq_errors + e))
		done
		i=$((i + 1))
	done
	rq_native=$(median <"$tmp/rq.native") rq_hooked=$(median <"$tmp/rq.bypass")
	rq_ratio=$(calc "100 * $rq_hooked / $rq_native")
	rq_range_n="$(sort -n "$tmp/rq.native" | sed -n 1p | cut -d. -f1)-$(sort -n "$tmp/rq.native" |
		sed -n '$p' | cut -d. -f1)"
	rq_range_h="$(sort -n "$tmp/rq.bypass" | sed -n 1p | cut -d. -f1)-$(sort -n "$tmp/rq.bypass" |
		sed -n '$p' | cut -d. -f1)"
	rq_native=$(calc "$rq_native") rq_hooked=$(calc "$rq_hooked")
fi

# --- (f) --trace cost: a busybox sh loop, native, bypass-run --trace=FILE, strace -f -o FILE ----
# Per call = wall time of the run / lines in its trace file (native: / the bypass-run lines).
tr_native=n/a tr_trace=n/a tr_strace=n/a tr_ratio=n/a tr_lines=n/a tr_slines=n/a tr_note=''
tr_ms_n=n/a tr_ms_t=n/a tr_ms_s=n/a tr_over_t=n/a tr_over_s=n/a
script="i=0; while [ \$i -lt $loop ]; do i=\$((i+1)); : > /dev/null; done"
if [ ! -x "$busybox" ]; then
	tr_note="no $busybox"
else
	set -- "$spawn_time" "$trace_rounds" "$busybox" sh -c "$script" \
		-- "$bypass" --trace="$tmp/bypass.trace" "$busybox" sh -c "$script"
	if ! command -v strace >/dev/null 2>&1; then
		tr_note="no strace (apt-get install strace)"
	elif ! strace -f -o "$tmp/strace.trace" "$busybox" true 2>"$tmp/strace.err"; then
		tr_note="strace cannot run here: $(sed -n 1p "$tmp/strace.err")"
	else
		set -- "$@" -- strace -f -o "$tmp/strace.trace" "$busybox" sh -c "$script"
	fi
	"$@" >"$tmp/spawn.trace" 2>"$tmp/trace.err" ||
		fail "--trace cost: $(tail -3 "$tmp/trace.err")"
	tr_lines=$(wc -l <"$tmp/bypass.trace")
	[ "$tr_lines" -gt 0 ] || fail "--trace cost: bypass-run wrote no trace lines"
	n=$(field median_ns "$(sed -n 1p "$tmp/spawn.trace")")
	t=$(field median_ns "$(sed -n 2p "$tmp/spawn.trace")")
	tr_ms_n=$(ms "$n") tr_ms_t=$(ms "$t")
	tr_native=$(calc "$n / $tr_lines") tr_trace=$(calc "$t / $tr_lines")
	tr_over_t=$(calc "($t - $n) / $tr_lines")
	if [ -z "$tr_note" ]; then
		s=$(field median_ns "$(sed -n 3p "$tmp/spawn.trace")")
		tr_slines=$(wc -l <"$tmp/strace.trace")
		tr_ms_s=$(ms "$s")
		tr_strace=$(calc "$s / $tr_slines")
		tr_over_s=$(calc "$s / $tr_slines - $n / $tr_lines")
		tr_ratio=$(calc "$tr_strace / $tr_trace")
	fi
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
case $load in n/a) ;; *)
	awk "BEGIN { exit !(${load%% *} >= $(nproc)) }" &&
		echo "note: the load average is at or above the CPU count: the figures are noisy" ;;
esac
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
row "LibOS-owned call (rt_sigprocmask), ns/call" "$lc_native" "$lc_hooked" "$lc_over ns" \
	"a world switch, light handler"
row "busybox true start-up, ms (median of $spawns)" "$su_native" "$su_hooked" "$su_over ms" \
	"<= 3 ms: $goal_su"
row "  p90, ms" "$su_p90_n" "$su_p90_h" "" ""
echo "busybox true sites: $bb_sites"
echo "busybox true calls: $bb_calls"
row "dynamic start-up, ms (median of $starts each)" "" "" "" \
	"bypass-run with a cold / a warm plan cache"
# ds_row LABEL NAME: the cold and the warm row of one program, or n/a when it was skipped.
ds_row() {
	_label=$1
	eval "set -- \${ds_$2:-n/a n/a n/a n/a n/a}"	# native cold warm cold-over warm-over
	_goal=n/a
	[ "$5" = n/a ] || _goal=$(below "$5" 3)
	row "  $_label, cold cache" "$1" "$2" "$4 ms" "a fresh empty BYPASS_CACHE_DIR per run"
	row "  $_label, warm cache" "$1" "$3" "$5 ms" "<= +3 ms: $_goal"
}
ds_row /bin/true true
ds_row "python3 -c pass" python
ds_row "nginx -t" nginx
rq_goal=n/a
[ "$rq_ratio" = n/a ] || rq_goal=$(awk "BEGIN { print ($rq_ratio >= 97) ? \"met\" : \"missed\" }")
row "nginx requests/s (median of $wrk_runs, ${wrk_secs} s each)" "$rq_native" "$rq_hooked" \
	"$rq_ratio${rq_note:+ }%" \
	"${rq_note:+SKIP: $rq_note}${rq_note:-bypass/native >= 97 %: $rq_goal}"
row "  min-max of the runs (wrk -t2 -c50, 1 KiB)" "$rq_range_n" "$rq_range_h" "" \
	"$rq_errors socket errors or non-2xx"
row "--trace=FILE, ns/call (median of $trace_rounds)" "$tr_native" "$tr_trace" "$tr_over_t ns" \
	"sh loop x$loop: $tr_lines trace lines${tr_note:+ (SKIP: $tr_note)}"
row "  strace -f -o FILE instead, ns/call" "$tr_native" "$tr_strace" "$tr_over_s ns" \
	"$tr_slines lines; strace/--trace per call: ${tr_ratio}x"
row "  whole runs, ms: native | --trace | strace" "$tr_ms_n" "$tr_ms_t" "" "strace: $tr_ms_s ms"
[ -z "$cg_note" ] || echo "callgrind: $cg_note"
if [ -z "$ow_note" ]; then
	row "offline rewriting (bypass-rewrite)" "original" "rewritten" "difference" "anchors"
	row "  rewrite busybox, ms (median of $ow_runs)" "" "$ow_bb_ms" "" "E9Patch: 610 ms"
	row "  busybox size, bytes" "$ow_bb_in" "$ow_bb_out" "+$ow_bb_grow %" "E9Patch: +30 %"
	row "  rewrite libc.so.6, ms (median of $ow_runs)" "" "$ow_libc_ms" "" ""
	row "  libc.so.6 size, bytes" "$ow_libc_in" "$ow_libc_out" "+$ow_libc_grow %" ""
	row "  busybox true start-up natively, ms" "$ow_su_orig" "$ow_su_rw" \
		"$(calc "$ow_su_rw - $ow_su_orig") ms" "E9Patch: +0.28 ms"
	row "  rewritten busybox under bypass-run, ms" "$ow_su_orig" "$ow_su_rwb" \
		"$(calc "$ow_su_rwb - $ow_su_orig") ms" "no scan: sites from its note"
	row "  raw getpid natively, ns/call (median)" "$ow_gp_n" "$ow_gp_r" \
		"$(calc "$ow_gp_r - $ow_gp_n") ns" "goal: within noise"
else
	echo "SKIP offline rewriting: $ow_note"
fi
echo "$rule"
echo "anchors (issue): zpoline costs 18-30 ns per call on these machines, SaBRe 27-35,"
echo "lazypoline 41-112. Goal: hooked overhead <= 10 ns; start-up within 3 ms of native with the"
echo "plan cache warm (one untimed run of each command precedes the timed ones). Dynamic start-up:"
echo "zpoline takes +520 ms, SaBRe +77 ms here. nginx under bypass-run: >= 97 % of native"
echo "requests/s. strace costs 7.6-16 us per call here; --trace should cost a fraction of that."
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
	for v in true python nginx; do
		eval "f=\${ds_$v:-}"
		case " $ds_skip " in
		*" $v "*) echo "SKIP dynamic start-up of $v: it does not run natively here" ;;
		*) figures="$figures ${f:-missing}" ;;
		esac
	done
	[ -z "$rq_note" ] || echo "SKIP nginx requests/s: $rq_note"
	if [ -x "$busybox" ]; then
		figures="$figures $tr_native $tr_trace"
		[ -n "$tr_note" ] || figures="$figures $tr_strace $tr_ratio"
		[ -z "$tr_note" ] || echo "SKIP strace: $tr_note"
	else
		echo "SKIP --trace cost: $busybox not found"
	fi
	for v in $figures; do
		case $v in ''|*[!0-9.+-]*) fail "smoke: a figure is missing ('$v')" ;; esac
	done
fi
exit 0
