#!/bin/sh
# SPDX-License-Identifier: MIT
# Interop rig: dpdk-net (dnet-peer on net_af_packet) against the Linux kernel's TCP/IP.
# Creates network namespace bypass-test-$$ and a veth pair: one end inside it with 10.77.0.1/24,
# the other left in the root namespace UP with no address for net_af_packet (dpdk-net is
# 10.77.0.2 there).  Runs one case, then always removes the namespace and the veth and kills
# the peer by its PID.  Exit 0 pass, 1 fail, 77 skip (not root, no netns/veth/ethtool/nft, or
# DPDK's af_packet PMD cannot start).
#
# usage: rig.sh DNET_PEER UDP_ECHO_CHECK CASE
#   CASE: ping tcp_echo tcp_100m_in tcp_100m_out tcp_100m_in_faults tcp_100m_out_faults udp_echo
set -u

PEER=$1
UDPCHECK=$2
CASE=$3

NS=bypass-test-$$
VR=bt$$r                  # root-namespace end (DPDK's)
VN=bt$$n                  # namespace end (the kernel's)
KIP=10.77.0.1             # the kernel, inside $NS
DIP=10.77.0.2             # dpdk-net
DMAC=02:77:00:00:00:02    # dpdk-net's own MAC, so the root namespace never takes its frames
BIG=$((100 * 1024 * 1024))
TMO=60                    # seconds any one transfer may take
TMP=
PEER_PID=
KPID=

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; show_peer_log; exit 1; }
nsx() { ip netns exec "$NS" "$@"; }

show_peer_log() {
	[ -n "$TMP" ] && [ -s "$TMP/peer.log" ] && sed 's/^/  peer| /' "$TMP/peer.log"
}

cleanup() {
	# Only what this script started, by PID; then the namespace (which takes its veth end and
	# the nftables table with it) and the root end.
	[ -n "$KPID" ] && kill "$KPID" 2>/dev/null
	if [ -n "$PEER_PID" ]; then
		kill "$PEER_PID" 2>/dev/null
		i=0
		while kill -0 "$PEER_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$PEER_PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	ip link del "$VR" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}

# ---- can this machine run the rig?
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, AF_PACKET)"
command -v ip >/dev/null 2>&1 && ip -V 2>&1 | grep -q iproute2 ||
	skip "needs iproute2's ip (Debian: iproute2)"
command -v ethtool >/dev/null 2>&1 ||
	skip "needs ethtool to turn veth checksum offloads off (Debian: ethtool)"
command -v busybox >/dev/null 2>&1 || skip "needs busybox (nc, ping)"
case $CASE in *_faults)
	command -v nft >/dev/null 2>&1 || skip "needs nft for kernel-side loss (Debian: nftables)";;
esac
[ -x "$PEER" ] || fail "no dnet-peer at $PEER"

trap cleanup EXIT
trap 'exit 130' INT TERM HUP
TMP=$(mktemp -d /tmp/bypass-net.XXXXXX) || fail "mktemp"

ip netns add "$NS" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip link add "$VR" type veth peer name "$VN" netns "$NS" 2>"$TMP/err" ||
	skip "cannot create a veth pair: $(cat "$TMP/err")"
# The root end carries no address and must stay silent: no IPv6 autoconfiguration, no
# forwarding of the frames that cross it.
sysctl -qw "net.ipv6.conf.$VR.disable_ipv6=1" 2>/dev/null
sysctl -qw "net.ipv4.conf.$VR.forwarding=0" 2>/dev/null
nsx sysctl -qw "net.ipv6.conf.$VN.disable_ipv6=1" 2>/dev/null
# Checksum offload on veth leaves partial checksums in what AF_PACKET hands to DPDK, and
# TSO/GSO/GRO would hand it frames larger than the MTU: every offload off on both ends, so
# the kernel also verifies every checksum dpdk-net computes.
for f in rx tx sg tso gso gro; do
	ethtool -K "$VR" "$f" off >/dev/null 2>&1
	nsx ethtool -K "$VN" "$f" off >/dev/null 2>&1
done
ethtool -k "$VR" | grep -q '^tx-checksumming: off' ||
	skip "could not turn off checksum offload on $VR"
ip link set "$VR" up || fail "ip link set $VR up"
nsx ip link set lo up
nsx ip addr add "$KIP/24" dev "$VN" || fail "ip addr add in $NS"
nsx ip link set "$VN" up || fail "ip link set $VN up in $NS"

# start_peer MODE ARGS...: run dnet-peer in the background and wait for its "ready" line.
start_peer() {
	"$PEER" --iface "$VR" --ip "$DIP/24" --mac "$DMAC" --timeout $((TMO + 30)) \
		--vdev-args "framecnt=4096" $PEER_FLAGS "$@" >"$TMP/peer.log" 2>&1 &
	PEER_PID=$!
	i=0
	until grep -qs "ready" "$TMP/peer.log"; do
		if ! kill -0 "$PEER_PID" 2>/dev/null; then
			wait "$PEER_PID"
			rc=$?
			PEER_PID=
			[ $rc = 3 ] && skip "DPDK's net_af_packet PMD cannot start here: $(tail -n 1 "$TMP/peer.log")"
			fail "dnet-peer exited with $rc before it was ready"
		fi
		i=$((i + 1))
		[ $i -gt 200 ] && fail "dnet-peer not ready after 20 s"
		sleep 0.1
	done
}

# wait_peer: wait for the peer to finish on its own; prints its exit status.
wait_peer() {
	wait "$PEER_PID"
	rc=$?
	PEER_PID=
	return $rc
}

stop_peer() {
	kill -TERM "$PEER_PID" 2>/dev/null
	wait_peer
}

peer_field() { # peer_field LINE-PREFIX KEY: a key=value of the peer's summary line
	sed -n "s|^dnet-peer: $1 \(.* \)\{0,1\}$2=\([^ ]*\).*|\2|p" "$TMP/peer.log" | tail -n 1
}

now() { date +%s.%N; }
mibs() { awk -v b="$1" -v t0="$2" -v t1="$3" 'BEGIN { printf "%.1f", b / 1048576 / (t1 - t0) }'; }

# ---- kernel-side loss (nftables in the namespace) and dpdk-net's own faults
loss_on() {
	nsx nft -f - <<-EOF || fail "nft rules"
	table inet bypass_loss {
		chain in { type filter hook input priority 0; numgen random mod 100 < 1 drop; }
		chain out { type filter hook output priority 0; numgen random mod 100 < 1 drop; }
	}
	EOF
}

loss_report() {
	nsx nft list table inet bypass_loss >/dev/null 2>&1 || return 0
	echo "kernel-side loss: nft rules in $NS dropped 1% each way"
}

# The kernel's count of IPv4 header checksum failures in the namespace.
kernel_csum_errors() {
	nsx cat /proc/net/netstat | awk '/^IpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[$i] = i; h = 1 } else print $n["InCsumErrors"] }'
}

FAULTS="--fault-seed $$ --fault-rx-dup-ppm 10000 --fault-rx-reorder-ppm 10000 --fault-rx-corrupt-ppm 5000
	--fault-tx-dup-ppm 10000 --fault-tx-reorder-ppm 10000 --fault-tx-corrupt-ppm 5000"

check_corrupt_counted() {
	st=$(grep '^dnet-peer: stats' "$TMP/peer.log" | tail -n 1)
	rxc=$(echo "$st" | sed -n 's/.*fault_rx=[0-9]*\/[0-9]*\/\([0-9]*\)\/.*/\1/p')
	txc=$(echo "$st" | sed -n 's/.*fault_tx=[0-9]*\/[0-9]*\/\([0-9]*\)\/.*/\1/p')
	bad=$(echo "$st" | sed -n 's/.* ip_bad_csum=\([0-9]*\).*/\1/p')
	kbad=$(kernel_csum_errors)
	echo "corrupted: dpdk-net rx $rxc injected / $bad dropped by its IPv4 check;" \
		"tx $txc injected / $kbad dropped by the kernel (IpExt InCsumErrors)"
	[ "$rxc" -gt 0 ] && [ "$txc" -gt 0 ] || fail "no frame was corrupted"
	[ "$bad" = "$rxc" ] || fail "dpdk-net dropped $bad frames for bad checksums, $rxc were corrupted"
	[ "$kbad" = "$txc" ] || fail "the kernel saw $kbad bad checksums, dpdk-net corrupted $txc"
}

# ---- cases
PEER_FLAGS=
case_ping() {
	start_peer echo-udp 7
	nsx busybox ping -c 10 -i 0.1 -W 2 "$DIP" >"$TMP/ping" 2>&1
	cat "$TMP/ping"
	stop_peer
	grep -q ' 0% packet loss' "$TMP/ping" || fail "ping lost packets"
}

case_tcp_echo() {
	start_peer echo-tcp 7777
	head -c 300000 /dev/urandom >"$TMP/in"
	printf 'hello, dpdk-net\n' >"$TMP/small"
	nsx busybox timeout $TMO busybox nc "$DIP" 7777 <"$TMP/small" >"$TMP/small.out" ||
		fail "nc (small) failed"
	cmp -s "$TMP/small" "$TMP/small.out" || fail "small echo differs: '$(cat "$TMP/small.out")'"
	t0=$(now)
	nsx busybox timeout $TMO busybox nc "$DIP" 7777 <"$TMP/in" >"$TMP/out" || fail "nc failed"
	t1=$(now)
	cmp -s "$TMP/in" "$TMP/out" || fail "echo differs ($(wc -c <"$TMP/out") of 300000 bytes back)"
	echo "tcp echo: 'hello, dpdk-net' and 300000 random bytes came back unchanged ($(mibs 600000 "$t0" "$t1") MiB/s both ways)"
	stop_peer
}

case_tcp_in() { # kernel (busybox nc) -> dpdk-net sink
	head -c $BIG /dev/urandom >"$TMP/in"
	want=$(sha256sum <"$TMP/in" | cut -d' ' -f1)
	start_peer sink-tcp 7778
	t0=$(now)
	nsx busybox timeout $TMO busybox nc "$DIP" 7778 <"$TMP/in" >/dev/null || fail "nc failed or timed out"
	t1=$(now)
	wait_peer || fail "dnet-peer sink failed"
	got=$(peer_field sink sha256)
	grep '^dnet-peer' "$TMP/peer.log"
	echo "kernel -> dpdk-net: $(peer_field sink bytes) bytes, sha256 $got (sent $want)"
	echo "throughput kernel -> dpdk-net: $(mibs $BIG "$t0" "$t1") MiB/s (nc wall time), $(peer_field sink MiB/s) MiB/s (dpdk-net)"
	[ "$got" = "$want" ] || fail "sha256 differs"
}

case_tcp_out() { # dpdk-net source -> kernel (busybox nc -l) sink
	nsx busybox timeout $TMO busybox nc -l -p 7779 >"$TMP/out" </dev/null &
	KPID=$!
	i=0
	until nsx busybox netstat -ltn 2>/dev/null | grep -q ':7779 '; do
		i=$((i + 1)); [ $i -gt 50 ] && fail "kernel sink not listening"; sleep 0.1
	done
	t0=$(now)
	start_peer source-tcp "$KIP" 7779 $BIG
	wait_peer || fail "dnet-peer source failed"
	wait "$KPID" || fail "kernel nc sink failed"
	t1=$(now)
	KPID=
	sent=$(peer_field source sha256)
	got=$(sha256sum <"$TMP/out" | cut -d' ' -f1)
	grep '^dnet-peer' "$TMP/peer.log"
	echo "dpdk-net -> kernel: $(wc -c <"$TMP/out") bytes, sha256 $got (sent $sent)"
	echo "throughput dpdk-net -> kernel: $(peer_field source MiB/s) MiB/s (dpdk-net, connect to FIN acked), $(mibs $BIG "$t0" "$t1") MiB/s (wall, with start-up)"
	[ "$got" = "$sent" ] && [ "$(wc -c <"$TMP/out")" = $BIG ] || fail "sha256 or length differs"
}

case_udp_echo() {
	start_peer echo-udp 7780
	nsx "$UDPCHECK" "$DIP" 7780 1000 || { stop_peer; fail "udp echo"; }
	stop_peer
}

case $CASE in
ping) case_ping ;;
tcp_echo) case_tcp_echo ;;
tcp_100m_in) case_tcp_in ;;
tcp_100m_out) case_tcp_out ;;
tcp_100m_in_faults | tcp_100m_out_faults)
	loss_on
	loss_report
	PEER_FLAGS=$FAULTS
	echo "dpdk-net faults: $(echo $FAULTS)"
	if [ $CASE = tcp_100m_in_faults ]; then case_tcp_in; else case_tcp_out; fi
	check_corrupt_counted
	;;
udp_echo) case_udp_echo ;;
*) echo "rig.sh: unknown case '$CASE'"; exit 2 ;;
esac
echo "PASS: $CASE"
exit 0
