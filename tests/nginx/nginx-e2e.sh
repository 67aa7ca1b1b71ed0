#!/bin/sh
# SPDX-License-Identifier: MIT
# nginx (Debian nginx-light) under bypass-run over kernel networking: master + 2 workers
# serve a static file to wrk (DURATION s, 50 connections, 0 errors), then reload
# (SIGHUP through the pid file) and graceful quit, all under bypass-run.  Every nginx
# process writes its own stats file; each must be valid and show its calls, the workers'
# must show accept4 and epoll_wait, and at most 1% of all calls may come from the trap.
# With BYPASS_REWRITE: nginx, every library it links and ld.so are first rewritten by
# bypass-rewrite into a private directory, and that nginx runs (through the rewritten
# ld.so) under bypass-run: the offline-rewritten half of the CI matrix.
# usage: nginx-e2e.sh BYPASS_RUN E2E_STATS [DURATION [BYPASS_REWRITE]]
#        exit 77: nginx or wrk missing
set -eu
run=$1 stats=$2 dur=${3:-10} rw=${4:-}
nginx=/usr/sbin/nginx
[ -x "$nginx" ] || { echo "SKIP: $nginx not installed (apt-get install nginx-light)"; exit 77; }
command -v wrk >/dev/null || { echo "SKIP: wrk not installed (apt-get install wrk)"; exit 77; }

dir=$(mktemp -d /tmp/bypass-nginx.XXXXXX)
master=
cleanup() {
	if [ -n "$master" ] && kill -0 "$master" 2>/dev/null; then
		kill -TERM "$master" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; [ -f "$dir/logs/error.log" ] && tail -5 "$dir/logs/error.log"; exit 1; }

chmod 755 "$dir"	# the workers run as www-data
mkdir -p "$dir/html" "$dir/logs" "$dir/stats"
chmod 755 "$dir/html"
chmod 1777 "$dir/stats"	# workers write their own stats as the nginx user
head -c 1024 /dev/urandom >"$dir/html/1k.bin"
# A free port on loopback: the listen fails fast if taken, then we try another.
port=$((20000 + $$ % 20000))
write_conf() {
	cat >"$dir/nginx.conf" <<CONF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/error.log notice;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server { listen 127.0.0.1:$port; root $dir/html; }
}
CONF
}
launch="$nginx"
if [ -n "$rw" ]; then
	mkdir "$dir/rw"
	"$rw" "$nginx" "$dir/rw/nginx" || fail "bypass-rewrite $nginx"
	for lib in $(ldd "$nginx" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p') /lib64/ld-linux-x86-64.so.2; do
		"$rw" "$lib" "$dir/rw/$(basename "$lib")" || fail "bypass-rewrite $lib"
	done
	chmod 755 "$dir/rw" "$dir/rw/ld-linux-x86-64.so.2"
	launch="$dir/rw/ld-linux-x86-64.so.2 --library-path $dir/rw $dir/rw/nginx"
fi
# shellcheck disable=SC2086
ngx() { BYPASS_STATS="$dir/stats/%p.json" "$run" $launch -c "$dir/nginx.conf" -p "$dir" "$@"; }
workers() { ps -o pid= --ppid "$master" 2>/dev/null | tr -d ' ' | sort; }
wait_for() {	# wait_for SECONDS COMMAND...: until COMMAND succeeds
	_n=$(($1 * 10)); shift
	while [ "$_n" -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done
	return 1
}
two_workers() { [ "$(workers | wc -l)" -eq 2 ]; }

started=0
for try in 1 2 3 4 5; do
	write_conf
	if ngx 2>"$dir/start.err"; then started=1; break; fi
	grep -q 'Address already in use' "$dir/start.err" || fail "nginx did not start: $(cat "$dir/start.err")"
	port=$((port + 1))
done
[ "$started" -eq 1 ] || fail "no free port"
wait_for 10 test -s "$dir/nginx.pid" || fail "no pid file"
master=$(cat "$dir/nginx.pid")
wait_for 10 two_workers || fail "master $master has not 2 workers: $(workers | tr '\n' ' ')"
old=$(workers)

wrk -t2 -c50 -d"${dur}s" "http://127.0.0.1:$port/1k.bin" >"$dir/wrk.out" 2>&1 ||
	fail "wrk: $(cat "$dir/wrk.out")"
cat "$dir/wrk.out"
grep -q 'Socket errors' "$dir/wrk.out" && fail "socket errors"
grep -q 'Non-2xx' "$dir/wrk.out" && fail "non-2xx responses"
reqs=$(awk '/requests in/ { print $1 }' "$dir/wrk.out")
[ "${reqs:-0}" -gt 0 ] || fail "no requests served"

ngx -s reload || fail "nginx -s reload"
new_workers() { [ "$(workers | wc -l)" -eq 2 ] && [ -z "$(workers | comm -12 - "$dir/old")" ]; }
echo "$old" >"$dir/old"
wait_for 10 new_workers || fail "reload: workers not replaced ($(workers | tr '\n' ' '))"
wrk -t1 -c4 -d1s "http://127.0.0.1:$port/1k.bin" >"$dir/wrk2.out" 2>&1 || fail "wrk after reload"
grep -q 'Socket errors\|Non-2xx' "$dir/wrk2.out" && fail "errors after reload: $(cat "$dir/wrk2.out")"

ngx -s quit || fail "nginx -s quit"
wait_for 15 sh -c "! kill -0 $master 2>/dev/null" || fail "master $master did not quit"
master=

# Every process wrote its file: master, 2 + 2 workers, the two signalling processes,
# and the parent that daemonised.
n=$(ls "$dir/stats" | wc -l)
[ "$n" -ge 7 ] || fail "only $n stats files"
"$stats" validate "$dir"/stats/*.json || fail "invalid stats"
for w in $old; do
	f="$dir/stats/$w.json"
	[ -f "$f" ] || fail "worker $w wrote no stats"
	for nr in 288 232; do	# accept4, epoll_wait
		[ "$("$stats" get "syscalls.$nr" "$f")" -gt 0 ] || fail "worker $w: no calls of $nr"
	done
done
"$stats" ratio 0.99 "$dir"/stats/*.json || fail "too many calls through the trap"
echo "nginx e2e: $reqs requests, 0 errors, reload and quit ok, $n stats files"
