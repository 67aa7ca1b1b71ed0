#!/bin/sh
# SPDX-License-Identifier: MIT
# Network benchmark: nginx 1 KiB requests/s and p99 latency (wrk --latency; nginx as
# configured by default, and again with open_file_cache, which takes its per-request file
# syscalls away on both sides) and redis GET/SET
# ops/s (redis-benchmark), for (a) server and client both native on Linux loopback and (b) both
# under `bypass-run --net=dpdk`, joined by net_memif (two processes, no kernel on the data
# path).  The same two CPUs in both: the server on the first, the client on the second.  Runs
# of (a) and (b) alternate; the table shows medians and the (b)/(a) ratio.  Not a test: it
# never judges timings (the goal column is information).  It reserves hugepages for (b) when
# it can (root) and gives them back, and stops every server it started, by PID.
#
# usage: net-bench.sh [options] BYPASS_RUN
#   --runs R        R runs of each figure, (a) and (b) alternating (default 5)
#   --wrk-secs D    seconds per wrk run (default 5)
#   --conns C       wrk connections and redis-benchmark clients (default 50)
#   --requests N    redis-benchmark requests per test (default 200000)
#   --no-perf       skip the perf profile of (b)
#   --no-huge       (b) on ordinary memory even when hugepages could be reserved
#   --only a|b      run only one of the two set-ups (the other's column shows n/a)
#   --quick         smoke mode: R=1, D=1, N=5000, no perf (a few seconds); exit 77 when not
#                   root or a program is missing
# Exit: 0 table printed; 1 a run failed (the table says which); 2 usage; 77 (--quick) skipped.
set -u

die() { echo "net-bench: $*" >&2; exit 2; }

runs=5 wrk_secs=5 conns=50 requests=200000 perf=yes huge=yes quick=no only=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) [ $# -ge 2 ] || die "$1 needs a value"; runs=$2; shift 2 ;;
	--wrk-secs) [ $# -ge 2 ] || die "$1 needs a value"; wrk_secs=$2; shift 2 ;;
	--conns) [ $# -ge 2 ] || die "$1 needs a value"; conns=$2; shift 2 ;;
	--requests) [ $# -ge 2 ] || die "$1 needs a value"; requests=$2; shift 2 ;;
	--no-perf) perf=no; shift ;;
	--no-huge) huge=no; shift ;;
	--only) [ $# -ge 2 ] || die "$1 needs a value"; only=$2; shift 2 ;;
	--quick) quick=yes runs=1 wrk_secs=1 requests=5000 perf=no; shift ;;
	--) shift; break ;;
	-*) die "unknown option $1 (see the usage at the top of $0)" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || die "usage: net-bench.sh [options] BYPASS_RUN"
bypass=$1
for v in "$runs" "$wrk_secs" "$conns" "$requests"; do
	case $v in '' | *[!0-9]* | 0) die "counts must be positive integers, got '$v'" ;; esac
done
case $only in '') modes="a b" ;; a | b) modes=$only ;; *) die "--only takes a or b" ;; esac
[ -x "$bypass" ] || die "$bypass not found or not executable (build the bypass-run target)"

# A missing program or no root is a SKIP in --quick (the ctest smoke entry), an error otherwise.
unable() {
	[ $quick = yes ] && { echo "SKIP: $*"; exit 77; }
	die "$*"
}
[ "$(id -u)" = 0 ] || unable "needs root (hugepages; the smoke mode keeps to the same rule)"
for p in nginx wrk redis-server redis-benchmark taskset; do
	command -v $p >/dev/null 2>&1 || unable "needs $p"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bypass-netbench.XXXXXX") || die "mktemp"
chmod 755 "$tmp"
pids=''		# servers we started and have not yet stopped
hp_added=0	# hugepages we added to nr_hugepages
cleanup() {
	for p in $pids; do stop "$p"; done
	hp_release
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- helpers
# alive PID: the process exists and is not a zombie.
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}
# stop PID: SIGTERM, up to 5 s, then SIGKILL; reaped; forgotten.
stop() {
	kill -TERM "$1" 2>/dev/null
	_i=0
	while alive "$1" && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}
wait_for() { # wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 on timeout
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done
	return 1
}
median() {
	sort -n | awk '{ a[NR] = $1 }
		END { if (NR == 0) { print "n/a"; exit }
		      if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print NR ? lo "-" hi : "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b != "n/a") printf "%.2fx", b / a; else print "n/a" }'; }

# The server runs on the first CPU we may use, the client on the second (the same two in (a)
# and (b)); with one CPU, both on it.
cpus=$(taskset -pc $$ | sed 's/.*: //')
cpu_s=$(echo "$cpus" | sed 's/[-,].*//')
cpu_c=$(awk -v l="$cpus" 'BEGIN { n = split(l, p, ","); for (i = 1; i <= n; i++) {
	split(p[i], r, "-"); lo = r[1]; hi = (r[2] == "" ? lo : r[2])
	for (c = lo; c <= hi; c++) if (c != '"$cpu_s"') { print c; exit } } print '"$cpu_s"' }')

# ---- (b)'s memory: hugepages when we can reserve them (2 processes x 256 MiB + slack).  We
# add to nr_hugepages and later take off what we added, rather than writing back the old
# value, so that another user reserving at the same time keeps their pages.
hp_release() {
	[ "$hp_added" -gt 0 ] || return 0
	_now=$(cat /proc/sys/vm/nr_hugepages)
	echo $((_now > hp_added ? _now - hp_added : 0)) >/proc/sys/vm/nr_hugepages
	hp_added=0
}
hp_need=320
eal_mem="--no-huge -m 256"
mem_note="ordinary memory (--no-huge)"
if [ $huge = yes ] && [ "$only" != a ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	hp_was=$(cat /proc/sys/vm/nr_hugepages)
	echo $((hp_was + hp_need)) >/proc/sys/vm/nr_hugepages 2>/dev/null
	hp_added=$(($(cat /proc/sys/vm/nr_hugepages) - hp_was))
	hp_free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	if [ "$hp_added" -ge $hp_need ] && [ "${hp_free:-0}" -ge $hp_need ]; then
		eal_mem="--in-memory --single-file-segments -m 256"
		mem_note="$hp_need 2 MiB hugepages reserved and released after"
	else
		hp_release
		mem_note="ordinary memory: only ${hp_free:-0} of $hp_need hugepages free"
	fi
fi

# ---- the two set-ups.  run_bg MODE ROLE LOG CMD...: start CMD as (a) native on its CPU, or
# (b) under bypass-run --net=dpdk on net_memif (ROLE server or client); $last is its PID.
MIP_S=10.79.0.1 MIP_C=10.79.0.2
port=$((20000 + $$ % 20000))
eal() { # eal ROLE
	_mac=02:79:00:00:00:01
	[ "$1" = client ] && _mac=02:79:00:00:00:02
	echo "$eal_mem --file-prefix=bnb$$$1 --vdev=net_memif0,role=$1,id=0,socket=$tmp/memif.sock,socket-abstract=no,mac=$_mac"
}
run_bg() {
	_mode=$1 _role=$2 _log=$tmp/$3
	shift 3
	# A memif server binds the socket file: one left by the previous server would stop it.
	# The trace tells when the server listens: the previous run's must not answer for it.
	[ "$_mode$_role" = bserver ] && rm -f "$tmp/memif.sock"
	rm -f "$_log.trace"
	_cpu=$cpu_s
	[ "$_role" = client ] && _cpu=$cpu_c
	_ip=$MIP_S
	[ "$_role" = client ] && _ip=$MIP_C
	if [ "$_mode" = a ]; then
		taskset -c "$_cpu" "$@" >"$_log" 2>&1 </dev/null &
	else
		taskset -c "$_cpu" "$bypass" --net=dpdk --dpdk="$(eal "$_role")" --ip="$_ip/24" \
			--trace="$_log.trace" --trace-filter=listen $bypass_opts "$@" \
			>"$_log" 2>&1 </dev/null &
	fi
	last=$!
	pids="$pids $last"
}
bypass_opts=''
server_ip() { if [ "$1" = a ]; then echo 127.0.0.1; else echo $MIP_S; fi; }
# listening MODE PID LOG: the server listens (the kernel's table, or its own trace in (b)).
listening() {
	alive "$2" || return 2
	if [ "$1" = a ]; then
		ss -ltnH "sport = :$port" | grep -q .
	else
		grep -qs 'listen(.*= 0' "$tmp/$3.trace"
	fi
}
# why LOG: the last lines of a log, bypass-run's own network line first when there is one.
why() { { grep -m1 'bypass-run: network' "$tmp/$1"; tail -n 2 "$tmp/$1"; } | tr '\n' ' '; }
# finish PID SECS: wait for PID to exit by itself; its status, or 124 after SECS (killed).
finish() {
	_i=0
	while alive "$1" && [ $_i -lt $(($2 * 10)) ]; do sleep 0.1; _i=$((_i + 1)); done
	alive "$1" && { stop "$1"; return 124; }
	wait "$1"
	_rc=$?
	pids=$(echo "$pids" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	return $_rc
}

errors=''	# what failed, for the table's foot
failed() { errors="$errors
  $*"; }

# nginx_conf MODE [c]: nginx's configuration for (a) or (b), listening on that set-up's
# address; with c, open_file_cache too (the file's descriptor and size kept between
# requests: no openat, newfstatat and close per request, a quarter of nginx's time).
nginx_conf() {
	_ofc=
	[ "${2:-}" = c ] && _ofc="open_file_cache max=1000 inactive=60s;"
	cat >"$tmp/nginx-$1${2:-}.conf" <<-EOF
	master_process off;
	daemon off;
	worker_processes 1;
	pid $tmp/nginx-$1.pid;
	error_log $tmp/nginx-error.log warn;
	events { worker_connections 4096; }
	http {
	    access_log off;
	    $_ofc
	    client_body_temp_path $tmp/body;
	    proxy_temp_path $tmp/proxy;
	    fastcgi_temp_path $tmp/fastcgi;
	    uwsgi_temp_path $tmp/uwsgi;
	    scgi_temp_path $tmp/scgi;
	    server { listen $(server_ip "$1"):$port; root $tmp/www; }
	}
	EOF
}
for m in a b; do nginx_conf $m; nginx_conf $m c; done
mkdir -p "$tmp/www" && head -c 1024 /dev/urandom >"$tmp/www/1k"

# to_ms VALUE: wrk's latency (850.00us, 1.20ms, 1.05s) in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f\n", n }'
}

# nginx_run MODE [c]: one wrk run against a fresh nginx (c: with open_file_cache); appends
# requests/s and p99 (ms) to $tmp/rps.MODE[c] and $tmp/p99.MODE[c].
nginx_run() {
	_v=${2:-}
	run_bg "$1" server nginx-$1 nginx -c "$tmp/nginx-$1$_v.conf" -p "$tmp" -e "$tmp/nginx-error.log"
	_srv=$last
	if ! wait_for 30 listening "$1" $_srv nginx-$1; then
		failed "nginx ($1) did not listen: $(why nginx-$1)"
		stop $_srv
		return 1
	fi
	run_bg "$1" client wrk-$1 wrk -t1 -c"$conns" -d"${wrk_secs}s" --latency \
		"http://$(server_ip "$1"):$port/1k"
	case $want_profile in srv) profile_start $_srv ;; cli) profile_start $last ;; esac
	finish $last $((wrk_secs + 60)) || failed "wrk ($1) exited with status $?: $(why wrk-$1)"
	[ -n "$profile" ] && profile_stop
	stop $_srv
	_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk-$1")
	_p99=$(awk '$1 == "99%" { print $2 }' "$tmp/wrk-$1")
	if [ -z "$_rps" ] || [ -z "$_p99" ] || [ "${_rps%.*}" = 0 ]; then
		failed "wrk ($1): no requests: $(why wrk-$1)"
		return 1
	fi
	grep -q 'Socket errors\|Non-2xx' "$tmp/wrk-$1" &&
		failed "wrk ($1): $(grep 'Socket errors\|Non-2xx' "$tmp/wrk-$1" | tr -s ' ')"
	[ "$want_profile" = no ] || return 0	# a profiled run's figures are not counted
	echo "$_rps" >>"$tmp/rps.$1$_v"
	to_ms "$_p99" >>"$tmp/p99.$1$_v"
}

# redis_run MODE: one redis-benchmark -t get,set run against a fresh redis-server; appends
# ops/s to $tmp/get.MODE and $tmp/set.MODE.
redis_run() {
	run_bg "$1" server redis-$1 redis-server --bind "$(server_ip "$1")" --port $port \
		--save '' --appendonly no --dir "$tmp" --protected-mode no
	_srv=$last
	if ! wait_for 30 listening "$1" $_srv redis-$1; then
		failed "redis-server ($1) did not listen: $(why redis-$1)"
		stop $_srv
		return 1
	fi
	run_bg "$1" client rb-$1 redis-benchmark -h "$(server_ip "$1")" -p $port -c "$conns" \
		-n "$requests" -t get,set -q
	finish $last 300 || failed "redis-benchmark ($1) exited with status $?: $(why rb-$1)"
	stop $_srv
	tr '\r' '\n' <"$tmp/rb-$1" >"$tmp/rb-$1.lines"
	for t in SET GET; do
		_v=$(sed -n "s/^$t: \\([0-9.]*\\) requests per second.*/\\1/p" "$tmp/rb-$1.lines")
		[ -n "$_v" ] || { failed "redis-benchmark ($1): no $t figure"; continue; }
		echo "$_v" >>"$tmp/$(echo $t | tr A-Z a-z).$1"
	done
	grep -qi 'error' "$tmp/rb-$1.lines" &&
		failed "redis-benchmark ($1): $(grep -i -m1 error "$tmp/rb-$1.lines")"
}

for f in rps p99 get set; do : >"$tmp/$f.a" && : >"$tmp/$f.b"; done
for f in rps p99; do : >"$tmp/$f.ac" && : >"$tmp/$f.bc"; done
profile='' want_profile=no
profile_start() { # profile_start PID: sample one process (all its threads) into perf.$want_profile
	perf record -e cpu-clock -F 1999 -p "$1" -o "$tmp/perf.$want_profile.data" \
		>"$tmp/perf.log" 2>&1 &
	profile=$!
}
profile_stop() {
	kill -INT "$profile" 2>/dev/null
	wait "$profile" 2>/dev/null
	profile=''
}

# ---- the runs, alternating
echo "net-bench: $runs runs of each, (a) loopback and (b) bypass-run + net_memif alternating;" \
	"server on CPU $cpu_s, client on CPU $cpu_c" >&2
r=0
while [ $r -lt $runs ]; do
	for m in $modes; do nginx_run $m; done
	for m in $modes; do nginx_run $m c; done
	for m in $modes; do redis_run $m; done
	r=$((r + 1))
	echo "net-bench: run $r of $runs done" >&2
done

# ---- where (b)'s time goes: two more nginx runs of (b), one with nginx under perf -e
# cpu-clock from the start of wrk to its end, one with wrk.  One process per run: perf's own
# work on these two CPUs, sampling both at once, showed up as idle polling in both.
perf_note=''
if [ $perf = yes ] && [ "$only" != a ]; then
	if command -v perf >/dev/null 2>&1; then
		perf_note=ok
		for want_profile in srv cli; do
			nginx_run b
			if ! [ -s "$tmp/perf.$want_profile.data" ] ||
				! perf report -i "$tmp/perf.$want_profile.data" --stdio --no-children \
					--percentage relative --sort dso,sym --percent-limit 2 \
					>"$tmp/perf.$want_profile" 2>/dev/null ||
				! perf report -i "$tmp/perf.$want_profile.data" --stdio --no-children \
					--percentage relative --sort dso --percent-limit 1 \
					>"$tmp/perf.$want_profile.dso" 2>/dev/null; then
				perf_note="perf record/report failed: $(tail -n 1 "$tmp/perf.log")"
			fi
		done
		want_profile=no
	else
		perf_note="no perf here (Debian: linux-perf)"
	fi
fi

# ---- the table
rps_a=$(median <"$tmp/rps.a") rps_b=$(median <"$tmp/rps.b")
p99_a=$(median <"$tmp/p99.a") p99_b=$(median <"$tmp/p99.b")
get_a=$(median <"$tmp/get.a") get_b=$(median <"$tmp/get.b")
set_a=$(median <"$tmp/set.a") set_b=$(median <"$tmp/set.b")
rpsc_a=$(median <"$tmp/rps.ac") rpsc_b=$(median <"$tmp/rps.bc")
p99c_a=$(median <"$tmp/p99.ac") p99c_b=$(median <"$tmp/p99.bc")
goal() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b != "n/a") print (b / a >= 2) ? "met" : "missed"; else print "n/a" }'; }
row() { printf '%-40s %14s %14s %8s  %s\n' "$@" | sed 's/ *$//'; }
rule=$(printf '%0100d' 0 | tr 0 -)
cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | sed -n 1p)
echo "network benchmark: (a) Linux loopback, (b) bypass-run --net=dpdk over net_memif ($bypass)"
echo "machine: $(nproc) CPUs, ${cpu:-unknown CPU}, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(b) memory: $mem_note; medians of $runs runs, (a) and (b) alternating"
echo "$rule"
row "figure" "(a) loopback" "(b) memif" "(b)/(a)" "goal"
echo "$rule"
row "nginx 1 KiB requests/s" "$rps_a" "$rps_b" "$(ratio "$rps_a" "$rps_b")" \
	">= 2x: $(goal "$rps_a" "$rps_b")"
row "  min-max (wrk -t1 -c$conns, ${wrk_secs} s)" "$(range <"$tmp/rps.a")" \
	"$(range <"$tmp/rps.b")" "" ""
row "nginx 1 KiB p99 latency, ms" "$p99_a" "$p99_b" "$(ratio "$p99_a" "$p99_b")" "lower is better"
row "nginx, open_file_cache: requests/s" "$rpsc_a" "$rpsc_b" "$(ratio "$rpsc_a" "$rpsc_b")" \
	"(no file syscalls per request)"
row "  min-max" "$(range <"$tmp/rps.ac")" "$(range <"$tmp/rps.bc")" "" ""
row "nginx, open_file_cache: p99, ms" "$p99c_a" "$p99c_b" "$(ratio "$p99c_a" "$p99c_b")" \
	"lower is better"
row "redis GET ops/s" "$get_a" "$get_b" "$(ratio "$get_a" "$get_b")" \
	">= 2x: $(goal "$get_a" "$get_b")"
row "redis SET ops/s" "$set_a" "$set_b" "$(ratio "$set_a" "$set_b")" \
	">= 2x: $(goal "$set_a" "$set_b")"
row "  (redis-benchmark -c$conns -n $requests)" "" "" "" ""
echo "$rule"
if [ "$perf_note" = ok ]; then
	echo "where (b)'s time goes: perf -e cpu-clock on one process during each of two more nginx"
	echo "runs (objects >= 1%, then symbols >= 2% of that process's samples)"
	for w in srv:nginx cli:wrk; do
		echo "  ${w#*:} under bypass-run, by object: $(grep -v '^#' "$tmp/perf.${w%%:*}.dso" |
			grep . | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')"
		grep -v '^#' "$tmp/perf.${w%%:*}" | grep . | head -n 12 | sed 's/^ */    /'
	done
elif [ -n "$perf_note" ]; then
	echo "profile: $perf_note"
fi
if [ -n "$errors" ]; then
	echo "failures:$errors"
	exit 1
fi
if [ $quick = yes ]; then
	for f in rps.a rps.b rps.ac rps.bc get.a get.b set.a set.b; do
		[ -s "$tmp/$f" ] || { echo "net-bench: no $f figure"; exit 1; }
	done
fi
exit 0
