#!/bin/sh
# SPDX-License-Identifier: MIT
# bypass-run's command-line contract, one case per case_<name>() function below
# (CMakeLists.txt registers each as ctest e2e.cli.<name>):
#   bad input (missing/unreadable/non-executable/corrupt PROGRAM, bad options) ->
#     exit 127 (not found), 126 (cannot execute) or 2 (usage), like a shell;
#     stderr exactly one line "bypass-run: <what>: <why>", stdout empty;
#     never a signal death, never a hang (every run is under `timeout 10`).
#   --help: usage on stdout, exit 0;  --version: one line on stdout, exit 0.
#   PROGRAM without a slash is searched in PATH (miss: 127 "command not found").
#   #! scripts run; PT_INTERP (dynamic) programs: one line, 126.
#
# What the shells report natively for a #! script (execve from dash 0.5.12 and busybox sh;
# bash agrees on the statuses), which the shebang_* cases expect from bypass-run:
#   interpreter does not exist          -> 127  "./s: not found"
#   interpreter not executable (0644)   -> 126  "./s: Permission denied"
#   interpreter is a directory          -> 126  "./s: Permission denied"
# (A non-ELF file without #! is different: a shell's execve gets ENOEXEC and the shell then
# runs the file as a shell script itself.  bypass-run has no shell to fall back on, so its
# contract is 126 for those, as for any other file the kernel would refuse.)
#
# usage: cli.sh BYPASS_RUN [CASE...]     no CASE: every case;  cli.sh --list: case names
# Fixtures are crafted in a fresh temp dir (from /bin/busybox, a static x86-64 program).
# Exit: 0 all passed, 1 some case failed, 2 usage / environment broken.
# shellcheck disable=SC2317  # case_* functions are called indirectly
set -u

BUSYBOX=/bin/busybox
TIMEOUT=10
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

die() { echo "cli.sh: $*" >&2; exit 2; }

list_cases() { sed -n 's/^case_\([a-z0-9_]*\)() *{.*/\1/p' "$self"; }

[ $# -ge 1 ] || die "usage: cli.sh BYPASS_RUN [CASE...] | cli.sh --list"
if [ "$1" = --list ]; then list_cases; exit 0; fi
br=$1; shift
case $br in /*) ;; *) br=$PWD/$br ;; esac
[ -x "$br" ] || die "$br: not found or not executable (build the bypass-run target)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX: not found (needed for the fixtures)"

work=$(mktemp -d "${TMPDIR:-/tmp}/bypass-cli.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
LC_ALL=C; export LC_ALL
PATH=/usr/local/bin:/usr/bin:/bin; export PATH
tmo=$(command -v timeout) || die "timeout(1) not found"
out=$work/stdout err=$work/stderr
fx=$work/fx
mkdir "$fx" || die "mkdir failed"
cd "$work" || die "cd $work failed"

# ---- helpers ------------------------------------------------------------------------------

fails=0
case_failed=0
fail() { echo "  FAIL: $*"; case_failed=1; }

# run [VAR=VALUE...] -- ARGS...: bypass-run ARGS under timeout, stdin /dev/null, in $work.
# Sets $st; stdout in $out, stderr in $err.
run() {
	_env=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do _env="$_env $1"; shift; done
	[ $# -gt 0 ] && shift
	# shellcheck disable=SC2086
	env $_env "$tmo" -k 2 "$TIMEOUT" "$br" "$@" <"/dev/null" >"$out" 2>"$err"
	st=$?
	echo "  \$ ${_env:+${_env# } }bypass-run $*  -> exit $st"
}

prefix() { while IFS= read -r _l || [ -n "$_l" ]; do printf "    | %s\n" "$_l"; done; }

show() {	# the streams, for the log
	if [ -s "$out" ]; then echo "  stdout:"; head -c 2000 "$out" | prefix; fi
	if [ -s "$err" ]; then echo "  stderr:"; head -c 2000 "$err" | prefix; fi
}

check_status() {	# EXPECTED
	if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
		fail "hang: still running after ${TIMEOUT}s (killed by timeout)"
	elif [ "$st" -ge 128 ]; then
		fail "killed by signal $((st - 128)) (exit $st)"
	fi
	[ "$st" -eq "$1" ] || fail "exit status $st, expected $1"
}

# expect_error STATUS [MENTION...]: the bad-input contract; if MENTIONs are given the line
# must contain one of them (fixed strings).
# _form=full: the line must read "bypass-run: <what>: <why>"; _form=prefix (usage errors with
# no operand to name, e.g. a missing PROGRAM): "bypass-run: <message>".
_form=full
expect_error() {
	_want=$1; shift
	check_status "$_want"
	[ -s "$out" ] && fail "stdout not empty"
	_lines=$(wc -l <"$err")
	_bytes=$(wc -c <"$err")
	if [ "$_bytes" -eq 0 ]; then
		fail "stderr empty, expected one line 'bypass-run: <what>: <why>'"
	elif [ "$_lines" -ne 1 ] || [ "$(tail -c 1 "$err" | od -An -c | tr -d ' ')" != '\n' ]; then
		fail "stderr is not exactly one line ($_lines newlines, $_bytes bytes)"
	else
		_line=$(cat "$err")
		case $_form:$_line in
		full:"bypass-run: "?*": "?*) ;;
		prefix:"bypass-run: "?*) ;;
		*:"bypass-run: "*) fail "stderr line not of the form 'bypass-run: <what>: <why>'" ;;
		*) fail "stderr line does not start with 'bypass-run: '" ;;
		esac
		if [ $# -gt 0 ]; then
			_hit=0
			for _m in "$@"; do
				case $_line in *"$_m"*) _hit=1 ;; esac
			done
			[ "$_hit" -eq 1 ] || fail "stderr line mentions none of: $*"
		fi
	fi
}

# expect_ok STATUS STDOUT: a program that ran: exact stdout, empty stderr.
expect_ok() {
	check_status "$1"
	if [ -n "$2" ]; then printf "%s\n" "$2"; fi >"$work/want"
	cmp -s "$work/want" "$out" || fail "stdout differs, expected '$2'"
	[ -s "$err" ] && fail "stderr not empty"
}

# Overwrite bytes of FILE at OFFSET with the printf escapes DATA (in place, no truncation).
patch() {	# FILE OFFSET DATA
	# shellcheck disable=SC2059
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none || die "patch $1 failed"
}

copy_busybox() {	# NAME [MODE]: a fresh copy of busybox in $fx
	cp "$BUSYBOX" "$fx/$1" && chmod "${2:-0755}" "$fx/$1" || die "copy busybox failed"
}

truncated() {	# NAME BYTES
	head -c "$2" "$BUSYBOX" >"$fx/$1" && chmod 0755 "$fx/$1" || die "truncate failed"
}

script() {	# NAME MODE LINE...: a file with one line per LINE
	_f=$fx/$1 _m=$2; shift 2
	printf '%s\n' "$@" >"$_f" && chmod "$_m" "$_f" || die "script $_f failed"
}

# ---- cases: bad input -> exactly one line, 127 / 126 / 2 --------------------------------

case_missing_file() {
	run -- "$fx/no-such-program"
	expect_error 127 no-such-program
}

case_missing_relative() {
	run -- ./no-such-program
	expect_error 127 no-such-program
}

case_notdir() {	# a path component is a regular file: ENOTDIR, "not found" like dash
	run -- "$BUSYBOX/sub"
	expect_error 127 "$BUSYBOX/sub"
}

case_not_in_path() {
	run PATH="$fx" -- no-such-command-xyz
	expect_error 127 no-such-command-xyz
	grep -q '^bypass-run: no-such-command-xyz: command not found$' "$err" ||
		fail "expected 'bypass-run: no-such-command-xyz: command not found'"
}

case_directory() {
	mkdir "$fx/dir"
	run -- "$fx/dir"
	expect_error 126 "$fx/dir"
}

case_noexec() {	# 0644: even root cannot execute a file with no x bit (EACCES)
	copy_busybox bb-0644 0644
	run -- "$fx/bb-0644" true
	expect_error 126 bb-0644
}

case_noexec_in_path() {	# PATH search finds only a 0644 file: 126 like a shell
	copy_busybox bbnx 0644
	run PATH="$fx" -- bbnx true
	expect_error 126 bbnx
}

case_empty_file() {
	: >"$fx/empty" && chmod 0755 "$fx/empty"
	run -- "$fx/empty"
	expect_error 126 empty
}

case_text_file() {
	script text 0755 'echo this is not a program'
	run -- "$fx/text"
	expect_error 126 text
}

case_elf32() {	# a 52-byte ELF32 i386 ET_EXEC header plus one PT_LOAD header
	# e_ident: 7f E L F, class 1 (32), data 1 (LSB), version 1, 9 zero bytes
	printf '\177ELF\001\001\001\000\000\000\000\000\000\000\000\000' >"$fx/elf32"
	# e_type 2, e_machine 3 (EM_386), e_version 1, e_entry 0x08048054, e_phoff 52,
	# e_shoff 0, e_flags 0, e_ehsize 52, e_phentsize 32, e_phnum 1, e_shentsize 40, 0, 0
	printf '\002\000\003\000\001\000\000\000\124\200\004\010\064\000\000\000' >>"$fx/elf32"
	printf '\000\000\000\000\000\000\000\000\064\000\040\000\001\000\050\000\000\000\000\000' \
		>>"$fx/elf32"
	# PT_LOAD: offset 0, vaddr/paddr 0x08048000, filesz/memsz 84, flags R+X, align 0x1000
	printf '\001\000\000\000\000\000\000\000\000\200\004\010\000\200\004\010' >>"$fx/elf32"
	printf '\124\000\000\000\124\000\000\000\005\000\000\000\000\020\000\000' >>"$fx/elf32"
	chmod 0755 "$fx/elf32"
	[ "$(wc -c <"$fx/elf32")" -eq 84 ] || die "elf32 fixture is not 84 bytes"
	run -- "$fx/elf32"
	expect_error 126 elf32
}

case_truncated_64() {	# the ELF header only: program headers past EOF
	truncated trunc64 64
	run -- "$fx/trunc64"
	expect_error 126 trunc64
}

case_truncated_200() {	# part of the program header table
	truncated trunc200 200
	run -- "$fx/trunc200"
	expect_error 126 trunc200
}

case_truncated_100000() {	# headers intact, segments extend past EOF (would SIGBUS if mapped)
	truncated trunc100k 100000
	run -- "$fx/trunc100k"
	expect_error 126 trunc100k
}

case_phoff_past_eof() {	# e_phoff (offset 32) = 0x40000000, far past the end of the file
	copy_busybox phoff
	patch "$fx/phoff" 32 '\000\000\000\100\000\000\000\000'
	run -- "$fx/phoff"
	expect_error 126 phoff
}

case_phoff_overflow() {	# e_phoff = 0xffffffffffffff00: offset + table size wraps around
	copy_busybox phoffwrap
	patch "$fx/phoffwrap" 32 '\000\377\377\377\377\377\377\377'
	run -- "$fx/phoffwrap"
	expect_error 126 phoffwrap
}

case_phnum_ffff() {	# e_phnum (offset 56) = 0xffff (PN_XNUM; the table would be past EOF)
	copy_busybox phnum
	patch "$fx/phnum" 56 '\377\377'
	run -- "$fx/phnum"
	expect_error 126 phnum
}

case_machine_i386() {	# e_machine (offset 18) = EM_386 in a 64-bit file
	copy_busybox em386
	patch "$fx/em386" 18 '\003\000'
	run -- "$fx/em386"
	expect_error 126 em386
}

case_dynamic() {	# PT_INTERP: the program's own ld.so
	run -- /bin/dash -c 'echo dyn-ok'
	expect_ok 0 dyn-ok
}

case_missing_interpreter() {	# PT_INTERP names a file that is not there: 127, as a shell
	# same length as /lib64/ld-linux-x86-64.so.2, so the ELF stays well formed
	sed 's|/lib64/ld-linux-x86-64.so.2|/nonexistent/ld-64bit.so.22|' /bin/true >"$fx/nointerp" ||
		die "cannot build the fixture"
	chmod 755 "$fx/nointerp"
	grep -q /nonexistent/ld-64bit.so.22 "$fx/nointerp" || die "fixture has no PT_INTERP to change"
	run -- "$fx/nointerp"
	expect_error 127 /nonexistent/ld-64bit.so.22
}

case_unknown_option() {
	run -- --bogus "$BUSYBOX" true
	expect_error 2 --bogus
}

case_unknown_option_short() {	# an option-looking PROGRAM without -- is an unknown option
	run -- -x
	expect_error 2 -x
}

case_missing_program() {
	run --
	expect_error 2 PROGRAM
}

case_missing_program_after_dashdash() {
	run -- --
	expect_error 2 PROGRAM
}

case_missing_program_after_option() {
	run -- --stats
	expect_error 2 PROGRAM
}

# ---- cases: networking options (--net, --dpdk, --ip, --gw and BYPASS_*) -------------------

case_net_unknown() {
	run -- --net=bogus "$BUSYBOX" true
	expect_error 2 --net
}

case_net_dpdk_without_ip() {
	run -- --net=dpdk "$BUSYBOX" true
	expect_error 2 --ip
}

case_net_bad_address() {
	run -- --net=dpdk --ip=10.0.0/24 "$BUSYBOX" true
	expect_error 2 --ip
}

case_net_bad_prefix() {
	run -- --net=dpdk --ip=10.0.0.2/33 "$BUSYBOX" true
	expect_error 2 --ip
}

case_net_missing_prefix() {
	run -- --net=dpdk --ip=10.0.0.2 "$BUSYBOX" true
	expect_error 2 --ip
}

case_net_bad_gateway() {
	run -- --net=dpdk --ip=10.0.0.2/24 --gw=10.0.0.300 "$BUSYBOX" true
	expect_error 2 --gw
}

case_net_unbalanced_quotes() {
	run -- --net=dpdk --ip=10.0.0.2/24 "--dpdk=--vdev='net_null0" "$BUSYBOX" true
	expect_error 2 --dpdk
}

case_net_env_bad_address() {	# the environment is checked like the options
	run BYPASS_NET=dpdk BYPASS_IP=not-an-address -- "$BUSYBOX" true
	expect_error 2 --ip
}

case_net_bad_queues() {	# contexts: 1..16
	run BYPASS_NET_QUEUES=0 -- --net=dpdk --ip=10.0.0.2/24 "$BUSYBOX" true
	expect_error 2 BYPASS_NET_QUEUES
}

case_net_bad_watch() {	# the watch period: 0..1000000 us
	run BYPASS_NET_WATCH_US=2s -- --net=dpdk --ip=10.0.0.2/24 "$BUSYBOX" true
	expect_error 2 BYPASS_NET_WATCH_US
}

case_net_env_unknown() {
	run BYPASS_NET=tcp -- "$BUSYBOX" true
	expect_error 2 --net
}

case_net_option_over_env() {	# --net=kernel wins over a bad BYPASS_NET
	run BYPASS_NET=bogus -- --net=kernel "$BUSYBOX" echo kernel-net
	expect_ok 0 kernel-net
}

case_net_kernel() {
	run -- --net=kernel "$BUSYBOX" echo kernel-net
	expect_ok 0 kernel-net
}

case_net_dpdk_no_socket() {	# no socket: DPDK is never started, nothing is printed
	run BYPASS_NET_MODULE=/nonexistent/libbypass-net.so -- --net=dpdk --ip=10.0.0.2/24 \
		"$BUSYBOX" echo no-socket
	expect_ok 0 no-socket
}

case_net_module_missing() {	# DPDK cannot start: one line, ENETDOWN, never a crash
	run BYPASS_NET_MODULE=/nonexistent/libbypass-net.so -- --net=dpdk --ip=10.0.0.2/24 \
		"$BUSYBOX" nc 10.0.0.1 80
	check_status 1
	[ "$(grep -c '^bypass-run: network: ' "$err")" -eq 1 ] ||
		fail "expected one 'bypass-run: network: ...' line on stderr"
	grep -q 'Network is down' "$err" || fail "the program did not see ENETDOWN"
}

case_net_help() {
	run -- --help
	check_status 0
	for o in --net=kernel --dpdk= --ip= --gw= BYPASS_NET BYPASS_DPDK BYPASS_IP BYPASS_GW; do
		grep -q -- "$o" "$out" || fail "--help does not mention $o"
	done
}

# ---- cases: shebang -----------------------------------------------------------------------

case_shebang() {
	script sh-ok 0755 "#!$BUSYBOX sh" "$BUSYBOX"' echo "shebang:$#:$1:$2"'
	run -- "$fx/sh-ok" a 'b c'
	expect_ok 0 'shebang:2:a:b c'
}

case_shebang_status() {	# the script's exit status comes through
	script sh-st 0755 "#!$BUSYBOX sh" 'exit 42'
	run -- "$fx/sh-st"
	expect_ok 42 ''
	: >"$work/empty"
	cmp -s "$work/empty" "$out" || fail "stdout not empty"
}

case_shebang_missing_interp() {	# dash / busybox sh: 127 "not found"
	script sh-noint 0755 '#!/nonexistent/interpreter' 'echo should-not-run'
	run -- "$fx/sh-noint"
	expect_error 127 sh-noint /nonexistent/interpreter
}

case_shebang_interp_noexec() {	# dash / busybox sh: 126 "Permission denied"
	copy_busybox interp-0644 0644
	script sh-nxint 0755 "#!$fx/interp-0644 sh" 'echo should-not-run'
	run -- "$fx/sh-nxint"
	expect_error 126 sh-nxint interp-0644
}

case_shebang_interp_dir() {	# dash / busybox sh: 126 "Permission denied"
	mkdir -p "$fx/idir"
	script sh-dirint 0755 "#!$fx/idir" 'echo should-not-run'
	run -- "$fx/sh-dirint"
	expect_error 126 sh-dirint idir
}

case_shebang_noexec() {	# the script itself is 0644
	script sh-0644 0644 "#!$BUSYBOX sh" 'echo should-not-run'
	run -- "$fx/sh-0644"
	expect_error 126 sh-0644
}

# ---- cases: things that work -------------------------------------------------------------

case_help() {
	run -- --help
	check_status 0
	head -n 1 "$out" | grep -q '^usage: bypass-run ' || fail "stdout does not start with usage"
	[ -s "$err" ] && fail "stderr not empty"
}

case_version() {
	run -- --version
	check_status 0
	[ "$(wc -l <"$out")" -eq 1 ] || fail "stdout is not one line"
	grep -q '^bypass-run [0-9]' "$out" || fail "stdout is not 'bypass-run <version>'"
	[ -s "$err" ] && fail "stderr not empty"
}

case_path_search() {	# busybox found through PATH=/bin
	run PATH=/bin -- busybox echo via-path
	expect_ok 0 via-path
}

case_path_search_status() {
	run PATH=/bin -- busybox sh -c 'exit 3'
	check_status 3
	[ -s "$out" ] && fail "stdout not empty"
	[ -s "$err" ] && fail "stderr not empty"
}

case_path_skips_noexec() {	# a 0644 match earlier in PATH is skipped, as execvp does
	mkdir -p "$fx/p1"
	cp "$BUSYBOX" "$fx/p1/busybox" && chmod 0644 "$fx/p1/busybox"
	run PATH="$fx/p1:/bin" -- busybox echo skipped
	expect_ok 0 skipped
}

case_dashdash_minus_x() {	# -- ends the options: a program named -x, found in PATH
	mkdir -p "$fx/bin"
	script bin/-x 0755 "#!$BUSYBOX sh" 'echo "dash-x:$#:$1"'
	run PATH="$fx/bin" -- -- -x arg
	expect_ok 0 'dash-x:1:arg'
}

# ---- driver -------------------------------------------------------------------------------

all=$(list_cases)
# shellcheck disable=SC2086  # one case name per word
[ $# -gt 0 ] || set -- $all
for c in "$@"; do
	printf "%s\n" "$all" | grep -qx -- "$c" || die "unknown case $c (cli.sh --list)"
done
for c in "$@"; do
	echo "case $c"
	case_failed=0
	_form=full
	"case_$c"
	show
	if [ $case_failed -eq 0 ]; then
		echo "ok $c"
	else
		echo "FAIL $c"
		fails=$((fails + 1))
	fi
done
[ $fails -eq 0 ] || { echo "$fails case(s) failed"; exit 1; }
exit 0
