# SPDX-License-Identifier: MIT
# Sourced by cli.sh and dynamic.sh: run_cases runs the case_<name> functions named in its
# arguments (every one without arguments), each in its own directory under $work, prints
# "ok NAME" or "FAIL NAME", and succeeds when all passed.  The script provides die,
# list_cases, work and case_failed.
run_cases() {
	# shellcheck disable=SC2046  # one word per case
	[ $# -gt 0 ] || set -- $(list_cases)
	fails=0
	for c in "$@"; do
		command -v "case_$c" >/dev/null 2>&1 || die "no case $c"
		case_failed=0
		mkdir "$work/$c" && cd "$work/$c" || die "cd failed"
		"case_$c"
		cd "$work" || die "cd failed"
		if [ "$case_failed" = 0 ]; then echo "ok $c"; else echo "FAIL $c"; fails=$((fails + 1)); fi
	done
	[ "$fails" = 0 ]
}
