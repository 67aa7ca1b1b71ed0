#!/bin/sh
# SPDX-License-Identifier: MIT
# Socket-semantics rig: sockapi-test CASE runs under `bypass-run --net=dpdk` on
# net_af_packet over one end of a veth pair; sockapi-peer (the kernel) serves it from a
# network namespace on the other end.  Creates namespace bypass-sockapi-$$ and the veth,
# always removes both and stops the peer by its PID.  Exit 0 pass, 1 fail, 77 skip (not
# root, no netns/veth/ethtool, no libbypass-net.so, or DPDK's af_packet PMD cannot start).
#
# usage: sockapi.sh BYPASS_RUN SOCKAPI_TEST SOCKAPI_PEER CASE
#        CASE fuzzN: SOCKAPI_TEST is sockfuzz, seed N, run natively and under bypass-run
#        and compared (SOCKFUZZ_SEED, SOCKFUZZ_STEPS: another seed, another length;
#        SOCKFUZZ_OUT=DIR keeps both transcripts)
#        CASE mq2_NAME: NAME on two contexts (af_packet qpairs=2, whose kernel fanout
#        hashes flows over both queues; BYPASS_NET_QUEUES=2); for mq2_mq both must carry
#        frames
#        BYPASS_SOCKAPI_NATIVE=1: run the case natively instead (checks the test itself)
#        SOCKAPI_WATCH_US=N: the watch period instead of the case's (0 or 400000 must fail
#        sleep_answers)
set -u

BR=$1
TEST=$2
PEER=$3
CASE=$4
QP=1
case $CASE in mq2_*) CASE=${CASE#mq2_} QP=2 ;; esac

NS=bypass-sockapi-$$
VR=bs$$r                 # root-namespace end (DPDK's)
VN=bs$$n                 # namespace end (the kernel's)
SUB=10.79.$(($$ % 250))
KIP=$SUB.1
DIP=$SUB.2
TMP=
PEER_PID=

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
nsx() { ip netns exec "$NS" "$@"; }

cleanup() {
	if [ -n "$PEER_PID" ]; then
		kill "$PEER_PID" 2>/dev/null
		wait "$PEER_PID" 2>/dev/null
	fi
	ip netns del "$NS" 2>/dev/null
	ip link del "$VR" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, veth, AF_PACKET)"
command -v ip >/dev/null 2>&1 || skip "needs iproute2's ip"
command -v ethtool >/dev/null 2>&1 || skip "needs ethtool (veth offloads off)"
MOD=${BYPASS_NET_MODULE:-$(dirname "$(readlink -f "$BR")")/../dpdk-net/libbypass-net.so}
[ "${BYPASS_SOCKAPI_NATIVE:-}" = 1 ] || [ -f "$MOD" ] || skip "no network module at $MOD"

trap cleanup EXIT
trap 'exit 130' INT TERM HUP
TMP=$(mktemp -d /tmp/bypass-sockapi.XXXXXX) || fail "mktemp"

ip netns add "$NS" 2>"$TMP/err" || skip "cannot create a network namespace: $(cat "$TMP/err")"
ip link add "$VR" type veth peer name "$VN" netns "$NS" 2>"$TMP/err" ||
	skip "cannot create a veth pair: $(cat "$TMP/err")"
sysctl -qw "net.ipv6.conf.$VR.disable_ipv6=1" 2>/dev/null
nsx sysctl -qw "net.ipv6.conf.$VN.disable_ipv6=1" 2>/dev/null
for f in rx tx sg tso gso gro; do
	ethtool -K "$VR" "$f" off >/dev/null 2>&1
	nsx ethtool -K "$VN" "$f" off >/dev/null 2>&1
done
ip link set "$VR" up || fail "ip link set $VR up"
nsx ip link set lo up
nsx ip addr add "$KIP/24" dev "$VN" || fail "ip addr add in $NS"
nsx ip link set "$VN" up || fail "ip link set $VN up in $NS"

ip netns exec "$NS" "$PEER" "$TMP" >"$TMP/peer.log" 2>&1 &	# ip execs it: $! is the peer
PEER_PID=$!
i=0
until [ -e "$TMP/ready" ]; do
	kill -0 "$PEER_PID" 2>/dev/null || fail "sockapi-peer died: $(cat "$TMP/peer.log")"
	i=$((i + 1)); [ $i -gt 100 ] && fail "sockapi-peer not ready"
	sleep 0.1
done

case $CASE in fuzz*)
	# the differential fuzzer (sockfuzz.c): the same seeded calls natively and under
	# bypass-run, on different local ports, and the two transcripts must be equal.
	# CASE fuzzN: seed N (SOCKFUZZ_SEED overrides), SOCKFUZZ_STEPS calls (600)
	SEED=${SOCKFUZZ_SEED:-${CASE#fuzz}}
	STEPS=${SOCKFUZZ_STEPS:-600}
	# ports of their own for each run, as TIME_WAIT outlives it (60 s)
	BASE=$((20000 + $$ % 120 * 100))
	ip addr add "$DIP/24" dev "$VR"
	timeout 120 "$TEST" "$SEED" "$STEPS" "$KIP" "$DIP" $BASE >"$TMP/native" 2>&1
	rc=$?
	ip addr del "$DIP/24" dev "$VR"
	[ -n "${SOCKFUZZ_OUT:-}" ] && cp "$TMP/native" "$SOCKFUZZ_OUT"
	[ $rc = 0 ] || fail "fuzz natively (exit $rc): $(tail -n 3 "$TMP/native")"
	EAL="--no-pci --no-huge -m 256 --no-shconf --vdev=net_af_packet0,iface=$VR,qpairs=$QP"
	BYPASS_NET_QUEUES=$QP timeout 180 "$BR" --net=dpdk --dpdk="$EAL" --ip="$DIP/24" \
		"$TEST" "$SEED" "$STEPS" "$KIP" "$DIP" $((BASE + 50)) >"$TMP/dpdk" 2>&1
	rc=$?
	[ -n "${SOCKFUZZ_OUT:-}" ] && cp "$TMP/dpdk" "$SOCKFUZZ_OUT"
	echo "seed $SEED, $STEPS steps: $(wc -l <"$TMP/native") lines natively"
	if ! diff -u "$TMP/native" "$TMP/dpdk" >"$TMP/diff"; then
		head -n 40 "$TMP/diff"
		fail "$CASE: seed $SEED differs from Linux (bypass-run exit $rc)"
	fi
	[ $rc = 0 ] || fail "fuzz under bypass-run (exit $rc)"
	echo "PASS: $CASE"
	exit 0
	;;
esac

if [ "${BYPASS_SOCKAPI_NATIVE:-}" = 1 ]; then
	# natively the kernel needs the address on a device it owns: the veth's root end
	ip addr add "$DIP/24" dev "$VR"
	timeout 60 "$TEST" "$CASE" "$KIP" >"$TMP/out" 2>&1
else
	EAL="--no-pci --no-huge -m 256 --no-shconf --vdev=net_af_packet0,iface=$VR,qpairs=$QP"
	# hold_*: what the thread held must leave by its own calls, not by the watch thread
	WATCH=1000
	case $CASE in hold_*) WATCH=0 ;; esac
	WATCH=${SOCKAPI_WATCH_US:-$WATCH}
	SOCKAPI_DPDK=1 BYPASS_NET_QUEUES=$QP BYPASS_NET_WATCH_US=$WATCH timeout 60 "$BR" \
		--stats="$TMP/stats.%p.json" \
		--net=dpdk --dpdk="$EAL" --ip="$DIP/24" "$TEST" "$CASE" "$KIP" >"$TMP/out" 2>&1
fi
rc=$?
cat "$TMP/out"
if grep -q "DPDK\|EAL" "$TMP/out" && ! grep -q '^PASS' "$TMP/out" &&
	grep -q "net_af_packet\|No such device\|no such device" "$TMP/out"; then
	skip "DPDK's net_af_packet PMD cannot start here"
fi
[ $rc = 0 ] && grep -q "^PASS: $CASE" "$TMP/out" || fail "$CASE (exit $rc)"
# --stats carries dpdk-net's counters once the network was used (every case but loopback,
# whose sockets all became the kernel's)
if [ "${BYPASS_SOCKAPI_NATIVE:-}" != 1 ] && [ "$CASE" != loopback ]; then
	cat "$TMP"/stats.*.json 2>/dev/null | grep -q '"net": {' ||
		fail "$CASE: no dpdk-net counters in --stats"
fi
# thread_exit: only the main thread is left to call a context its home.
if [ "${BYPASS_SOCKAPI_NATIVE:-}" != 1 ] && [ "$CASE" = thread_exit ]; then
	owners=$(cat "$TMP"/stats.*.json | grep -o '"ctx[0-9]*_owners": *[0-9]*' |
		sed 's/.*: *//' | awk '{ s += $1 } END { print s + 0 }')
	echo "home threads left: $owners"
	[ "$owners" = 1 ] || fail "$CASE: $owners home threads counted, 1 left"
fi
# hold_batch: each round's eight writes must leave in one device call, not one each.
if [ "${BYPASS_SOCKAPI_NATIVE:-}" != 1 ] && [ "$CASE" = hold_batch ]; then
	st=$(cat "$TMP"/stats.*.json)
	tx=$(echo "$st" | grep -o '"tx_pkts": *[0-9]*' | sed 's/.*: *//' | head -n 1)
	bursts=$(echo "$st" | grep -o '"tx_bursts": *[0-9]*' | sed 's/.*: *//' | head -n 1)
	echo "frames sent: ${tx:-none} in ${bursts:-none} device calls"
	[ -n "$tx" ] && [ -n "$bursts" ] && [ "$bursts" -gt 0 ] && [ "$tx" -ge $((3 * bursts)) ] ||
		fail "$CASE: fewer than 3 frames per device call: $st"
fi
if [ "${BYPASS_SOCKAPI_NATIVE:-}" != 1 ] && [ $QP = 2 ]; then
	st=$(cat "$TMP"/stats.*.json)
	c0=$(echo "$st" | grep -o '"ctx0_rx_pkts": *[0-9]*' | sed 's/.*: *//' | head -n 1)
	c1=$(echo "$st" | grep -o '"ctx1_rx_pkts": *[0-9]*' | sed 's/.*: *//' | head -n 1)
	echo "two contexts: frames received by context 0: ${c0:-none}, by context 1: ${c1:-none}"
	echo "$st" | grep -q '"contexts": *2' || fail "$CASE: not two contexts"
	# mq's nine flows all hashed to one queue: 1 in 256.  Fewer flows may well be.
	[ "$CASE" != mq ] || { [ "${c0:-0}" -gt 0 ] && [ "${c1:-0}" -gt 0 ]; } ||
		fail "$CASE: both contexts must carry frames"
fi
exit 0
