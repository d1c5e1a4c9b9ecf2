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
  # ckpt-bench policy reads the xz-compressed failure traces.
  liblzma-dev
  # libFuzzer targets (scripts/fuzz.sh): clang with its runtime libraries.
  clang
  libclang-rt-14-dev
  # Not a build dependency: scripts/demo.sh checks `ckpt ls --json` with it.
  python3
  # The Python package (python/, optional at configure time): pybind11 and the
  # interpreter's headers to build it; torch and pytest for its tests
  # (ctest python.pytest) and examples/pytorch_train.py.
  python3-dev
  pybind11-dev
  python3-pybind11
  python3-torch
  python3-pytest
)

# Optional: numpy and safetensors for the check of `ckpt export --format
# safetensors` (tests/python/test_export_safetensors.py). Debian 12 does not
# package safetensors, so both come from PyPI, for the python3 first on PATH
# (the one the tests run). Best effort: where pip cannot install them (no
# network, or a Debian python3 that refuses pip as "externally managed") that
# test reports SKIPPED and nothing else changes.
python_test_packages() {
  if python3 -c 'import numpy, safetensors.numpy' 2>/dev/null; then
    echo "install-deps: python3 has numpy and safetensors"
  elif timeout 300 python3 -m pip install --quiet --disable-pip-version-check \
         safetensors numpy; then
    echo "install-deps: installed safetensors and numpy from PyPI for $(command -v python3)"
  else
    echo "install-deps: could not pip install safetensors numpy for $(command -v python3);" \
         "the safetensors export check will be skipped" >&2
  fi
}

# A package counts as installed only when dpkg reports "install ok installed"
# (not, for example, "deinstall ok config-files").
missing=()
for pkg in "${PACKAGES[@]}"; do
  # dpkg's output is captured first: under pipefail, `dpkg | grep -q` can
  # fail when grep stops reading early and dpkg gets SIGPIPE.
  status=$(dpkg -s "$pkg" 2>/dev/null || true)
  if ! grep -q '^Status: install ok installed$' <<<"$status"; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  python_test_packages
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
python_test_packages
echo "install-deps: done"
