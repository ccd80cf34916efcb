#!/usr/bin/env bash
# The MentorSync demo: installs what the build needs (Debian 12), builds the engine demo and runs
# it with a fresh data directory. Works from the repository root or any other directory, and can
# be run again and again.
#
#   scripts/demo.sh
#
# The build goes to build/ in the repository, the demo's replica files to build/demo-data/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"
DATA="$BUILD/demo-data"

# Prints its own "==> setup: ..." lines.
"$ROOT/scripts/setup.sh"

echo "==> configure ($BUILD)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

echo "==> build the engine demo"
cmake --build "$BUILD" --target mentorsync-engine-demo

echo "==> run the demo with a fresh data directory ($DATA)"
rm -rf "$DATA"
mkdir -p "$DATA"
echo
"$BUILD/examples/mentorsync-engine-demo" "$DATA"
