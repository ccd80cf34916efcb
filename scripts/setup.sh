#!/usr/bin/env bash
# Installs the Debian 12 packages MentorSync builds with. Idempotent: installs only what is
# missing, so it is cheap to run before every build. Needs root (or sudo) when something is
# missing.
set -euo pipefail

# Build tools and libraries. Boost is Debian's 1.74 (libboost-dev), the version
# libmsgpack-cxx-dev depends on; the 1.81 packages conflict with it.
PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  libsqlite3-dev libsodium-dev libmsgpack-cxx-dev libboost-dev
  libssl-dev nlohmann-json3-dev catch2
  python3   # scripts/demo.sh (reads the admin JSON) and the SDK's ctypes test
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "==> setup: all build packages are installed"
  exit 0
fi

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
echo "==> setup: done"
