#!/bin/sh
# SPDX-License-Identifier: MIT
# A runner for tests/e2e/run-diff.sh: rewrite PROGRAM with bypass-rewrite (into a temp dir,
# never the current one, which the test compares) and run the rewritten copy natively.
# When PROGRAM is a busybox, PATH becomes a dir of applet symlinks to the rewritten copy, so
# every command a busybox.list line runs is rewritten too.  bypass-run's options before --
# (--stats=FILE) are accepted and ignored: the native run writes no reports.
# usage: BYPASS_REWRITE=path/to/bypass-rewrite rewritten-runner.sh [OPTIONS] -- PROGRAM [ARGS...]
# Exit: the program's status; 125 when the rewrite itself fails.
set -u
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; break ;;
	--*) shift ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "rewritten-runner: no PROGRAM" >&2; exit 2; }
rw=${BYPASS_REWRITE:?BYPASS_REWRITE must name the bypass-rewrite program}
prog=$1; shift
case $prog in */*) ;; *) prog=$(command -v "$prog") || exit 127 ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bypass-rw-run.XXXXXX") || exit 125
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$prog")
mkdir "$tmp/bin" && "$rw" "$prog" "$tmp/bin/$name" || {
	echo "rewritten-runner: bypass-rewrite $prog failed" >&2; exit 125; }
if [ "$name" = busybox ]; then
	for a in $("$tmp/bin/busybox" --list); do
		[ -e "$tmp/bin/$a" ] || ln -s busybox "$tmp/bin/$a" || exit 125
	done
	PATH=$tmp/bin; export PATH
fi
"$tmp/bin/$name" "$@"
