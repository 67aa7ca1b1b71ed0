#!/bin/sh
# SPDX-License-Identifier: MIT
# bypass-rewrite's command-line contract and output file, one case per case_<name>()
# function below (CMakeLists.txt registers each as ctest rewrite-offline.cli.<name>):
#   bad input (not ELF, truncated, 32-bit, other machine, already rewritten, missing) or
#   output (exists without --force, directory missing) -> exit 1 and exactly one stderr
#   line "bypass-rewrite: <what>: <why>", and no OUTPUT or OUTPUT.tmp;
#   usage errors -> 2;  --help, --version -> 0;  --dry-run writes nothing;
#   dynamic programs and shared libraries are accepted (dynamic.sh runs them); the output
#   is deterministic, readelf and objdump read it, its sites jump into the new segment,
#   and the rewritten busybox runs.
# usage: cli.sh BYPASS_REWRITE [CASE...]     no CASE: every case;  cli.sh --list: case names
# Exit: 0 all passed, 1 some case failed, 2 usage / environment broken, 77 skipped.
# shellcheck disable=SC2317  # case_* functions are called indirectly
set -u

BUSYBOX=/bin/busybox
TIMEOUT=20
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "cli.sh: $*" >&2; exit 2; }
list_cases() { sed -n 's/^case_\([a-z0-9_]*\)() *{.*/\1/p' "$self"; }

[ $# -ge 1 ] || die "usage: cli.sh BYPASS_REWRITE [CASE...] | cli.sh --list"
if [ "$1" = --list ]; then list_cases; exit 0; fi
rw=$1; shift
case $rw in /*) ;; *) rw=$PWD/$rw ;; esac
[ -x "$rw" ] || die "$rw: not found or not executable (build the bypass-rewrite target)"
[ -x "$BUSYBOX" ] || { echo "SKIP: $BUSYBOX missing (apt-get install busybox-static)"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-rw-cli.XXXXXX") || die "mktemp failed"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
LC_ALL=C; export LC_ALL
tmo=$(command -v timeout) || die "timeout(1) not found"
out=$work/stdout err=$work/stderr
cd "$work" || die "cd $work failed"

fails=0
case_failed=0
fail() { echo "  FAIL: $*"; case_failed=1; }

# run ARGS...: bypass-rewrite ARGS under timeout, stdin /dev/null.  Sets $st.
run() {
	"$tmo" "$TIMEOUT" "$rw" "$@" </dev/null >"$out" 2>"$err"
	st=$?
}

# expect_error STATUS REGEX OUTPUT: the last run failed with STATUS, one stderr line
# matching "bypass-rewrite: REGEX", nothing on stdout, and OUTPUT (and OUTPUT.tmp) absent.
expect_error() {
	[ "$st" = "$1" ] || fail "exit $st, expected $1"
	[ "$(wc -l <"$err")" = 1 ] || fail "stderr has $(wc -l <"$err") lines, expected 1: $(head -c 300 "$err")"
	grep -Eq "^bypass-rewrite: $2" "$err" || fail "stderr '$(head -n 1 "$err")' does not match '$2'"
	[ ! -s "$out" ] || fail "stdout not empty: $(head -c 200 "$out")"
	if [ -n "${3:-}" ]; then
		[ ! -e "$3" ] || fail "$3 was written"
		[ ! -e "$3.tmp" ] || fail "$3.tmp was left behind"
	fi
}

# A copy of busybox with byte OFFSET set to the octal escape VALUE.
poke() {
	cp "$BUSYBOX" "$1" && printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

rewritten() {
	[ -f "$work/bb.rw" ] || "$rw" "$BUSYBOX" "$work/bb.rw" || die "rewriting $BUSYBOX failed"
	echo "$work/bb.rw"
}

# ---- cases --------------------------------------------------------------------------------

case_help() {
	run --help
	[ "$st" = 0 ] || fail "exit $st"
	grep -q '^usage: bypass-rewrite' "$out" || fail "no usage on stdout"
}

case_version() {
	run --version
	[ "$st" = 0 ] && grep -Eq '^bypass-rewrite [0-9]+\.[0-9]+' "$out" || fail "exit $st, '$(cat "$out")'"
}

case_usage() {
	run; [ "$st" = 2 ] || fail "no operands: exit $st"
	run "$BUSYBOX"; [ "$st" = 2 ] || fail "one operand: exit $st"
	run "$BUSYBOX" a b; [ "$st" = 2 ] || fail "three operands: exit $st"
	run --bogus "$BUSYBOX" o; expect_error 2 "--bogus: unknown option" o
}

case_not_elf() {
	echo 'not an elf' >text
	run text o; expect_error 1 "text: not an ELF file" o
}

case_truncated() {
	head -c 40 "$BUSYBOX" >trunc
	run trunc o; expect_error 1 "trunc: truncated ELF header" o
	head -c 4096 "$BUSYBOX" >trunc2
	run trunc2 o; expect_error 1 "trunc2: a loadable segment lies outside the file" o
}

case_machine() {
	poke arm 18 '\267\000'		# e_machine = EM_AARCH64
	run arm o; expect_error 1 "arm: unsupported machine" o
	poke elf32 4 '\001'		# EI_CLASS = ELFCLASS32
	run elf32 o; expect_error 1 "elf32: 32-bit ELF is not supported" o
}

case_missing_input() {
	run nonexistent o; expect_error 1 "nonexistent: No such file or directory" o
	mkdir d
	run d o; expect_error 1 "d: is a directory" o
}

case_dynamic() {	# accepted since dynamic support: the plan names the kind
	dyn=$(readlink -f "$(command -v ls)")
	run --dry-run "$dyn" o
	[ "$st" = 0 ] || fail "$dyn: exit $st: $(cat "$err")"
	grep -q ": dynamic pie executable, [0-9]* syscall sites" "$out" || fail "ls: $(head -n 1 "$out")"
	lib=$(ls /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6 2>/dev/null | head -n 1)
	if [ -n "$lib" ]; then
		run --dry-run "$lib" o
		[ "$st" = 0 ] || fail "$lib: exit $st: $(cat "$err")"
		grep -q ": shared library, [1-9][0-9]* syscall sites" "$out" || fail "libc: $(head -n 1 "$out")"
		run "$lib" o
		[ "$st" = 0 ] && [ -f o ] || fail "$lib: exit $st: $(cat "$err")"
		run o o2; expect_error 1 "o: already rewritten by bypass-rewrite" o2
	fi
	[ ! -e o.tmp ] || fail "o.tmp left behind"
}

case_already_rewritten() {
	bb=$(rewritten)
	run "$bb" o; expect_error 1 ".*: already rewritten by bypass-rewrite" o
}

case_output_exists() {
	echo keep >o
	run "$BUSYBOX" o; expect_error 1 "o: exists \\(use --force to replace it\\)"
	[ "$(cat o)" = keep ] || fail "o was changed without --force"
	run --force "$BUSYBOX" o
	[ "$st" = 0 ] || fail "--force: exit $st: $(cat "$err")"
	cmp -s o "$(rewritten)" || fail "--force did not write the rewritten file"
	[ ! -e o.tmp ] || fail "o.tmp left behind"
	[ -x o ] || fail "o is not executable"
}

case_output_unwritable() {
	run "$BUSYBOX" nodir/o; expect_error 1 "nodir/o: No such file or directory" nodir/o
	mkdir ro && chmod 555 ro
	if [ "$(id -u)" != 0 ]; then
		run "$BUSYBOX" ro/o; expect_error 1 "ro/o: Permission denied" ro/o
	fi
	run "$BUSYBOX" /proc/o; expect_error 1 "/proc/o: " /proc/o
}

case_dry_run() {
	run --dry-run "$BUSYBOX" o
	[ "$st" = 0 ] || fail "exit $st: $(cat "$err")"
	[ ! -e o ] && [ ! -e o.tmp ] || fail "--dry-run wrote a file"
	grep -q "static executable, [0-9]* syscall sites" "$out" || fail "no site count: $(head -n 1 "$out")"
	grep -Eq '^  \.text +[0-9]+ +[0-9]+ +[0-9]+$' "$out" || fail "no .text line"
	grep -Eq '^  total +[0-9]+ +[0-9]+ +[0-9]+$' "$out" || fail "no total line"
	grep -Eq '^  unwind info: .eh_frame rebuilt, [1-9][0-9]* FDEs for the stubs' "$out" ||
		fail "no unwind line: $(grep unwind "$out")"
}

case_stats() {
	run --stats "$BUSYBOX" o
	[ "$st" = 0 ] || fail "exit $st"
	grep -Eq "^bypass-rewrite: .*: [0-9]+ sites \\(displace [0-9]+, island [0-9]+, trap [0-9]+\\)" "$err" ||
		fail "no stats line: $(cat "$err")"
}

case_deterministic() {
	"$rw" "$BUSYBOX" a && "$rw" "$BUSYBOX" b || { fail "rewrite failed"; return; }
	cmp a b || fail "two rewrites differ"
	cmp -s a "$BUSYBOX" && fail "the output equals the input"
}

case_readelf() {
	bb=$(rewritten)
	readelf -lW "$bb" >ph 2>ph.err || fail "readelf -lW failed"
	[ ! -s ph.err ] || fail "readelf -lW complains: $(head -n 3 ph.err)"
	grep -Eq '^  LOAD .* R E 0x1000$' ph || fail "no R E LOAD"
	[ "$(grep -c '^  LOAD' ph)" = "$(($(readelf -lW "$BUSYBOX" | grep -c '^  LOAD') + 1))" ] ||
		fail "not exactly one more LOAD"
	readelf -SW "$bb" >sh 2>sh.err || fail "readelf -SW failed"
	[ ! -s sh.err ] || fail "readelf -SW complains: $(head -n 3 sh.err)"
	grep -q ' \.bypass\.sites  *PROGBITS .* A ' sh && grep -q ' \.bypass\.tramp ' sh ||
		fail "new sections missing"
	# the sites record sits right after the program header table (offline.h)
	phoff=$(readelf -hW "$bb" | sed -n 's/.*Start of program headers: *\([0-9]*\).*/\1/p')
	phnum=$(readelf -hW "$bb" | sed -n 's/.*Number of program headers: *\([0-9]*\).*/\1/p')
	off=$(sed -n 's/.* \.bypass\.sites *PROGBITS *[0-9a-f]* \([0-9a-f]*\) .*/\1/p' sh)
	[ -n "$off" ] && [ "$((0x$off))" = "$((phoff + 56 * phnum))" ] ||
		fail ".bypass.sites at offset 0x$off, not after the program headers ($phoff + 56 * $phnum)"
	[ "$(grep -c '^  NOTE' ph)" = "$(readelf -lW "$BUSYBOX" | grep -c '^  NOTE')" ] ||
		fail "a NOTE was added (elflint would report it)"
}

case_elflint() {	# eu-elflint --gnu-ld: no complaint the input does not have
	command -v eu-elflint >/dev/null || { echo "SKIP: eu-elflint missing (apt-get install elfutils)"; exit 77; }
	bb=$(rewritten)
	eu-elflint --gnu-ld "$BUSYBOX" 2>&1 | sed 's/^[^:]*: //' | sort >lint.in
	eu-elflint --gnu-ld "$bb" 2>&1 | sed 's/^[^:]*: //' | sort >lint.out
	new=$(comm -13 lint.in lint.out)
	[ -z "$new" ] || fail "new elflint complaints: $(echo "$new" | head -n 3)"
}

case_objdump_jumps() {
	bb=$(rewritten)
	# [lo, hi) of .bypass.tramp from readelf, then count jmp rel32 into it from .text
	set -- $(readelf -SW "$bb" | sed -n 's/.* \.bypass\.tramp *PROGBITS *\([0-9a-f]*\) [0-9a-f]* \([0-9a-f]*\) .*/\1 \2/p')
	[ $# = 2 ] || { fail "no .bypass.tramp in readelf -SW"; return; }
	lo=$((0x$1)) hi=$((0x$1 + 0x$2))
	objdump -d -j .text "$bb" >dis 2>dis.err || fail "objdump -d failed"
	n=$(awk -v lo="$lo" -v hi="$hi" '$0 ~ /\tjmp +(0x)?[0-9a-f]+/ {
		for (i = 1; i <= NF; i++) if ($i == "jmp") { t = $(i + 1); sub(/^0x/, "", t)
			v = 0; for (k = 1; k <= length(t); k++) v = v * 16 + index("0123456789abcdef", substr(t, k, 1)) - 1
			if (v >= lo && v < hi) c++ } } END { print c + 0 }' dis)
	sites=$("$rw" --dry-run "$BUSYBOX" x | sed -n 's/^  total *\([0-9]*\) *\([0-9]*\) .*/\1 \2/p')
	set -- $sites
	[ "$n" = "$(($1 + $2))" ] || fail "$n jumps into .bypass.tramp, expected $(($1 + $2)) (displace + island)"
	[ "$n" -gt 200 ] || fail "only $n patched sites"
}

case_runs() {
	bb=$(rewritten)
	mkdir bin && ln -s "$bb" bin/busybox && ln -s "$bb" bin/sh && ln -s "$bb" bin/echo
	got=$("$tmo" "$TIMEOUT" bin/busybox sh -c 'echo hi; trap "echo usr1" USR1; kill -USR1 $$; (exit 7); echo $?' 2>&1)
	[ "$got" = "$(printf 'hi\nusr1\n7')" ] || fail "rewritten busybox printed '$got'"
}

# ---- driver -------------------------------------------------------------------------------

# shellcheck source=cases.sh
. "$(dirname "$self")/cases.sh"
run_cases "$@"
