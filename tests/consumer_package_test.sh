#!/usr/bin/env bash
# Installs a build of ckpt into a temporary prefix, then builds and runs
# examples/consumer out of tree against it:
#   - consumer         (C++, find_package(ckpt CONFIG), ckpt::ckpt = libckpt.so)
#   - consumer-static  (the same source against ckpt::ckpt_static = libckpt.a)
#   - consumer_c       (C, the C API, compiled with `pkg-config --cflags --libs ckpt`)
# Each checkpoints and restores a buffer and exits non-zero on a mismatch.
#
# Usage: consumer_package_test.sh BUILD_DIR SOURCE_DIR [SANITIZERS]
#   SANITIZERS: the build's CKPT_SANITIZE (e.g. address,undefined); the
#   consumers are then built with the same -fsanitize flags, as a sanitized
#   library requires.
set -euo pipefail

BUILD_DIR=$(cd "$1" && pwd)
SOURCE_DIR=$(cd "$2" && pwd)
SANITIZE=${3:-}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-consumer-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PREFIX=$WORK/prefix

step() { echo "--- $*"; }
fail() { echo "consumer_package_test: FAIL: $*" >&2; exit 1; }

step "cmake --install $BUILD_DIR --prefix $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX" >"$WORK/install.log" ||
  { cat "$WORK/install.log"; fail "cmake --install failed"; }

# GNUInstallDirs may choose lib/ or lib/<multiarch>/; find where it went.
LIBDIR=$(dirname "$(find "$PREFIX" -name ckptConfig.cmake -path '*/cmake/ckpt/*')")
LIBDIR=${LIBDIR%/cmake/ckpt}
[[ -n $LIBDIR && -d $LIBDIR ]] || fail "no ckptConfig.cmake installed"
for f in include/ckpt/client.h include/ckpt/store.h include/ckpt/c.h bin/ckpt; do
  [[ -e $PREFIX/$f ]] || fail "not installed: $f"
done
for f in libckpt.so libckpt.a cmake/ckpt/ckptConfigVersion.cmake pkgconfig/ckpt.pc; do
  [[ -e $LIBDIR/$f ]] || fail "not installed: ${LIBDIR#"$PREFIX"/}/$f"
done
SONAME=$(objdump -p "$LIBDIR/libckpt.so" | awk '$1 == "SONAME" { print $2 }')
[[ $SONAME == libckpt.so.* ]] || fail "libckpt.so has soname '$SONAME'"
[[ -e $LIBDIR/$SONAME ]] || fail "soname link $SONAME not installed"
"$PREFIX/bin/ckpt" --version >/dev/null || fail "installed ckpt --version failed"
echo "installed: ${LIBDIR#"$PREFIX"/}/{libckpt.a,libckpt.so -> $SONAME}, bin/ckpt, headers"

FLAGS=""
if [[ -n $SANITIZE ]]; then
  FLAGS="-fsanitize=$SANITIZE -fno-omit-frame-pointer"
fi
LAUNCHER=()
if command -v ccache >/dev/null 2>&1; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

step "configure and build examples/consumer against $PREFIX"
cmake -S "$SOURCE_DIR/examples/consumer" -B "$WORK/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="$FLAGS" \
  "${LAUNCHER[@]}" >"$WORK/configure.log" ||
  { cat "$WORK/configure.log"; fail "configuring the consumer failed"; }
grep -q "ckpt::ckpt_static not defined" "$WORK/configure.log" &&
  { cat "$WORK/configure.log"; fail "ckpt::ckpt_static missing"; }
cmake --build "$WORK/build" || fail "building the consumer failed"
[[ -x $WORK/build/consumer-static ]] || fail "consumer-static was not built"

# The shared build must use the installed libckpt.so, not the build tree's.
# (ldd's output is captured first: `ldd | grep -q` under pipefail fails at
# random when grep exits early and ldd dies of SIGPIPE.)
LOADED=$(ldd "$WORK/build/consumer")
grep -qF "$LIBDIR/libckpt.so" <<<"$LOADED" ||
  { echo "$LOADED"; fail "consumer does not load $LIBDIR/libckpt.so"; }

step "run consumer (shared) and consumer-static"
"$WORK/build/consumer" "$WORK/store-shared"
"$WORK/build/consumer-static" "$WORK/store-static"

step "build examples/consumer/consumer_c.c with pkg-config"
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
pkg-config --exists --print-errors ckpt || fail "pkg-config cannot use ckpt.pc"
STATIC_LIBS=$(pkg-config --static --libs ckpt)
for lib in -lckpt -lrocksdb -lzstd -luring -lxxhash -lstdc++; do
  [[ " $STATIC_LIBS " == *" $lib "* ]] || fail "pkg-config --static --libs ckpt lacks $lib: $STATIC_LIBS"
done
# shellcheck disable=SC2046,SC2086  # pkg-config output is a list of words
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $FLAGS \
  "$SOURCE_DIR/examples/consumer/consumer_c.c" -o "$WORK/consumer_c" \
  $(pkg-config --cflags --libs ckpt) -Wl,-rpath,"$LIBDIR" || fail "building consumer_c failed"
"$WORK/consumer_c" "$WORK/store-c"

# The Python package, when the build has it (python/CMakeLists.txt): the
# installed copy imports from its site-packages directory and round-trips a
# buffer (numpy when the interpreter has it, else a skip line).
PYPKG=$(find "$PREFIX" -path '*-packages/ckpt/__init__.py' -print -quit)
if [[ -n $PYPKG ]]; then
  step "import the installed Python package"
  SITE=$(dirname "$(dirname "$PYPKG")")
  (cd "$WORK" && PYTHONPATH=$SITE /usr/bin/python3 - "$WORK/store-py" <<'PY') || fail "the installed Python package does not work"
import sys
import ckpt
assert ckpt.__file__.startswith(sys.path[0]) or "-packages" in ckpt.__file__, ckpt.__file__
try:
    import numpy as np
except ImportError:
    print("numpy missing: import checked only")
    sys.exit(0)
a = np.arange(1000, dtype=np.float32)
with ckpt.Client(store=sys.argv[1], job="py") as c:
    c.protect("a", a)
    c.checkpoint(1).wait_durable()
    a[:] = 0
    assert c.restore() == 1 and np.array_equal(a, np.arange(1000, dtype=np.float32))
print("installed ckpt Python package:", ckpt.__file__)
PY
fi

echo "consumer_package_test: PASS (shared, static and C consumers against the installed package)"
