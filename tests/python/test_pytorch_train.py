"""examples/pytorch_train.py killed mid-run and resumed ends bit-identical to
an uninterrupted run (the issue's "done when" for PyTorch)."""

import signal
import subprocess
import sys

import pytest

STEPS = ["--steps", "90", "--ckpt-every", "20", "--hidden", "64", "--log-every", "0"]


def run(python, example, *args, expect=0):
    r = subprocess.run([python, example, *STEPS, *args], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == expect, (
        f"{' '.join(args)} exited {r.returncode}, expected {expect}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory, example_path):
    """The final state of a run that was never interrupted (one per module)."""
    tmp = tmp_path_factory.mktemp("reference")
    out = tmp / "uninterrupted.bin"
    run(sys.executable, example_path, "--store", str(tmp / "store"), "--dump-final", str(out))
    return out.read_bytes()


# 60: a checkpoint step: its checkpoint is in flight when the process dies
# (copied, maybe not yet committed), so resume starts from 60 or from 40.
# 53: between checkpoints (resume from 40). 7: before the first checkpoint.
@pytest.mark.parametrize("fail_at, resumed_from", [(60, (40, 60)), (53, (40,)), (7, None)])
def test_killed_and_resumed_run_ends_bit_identical(tmp_path, python, example_path, reference,
                                                   fail_at, resumed_from):
    store = str(tmp_path / "store")
    out = run(python, example_path, "--store", store, "--fail-at-step", str(fail_at),
              expect=-signal.SIGKILL)
    assert f"--fail-at-step {fail_at}: killing myself now" in out
    final = tmp_path / "resumed.bin"
    out = run(python, example_path, "--store", store, "--resume", "--dump-final", str(final))
    if resumed_from is None:
        assert "no checkpoint of job" in out
    else:
        assert any(f"restored step {s} " in out for s in resumed_from), out
    got = final.read_bytes()
    assert len(got) == len(reference) > 0
    assert got == reference


def test_resume_restores_the_data_loader_position(tmp_path, python, example_path):
    store = str(tmp_path / "store")
    run(python, example_path, "--store", store, "--fail-at-step", "45", expect=-signal.SIGKILL)
    out = run(python, example_path, "--store", store, "--resume")
    # 40 steps of 32 samples from a 1024-sample epoch: epoch 1, sample 256.
    assert "restored step 40 (loader at epoch 1, sample 256)" in out
