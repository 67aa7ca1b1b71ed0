#!/bin/sh
# SPDX-License-Identifier: MIT
# bypass-rewrite on dynamic programs and shared libraries, run natively; one case per
# case_<name>() below (CMakeLists.txt registers each as ctest rewrite-offline.dyn.<name>):
#   pie, nopie   the dynprog test program (sites of its own, threads, fork, exec, signal)
#                rewritten, vs the original: plain, with a rewritten libc, and with a
#                rewritten libc and ld.so;
#   system_pie   /bin/ls and /bin/dash rewritten, vs the originals, on a few commands;
#   libc         libc.so.6 rewritten into a private directory: the system's ls and dash run
#                with it through the system ld.so and through a rewritten ld.so (and load
#                it: /proc/self/maps), `ld.so --verify` accepts it;
#   libc_sanity  determinism, readelf -lW/-dW/-n/-SW, eu-elflint, on the rewritten libc;
#   bench        rewrite time (median of 5) and size growth of libc and ld.so, printed.
# usage: dynamic.sh BYPASS_REWRITE DYNPROG_PIE DYNPROG_NOPIE [CASE...] | dynamic.sh --list
# Exit: 0 all passed, 1 some case failed, 2 usage / environment broken, 77 skipped.
# shellcheck disable=SC2317  # case_* functions are called indirectly
set -u

TIMEOUT=20
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "dynamic.sh: $*" >&2; exit 2; }
skip() { echo "SKIP: $*"; exit 77; }
list_cases() { sed -n 's/^case_\([a-z0-9_]*\)() *{.*/\1/p' "$self"; }
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

[ $# -ge 1 ] || die "usage: dynamic.sh BYPASS_REWRITE DYNPROG_PIE DYNPROG_NOPIE [CASE...] | --list"
if [ "$1" = --list ]; then list_cases; exit 0; fi
[ $# -ge 3 ] || die "usage: dynamic.sh BYPASS_REWRITE DYNPROG_PIE DYNPROG_NOPIE [CASE...]"
rw=$(abs "$1") dp_pie=$(abs "$2") dp_nopie=$(abs "$3"); shift 3
[ -x "$rw" ] || die "$rw: not found or not executable (build the bypass-rewrite target)"

# The system's dynamic loader and libc (Debian/Ubuntu multiarch paths, then others).
LDSO=/lib64/ld-linux-x86-64.so.2
LIBC=
for f in /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6 /lib64/libc.so.6 \
	 /usr/lib64/libc.so.6; do
	[ -f "$f" ] && { LIBC=$(readlink -f "$f"); break; }
done
[ -x "$LDSO" ] || skip "$LDSO missing (not an x86-64 glibc system)"
[ -n "$LIBC" ] || skip "no libc.so.6 found"
LS=$(readlink -f "$(command -v ls)") DASH=$(readlink -f "$(command -v dash || echo /bin/dash)")
[ -x "$DASH" ] || skip "dash missing (apt-get install dash)"

work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-rw-dyn.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
LC_ALL=C; export LC_ALL
tmo=$(command -v timeout) || die "timeout(1) not found"

fails=0
case_failed=0
fail() { echo "  FAIL: $*"; case_failed=1; }

# rewrite IN OUT: bypass-rewrite IN OUT, failing the case on error.
rewrite() {
	"$rw" "$1" "$2" 2>"$work/rw.err" || { fail "bypass-rewrite $1: $(cat "$work/rw.err")"; return 1; }
}

# The private library directory: libc.so.6 and ld-linux-x86-64.so.2, rewritten (once).
libdir() {
	d=$work/lib
	if [ ! -f "$d/libc.so.6" ]; then
		mkdir -p "$d" && rewrite "$LIBC" "$d/libc.so.6" &&
			rewrite "$LDSO" "$d/ld-linux-x86-64.so.2" || return 1
	fi
	echo "$d"
}

# A fixture directory with fixed names, sizes and times, for ls.
fixture() {
	f=$work/fixture
	[ -d "$f" ] && { echo "$f"; return; }
	mkdir -p "$f/sub/deeper" && echo hello >"$f/a" && printf 'x%.0s' $(seq 100) >"$f/b" &&
		ln -s a "$f/link" && : >"$f/sub/deeper/empty" && chmod 640 "$f/b" &&
		find "$f" -exec touch -h -d '2020-01-02 03:04:05' {} + || die "fixture failed"
	echo "$f"
}

# same NAME EXPECTED_STDOUT EXPECTED_STATUS CMD...: run CMD, compare its stdout+stderr and
# status with the expected ones.
same() {
	name=$1 want=$2 wantst=$3; shift 3
	got=$("$tmo" "$TIMEOUT" "$@" 2>&1 </dev/null)
	st=$?
	[ "$st" = "$wantst" ] || fail "$name: exit $st, expected $wantst: $(echo "$got" | head -n 3)"
	[ "$got" = "$want" ] && return
	printf '%s\n' "$want" >"$work/want"
	printf '%s\n' "$got" >"$work/got"
	fail "$name: output differs:
$(diff "$work/want" "$work/got" | head -n 10)"
}

# compare NAME ORIG COPY [LAUNCHER...] -- ARGS...: ORIG ARGS run directly vs COPY ARGS run
# through LAUNCHER (nothing: directly).
compare() {
	name=$1 orig=$2 copy=$3; shift 3
	launch=
	while [ "$1" != -- ]; do launch="$launch $1"; shift; done
	shift
	want=$("$tmo" "$TIMEOUT" "$orig" "$@" 2>&1 </dev/null)
	wantst=$?
	# shellcheck disable=SC2086  # $launch is a word list on purpose
	same "$name" "$want" "$wantst" $launch "$copy" "$@"
}

# The dash commands compared (builtins, pipes, fork+exec, a signal, a status).
dash_cmds() {
	cat <<'EOF'
echo $((6 * 7)); for i in 1 2 3; do printf '%s.' $i; done; echo
cd /; pwd; echo a b c | tr ' ' '\n' | sort -r | head -n 2
trap 'echo usr1' USR1; kill -USR1 $$; (exit 7); echo $?
x=$(echo sub); echo "$x"; ls -d / /etc; false || echo or; exit 3
EOF
}

# ---- cases --------------------------------------------------------------------------------

dynprog_case() {
	prog=$1 kind=$2
	[ -x "$prog" ] || { fail "$prog missing (build the rwo_dynprog targets)"; return; }
	rewrite "$prog" prog.rw || return
	"$rw" --dry-run "$prog" x >plan || fail "--dry-run failed"
	grep -q "^$prog: $kind, [1-9][0-9]* syscall sites" plan || fail "plan: $(head -n 1 plan)"
	d=$(libdir) || return
	compare plain "$prog" ./prog.rw --
	compare sys-ldso-rw-libc "$prog" ./prog.rw "$LDSO" --library-path "$d" --
	compare rw-ldso-rw-libc "$prog" ./prog.rw "$d/ld-linux-x86-64.so.2" --library-path "$d" --
}

case_pie() { dynprog_case "$dp_pie" "dynamic pie executable"; }
case_nopie() { dynprog_case "$dp_nopie" "dynamic executable"; }

case_system_pie() {
	f=$(fixture)
	rewrite "$LS" ls.rw && rewrite "$DASH" dash.rw || return
	"$rw" --dry-run "$LS" x | grep -q ": dynamic pie executable, " || fail "ls is not a dynamic pie"
	compare ls-l "$LS" ./ls.rw -- -l "$f"
	compare ls-laR "$LS" ./ls.rw -- -laR --time-style=+%F "$f"
	# an error names argv[0]: run both as ./ls, from two directories
	mkdir o r && ln -s "$LS" o/ls && cp ls.rw r/ls || { fail "setup failed"; return; }
	want=$(cd o && ./ls "$f/nonexistent" 2>&1)
	wantst=$?
	(cd r && same ls-missing "$want" "$wantst" ./ls "$f/nonexistent" && [ "$case_failed" = 0 ]) ||
		case_failed=1
	dash_cmds | while IFS= read -r c; do
		compare "dash -c '$c'" "$DASH" ./dash.rw -- -c "$c"
		[ "$case_failed" = 0 ] || exit 1
	done || case_failed=1
}

case_libc() {
	f=$(fixture)
	d=$(libdir) || return
	for l in "$LDSO" "$d/ld-linux-x86-64.so.2"; do
		compare "$l ls" "$LS" "$LS" "$l" --library-path "$d" -- -laR --time-style=+%F "$f"
		dash_cmds | while IFS= read -r c; do
			compare "$l dash -c '$c'" "$DASH" "$DASH" "$l" --library-path "$d" -- -c "$c"
			[ "$case_failed" = 0 ] || exit 1
		done || case_failed=1
		# the private libc is the one loaded (and ld.so the one running)
		maps=$("$l" --library-path "$d" /bin/cat /proc/self/maps)
		echo "$maps" | grep -q " $d/libc.so.6\$" || fail "$l: $d/libc.so.6 not mapped"
		echo "$maps" | grep '/libc\.so\.6$' | grep -qv " $d/libc.so.6\$" && fail "$l: another libc mapped"
	done
	maps=$("$d/ld-linux-x86-64.so.2" --library-path "$d" /bin/cat /proc/self/maps)
	echo "$maps" | grep -q " $d/ld-linux-x86-64.so.2\$" || fail "the rewritten ld.so is not mapped"
	# the new R+X segment of libc is mapped (ld.so maps first..last PT_LOAD as one span)
	[ "$(echo "$maps" | grep -c "r-xp .* $d/libc.so.6\$")" = 2 ] ||
		fail "libc: expected 2 r-x mappings (code and stubs): $(echo "$maps" | grep libc)"
	"$LDSO" --verify "$d/libc.so.6" || fail "ld.so --verify rejects the rewritten libc"
	"$d/ld-linux-x86-64.so.2" --verify "$d/libc.so.6" || fail "the rewritten ld.so --verify rejects it"
	# libc.so.6 is also a program: it prints its banner
	compare "libc banner" "$LIBC" "$d/libc.so.6" --
}

case_libc_sanity() {
	rewrite "$LIBC" a && rewrite "$LIBC" b || return
	cmp a b || fail "two rewrites of libc differ"
	readelf -lW a >ph 2>ph.err || fail "readelf -lW failed"
	[ ! -s ph.err ] || fail "readelf -lW complains: $(head -n 3 ph.err)"
	readelf -lW "$LIBC" >ph.in
	[ "$(grep -c '^  LOAD' ph)" = "$(($(grep -c '^  LOAD' ph.in) + 1))" ] ||
		fail "not exactly one more LOAD"
	grep '^  LOAD' ph | tail -n 1 | grep -Eq ' R E 0x1000$' ||
		fail "the last LOAD is not the new R E one"
	# every PT_LOAD in ascending address order (ld.so and the kernel rely on it)
	grep '^  LOAD' ph | awk '{ print $3 }' | sort -c 2>/dev/null || fail "LOADs not in address order"
	for t in INTERP DYNAMIC TLS GNU_RELRO GNU_STACK GNU_PROPERTY; do
		[ "$(grep "^  $t " ph.in)" = "$(grep "^  $t " ph)" ] || fail "$t changed"
	done
	# GNU_EH_FRAME: the rebuilt .eh_frame_hdr, inside the new segment
	# shellcheck disable=SC2046  # the fields of the lines
	set -- $(grep '^  GNU_EH_FRAME ' ph) x x x x x
	eh=$(($3)) ehsz=$(($5))
	set -- $(grep '^  LOAD' ph | tail -n 1) x x x x x
	[ "$eh" -ge $(($3)) ] && [ $((eh + ehsz)) -le $(($3 + $5)) ] ||
		fail "GNU_EH_FRAME is not inside the new segment"
	[ "$(grep '^  LOAD' ph.in)" = "$(grep '^  LOAD' ph | sed '$d')" ] || fail "an input LOAD changed"
	# PT_PHDR moved with the table, into the new segment, at offset = address
	# shellcheck disable=SC2046  # the fields of the PHDR line
	set -- $(grep '^  PHDR ' ph) x x x
	if [ "$1" != PHDR ]; then
		fail "no PHDR"
	elif [ "$(($2))" != "$(($3))" ]; then
		fail "PHDR offset $2 != address $3"
	fi
	[ "$(readelf -dW "$LIBC")" = "$(readelf -dW a)" ] || fail "the dynamic section reads differently"
	readelf -nW a >notes 2>&1 || fail "readelf -n failed"
	grep -q 'NT_GNU_BUILD_ID' notes || fail "the build-id note is gone"
	readelf -SW a >sections 2>sections.err || fail "readelf -SW failed"
	[ ! -s sections.err ] || fail "readelf -SW complains: $(head -n 3 sections.err)"
	grep -q ' \.bypass\.sites ' sections && grep -q ' \.bypass\.tramp ' sections ||
		fail "new sections missing"
	if command -v eu-elflint >/dev/null; then
		eu-elflint --gnu-ld "$LIBC" 2>&1 | sed 's/^[^:]*: //' | sort >lint.in
		eu-elflint --gnu-ld a 2>&1 | sed 's/^[^:]*: //' | sort >lint.out
		new=$(comm -13 lint.in lint.out)
		[ -z "$new" ] || fail "new elflint complaints: $(echo "$new" | head -n 3)"
	else
		echo "  (eu-elflint missing: not checked)"
	fi
}

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

case_bench() {
	printf '  %-28s %8s %10s %10s %9s %8s\n' file sites "in bytes" "out bytes" growth "ms (med)"
	for f in "$LIBC" "$LDSO" "$LS"; do
		for _ in 1 2 3 4 5; do
			"$rw" --stats --force "$f" out 2>stats || { fail "rewriting $f: $(cat stats)"; return; }
			sed -n 's/.*; \([0-9.]*\) ms$/\1/p' stats
		done >ms.txt
		re='.*: \([0-9]*\) sites .* \([0-9]*\) -> \([0-9]*\) bytes (\([-+0-9.%]*\)).*'
		# shellcheck disable=SC2046  # sites, sizes and growth, as words
		set -- $(sed -n "s/$re/\\1 \\2 \\3 \\4/p" stats)
		printf '  %-28s %8s %10s %10s %9s %8s\n' "$(basename "$f")" "$1" "$2" "$3" "$4" \
			"$(median <ms.txt)"
	done
}

# ---- driver -------------------------------------------------------------------------------

# shellcheck source=cases.sh
. "$(dirname "$self")/cases.sh"
run_cases "$@"
