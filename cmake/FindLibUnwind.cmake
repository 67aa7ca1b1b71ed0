# SPDX-License-Identifier: MIT
# Finds libunwind (Debian: libunwind-dev).  Defines LibUnwind::LibUnwind.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUNWIND QUIET IMPORTED_TARGET libunwind)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibUnwind
  REQUIRED_VARS LIBUNWIND_LINK_LIBRARIES
  FAIL_MESSAGE "libunwind not found: apt-get install libunwind-dev")
if(LibUnwind_FOUND AND NOT TARGET LibUnwind::LibUnwind)
  add_library(LibUnwind::LibUnwind ALIAS PkgConfig::LIBUNWIND)
endif()
