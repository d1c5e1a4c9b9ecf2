"""ckpt.torch.TrainingState through a ckptd (daemon mode, ipc protocol
version 2): tensor shapes and the user-state blob (step, RNG, LR scheduler,
loader position) travel to the daemon and come back on restore."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import torch

import ckpt
import ckpt.torch
from test_training_state import CHUNK, assert_same, make, tensors, train


def _serving(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def ckptd(tmp_path, bin_dir):
    """A ckptd on a scratch store: yields its socket path; stopped with
    SIGTERM at the end (it must exit 0)."""
    exe = os.path.join(bin_dir, "ckptd")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"no ckptd at {exe} (build the ckptd target)")
    sock_dir = tempfile.mkdtemp(prefix="ckptd-")  # short: socket paths have ~107 bytes
    sock = os.path.join(sock_dir, "sock")
    log_path = tmp_path / "ckptd.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "--store", str(tmp_path / "daemon-store"), "--socket", sock],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not _serving(sock):
            if proc.poll() is not None:
                pytest.fail(f"ckptd exited with {proc.returncode}: {log_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"ckptd did not serve {sock} within 30 s: {log_path.read_text()}")
            time.sleep(0.02)
        yield sock
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(sock_dir, ignore_errors=True)


def open_daemon_client(sock):
    # store is ignored in daemon mode: the daemon writes its own store.
    return ckpt.Client(store="", job="train", daemon=sock, chunk_bytes=CHUNK, staging_bytes=32 * CHUNK)


def test_training_state_resumes_through_ckptd(ckptd):
    model, opt, sched = make()
    loader = {"epoch": 1, "index": 48}
    with open_daemon_client(ckptd) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        train(model, opt, sched, 3)
        ticket = state.checkpoint(3, extra={"loader": loader})
        saved = tensors(model, opt)
        saved_lr = opt.param_groups[0]["lr"]
        saved_sched = sched.state_dict()
        rng_next = torch.rand(4)  # what torch's RNG gives next, after the checkpoint
        train(model, opt, sched, 2, ticket)  # the run goes on, then dies
        ticket.wait_durable()
        # What the daemon stored: the shapes and the user state.
        info = client.info(3)
    stored = {r["name"]: r for r in info["regions"]}
    assert stored["model/0.weight"]["shape"] == (32, 8)
    assert stored["model/1.num_batches_tracked"]["shape"] == ()
    assert stored["optim/0.weight/exp_avg_sq"]["shape"] == (32, 8)
    assert b'"loader"' in info["user_state"]

    torch.manual_seed(1234)               # a different process state
    model2, opt2, sched2 = make(seed=99)  # fresh objects, other initial values
    with open_daemon_client(ckptd) as client:
        state2 = ckpt.torch.TrainingState(client, model2, opt2, sched2)
        resumed = state2.restore()
        assert client.restored_user_state() != b""
    assert resumed.step == 3
    assert resumed.extra == {"loader": loader}
    assert_same(tensors(model2, opt2), saved)
    assert opt2.param_groups[0]["lr"] == saved_lr
    assert sched2.state_dict() == saved_sched
    assert torch.equal(torch.rand(4), rng_next)
