#!/bin/sh
# SPDX-License-Identifier: MIT
# Figures (judges nothing): the cost of read(fd, buf, 0) and fcntl(fd, F_GETFD) on a kernel
# fd, native, under bypass-run --net=kernel, and under --net=dpdk before and after the first
# LibOS socket switched the fd routes on (route 4: one map byte per call).  R rounds,
# configurations alternating; prints the median ns per call of each.
# usage: fdcost.sh BYPASS_RUN FDCOST [R [N]]
set -eu
BR=$1 F=$2 R=${3:-11} N=${4:-2000000}
DP="--net=dpdk --ip=10.0.0.2/24"
TMP=$(mktemp -d /tmp/bypass-fdcost.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
i=0
while [ $i -lt "$R" ]; do
	"$F" "$N" >>"$TMP/native"
	"$BR" --net=kernel "$F" "$N" socket >>"$TMP/kernel"
	# shellcheck disable=SC2086
	"$BR" $DP "$F" "$N" >>"$TMP/dpdk-nosock"
	# shellcheck disable=SC2086
	"$BR" $DP "$F" "$N" socket >>"$TMP/dpdk-sock"
	i=$((i + 1))
done
med() { # FILE FIELD
	sed -n "s/.*$2 ns_per_call=\([0-9.]*\).*/\1/p" "$1" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
printf "%-44s %10s %10s\n" "kernel fd, median of $R x $N calls (ns/call)" "read(0B)" "fcntl"
for c in native kernel dpdk-nosock dpdk-sock; do
	case $c in
	native) label="native" ;;
	kernel) label="bypass-run --net=kernel" ;;
	dpdk-nosock) label="bypass-run --net=dpdk, no LibOS socket" ;;
	dpdk-sock) label="bypass-run --net=dpdk, a LibOS socket (route 4)" ;;
	esac
	printf "%-44s %10s %10s\n" "$label" "$(med "$TMP/$c" read0)" "$(med "$TMP/$c" fcntl)"
done
