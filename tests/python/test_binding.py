"""ckpt.Client over torch tensors and numpy arrays: round trips, shapes,
user state, and the errors of bad input."""

import os
import re

import numpy as np
import pytest
import torch

import ckpt

CHUNK = 64 << 10


def open_client(store, **kw):
    kw.setdefault("chunk_bytes", CHUNK)
    kw.setdefault("staging_bytes", 16 * CHUNK)
    return ckpt.Client(store=store, job=kw.pop("job", "job"), **kw)


def tensors_of_every_dtype():
    g = torch.Generator().manual_seed(7)
    floats = {
        "f32": torch.randn(300, 257, generator=g),  # > 4 chunks, 2-D
        "f64": torch.randn(4, 5, 6, generator=g, dtype=torch.float64),
        "f16": torch.randn(1000, generator=g).to(torch.float16),
        "bf16": torch.randn(33, 65, generator=g).to(torch.bfloat16),
        "scalar": torch.tensor(3.25),  # rank 0
        "empty": torch.empty(0, 4),
    }
    ints = {
        "i8": torch.randint(-128, 127, (77,), generator=g, dtype=torch.int8),
        "u8": torch.randint(0, 255, (3, 3, 3), generator=g, dtype=torch.uint8),
        "i16": torch.randint(-1000, 1000, (50, 2), generator=g, dtype=torch.int16),
        "i32": torch.randint(-10**9, 10**9, (123,), generator=g, dtype=torch.int32),
        "i64": torch.randint(-2**62, 2**62, (9, 1, 2), generator=g, dtype=torch.int64),
        "bool": torch.rand(40, generator=g) > 0.5,
    }
    return {**floats, **ints}


def raw(t):
    """The tensor's bytes, as a uint8 view of its memory."""
    return t.reshape(-1).view(torch.uint8)


EXPECTED_DTYPE = {"f32": "f32", "f64": "f64", "f16": "f16", "bf16": "bf16", "scalar": "f32",
                  "empty": "f32", "i8": "i8", "u8": "u8", "i16": "i16", "i32": "i32",
                  "i64": "i64", "bool": "u8"}


def test_cpu_tensors_of_every_dtype_and_shape_round_trip(store):
    tensors = tensors_of_every_dtype()
    saved = {name: t.clone() for name, t in tensors.items()}
    with open_client(store) as c:
        for name, t in tensors.items():
            c.protect(name, t)
        c.checkpoint(10).wait_durable()
        for t in tensors.values():  # scribble: restore must bring the saved bytes back
            raw(t).fill_(0xA5)
        assert c.restore() == 10
        for name, t in tensors.items():
            assert t.dtype == saved[name].dtype and t.shape == saved[name].shape
            assert torch.equal(raw(t), raw(saved[name])), name


def test_dtype_and_shape_are_recorded(store):
    tensors = tensors_of_every_dtype()
    with open_client(store) as c:
        for name, t in tensors.items():
            c.protect(name, t)
        c.checkpoint(3).wait_durable()
        info = {r["name"]: r for r in c.info(3)["regions"]}
        live = {r["name"]: r for r in c.regions()}
    for name, t in tensors.items():
        assert info[name]["dtype"] == EXPECTED_DTYPE[name], name
        assert info[name]["shape"] == tuple(t.shape), name
        assert info[name]["bytes"] == t.numel() * t.element_size(), name
        assert live[name]["shape"] == tuple(t.shape) and live[name]["memory"] == "host"


def test_numpy_arrays_round_trip(store):
    a = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    b = np.linspace(0, 1, 5000, dtype=np.float64)
    with open_client(store) as c:
        c.protect("a", a)
        c.protect("b", b)
        c.checkpoint(1).wait_durable()
        a[:] = -1
        b[:] = 7
        c.restore()
    assert np.array_equal(a, np.arange(24, dtype=np.int32).reshape(2, 3, 4))
    assert np.array_equal(b, np.linspace(0, 1, 5000, dtype=np.float64))


def test_each_step_restores_its_own_bytes(store):
    t = torch.zeros(100_000)
    with open_client(store) as c:
        c.protect("t", t)
        tickets = []
        for step in (1, 2, 3):
            t.fill_(float(step))
            ticket = c.checkpoint(step)
            ticket.guard()  # no CUDA tensor: waits until copied
            assert ticket.copied
            tickets.append(ticket)
        for ticket in tickets:
            ticket.wait_durable()
            assert ticket.durable and ticket.stats()["logical_bytes"] == t.numel() * 4
        for step in (2, 1, 3):
            assert c.restore(step) == step
            assert torch.all(t == float(step))


def test_user_state_round_trips(store):
    blob = b'{"step": 5}\x00\xff binary tail'
    t = torch.ones(10)
    with open_client(store) as c:
        c.protect("t", t)
        c.checkpoint(5, user_state=blob).wait_durable()
        c.checkpoint(6, user_state="text state").wait_durable()
        c.checkpoint(7).wait_durable()
        assert c.info(5)["user_state"] == blob
    with open_client(store) as c:
        c.protect("t", t)
        assert c.restored_user_state() == b""
        assert c.restore(5) == 5 and c.restored_user_state() == blob
        assert c.restore(6) == 6 and c.restored_user_state() == b"text state"
        assert c.restore() == 7 and c.restored_user_state() == b""


def test_oversize_user_state_is_refused(store):
    t = torch.ones(10)
    with open_client(store) as c:
        c.protect("t", t)
        with pytest.raises(ckpt.InvalidArgumentError, match="user state"):
            c.checkpoint(1, user_state=b"x" * (ckpt.MAX_USER_STATE_BYTES + 1))
        c.flush()
        assert c.latest_step() is None


def test_non_contiguous_tensor_is_refused(store):
    t = torch.zeros(8, 8)
    with open_client(store) as c:
        with pytest.raises(ckpt.InvalidArgumentError, match="not contiguous"):
            c.protect("t", t.t())
        with pytest.raises(ckpt.InvalidArgumentError, match="not contiguous"):
            c.protect("t", t[:, ::2])
        assert c.regions() == []
        c.protect("t", t)  # the name is still free


def test_unsupported_tensors_are_refused(store):
    with open_client(store) as c:
        with pytest.raises(ckpt.InvalidArgumentError, match="complex64"):
            c.protect("c", torch.zeros(4, dtype=torch.complex64))
        with pytest.raises(ckpt.InvalidArgumentError, match="dense"):
            c.protect("s", torch.zeros(4, 4).to_sparse())
        with pytest.raises(ckpt.InvalidArgumentError, match="torch.Tensor or a numpy array"):
            c.protect("l", [1.0, 2.0])


def test_duplicate_name_is_refused(store):
    with open_client(store) as c:
        c.protect("t", torch.zeros(4))
        with pytest.raises(ckpt.AlreadyExistsError):
            c.protect("t", torch.zeros(4))


def test_wrong_store_paths_raise(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("not a store")
    with pytest.raises(ckpt.CkptError) as e:
        open_client(str(a_file))
    assert str(a_file) in str(e.value)
    with pytest.raises(ckpt.NotFoundError):
        open_client(str(tmp_path / "missing"), create_if_missing=False)
    with pytest.raises(ckpt.InvalidArgumentError, match="job"):
        open_client(str(tmp_path / "s"), job="bad/name")
    with pytest.raises(ckpt.InvalidArgumentError, match="compression"):
        open_client(str(tmp_path / "s"), compression="lz4")


def test_restore_without_checkpoint_raises_not_found(store):
    t = torch.ones(10)
    with open_client(store) as c:
        c.protect("t", t)
        assert c.latest_step() is None
        with pytest.raises(ckpt.NotFoundError, match="no checkpoint"):
            c.restore()
        assert torch.all(t == 1)


def test_restore_into_another_shape_is_refused(store):
    with open_client(store) as c:
        c.protect("t", torch.ones(6, 4))
        c.checkpoint(1).wait_durable()
    t = torch.zeros(4, 6)
    with open_client(store) as c:
        c.protect("t", t)
        with pytest.raises(ckpt.FailedPreconditionError, match=r"\[6, 4\]"):
            c.restore()
    assert torch.all(t == 0)


def test_daemon_mode_without_a_daemon_names_the_socket(store):
    sock = os.path.join(store, "ckptd.sock")
    with pytest.raises(ckpt.NotFoundError, match="no ckptd listens on " + re.escape(sock)):
        open_client(store, daemon=sock)


def test_closed_client_raises(store):
    c = open_client(store)
    c.close()
    c.close()  # idempotent
    with pytest.raises(ckpt.FailedPreconditionError, match="closed"):
        c.checkpoint(1)


def test_errors_share_one_base_class():
    for cls in (ckpt.InvalidArgumentError, ckpt.NotFoundError, ckpt.AlreadyExistsError,
                ckpt.CorruptionError, ckpt.StorageIOError, ckpt.NoSpaceError, ckpt.BusyError,
                ckpt.FailedPreconditionError, ckpt.UnsupportedError, ckpt.AbortedError):
        assert issubclass(cls, ckpt.CkptError) and cls is not ckpt.CkptError


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device visible to torch")
def test_cuda_tensor_round_trips_with_stream_ordered_calls(store):
    if not ckpt.build_info()["cuda_backend"]:
        pytest.skip("this ckpt build has no CUDA backend")
    t = torch.arange(1 << 20, dtype=torch.float32, device="cuda")
    with open_client(store) as c:
        c.protect("t", t)
        assert c.regions()[0]["memory"] == "device"
        ticket = c.checkpoint(1)  # on torch's current stream
        ticket.guard()            # the stream waits for the copy
        t.mul_(2)                 # ordered after the copy
        ticket.wait_durable()
        c.restore()
        assert torch.equal(t, torch.arange(1 << 20, dtype=torch.float32, device="cuda"))
