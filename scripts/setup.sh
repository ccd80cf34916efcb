#!/usr/bin/env bash
# Installs the Debian 12 packages MentorSync builds and tests with, and the browser tests' npm
# dependencies. Idempotent: installs only what is missing, so it is cheap to run before every
# build. Needs root (or sudo) when a Debian package is missing.
#
#   MENTORSYNC_BROWSER_TESTS=0 scripts/setup.sh    skip chromium, node and npm (the "browser"
#                                                  ctest label then fails, saying why)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Build tools and libraries. Boost is Debian's 1.74 (libboost-dev), the version
# libmsgpack-cxx-dev depends on; the 1.81 packages conflict with it.
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libsqlite3-dev libsodium-dev libmsgpack-cxx-dev libboost-dev
  libssl-dev nlohmann-json3-dev catch2
  python3   # scripts/demo.sh (reads the admin JSON) and the SDK's ctypes test
  faketime  # tests/integration/tablet_cli_test.sh runs a tablet with its clock ten years ahead
  clang-14 libclang-rt-14-dev   # the fuzz build: clang with libFuzzer (tests/fuzz)
)

# The dashboard's browser tests (tests/browser): Debian's chromium, driven by playwright-core
# from npm. Node and npm come from Debian unless a node with npm is already on the PATH (e.g.
# from NodeSource, whose nodejs package bundles npm and conflicts with Debian's npm).
BROWSER_TESTS="${MENTORSYNC_BROWSER_TESTS:-1}"
if [ "$BROWSER_TESTS" = "1" ]; then
  PACKAGES+=(chromium)
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    PACKAGES+=(nodejs npm)
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "==> setup: all Debian packages are installed"
else
  echo "==> setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null; then SUDO="sudo"; else
      echo "setup: need root to install packages: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the browser tests, exactly as locked. Reinstalled only when the lock file
# changed since the last install (its hash is kept next to node_modules). playwright-core
# never downloads a browser; the variable guards against a dependency that would.
if [ "$BROWSER_TESTS" = "1" ]; then
  BROWSER_DIR="$ROOT/tests/browser"
  STAMP="$BROWSER_DIR/node_modules/.mentorsync-lock.sha256"
  want="$(sha256sum "$BROWSER_DIR/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    echo "==> setup: browser test npm packages are installed"
  else
    echo "==> setup: npm ci in tests/browser"
    (cd "$BROWSER_DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    echo "$want" >"$STAMP"
  fi
fi
echo "==> setup: done"
