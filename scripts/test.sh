#!/usr/bin/env bash
# Builds everything and runs the test suite; ends with ctest's summary.
#
#   scripts/test.sh                 fast default: all tests except the "long" label
#   MENTORSYNC_LONG_TESTS=1 scripts/test.sh     also the long runs (>= 1,000 convergence seeds,
#                                               the kill -9 crash loops)
#   MENTORSYNC_SANITIZE=1 scripts/test.sh       the "sanitize" label: the whole suite built with
#                                               ASan + UBSan in build-sanitize/
#   MENTORSYNC_FUZZ=1 scripts/test.sh           the "fuzz" label: the libFuzzer targets built with
#                                               clang in build-fuzz/, each run for
#                                               MENTORSYNC_FUZZ_SECONDS (default 20)
#   BUILD_DIR=... JOBS=...          override the build directory and parallelism
# docs/development.md says what each mode checks and how to replay a failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

SANITIZE=OFF
FUZZ=OFF
DEFAULT_DIR="$ROOT/build"
CONFIG_ARGS=(-DMENTORSYNC_BUILD_TESTS=ON -DMENTORSYNC_BUILD_BENCH=ON -DMENTORSYNC_BUILD_EXAMPLES=ON)
LABEL_ARGS=(-LE long)
if [ "${MENTORSYNC_LONG_TESTS:-0}" = "1" ]; then LABEL_ARGS=(); fi
if [ "${MENTORSYNC_SANITIZE:-0}" = "1" ]; then
  SANITIZE=ON
  DEFAULT_DIR="$ROOT/build-sanitize"
  LABEL_ARGS=(-L sanitize "${LABEL_ARGS[@]}")
  # -O1 -g1 instead of RelWithDebInfo's -O2 -g: the instrumented build is CI's longest pass, its
  # costliest translation unit compiles in under half the time (docs/development.md, "CI"), and
  # line tables are all a sanitizer's stack trace needs.
  CONFIG_ARGS+=("-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
                "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")
  # A leak or undefined behaviour fails the test it happens in, with a stack trace.
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
fi
if [ "${MENTORSYNC_FUZZ:-0}" = "1" ]; then
  FUZZ=ON
  DEFAULT_DIR="$ROOT/build-fuzz"
  CONFIG_ARGS=(-DMENTORSYNC_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14)
  LABEL_ARGS=(-L fuzz)
fi
BUILD_DIR="${BUILD_DIR:-$DEFAULT_DIR}"
JOBS="${JOBS:-$(nproc)}"

echo "==> configure ($BUILD_DIR, sanitizers $SANITIZE, fuzz $FUZZ)"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMENTORSYNC_SANITIZE="$SANITIZE" -DMENTORSYNC_WERROR=ON "${CONFIG_ARGS[@]}" >/dev/null
echo "==> build"
cmake --build "$BUILD_DIR" -j "$JOBS"

echo "==> test"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "${LABEL_ARGS[@]}"
