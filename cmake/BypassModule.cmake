# SPDX-License-Identifier: MIT
# bypass_module(NAME SOURCES ... [DEPS ...] [PRIVATE_DEPS ...] [FREESTANDING])
# Declares static library bypass_NAME with alias bypass::NAME: include/ is PUBLIC,
# src/ PRIVATE, warnings are errors.  FREESTANDING code runs with no libc, no TLS and
# no SSE (trampoline bodies, the clone child path, the first guest instructions).
function(bypass_module name)
  cmake_parse_arguments(M "FREESTANDING" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(bypass_${name} STATIC ${M_SOURCES})
  add_library(bypass::${name} ALIAS bypass_${name})
  target_include_directories(bypass_${name}
    PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(bypass_${name} PRIVATE
    $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra -Werror -Wno-unused-parameter>)
  target_compile_definitions(bypass_${name} PRIVATE _GNU_SOURCE)
  if(M_FREESTANDING)
    target_compile_options(bypass_${name} PRIVATE
      $<$<COMPILE_LANGUAGE:C>:-ffreestanding -fno-stack-protector -mgeneral-regs-only -fno-builtin>)
  endif()
  if(BYPASS_SANITIZE AND NOT M_FREESTANDING)
    target_compile_options(bypass_${name} PRIVATE -fsanitize=address,undefined)
    # Whatever links the library needs the sanitizers' run-time libraries too.
    target_link_options(bypass_${name} INTERFACE -fsanitize=address,undefined)
  endif()
  target_link_libraries(bypass_${name} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()
