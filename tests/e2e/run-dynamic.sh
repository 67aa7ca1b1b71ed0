#!/bin/sh
# SPDX-License-Identifier: MIT
# One line of dynamic.list as one differential test: the system's dynamic /bin/dash runs it,
#   /bin/dash -c '<line>'  natively  vs  RUNNER [--stats=...] -- /bin/dash -c '<line>'
# so the shell and every program it starts (coreutils, bash, perl, python3, ...) run under
# RUNNER; PATH is the normal /usr/local/bin:/usr/bin:/bin (run-diff.sh), stats summed over all
# processes. A line may start with "[CMD ...] ": programs that a minimal Debian 12 lacks; the
# test SKIPs (exit 77) naming the Debian package when one is not installed. A native stderr
# showing a missing program/library/module fails the test (it would pass in both runs alike).
# usage: run-dynamic.sh RUNNER CHECKER LIST LINENO STATS [--needs CMD=PACKAGE]...
#   STATS: off | valid | ratio=MIN | maxtrap=F   (run-diff.sh --stats)
set -u
[ $# -ge 5 ] || { echo "usage: run-dynamic.sh RUNNER CHECKER LIST LINENO STATS [--needs CMD=PKG]..." >&2; exit 2; }
runner=$1 checker=$2 list=$3 n=$4 stats=$5
shift 5
line=$(sed -n "${n}{p;q}" "$list")
[ -n "$line" ] || { echo "run-dynamic: $list:$n is empty" >&2; exit 2; }
case $line in
"["*"] "*) line=${line#*"] "} ;;
esac
[ -x /bin/dash ] || { echo "run-dynamic: /bin/dash missing (Debian package dash)" >&2; exit 2; }

PATH=/usr/local/bin:/usr/bin:/bin
while [ $# -gt 0 ]; do
	case $1 in
	--needs)
		cmd=${2%%=*} pkg=${2#*=}
		if ! command -v "$cmd" >/dev/null 2>&1; then
			echo "SKIP: dynamic.list:$n needs $cmd (Debian package $pkg), not installed"
			exit 77
		fi
		shift 2 ;;
	*) echo "run-dynamic: unknown option $1" >&2; exit 2 ;;
	esac
done

printf "%s\n" "dynamic.list:$n: $line"
exec "$(dirname "$0")/run-diff.sh" "$runner" --name "dynamic.list:$n" --checker "$checker" \
	--stats "$stats" \
	--native-stderr-forbid ': not found$|command not found|No such file or directory$|error while loading shared libraries|syntax error|Traceback \(most recent call last\)|Can.t locate .* in @INC' \
	-- /bin/dash -c "$line"
