#!/usr/bin/env bash
# Builds everything and runs the test suite; ends with ctest's summary.
#
#   scripts/test.sh                 fast default: all tests except the "long" label
#   MENTORSYNC_LONG_TESTS=1 scripts/test.sh     also the long runs (>= 1,000 convergence seeds)
#   MENTORSYNC_SANITIZE=1 scripts/test.sh       build with ASan+UBSan in build-sanitize/
#   BUILD_DIR=... JOBS=...          override the build directory and parallelism
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/scripts/setup.sh"

SANITIZE=OFF
DEFAULT_DIR="$ROOT/build"
if [ "${MENTORSYNC_SANITIZE:-0}" = "1" ]; then
  SANITIZE=ON
  DEFAULT_DIR="$ROOT/build-sanitize"
fi
BUILD_DIR="${BUILD_DIR:-$DEFAULT_DIR}"
JOBS="${JOBS:-$(nproc)}"

echo "==> configure ($BUILD_DIR, sanitizers $SANITIZE)"
cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DMENTORSYNC_SANITIZE="$SANITIZE" -DMENTORSYNC_WERROR=ON -DMENTORSYNC_BUILD_TESTS=ON \
  -DMENTORSYNC_BUILD_BENCH=ON -DMENTORSYNC_BUILD_EXAMPLES=ON >/dev/null
echo "==> build"
cmake --build "$BUILD_DIR" -j "$JOBS"

LABEL_ARGS=(-LE long)
if [ "${MENTORSYNC_LONG_TESTS:-0}" = "1" ]; then LABEL_ARGS=(); fi
echo "==> test"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" "${LABEL_ARGS[@]}"
