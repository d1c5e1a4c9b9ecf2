#!/usr/bin/env python3
"""`ckpt export --format safetensors` checked with the safetensors package.

Writes checkpoints with regions of every element type through the C API
(ctypes over libckpt.so: the path an FFI user takes), exports them with the
built `ckpt` tool, restores them with `ckpt restore`, and checks that

  - safetensors.numpy.load_file loads the export, every tensor has the
    region's dtype and shape (the one recorded by ckpt_client_protect_shaped:
    2-D, 3-D and scalar regions; [bytes / element size] for regions protected
    without one), and equals both the restored region file and the array
    that was checkpointed;
  - BF16 (which numpy lacks) comes back byte-identical through
    safetensors.deserialize / safe_open;
  - __metadata__ names job and step.

Usage: test_export_safetensors.py BIN_DIR LIBCKPT_SO [SANITIZERS]
Exits 77 (ctest: skipped) when numpy or safetensors is not installed (pip
install safetensors numpy), or for a sanitizer build, whose libckpt.so cannot
be loaded into an uninstrumented python3.
"""

import ctypes
import json
import os
import subprocess
import sys
import tempfile

SKIP = 77


def skip(reason):
    print(f"SKIPPED: {reason}")
    sys.exit(SKIP)


if len(sys.argv) < 3:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
BIN_DIR, LIBCKPT = sys.argv[1], sys.argv[2]
SANITIZE = sys.argv[3] if len(sys.argv) > 3 else ""
if SANITIZE:
    skip(f"libckpt.so is built with -fsanitize={SANITIZE}; the release build runs this test")
try:
    import numpy as np
    import safetensors
    import safetensors.numpy
except ImportError as e:
    skip(f"{e.name} is not installed (pip install safetensors numpy)")

CKPT = os.path.join(BIN_DIR, "ckpt")
CHUNK = 64 << 10

# CKPT_TYPE_* (ckpt/c.h) -> (safetensors dtype, numpy dtype for building data)
TYPES = {
    "bytes": (0, "U8", np.uint8),
    "i8": (1, "I8", np.int8),
    "u8": (2, "U8", np.uint8),
    "i16": (3, "I16", np.int16),
    "u16": (4, "U16", np.uint16),
    "i32": (5, "I32", np.int32),
    "u32": (6, "U32", np.uint32),
    "i64": (7, "I64", np.int64),
    "u64": (8, "U64", np.uint64),
    "f16": (9, "F16", np.float16),
    "bf16": (10, "BF16", np.uint16),  # raw bit patterns: numpy has no bfloat16
    "f32": (11, "F32", np.float32),
    "f64": (12, "F64", np.float64),
}


class CApi:
    """The few C API functions the test needs, through ctypes."""

    def __init__(self, path):
        lib = ctypes.CDLL(path)
        vp, cp, u64, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint64, ctypes.c_size_t
        err = ctypes.POINTER(ctypes.c_void_p)
        sigs = {
            "ckpt_free": (None, [vp]),
            "ckpt_options_create": (vp, []),
            "ckpt_options_destroy": (None, [vp]),
            "ckpt_options_set_store_dir": (None, [vp, cp]),
            "ckpt_options_set_job": (None, [vp, cp]),
            "ckpt_options_set_chunk_bytes": (None, [vp, sz]),
            "ckpt_options_set_staging_bytes": (None, [vp, sz]),
            "ckpt_client_open": (vp, [vp, err]),
            "ckpt_client_close": (None, [vp]),
            "ckpt_client_protect": (None, [vp, cp, vp, sz, ctypes.c_int, err]),
            "ckpt_client_protect_shaped": (None, [vp, cp, vp, sz, ctypes.c_int,
                                                  ctypes.POINTER(u64), sz, err]),
            "ckpt_client_checkpoint": (vp, [vp, u64, err]),
            "ckpt_client_flush": (None, [vp, err]),
            "ckpt_ticket_wait_durable": (None, [vp, err]),
            "ckpt_ticket_destroy": (None, [vp]),
        }
        for name, (res, args) in sigs.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
        self.lib = lib

    def call(self, name, *args):
        """Calls a function taking errptr last; raises on an error."""
        errptr = ctypes.c_void_p()
        result = getattr(self.lib, name)(*args, ctypes.byref(errptr))
        if errptr.value:
            message = ctypes.string_at(errptr.value).decode()
            self.lib.ckpt_free(errptr)
            raise RuntimeError(f"{name}: {message}")
        return result


def make_arrays(names, seed):
    rng = np.random.default_rng(seed)
    arrays = {}
    for i, name in enumerate(names):
        type_name = name.split("/")[-1]
        np_type = TYPES[type_name][2]
        # Sizes from a fraction of a chunk to several chunks.
        nbytes = [3 * CHUNK + 4096, CHUNK // 2, 1000 * 8, 2 * CHUNK, 24][i % 5]
        count = nbytes // np.dtype(np_type).itemsize
        if np.issubdtype(np_type, np.floating):
            data = rng.normal(0.0, 0.02, count).astype(np_type)
        else:
            info = np.iinfo(np_type)
            data = rng.integers(info.min, info.max, count, dtype=np_type, endpoint=True)
        # Recorded shapes: 2-D, 1-D and 3-D; the others are protected
        # without one and must come out one-dimensional.
        shape = [(-1, 16), None, (2, -1, 2), (1, -1), None][i % 5]
        arrays[name] = data.reshape(shape) if shape else data
        if shape:
            SHAPED.add(name)
    return arrays


SHAPED = set()  # names of the regions protected with their shape


def checkpoint(api, store, job, arrays, steps):
    """Protects `arrays`, checkpoints each step (changing data in between)."""
    opt = api.lib.ckpt_options_create()
    api.lib.ckpt_options_set_store_dir(opt, store.encode())
    api.lib.ckpt_options_set_job(opt, job.encode())
    api.lib.ckpt_options_set_chunk_bytes(opt, CHUNK)
    api.lib.ckpt_options_set_staging_bytes(opt, 8 * CHUNK)
    client = api.call("ckpt_client_open", opt)
    api.lib.ckpt_options_destroy(opt)
    snapshots = {}
    try:
        for name, a in arrays.items():
            type_code = TYPES[name.split("/")[-1]][0]
            if name in SHAPED:
                dims = (ctypes.c_uint64 * max(a.ndim, 1))(*a.shape)
                api.call("ckpt_client_protect_shaped", client, name.encode(), a.ctypes.data,
                         a.nbytes, type_code, dims, a.ndim)
            else:
                api.call("ckpt_client_protect", client, name.encode(), a.ctypes.data, a.nbytes,
                         type_code)
        for i, step in enumerate(steps):
            if i > 0:
                for a in arrays.values():
                    a.reshape(-1).view(np.uint8)[: 64 * i] ^= 0x5A  # change the first chunk
            ticket = api.call("ckpt_client_checkpoint", client, step)
            api.call("ckpt_ticket_wait_durable", ticket)
            api.lib.ckpt_ticket_destroy(ticket)
            snapshots[step] = {n: a.copy() for n, a in arrays.items()}
        api.call("ckpt_client_flush", client)
    finally:
        api.lib.ckpt_client_close(client)
    return snapshots


def run(*args):
    r = subprocess.run([CKPT, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"ckpt {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r.stdout


def restored_regions(directory):
    with open(os.path.join(directory, "index.json")) as f:
        index = json.load(f)
    out = {}
    for region in index["regions"]:
        with open(os.path.join(directory, region["file"]), "rb") as f:
            out[region["name"]] = f.read()
    return index, out


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def expect(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}")


def check_export(checks, store, job, step, expected, tmp, use_numpy):
    out = os.path.join(tmp, f"{job}-{step}.safetensors")
    run("export", "--store", store, "--job", job, "--step", str(step), "--format",
        "safetensors", "--out", out)
    rdir = os.path.join(tmp, f"{job}-{step}-restored")
    run("restore", "--store", store, "--job", job, "--step", str(step), "--out", rdir)
    index, restored = restored_regions(rdir)
    checks.expect(sorted(restored) == sorted(expected), f"{job}@{step}: restored region names")

    with safetensors.safe_open(out, framework="np") as f:
        meta = f.metadata()
        keys = set(f.keys())
    checks.expect(meta.get("job") == job and meta.get("step") == str(step),
                  f"{job}@{step}: __metadata__ job/step: {meta}")
    checks.expect(keys == set(expected), f"{job}@{step}: tensor names {sorted(keys)}")

    # Every tensor, through the format-level API (any dtype, raw bytes).
    with open(out, "rb") as f:
        tensors = dict(safetensors.deserialize(f.read()))
    for name, want in expected.items():
        type_name = name.split("/")[-1]
        t = tensors[name]
        checks.expect(t["dtype"] == TYPES[type_name][1],
                      f"{job}@{step} {name}: dtype {t['dtype']}")
        want_shape = list(want.shape) if name in SHAPED else [want.size]
        checks.expect(list(t["shape"]) == want_shape,
                      f"{job}@{step} {name}: shape {t['shape']}, expected {want_shape}")
        checks.expect(bytes(t["data"]) == restored[name],
                      f"{job}@{step} {name}: bytes equal the restored region")
        checks.expect(bytes(t["data"]) == want.tobytes(),
                      f"{job}@{step} {name}: bytes equal what was checkpointed")

    if use_numpy:
        loaded = safetensors.numpy.load_file(out)
        for name, want in expected.items():
            got = loaded[name]
            restored_arr = np.frombuffer(restored[name], dtype=want.dtype)
            want_shape = want.shape if name in SHAPED else (want.size,)
            checks.expect(got.dtype == want.dtype and got.shape == want_shape,
                          f"{job}@{step} {name}: numpy {got.dtype}{got.shape}")
            checks.expect(np.array_equal(got.reshape(-1).view(np.uint8), restored_arr.view(np.uint8)),
                          f"{job}@{step} {name}: numpy tensor equals the restored region")
            checks.expect(np.array_equal(got.reshape(-1).view(np.uint8), want.reshape(-1).view(np.uint8)),
                          f"{job}@{step} {name}: numpy tensor equals what was checkpointed")


def main():
    api = CApi(LIBCKPT)
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="ckpt-safetensors-") as tmp:
        store = os.path.join(tmp, "store")
        # numpy has no bfloat16: one job without it for load_file, one with
        # every type for the byte-level check.
        numpy_names = [f"model/{t}" for t in TYPES if t != "bf16"]
        all_names = [f"all/{t}" for t in TYPES]
        arrays = make_arrays(numpy_names, 1)
        arrays["scalar/i64"] = np.array(-7, dtype=np.int64)  # rank 0
        SHAPED.add("scalar/i64")
        snaps = checkpoint(api, store, "numpy", arrays, [100, 200])
        for step in (100, 200):
            check_export(checks, store, "numpy", step, snaps[step], tmp, use_numpy=True)
        snaps = checkpoint(api, store, "every-type", make_arrays(all_names, 2), [5])
        check_export(checks, store, "every-type", 5, snaps[5], tmp, use_numpy=False)
    print(f"safetensors {safetensors.__version__}, numpy {np.__version__}")
    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
