#!/bin/sh
# SPDX-License-Identifier: MIT
# Self-test of e2e_stats on fixed reports, so a broken checker cannot make the e2e suite pass.
# usage: checker-selftest.sh E2E_STATS FIXTURE_DIR
set -u
c=$1 d=$2 fail=0
expect() { # expect STATUS CMD...
	want=$1; shift
	"$@" >/dev/null 2>&1; got=$?
	if [ "$got" = "$want" ]; then echo "ok: $* -> $got"; else echo "FAIL: $* -> $got, want $want"; fail=1; fi
}
expect_out() { # expect_out TEXT CMD...
	want=$1; shift
	got=$("$@" 2>&1)
	if [ "$got" = "$want" ]; then echo "ok: $* = $got"; else echo "FAIL: $* = '$got', want '$want'"; fail=1; fi
}
expect 0 "$c" validate "$d/good.json" "$d/too-many-traps.json"
expect 1 "$c" validate "$d/inconsistent.json"
expect 1 "$c" validate "$d/missing-key.json"
expect 2 "$c" validate "$d/truncated.json"
expect 2 "$c" validate "$d/does-not-exist.json"
expect 0 "$c" ratio 0.99 "$d/good.json"
expect 1 "$c" ratio 0.99 "$d/too-many-traps.json"
expect 0 "$c" ratio 0.99 "$d/good.json" "$d/good.json" "$d/too-many-traps.json" "$d/good.json"
expect 1 "$c" ratio 0.99 "$d/good.json" "$d/too-many-traps.json"
expect_out 60 "$c" get syscalls.4919 "$d/good.json"
expect_out 0 "$c" get syscalls.1337 "$d/good.json"
expect_out 1000 "$c" get calls.total "$d/good.json"
expect_out 120 "$c" sum syscalls.4919 "$d/good.json" "$d/good.json"
expect 2 "$c" get calls.nothing "$d/good.json"
expect 2 "$c" bogus
exit $fail
