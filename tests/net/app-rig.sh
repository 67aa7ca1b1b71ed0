#!/bin/sh
# SPDX-License-Identifier: MIT
# Application interop rig: unmodified programs (nginx, busybox nc/wget, redis-server, wrk, a UDP
# echo server) under `bypass-run --net=dpdk` against the Linux kernel's TCP/IP, or against each
# other over net_memif.  Creates two network namespaces joined by a veth pair:
#   bnk-$$  the kernel peer, 10.78.0.1/24 on its end; curl, wrk, busybox, redis-benchmark run here;
#   bnd-$$  the program under test (the "DUT"): its veth end has no address and DPDK's
#           net_af_packet drives it, the program's stack is dpdk-net at 10.78.0.2/24.
# Every case removes both namespaces (with their veth and nftables state) and kills the
# processes it started, by PID, on success, failure or interruption.
#
# usage: app-rig.sh BYPASS_RUN UDP_ECHO_SERVER UDP_ECHO_CHECK CASE
#   CASE: nginx_curl nginx_wrk nc_in nc_out wget udp_echo redis nc_in_loss nc_out_loss memif_wrk
#         memif_churn
# Environment:
#   BYPASS_NET_DUT=dpdk|native  how the program under test runs (default dpdk): native runs it
#                               on the kernel in bnd-$$ (its veth end then has 10.78.0.2), to
#                               check the rig itself without bypass-run
#   BYPASS_NET_WRK_SECS=S       wrk duration of nginx_wrk, memif_wrk and memif_churn (default 20)
# Exit 0 pass, 1 fail, 77 skip (not root, no netns/veth/ethtool/nft, a program missing, or a
# DPDK PMD that cannot start here).
set -u

CASES="nginx_curl nginx_wrk nc_in nc_out wget udp_echo redis nc_in_loss nc_out_loss memif_wrk memif_churn"
if [ $# != 4 ] || ! echo " $CASES " | grep -q " $4 "; then
	echo "usage: app-rig.sh BYPASS_RUN UDP_ECHO_SERVER UDP_ECHO_CHECK CASE"
	echo "  CASE: $CASES"
	exit 2
fi
BYPASS=$1
UDPSRV=$2
UDPCHECK=$3
CASE=$4

DUT=${BYPASS_NET_DUT:-dpdk}
WRK_SECS=${BYPASS_NET_WRK_SECS:-20}
NS=bnk-$$                 # the kernel peer
ND=bnd-$$                 # the program under test
VK=bk$$k                  # veth end in $NS
VD=bk$$d                  # veth end in $ND (DPDK's)
KIP=10.78.0.1
DIP=10.78.0.2
MIP_S=10.79.0.1           # memif: the server (nginx) ...
MIP_C=10.79.0.2           # ... and the client (wrk)
BIG=$((100 * 1024 * 1024))
TMO=120                   # seconds any one transfer or program may take
TMP=
PIDS=                     # every process started in the background, killed by cleanup
LAST=                     # the PID of the last one
NDUT=0                    # programs under test started so far (names their logs)

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; show_logs; exit 1; }
nsx() { ip netns exec "$NS" "$@"; }
ndx() { ip netns exec "$ND" "$@"; }

show_logs() {
	[ -n "$TMP" ] || return 0
	for f in "$TMP"/*.log; do
		[ -s "$f" ] || continue
		echo "--- $(basename "$f") (last 20 lines)"
		tail -n 20 "$f" | sed 's/^/  | /'
	done
}

# alive PID: the process exists and is not a zombie waiting to be reaped.
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" != Z ]
}

# stop PID: SIGTERM, up to 5 s to exit, then SIGKILL; always reaped.
stop() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while alive "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	# Only what this script started, by PID; then the namespaces (which take the veth pair
	# and the nftables tables with them).
	for p in $PIDS; do alive "$p" && stop "$p"; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$ND" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}

# bg LOG CMD...: run CMD (a program, not a shell function: $LAST must be its own PID) in the
# background, its stderr (and stdout) to $TMP/LOG.log; $LAST is
# its PID.  $BG_IN / $BG_OUT, when set, name the file its stdin / stdout come from / go to.
bg() {
	_log=$TMP/$1.log
	shift
	if [ -n "${BG_OUT:-}" ]; then
		"$@" <"${BG_IN:-/dev/null}" >"$BG_OUT" 2>"$_log" &
	else
		"$@" <"${BG_IN:-/dev/null}" >"$_log" 2>&1 &
	fi
	LAST=$!
	PIDS="$PIDS $LAST"
	BG_IN='' BG_OUT=''	# for this command only, however the shell scopes VAR=x before a function
}

# finish PID SECS: wait up to SECS seconds for PID to exit by itself and return its status;
# 124 (and the process is killed) if it did not.
finish() {
	i=0
	while alive "$1" && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	if alive "$1"; then
		stop "$1"
		return 124
	fi
	wait "$1"
}

# kernel NAME SECS CMD...: run CMD in the kernel peer's namespace and wait for it (up to SECS;
# killed after); its status.  Output in $TMP/NAME.log ($BG_IN / $BG_OUT as for bg).
kernel() {
	_kname=$1 _ksecs=$2
	shift 2
	bg "$_kname" ip netns exec "$NS" "$@"
	finish $LAST "$_ksecs"
}

# eal_args ROLE: DPDK EAL arguments of a program under test.  ROLE: af_packet (the veth end in
# $ND), memif_server, memif_client (net_memif over a socket file in $TMP).
eal_args() {
	_eal="--no-pci --no-huge -m 256 --no-shconf --file-prefix=bnet$$-$NDUT"
	case $1 in
	af_packet) echo "$_eal --vdev=net_af_packet0,iface=$VD,framecnt=4096" ;;
	memif_server) echo "$_eal --vdev=net_memif0,role=server,id=0,socket=$TMP/memif.sock,socket-abstract=no,mac=02:79:00:00:00:01" ;;
	memif_client) echo "$_eal --vdev=net_memif0,role=client,id=0,socket=$TMP/memif.sock,socket-abstract=no,mac=02:79:00:00:00:02" ;;
	esac
}

dut_ip() {
	case $1 in af_packet) echo $DIP ;; memif_server) echo $MIP_S ;; memif_client) echo $MIP_C ;; esac
}

# dut ROLE NAME CMD...: start CMD, the program under test, in the background (log
# $TMP/NAME.log; $LAST is its PID, $TRACE its trace file).  This is the one place that says
# how: under bypass-run --net=dpdk (a socket trace in $TRACE shows when it listens), or with
# BYPASS_NET_DUT=native on the kernel in $ND.  $DUT_OPTS adds bypass-run options (--stats=).
DUT_OPTS=
dut() {
	_role=$1 _name=$2
	shift 2
	NDUT=$((NDUT + 1))
	TRACE=$TMP/$_name.trace
	rm -f "$TRACE"	# dut_listening must see this program's listen(), no earlier one's
	case $DUT in
	native) bg "$_name" ip netns exec "$ND" "$@" ;;
	dpdk) bg "$_name" ip netns exec "$ND" "$BYPASS" --net=dpdk --dpdk="$(eal_args "$_role")" \
		--ip="$(dut_ip "$_role")/24" --trace="$TRACE" \
		--trace-filter=socket,bind,listen,connect,shutdown $DUT_OPTS "$@" ;;
	esac
}

# dut_listening PID PORT: the program under test listens on TCP PORT.  Under bypass-run its
# socket is not the kernel's: its own trace shows the listen() that returned 0.
dut_listening() {
	alive "$1" || fail "$(basename "$TRACE" .trace) exited before it listened"
	case $DUT in
	native) ndx ss -ltnH "sport = :$2" 2>/dev/null | grep -q . ;;
	dpdk) grep -qs 'listen(.*= 0' "$TRACE" ;;
	esac
}

# wait_until SECS CMD...: until CMD succeeds, polled every 0.1 s; 1 on timeout.
wait_until() {
	_n=$(($1 * 10))
	shift
	while [ "$_n" -gt 0 ]; do "$@" && return 0; sleep 0.1; _n=$((_n - 1)); done
	return 1
}

sha() { sha256sum <"$1" | cut -d' ' -f1; }
now() { date +%s.%N; }
mibs() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.1f", b / 1048576 / (t1 - t0) }'; }

need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "needs $p"
	done
}

# ---- can this machine run the rig?
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, AF_PACKET)"
command -v ip >/dev/null 2>&1 && ip -V 2>&1 | grep -q iproute2 ||
	skip "needs iproute2's ip (Debian: iproute2)"
need ethtool busybox sha256sum ss
case $CASE in
nginx_curl) need nginx curl ;;
nginx_wrk | memif_wrk | memif_churn) need nginx wrk ;;
redis) need redis-server redis-benchmark redis-cli ;;
*_loss) need nft ;;
esac
case $DUT in
native) ;;
dpdk) [ -x "$BYPASS" ] || fail "no bypass-run at $BYPASS" ;;
*) echo "app-rig.sh: BYPASS_NET_DUT must be dpdk or native, not '$DUT'"; exit 2 ;;
esac
case $WRK_SECS in '' | *[!0-9]* | 0) echo "app-rig.sh: bad BYPASS_NET_WRK_SECS"; exit 2 ;; esac

# Namespaces a killed rig (SIGKILL: a ctest timeout) could not remove: those whose rig is gone.
for n in $(ip netns list 2>/dev/null | sed -n 's/^\(bn[kd]-[0-9]*\).*/\1/p'); do
	kill -0 "${n#bn?-}" 2>/dev/null || ip netns del "$n" 2>/dev/null
done

trap cleanup EXIT
trap 'exit 130' INT TERM HUP
TMP=$(mktemp -d /tmp/bypass-app.XXXXXX) || fail "mktemp"
chmod 755 "$TMP"

ip netns add "$NS" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip netns add "$ND" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip link add "$VK" netns "$NS" type veth peer name "$VD" netns "$ND" 2>"$TMP/err" ||
	skip "cannot create a veth pair: $(cat "$TMP/err")"
for n in "$NS" "$ND"; do
	ip netns exec "$n" ip link set lo up
	ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
done
# Offloads would leave partial checksums in what AF_PACKET hands to DPDK and hand it frames
# larger than the MTU (TSO/GRO): all off on both ends, so each side checks every checksum.
for f in rx tx sg tso gso gro; do
	nsx ethtool -K "$VK" "$f" off >/dev/null 2>&1
	ndx ethtool -K "$VD" "$f" off >/dev/null 2>&1
done
ndx ethtool -k "$VD" | grep -q '^tx-checksumming: off' ||
	skip "could not turn off checksum offload on $VD"
nsx ip addr add "$KIP/24" dev "$VK" || fail "ip addr add in $NS"
nsx ip link set "$VK" up || fail "ip link set $VK up"
[ "$DUT" = native ] && { ndx ip addr add "$DIP/24" dev "$VD" || fail "ip addr add in $ND"; }
ndx ip link set "$VD" up || fail "ip link set $VD up"

# Can DPDK drive the veth here?  A UDP server under bypass-run that gives up after 1 s idle
# brings the stack up at its socket(): an EAL that cannot start (no AF_PACKET, no memory) is a
# SKIP; any other failure of this first program is the layer's and fails the case.
if [ $DUT = dpdk ] && [ $CASE != memif_wrk ] && [ $CASE != memif_churn ]; then
	dut af_packet preflight "$UDPSRV" 9 1 1
	finish $LAST 30
	rc=$?
	if [ $rc != 0 ]; then
		line=$(grep -m1 'network: DPDK: EAL' "$TMP/preflight.log")
		[ -n "$line" ] && skip "DPDK cannot start net_af_packet on $VD: $line"
		fail "a UDP server under bypass-run --net=dpdk exited with status $rc"
	fi
fi

# ---- helpers shared by the cases
mkdir -p "$TMP/www" || fail "mkdir"
make_files() { # the 1 KiB and 100 MiB files the servers serve and nc sends
	head -c 1024 /dev/urandom >"$TMP/www/1k" || fail "head"
	head -c $BIG /dev/urandom >"$TMP/www/100m" || fail "head"
}

# start_nginx ROLE IP: nginx (one process: master_process off, daemon off) on IP:8080; it
# closes a connection after $KA_REQS requests (nginx's own default: 1000).
KA_REQS=1000
start_nginx() {
	cat >"$TMP/nginx.conf" <<-EOF
	master_process off;
	daemon off;
	worker_processes 1;
	pid $TMP/nginx.pid;
	error_log $TMP/nginx-error.log warn;
	events { worker_connections 1024; }
	http {
	    access_log off;
	    sendfile on;
	    keepalive_requests $KA_REQS;
	    client_body_temp_path $TMP/body;
	    proxy_temp_path $TMP/proxy;
	    fastcgi_temp_path $TMP/fastcgi;
	    uwsgi_temp_path $TMP/uwsgi;
	    scgi_temp_path $TMP/scgi;
	    server { listen $2:8080; root $TMP/www; }
	}
	EOF
	dut "$1" nginx nginx -c "$TMP/nginx.conf" -p "$TMP" -e "$TMP/nginx-error.log"
	NGINX=$LAST
	wait_until 30 dut_listening $NGINX 8080 || fail "nginx does not listen after 30 s"
}

# stop_dut PID NAME: SIGTERM to a server under test; it must exit by itself with status 0.
stop_dut() {
	kill -TERM "$1" 2>/dev/null
	finish "$1" 10
	rc=$?
	[ $rc = 0 ] || fail "$2 exited with status $rc after SIGTERM"
}

# check_wrk FILE: wrk's report shows requests and no error of any kind.
check_wrk() {
	cat "$1"
	grep -q 'Socket errors' "$1" && fail "wrk: socket errors"
	grep -q 'Non-2xx' "$1" && fail "wrk: non-2xx responses"
	reqs=$(awk '/requests in/ { print $1 }' "$1")
	[ "${reqs:-0}" -gt 0 ] || fail "wrk: no requests served"
	echo "wrk: $reqs requests, 0 errors"
}

# busybox nc exits at the first EOF it sees on either side, so a receiving nc's stdin must
# stay open until the sender has closed: it reads a FIFO whose write end this script holds
# (fd 9) until it exits.
hold_open() {
	mkfifo "$TMP/hold" || fail "mkfifo"
	exec 9<>"$TMP/hold"
}

# ---- kernel-side loss (nftables in the peer's namespace) and dpdk-net's own faults
loss_on() {
	nsx nft -f - <<-EOF || fail "nft rules"
	table inet bypass_loss {
		chain in { type filter hook input priority 0; numgen random mod 100 < 1 counter drop; }
		chain out { type filter hook output priority 0; numgen random mod 100 < 1 counter drop; }
	}
	EOF
	echo "kernel-side loss: nft in $NS drops 1% on input and 1% on output"
}

loss_report() {
	nsx nft list table inet bypass_loss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' |
		tr '\n' ' ' | { read -r in out; echo "nft dropped $in frames on input, $out on output"; }
}

# counter KEY: dpdk-net's counter KEY in the program's --stats file.
counter() { grep -o "\"$1\": *[0-9]*" "$TMP/stats.json" | sed 's/.*: *//' | tail -n 1; }

# The kernel's count of IPv4 header checksum failures in the peer's namespace.
kernel_csum_errors() {
	nsx cat /proc/net/netstat | awk '/^IpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 } else print $n["InCsumErrors"] }'
}

# Every frame dpdk-net corrupted was dropped: on receive by its own IPv4 check (ip_bad_csum),
# on transmit by the kernel's (InCsumErrors); and the faults were really injected.
check_faults() {
	[ $DUT = native ] && return 0
	[ -s "$TMP/stats.json" ] || fail "bypass-run wrote no --stats file"
	rxc=$(counter fault_rx_corrupt) txc=$(counter fault_tx_corrupt) bad=$(counter ip_bad_csum)
	kbad=$(kernel_csum_errors)
	echo "dpdk-net injected: rx dup $(counter fault_rx_dup) reorder $(counter fault_rx_reorder)" \
		"corrupt $rxc; tx dup $(counter fault_tx_dup) reorder $(counter fault_tx_reorder) corrupt $txc"
	echo "dpdk-net: $(counter tcp_retrans) retransmissions ($(counter tcp_fast_retrans) fast," \
		"$(counter tcp_rto) timeouts), $(counter tcp_ooo) segments out of order"
	echo "corrupted: rx $rxc injected / $bad dropped by dpdk-net's IPv4 check;" \
		"tx $txc injected / $kbad dropped by the kernel (IpExt InCsumErrors)"
	[ "${rxc:-0}" -gt 0 ] && [ "${txc:-0}" -gt 0 ] || fail "no frame was corrupted"
	[ "$(counter fault_rx_dup)" -gt 0 ] && [ "$(counter fault_tx_reorder)" -gt 0 ] ||
		fail "no frame was duplicated or reordered"
	[ "$bad" = "$rxc" ] || fail "dpdk-net dropped $bad frames for bad checksums, $rxc were corrupted"
	[ "$kbad" = "$txc" ] || fail "the kernel saw $kbad bad checksums, dpdk-net corrupted $txc"
}

# dpdk-net's own faults (BYPASS_NET_FAULT), only under bypass-run: 1% reordering and 1%
# duplication each way, plus 0.5% corrupted IPv4 checksums each way that must be counted and
# dropped.  --stats shows dpdk-net's counters.
fault_on() {
	if [ $DUT = native ]; then
		echo "dpdk-net faults: none (BYPASS_NET_DUT=native)"
		return
	fi
	export BYPASS_NET_FAULT="seed=$$,rx_reorder=10000,rx_dup=10000,rx_corrupt=5000,tx_reorder=10000,tx_dup=10000,tx_corrupt=5000"
	DUT_OPTS="--stats=$TMP/stats.json"
	echo "dpdk-net faults: $BYPASS_NET_FAULT"
}

# ---- cases
case_nginx_curl() {
	make_files
	start_nginx af_packet $DIP
	for f in 1k 100m; do
		t0=$(now)
		kernel curl $TMO curl -sS -o "$TMP/got-$f" "http://$DIP:8080/$f" ||
			fail "curl $f exited with status $?"
		t1=$(now)
		want=$(sha "$TMP/www/$f") got=$(sha "$TMP/got-$f")
		echo "curl $f: $(wc -c <"$TMP/got-$f") bytes, sha256 $got ($(mibs "$(wc -c <"$TMP/got-$f")" "$t0" "$t1") MiB/s)"
		[ "$got" = "$want" ] || fail "curl $f: sha256 differs from the served file's $want"
	done
	stop_dut $NGINX nginx
}

case_nginx_wrk() {
	head -c 1024 /dev/urandom >"$TMP/www/1k"
	start_nginx af_packet $DIP
	kernel wrk $((WRK_SECS + 60)) wrk -t2 -c100 -d"${WRK_SECS}s" "http://$DIP:8080/1k" ||
		fail "wrk exited with status $?"
	check_wrk "$TMP/wrk.log"
	stop_dut $NGINX nginx
}

case_nc_in() { # kernel busybox nc -> busybox nc -l under test
	make_files
	hold_open
	BG_IN=$TMP/hold BG_OUT=$TMP/got dut af_packet nc busybox nc -l -p 7781
	ncpid=$LAST
	wait_until 30 dut_listening $ncpid 7781 || fail "nc -l does not listen after 30 s"
	t0=$(now)
	BG_IN=$TMP/www/100m BG_OUT=/dev/null bg knc ip netns exec "$NS" busybox nc "$DIP" 7781
	kpid=$LAST
	# The kernel's nc ends at the end of the stream from nc -l, which closes when it exits:
	# once that has happened, give the FIN 10 s rather than the whole transfer's time.
	i=0
	while alive $kpid && alive $ncpid && [ $i -lt $((TMO * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive $ncpid; then
		finish $kpid 1
	else
		finish $kpid 10
	fi
	rc=$?
	[ $rc = 124 ] && ! alive $ncpid && fail "nc -l under test has exited; the kernel's nc" \
		"saw no end of stream 10 s later (its socket was not closed at exit)"
	[ $rc = 0 ] || fail "kernel nc exited with status $rc (124: timed out)"
	finish $ncpid 30 || fail "nc -l under test exited with status $?"
	t1=$(now)
	got=$(sha "$TMP/got") want=$(sha "$TMP/www/100m")
	echo "kernel -> nc -l under test: $(wc -c <"$TMP/got") bytes, sha256 $got ($(mibs $BIG "$t0" "$t1") MiB/s)"
	[ "$got" = "$want" ] || fail "sha256 differs from the sent file's $want"
}

case_nc_out() { # busybox nc under test -> kernel busybox nc -l
	make_files
	hold_open
	BG_IN=$TMP/hold BG_OUT=$TMP/got bg knc ip netns exec "$NS" busybox nc -l -p 7782
	kpid=$LAST
	wait_until 10 sh -c "ip netns exec $NS ss -ltnH 'sport = :7782' | grep -q ." ||
		fail "kernel nc -l does not listen"
	t0=$(now)
	BG_IN=$TMP/www/100m dut af_packet nc busybox nc "$KIP" 7782
	finish $LAST $TMO || fail "nc under test exited with status $?"
	finish $kpid 30 || fail "kernel nc -l exited with status $?"
	t1=$(now)
	got=$(sha "$TMP/got") want=$(sha "$TMP/www/100m")
	echo "nc under test -> kernel: $(wc -c <"$TMP/got") bytes, sha256 $got ($(mibs $BIG "$t0" "$t1") MiB/s)"
	[ "$got" = "$want" ] || fail "sha256 differs from the sent file's $want"
}

case_wget() { # busybox wget under test fetches from busybox httpd in the peer's namespace
	make_files
	bg httpd ip netns exec "$NS" busybox httpd -f -p "$KIP:8000" -h "$TMP/www"
	wait_until 10 sh -c "ip netns exec $NS ss -ltnH 'sport = :8000' | grep -q ." ||
		fail "busybox httpd does not listen"
	for f in 1k 100m; do
		t0=$(now)
		dut af_packet "wget-$f" busybox wget -q -O "$TMP/got-$f" "http://$KIP:8000/$f"
		finish $LAST $TMO || fail "wget $f exited with status $?"
		t1=$(now)
		want=$(sha "$TMP/www/$f") got=$(sha "$TMP/got-$f")
		echo "wget $f: $(wc -c <"$TMP/got-$f") bytes, sha256 $got ($(mibs "$(wc -c <"$TMP/got-$f")" "$t0" "$t1") MiB/s)"
		[ "$got" = "$want" ] || fail "wget $f: sha256 differs from the served file's $want"
	done
}

case_udp_echo() { # the kernel's udp-echo-check against udp-echo-server under test
	n=1000
	dut af_packet udpsrv "$UDPSRV" 7783 $n 10
	srv=$LAST
	wait_until 30 grep -qs ready "$TMP/udpsrv.log" ||
		fail "udp-echo-server not ready after 30 s"
	kernel udpcheck 60 "$UDPCHECK" "$DIP" 7783 $n
	rc=$?
	cat "$TMP/udpcheck.log"
	[ $rc = 0 ] || fail "udp echo"
	finish $srv 20 || fail "udp-echo-server exited with status $?"
	cat "$TMP/udpsrv.log"
	grep -q "echoed=$n\$" "$TMP/udpsrv.log" || fail "udp-echo-server did not echo $n datagrams"
}

case_redis() { # redis-benchmark in the kernel's namespace against redis-server under test
	dut af_packet redis redis-server --bind "$DIP" --port 6379 --save '' --appendonly no \
		--dir "$TMP" --protected-mode no
	rpid=$LAST
	wait_until 30 dut_listening $rpid 6379 || fail "redis-server does not listen after 30 s"
	kernel ping 10 redis-cli -h "$DIP" -p 6379 ping
	grep -q PONG "$TMP/ping.log" || fail "redis-cli ping: $(cat "$TMP/ping.log")"
	kernel bench 240 redis-benchmark -h "$DIP" -p 6379 -q -n 100000 ||
		fail "redis-benchmark exited with status $?"
	# -q prints each test's result as a \r-updated line: keep the final ones.
	tr '\r' '\n' <"$TMP/bench.log" | grep 'requests per second' >"$TMP/bench.res"
	cat "$TMP/bench.res"
	tr '\r' '\n' <"$TMP/bench.log" | grep -i 'error\|reset\|refused' &&
		fail "redis-benchmark reported errors"
	grep -q '^SET: ' "$TMP/bench.res" && grep -q '^GET: ' "$TMP/bench.res" ||
		fail "redis-benchmark: no SET/GET results"
	echo "redis-benchmark: $(wc -l <"$TMP/bench.res") tests of 100000 requests, 0 errors"
	stop_dut $rpid redis-server
}

case_memif_wrk() { # wrk under test against nginx under test, over net_memif
	head -c 1024 /dev/urandom >"$TMP/www/1k"
	if [ $DUT = native ]; then # the stand-in: nginx in $ND, wrk in $NS, over the veth
		start_nginx af_packet $DIP
		bg wrk ip netns exec "$NS" wrk -t2 -c100 -d"${WRK_SECS}s" "http://$DIP:8080/1k"
	else
		# Two contexts on each side: wrk's two threads each get one as home and
		# connect from it; nginx's one thread polls both and accepts from both.
		export BYPASS_NET_QUEUES=2
		DUT_OPTS="--stats=$TMP/stats.json"
		start_nginx memif_server $MIP_S
		DUT_OPTS="--stats=$TMP/wrk-stats.json"
		dut memif_client wrk wrk -t2 -c100 -d"${WRK_SECS}s" "http://$MIP_S:8080/1k"
		DUT_OPTS=
	fi
	finish $LAST $((WRK_SECS + 60)) || fail "wrk exited with status $?"
	check_wrk "$TMP/wrk.log"
	stop_dut $NGINX nginx
	[ $DUT = dpdk ] || return 0
	unset BYPASS_NET_QUEUES
	for side in stats:nginx wrk-stats:wrk; do
		f=$TMP/${side%%:*}.json
		[ -s "$f" ] || fail "${side#*:} wrote no --stats file"
		c0=$(grep -o '"ctx0_rx_pkts": *[0-9]*' "$f" | sed 's/.*: *//')
		c1=$(grep -o '"ctx1_rx_pkts": *[0-9]*' "$f" | sed 's/.*: *//')
		echo "${side#*:}'s contexts: $(grep -o '"contexts": *[0-9]*' "$f"), frames received" \
			"by context 0: ${c0:-none}, by context 1: ${c1:-none}"
		[ "${c0:-0}" -gt 1000 ] && [ "${c1:-0}" -gt 1000 ] ||
			fail "${side#*:}: both contexts must carry connections"
	done
}

# Short connections that nginx closes first: each leaves a TIME_WAIT in nginx's stack, far
# more of them than a connection table or the memory of a stack that kept their buffers
# could hold (a stall after ~490 connections once did that); wrk must never stall.
case_memif_churn() {
	KA_REQS=20
	head -c 1024 /dev/urandom >"$TMP/www/1k"
	if [ $DUT = native ]; then
		start_nginx af_packet $DIP
		bg wrk ip netns exec "$NS" wrk -t1 -c50 -d"${WRK_SECS}s" "http://$DIP:8080/1k"
	else
		DUT_OPTS="--stats=$TMP/stats.json"
		start_nginx memif_server $MIP_S
		DUT_OPTS=
		dut memif_client wrk wrk -t1 -c50 -d"${WRK_SECS}s" "http://$MIP_S:8080/1k"
	fi
	finish $LAST $((WRK_SECS + 60)) || fail "wrk exited with status $?"
	check_wrk "$TMP/wrk.log"
	[ "$reqs" -ge $((KA_REQS * 5000)) ] ||
		fail "wrk: $reqs requests, fewer than 5000 connections of $KA_REQS requests"
	stop_dut $NGINX nginx
	[ $DUT = dpdk ] || return 0
	echo "nginx's stack: tcp_nomem_drop $(counter tcp_nomem_drop)," \
		"tcp_tw_overflow $(counter tcp_tw_overflow), tcp_backlog_drop $(counter tcp_backlog_drop)"
	[ "$(counter tcp_nomem_drop)" = 0 ] || fail "nginx's stack dropped SYNs for want of memory"
}

case $CASE in
nginx_curl) case_nginx_curl ;;
nginx_wrk) case_nginx_wrk ;;
nc_in) case_nc_in ;;
nc_out) case_nc_out ;;
wget) case_wget ;;
udp_echo) case_udp_echo ;;
redis) case_redis ;;
nc_in_loss | nc_out_loss)
	loss_on
	fault_on
	if [ $CASE = nc_in_loss ]; then case_nc_in; else case_nc_out; fi
	loss_report
	check_faults
	;;
memif_wrk) case_memif_wrk ;;
memif_churn) case_memif_churn ;;
*) echo "app-rig.sh: unknown case '$CASE'"; exit 2 ;;
esac
echo "PASS: $CASE ($DUT)"
exit 0
