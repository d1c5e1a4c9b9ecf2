#!/usr/bin/env bash
# Installs the Debian packages ckpt needs to build and test. Idempotent: when
# every package is installed already it returns at once, without apt-get update.
# Runs apt-get as root, or through sudo when not root.
set -euo pipefail

PACKAGES=(
  cmake
  ninja-build
  g++
  pkg-config
  ccache
  librocksdb-dev
  libzstd-dev
  liburing-dev
  libxxhash-dev
  libboost-program-options-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  nlohmann-json3-dev
  # Not a build dependency: scripts/demo.sh checks `ckpt ls --json` with it.
  python3
)

# A package counts as installed only when dpkg reports "install ok installed"
# (not, for example, "deinstall ok config-files").
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install-deps: missing: ${missing[*]}"

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install-deps: not root and no sudo; install these as root: ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${PACKAGES[@]}"
echo "install-deps: done"
