"""ckpt.torch.TrainingState: a model with its optimizer, LR scheduler, RNG
states and caller data, checkpointed and restored into fresh objects."""

import random

import numpy as np
import pytest
import torch
from torch import nn

import ckpt
import ckpt.torch

CHUNK = 64 << 10


def open_client(store):
    return ckpt.Client(store=store, job="train", chunk_bytes=CHUNK, staging_bytes=32 * CHUNK)


def make(seed=0):
    """A model with parameters and buffers (BatchNorm), Adam and a scheduler."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def train(model, opt, sched, steps, ticket=None):
    for _ in range(steps):
        x = torch.randn(16, 8)
        if ticket is not None:
            ticket.wait_copied()  # BatchNorm writes its buffers in the forward pass
            ticket = None
        loss = model(x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()


def tensors(model, opt):
    out = {f"model/{k}": v.detach().clone() for k, v in model.state_dict().items()}
    for i, p in enumerate(opt.param_groups[0]["params"]):
        for k, v in opt.state.get(p, {}).items():
            out[f"optim/{i}/{k}"] = v.clone() if isinstance(v, torch.Tensor) else v
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_model_optimizer_scheduler_rng_and_extra_resume(store):
    model, opt, sched = make()
    with open_client(store) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        train(model, opt, sched, 3)
        ticket = state.checkpoint(3, extra={"loader": {"epoch": 1, "index": 48}})
        saved = tensors(model, opt)
        saved_lr = opt.param_groups[0]["lr"]
        saved_sched = sched.state_dict()
        # What the RNG streams give next, after the checkpoint.
        rng_next = (torch.rand(4), np.random.rand(3), random.random())
        train(model, opt, sched, 2, ticket)  # the run goes on, then dies
        ticket.wait_durable()
        regions = {r["name"]: r for r in client.regions()}

    assert regions["model/1.num_batches_tracked"]["dtype"] == "i64"
    assert regions["model/1.num_batches_tracked"]["shape"] == ()
    assert regions["model/0.weight"]["shape"] == (32, 8)
    assert regions["optim/0.weight/exp_avg_sq"]["shape"] == (32, 8)

    torch.manual_seed(1234)  # a different process state
    np.random.seed(5)
    random.seed(5)
    model2, opt2, sched2 = make(seed=99)  # fresh objects, other initial values
    assert len(opt2.state) == 0           # Adam creates its state lazily
    with open_client(store) as client:
        state2 = ckpt.torch.TrainingState(client, model2, opt2, sched2)
        resumed = state2.restore()
    assert resumed.step == 3
    assert resumed.extra == {"loader": {"epoch": 1, "index": 48}}
    assert_same(tensors(model2, opt2), saved)
    assert opt2.param_groups[0]["lr"] == saved_lr
    assert sched2.state_dict() == saved_sched
    assert torch.equal(torch.rand(4), rng_next[0])
    assert np.array_equal(np.random.rand(3), rng_next[1])
    assert random.random() == rng_next[2]
    assert all(p.grad is None for p in model2.parameters())  # no trace of the materializing step


def test_restore_without_checkpoint_returns_none_and_changes_nothing(store):
    model, opt, sched = make()
    before = tensors(model, opt)
    with open_client(store) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        assert state.restore() is None
    assert not any(opt.state.values())
    assert_same(tensors(model, opt), before)


def test_checkpoint_before_the_first_step_has_no_optimizer_state(store):
    model, opt, sched = make()
    with open_client(store) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        state.checkpoint(0).wait_durable()
        train(model, opt, sched, 1)
        state.checkpoint(1).wait_durable()  # Adam's state appeared: protected now
        names = {r["name"] for r in client.info(1)["regions"]}
        assert "optim/0.weight/exp_avg" in names
        assert not any(r["name"].startswith("optim/") for r in client.info(0)["regions"])

    model2, opt2, sched2 = make(seed=5)
    with open_client(store) as client:
        state2 = ckpt.torch.TrainingState(client, model2, opt2, sched2)
        assert state2.restore(step=0).step == 0  # no optimizer regions: none created
    assert len(opt2.state) == 0


def test_restore_after_training_started_is_refused(store):
    model, opt, sched = make()
    with open_client(store) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        train(model, opt, sched, 1)
        state.checkpoint(1).wait_durable()
    model2, opt2, sched2 = make()
    model2(torch.randn(4, 8)).sum().backward()  # gradients pending, optimizer state not created
    with open_client(store) as client:
        state2 = ckpt.torch.TrainingState(client, model2, opt2, sched2)
        with pytest.raises(ckpt.FailedPreconditionError, match="gradients"):
            state2.restore()


def test_extra_that_is_not_json_is_refused(store):
    model, opt, sched = make()
    with open_client(store) as client:
        state = ckpt.torch.TrainingState(client, model, opt, sched)
        with pytest.raises(ckpt.InvalidArgumentError, match="JSON"):
            state.checkpoint(1, extra={"loader": object()})
        client.flush()
        assert client.latest_step() is None
