#!/bin/sh
# SPDX-License-Identifier: MIT
# One line of busybox.list as one differential test:
#   /bin/busybox sh -c '<line>'  natively and under RUNNER, with the trap ratio checked.
# Both runs get PATH=<dir of busybox applet symlinks> only (run-diff.sh --applets), so every
# command the line runs is busybox, never a (dynamic) /usr/bin program or /bin/sh.
# usage: run-busybox.sh RUNNER CHECKER LIST LINENO [STATS]   (STATS default ratio=0.99)
set -u
[ $# -ge 4 ] || { echo "usage: run-busybox.sh RUNNER CHECKER LIST LINENO [STATS]" >&2; exit 2; }
runner=$1 checker=$2 list=$3 n=$4 stats=${5:-ratio=0.99}
line=$(sed -n "${n}{p;q}" "$list")
[ -n "$line" ] || { echo "run-busybox: $list:$n is empty" >&2; exit 2; }
printf "%s\n" "busybox.list:$n: $line"
exec "$(dirname "$0")/run-diff.sh" "$runner" --name "busybox.list:$n" --checker "$checker" \
	--stats "$stats" --applets /bin/busybox -- /bin/busybox sh -c "$line"
