#!/bin/sh
# SPDX-License-Identifier: MIT
# Pass-through stand-in for bypass-run, to check the e2e harness itself: accepts and ignores
# bypass-run's options (--stats, --stats=FILE), then execs the program natively. It writes no
# stats, so configure with -DBYPASS_E2E_STATS=OFF when using it.
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; break ;;
	--*) shift ;;
	*) break ;;
	esac
done
exec "$@"
