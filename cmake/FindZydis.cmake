# SPDX-License-Identifier: MIT
# Finds Zydis 4 and Zycore (Debian: libzydis-dev, libzycore-dev).  Defines Zydis::Zydis.
find_path(ZYDIS_INCLUDE_DIR NAMES Zydis/Zydis.h)
find_path(ZYCORE_INCLUDE_DIR NAMES Zycore/Zycore.h)
find_library(ZYDIS_LIBRARY NAMES Zydis)
find_library(ZYCORE_LIBRARY NAMES Zycore)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Zydis
  REQUIRED_VARS ZYDIS_LIBRARY ZYCORE_LIBRARY ZYDIS_INCLUDE_DIR ZYCORE_INCLUDE_DIR
  FAIL_MESSAGE "Zydis not found: apt-get install libzydis-dev libzycore-dev")
if(Zydis_FOUND AND NOT TARGET Zydis::Zydis)
  add_library(Zydis::Zycore UNKNOWN IMPORTED)
  set_target_properties(Zydis::Zycore PROPERTIES
    IMPORTED_LOCATION "${ZYCORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZYCORE_INCLUDE_DIR}")
  add_library(Zydis::Zydis UNKNOWN IMPORTED)
  set_target_properties(Zydis::Zydis PROPERTIES
    IMPORTED_LOCATION "${ZYDIS_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${ZYDIS_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Zydis::Zycore)
endif()
