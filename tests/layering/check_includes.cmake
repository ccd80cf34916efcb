# layering.includes: the server's folders include only folders below them (docs/source-tree.md):
#   core  <-  coord  <-  http
#                  ^---  cli          (main.cpp, above http and cli, is not checked)
# A file in FOLDER may include "X/..." only for X in FOLDER's allowed list; the engine's public
# headers ("mentorsync/...") and common/ are below every server folder.
# Usage: cmake -DSOURCE_DIR=<repo root> -P check_includes.cmake
cmake_minimum_required(VERSION 3.20)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "pass -DSOURCE_DIR=<repository root>")
endif()

set(allowed_core core)
set(allowed_coord core coord)
set(allowed_http core coord http)
set(allowed_cli core coord cli)
set(server_folders core coord http cli)

set(violations "")
foreach(folder IN LISTS server_folders)
  file(GLOB_RECURSE files "${SOURCE_DIR}/server/src/${folder}/*.h"
       "${SOURCE_DIR}/server/src/${folder}/*.cpp")
  foreach(f IN LISTS files)
    file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include[ \t]*\"[a-z_]+/")
    foreach(line IN LISTS lines)
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([a-z_]+)/.*$" "\\1" target "${line}")
      if(target IN_LIST server_folders AND NOT target IN_LIST allowed_${folder})
        file(RELATIVE_PATH rel "${SOURCE_DIR}" "${f}")
        list(APPEND violations "${rel}: ${folder}/ includes ${target}/ (${line})")
      endif()
    endforeach()
  endforeach()
endforeach()

if(violations)
  list(JOIN violations "\n  " text)
  message(FATAL_ERROR "include(s) against the folder order core <- coord <- {http, cli}:\n  ${text}")
endif()
message(STATUS "layering.includes: no folder includes one above it")
