# SPDX-License-Identifier: MIT
# Dynamic programs (issue 4), included by CMakeLists.txt when BYPASS_E2E_DYNAMIC is ON:
#  - e2e.prog.<name>.dyn for the dynamic-only programs of progs-dyn/ (the dyn builds of progs/
#    are made by CMakeLists.txt's loop), with the suite's shared libraries from libs/;
#  - e2e.dyn.<line>.<word>: one test per dynamic.list line, `/bin/dash -c LINE` natively vs
#    under the runner (run-dynamic.sh).
# Stats: ${E2E_DYN_STATS} (maxtrap=BYPASS_E2E_DYNAMIC_MAX_TRAP, or off).

# Shared libraries: libplugin.so is only ever dlopen'ed (its path is the programs' argv[1]);
# libe2etls.so is linked into e2e_tls_threads_dyn (found through the build tree's RUNPATH).
add_library(e2e_plugin SHARED libs/plugin.c)
set_target_properties(e2e_plugin PROPERTIES OUTPUT_NAME plugin)
add_library(e2e_tlslib SHARED libs/tlslib.c)
set_target_properties(e2e_tlslib PROPERTIES OUTPUT_NAME e2etls)
target_link_libraries(e2e_tlslib PRIVATE Threads::Threads)
foreach(lib e2e_plugin e2e_tlslib)
  target_compile_options(${lib} PRIVATE -O2 -g -Wall -Wextra -Werror)
endforeach()
list(APPEND E2E_TARGETS e2e_plugin e2e_tlslib)

# Dynamic-only programs: name -> extra link libraries / options. Each takes libplugin.so's path.
set(E2E_DYN_PROGS interp dlopen_plugin dlopen_system tls_threads backtrace restart_unwind)
set(E2E_DYN_LIBS_tls_threads e2e_tlslib)
set(E2E_DYN_LINKOPTS_backtrace -rdynamic)
# restart_unwind: its cancellation cleanup runs only through a forced unwind (-fexceptions).
set(E2E_DYN_COPTS_restart_unwind -fexceptions)
set(E2E_DYN_LINKOPTS_restart_unwind -rdynamic)
# Its run-time code (the trap's restart) traps on purpose: the report is validated, not held
# to the trap fraction (as for asmsites and jit).
set(E2E_DYN_STATS_restart_unwind valid)
foreach(prog IN LISTS E2E_DYN_PROGS)
  set(exe e2e_${prog}_dyn)
  add_executable(${exe} progs-dyn/${prog}.c)
  target_include_directories(${exe} PRIVATE ${E2E_DIR}/progs)
  target_compile_options(${exe} PRIVATE -O2 -g -Wall -Wextra -Werror -fPIE ${E2E_DYN_COPTS_${prog}})
  set_target_properties(${exe} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_link_options(${exe} PRIVATE -pie ${E2E_DYN_LINKOPTS_${prog}})
  # dlopen/dladdr are in libc since glibc 2.34; ${CMAKE_DL_LIBS} for older ones.
  target_link_libraries(${exe} PRIVATE Threads::Threads ${CMAKE_DL_LIBS} ${E2E_DYN_LIBS_${prog}})
  add_dependencies(${exe} e2e_plugin)
  list(APPEND E2E_TARGETS ${exe})

  set(stats ${E2E_DYN_STATS})
  if(DEFINED E2E_DYN_STATS_${prog} AND BYPASS_E2E_STATS)
    set(stats ${E2E_DYN_STATS_${prog}})
  endif()
  set(test e2e.prog.${prog}.dyn)
  add_test(NAME ${test}
    COMMAND ${E2E_DIR}/run-diff.sh ${E2E_RUNNER} --name ${test} --expect-status 0
            --checker $<TARGET_FILE:e2e_stats> --stats ${stats}
            -- $<TARGET_FILE:${exe}> $<TARGET_FILE:e2e_plugin>)
  set_tests_properties(${test} PROPERTIES LABELS e2e TIMEOUT ${E2E_TIMEOUT})
endforeach()

# Programs dynamic.list may use beyond a minimal Debian 12 (debootstrap --variant=minbase, the
# "required" packages: dash, bash, coreutils, perl-base, tar, gzip, grep, sed, mawk, findutils,
# diffutils, util-linux, libc-bin, zlib1g), as COMMAND=DEBIAN_PACKAGE. A line that uses one starts
# with "[COMMAND ...] " and SKIPs (77) naming the package where it is missing; CI installs them
# (.ci/deps). A bracketed command not listed here is a configure error.
set(E2E_DYN_OPTIONAL_PROGRAMS python3=python3 sqlite3=sqlite3 xz=xz-utils bzip2=bzip2
  node=nodejs)

set(E2E_DYN_MISSING "")
foreach(pair IN LISTS E2E_DYN_OPTIONAL_PROGRAMS)
  string(REGEX REPLACE "=.*" "" cmd "${pair}")
  string(REGEX REPLACE "^[^=]*=" "" pkg "${pair}")
  set(E2E_DYN_PKG_${cmd} ${pkg})
  find_program(E2E_DYN_HAVE_${cmd} ${cmd} PATHS /usr/local/bin /usr/bin /bin NO_DEFAULT_PATH)
  if(NOT E2E_DYN_HAVE_${cmd})
    list(APPEND E2E_DYN_MISSING ${pkg})
  endif()
endforeach()
if(E2E_DYN_MISSING)
  message(STATUS "e2e dynamic.list: not installed, their lines will SKIP: ${E2E_DYN_MISSING}")
endif()

# dynamic.list: one test per non-comment line, named by its line number and first word.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${E2E_DIR}/dynamic.list)
file(STRINGS ${E2E_DIR}/dynamic.list E2E_DYN_LINES)
set(lineno 0)
foreach(line IN LISTS E2E_DYN_LINES)
  math(EXPR lineno "${lineno} + 1")
  if(line MATCHES "^[ \t]*(#|$)")
    continue()
  endif()
  set(needs "")
  if(line MATCHES "^\\[([^]]*)\\] (.*)$")
    set(body "${CMAKE_MATCH_2}")
    string(REPLACE " " ";" cmds "${CMAKE_MATCH_1}")
    foreach(cmd IN LISTS cmds)
      if(NOT DEFINED E2E_DYN_PKG_${cmd})
        message(FATAL_ERROR "dynamic.list:${lineno}: [${cmd}] is not in E2E_DYN_OPTIONAL_PROGRAMS")
      endif()
      list(APPEND needs --needs ${cmd}=${E2E_DYN_PKG_${cmd}})
    endforeach()
  else()
    set(body "${line}")
  endif()
  string(REGEX MATCH "^[A-Za-z0-9_]+" word "${body}")
  if(NOT word)
    set(word line)
  endif()
  if(lineno LESS 10)
    set(num 00${lineno})
  elseif(lineno LESS 100)
    set(num 0${lineno})
  else()
    set(num ${lineno})
  endif()
  set(test e2e.dyn.${num}.${word})
  add_test(NAME ${test}
    COMMAND ${E2E_DIR}/run-dynamic.sh ${E2E_RUNNER} $<TARGET_FILE:e2e_stats>
            ${E2E_DIR}/dynamic.list ${lineno} ${E2E_DYN_STATS} ${needs})
  set_tests_properties(${test} PROPERTIES LABELS e2e TIMEOUT ${E2E_TIMEOUT} SKIP_RETURN_CODE 77)
endforeach()
# An unbalanced [ or ] in a line would make CMake's list splitting merge lines: numbers shift.
file(READ ${E2E_DIR}/dynamic.list E2E_DYN_TEXT)
string(REGEX MATCHALL "\n" E2E_DYN_NL "${E2E_DYN_TEXT}")
list(LENGTH E2E_DYN_NL E2E_DYN_NLINES)
if(NOT lineno EQUAL E2E_DYN_NLINES)
  message(FATAL_ERROR "dynamic.list: read ${lineno} lines, the file has ${E2E_DYN_NLINES}: "
    "unbalanced [ ] in a line (CMake lists), or no newline at the end")
endif()

# The dynamic.list guard must be able to fail: a program missing natively fails the test instead
# of failing the same way in both runs (and passing).
add_test(NAME e2e.harness.dyn_missing_program_fails
  COMMAND ${E2E_DIR}/run-diff.sh ${E2E_DIR}/native-runner.sh --name missing-program
          --native-stderr-forbid ": not found$"
          -- /bin/dash -c "e2e-no-such-program; echo after")
set_tests_properties(e2e.harness.dyn_missing_program_fails PROPERTIES LABELS e2e
  TIMEOUT ${E2E_TIMEOUT} PASS_REGULAR_EXPRESSION
  "FAIL missing-program: the native run's stderr shows a missing program, library or module")


# Bad input for dynamic programs (ld.so reports it): a missing library and an ELFCLASS32 one
# give the same message and status natively and under the runner.  No RUNPATH in either file.
add_library(e2e_needlib SHARED libs/needlib.c)
set_target_properties(e2e_needlib PROPERTIES OUTPUT_NAME e2eneed SKIP_BUILD_RPATH ON)
target_compile_options(e2e_needlib PRIVATE -O2 -Wall -Wextra -Werror)
add_executable(e2e_needlib_dyn progs-dyn/needlib.c)
target_compile_options(e2e_needlib_dyn PRIVATE -O2 -Wall -Wextra -Werror)
target_link_libraries(e2e_needlib_dyn PRIVATE e2e_needlib)
set_target_properties(e2e_needlib_dyn PROPERTIES SKIP_BUILD_RPATH ON)
list(APPEND E2E_TARGETS e2e_needlib e2e_needlib_dyn)
foreach(case ok missing wrong_class)
  add_test(NAME e2e.dynlib.${case}
    COMMAND ${E2E_DIR}/dynlib-errors.sh ${E2E_RUNNER} $<TARGET_FILE:e2e_needlib_dyn>
            $<TARGET_FILE:e2e_needlib> ${case})
  set_tests_properties(e2e.dynlib.${case} PROPERTIES LABELS e2e TIMEOUT ${E2E_TIMEOUT})
endforeach()
