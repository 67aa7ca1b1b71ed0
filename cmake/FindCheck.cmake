# SPDX-License-Identifier: MIT
# Finds the Check unit test framework (Debian: check).  Defines Check::Check.
find_package(PkgConfig REQUIRED)
pkg_check_modules(CHECK QUIET IMPORTED_TARGET check)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Check
  REQUIRED_VARS CHECK_LINK_LIBRARIES
  FAIL_MESSAGE "Check not found: apt-get install check")
if(Check_FOUND AND NOT TARGET Check::Check)
  add_library(Check::Check ALIAS PkgConfig::CHECK)
endif()
