# SPDX-License-Identifier: MIT
# Finds DPDK through pkg-config libdpdk (Debian: libdpdk-dev).  Defines DPDK::DPDK.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDPDK QUIET IMPORTED_TARGET libdpdk)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(DPDK
  REQUIRED_VARS LIBDPDK_LINK_LIBRARIES
  VERSION_VAR LIBDPDK_VERSION
  FAIL_MESSAGE "DPDK not found: apt-get install libdpdk-dev, or -DBYPASS_WITH_DPDK=OFF")
if(DPDK_FOUND AND NOT TARGET DPDK::DPDK)
  add_library(DPDK::DPDK ALIAS PkgConfig::LIBDPDK)
endif()
