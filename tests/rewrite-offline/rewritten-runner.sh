#!/bin/sh
# SPDX-License-Identifier: MIT
# A runner for tests/e2e/run-diff.sh: rewrite PROGRAM with bypass-rewrite (into a cache dir,
# never the current one, which the test compares) and run the rewritten copy natively.
# When PROGRAM is a busybox, PATH becomes a dir of applet symlinks to the rewritten copy, so
# every command a busybox.list line runs is rewritten too.  bypass-run's options before --
# (--stats=FILE) are ignored natively: the native run writes no reports.
# usage: BYPASS_REWRITE=path/to/bypass-rewrite rewritten-runner.sh [OPTIONS] -- PROGRAM [ARGS...]
# Exit: the program's status; 125 when the rewrite itself fails.
set -u
# BYPASS_RUN_UNDER=path/to/bypass-run: run the rewritten copy under it instead, passing it
# these options (the LibOS takes the sites from the copy's note).
opts=
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; break ;;
	--*) opts="$opts $1"; shift ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "rewritten-runner: no PROGRAM" >&2; exit 2; }
rw=${BYPASS_REWRITE:?BYPASS_REWRITE must name the bypass-rewrite program}
prog=$1; shift
case $prog in */*) ;; *) prog=$(command -v "$prog") || exit 127 ;; esac
# The rewritten copy (and its applet links) is kept per input and bypass-rewrite build, made
# aside and renamed into place (atomic under -j), so the program can be exec'd: the stats
# of the run must be under the runner's own pid.
name=$(basename "$prog")
key=$(stat -L -c '%d-%i-%s-%Y' "$prog" "$rw" | tr '\n' '_')
cache=${TMPDIR:-/tmp}/bypass-rw-cache-$(id -u)/$key
if [ ! -x "$cache/bin/$name" ]; then
	mkdir -p "$(dirname "$cache")" || exit 125
	tmp=$(mktemp -d "$(dirname "$cache")/new.XXXXXX") || exit 125
	mkdir "$tmp/bin" && "$rw" "$prog" "$tmp/bin/$name" || {
		rm -rf "$tmp"; echo "rewritten-runner: bypass-rewrite $prog failed" >&2; exit 125; }
	if [ "$name" = busybox ]; then
		for a in $("$tmp/bin/busybox" --list); do
			[ -e "$tmp/bin/$a" ] || ln -s busybox "$tmp/bin/$a" || exit 125
		done
	fi
	mv -T "$tmp" "$cache" 2>/dev/null || rm -rf "$tmp"	# another test made it first
fi
[ "$name" = busybox ] && { PATH=$cache/bin; export PATH; }
if [ -n "${BYPASS_RUN_UNDER:-}" ]; then
	# shellcheck disable=SC2086
	exec "$BYPASS_RUN_UNDER" $opts -- "$cache/bin/$name" "$@"
fi
exec "$cache/bin/$name" "$@"
