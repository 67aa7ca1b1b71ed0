#!/bin/sh
# SPDX-License-Identifier: MIT
# A deliberately wrong runner: runs the program natively but appends a line to its stdout
# (or, with E2E_LIE=status, changes only its exit status).
# The e2e.harness.* tests run run-diff.sh with it and expect a failure, proving the
# comparison can fail.
while [ $# -gt 0 ]; do
	case $1 in
	--) shift; break ;;
	--*) shift ;;
	*) break ;;
	esac
done
"$@"
st=$?
[ "${E2E_LIE:-}" = status ] && exit $((st + 1))
echo "lying-runner was here"
exit $st
