"""examples/pytorch_train.py killed mid-run and resumed ends bit-identical to
an uninterrupted run (the issue's "done when" for PyTorch)."""

import re
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


# A SIGKILL loses the checkpoint still in flight (copied, not yet committed);
# the one before it is durable, because the example waits for it before
# starting the next. So:
# 60: a checkpoint step: resume from 60, or 40 if 60 had not committed.
# 53: between checkpoints: resume from 40, or 20 if 40 had not committed
#     (13 tiny steps can be shorter than a commit on a loaded machine).
# 7: before the first checkpoint: nothing to resume from.
@pytest.mark.parametrize("fail_at, resumed_from", [(60, (40, 60)), (53, (20, 40)), (7, None)])
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
    # Step 40's checkpoint may still have been in flight at the kill (see
    # above); whichever step comes back, the loader must be where that step
    # left it: 32 samples per step from a 1024-sample epoch.
    m = re.search(r"restored step (\d+) \(loader at epoch (\d+), sample (\d+)\)", out)
    assert m, out
    step, epoch, sample = (int(g) for g in m.groups())
    assert step in (20, 40), out
    assert (epoch, sample) == divmod(step * 32, 1024), out
