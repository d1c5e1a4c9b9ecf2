#!/usr/bin/env python3
"""pytorch_train.py: a small PyTorch model trained with ckpt.

The Python twin of example-train (examples/example_train.cc), with the same
flags: an MLP classifier (Linear/LayerNorm/ReLU/Dropout) trained with AdamW
and a StepLR schedule on a fixed synthetic data set, read through a
DataLoader whose position (epoch, sample index) is saved with every
checkpoint. The ckpt calls are marked "ckpt:".

  --fail-at-step F  SIGKILLs the process at step F, right after the snapshot
                    of that step is copied when F is a checkpoint step (the
                    checkpoint in flight is lost, as in a real crash).
  --resume          continues from the newest committed checkpoint; the run
                    then ends bit-identical to one that was never
                    interrupted: parameters, Adam moments, LR schedule, RNG
                    streams (dropout, noise) and the data order all resume.
  --dump-final F    writes the final model and optimizer tensors to F
                    (raw bytes, in a fixed order) for comparison.

Deterministic on the CPU: fixed seeds, torch.use_deterministic_algorithms,
one intra-op thread. Run it with the interpreter that has torch
(/usr/bin/python3 on Debian with python3-torch) and the ckpt package on the
path (PYTHONPATH=build/python from a build tree).
"""

import argparse
import importlib.util
import os
import signal
import sys
import time


def _bootstrap():
    """Lets `python3 examples/pytorch_train.py` work from a source tree:
    re-runs under Debian's /usr/bin/python3 when the python3 first on PATH has
    no torch (e.g. a pyenv interpreter), and finds the ckpt package in
    build/python when it is not installed."""
    if importlib.util.find_spec("torch") is None:
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.access(system, os.X_OK):
            os.execv(system, [system] + sys.argv)
        sys.exit("pytorch_train.py: this Python (%s) has no torch; install python3-torch "
                 "(Debian) and run it with /usr/bin/python3" % sys.executable)
    if importlib.util.find_spec("ckpt") is None:
        build = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "python")
        if os.path.isdir(os.path.join(build, "ckpt")):
            sys.path.insert(0, os.path.normpath(build))


_bootstrap()

import torch  # noqa: E402  (after the bootstrap on purpose)
from torch import nn  # noqa: E402

import ckpt  # noqa: E402
import ckpt.torch  # noqa: E402

SAMPLES = 1024
FEATURES = 32
CLASSES = 8


def parse_flags(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", required=True, help="store directory (created if missing)")
    p.add_argument("--job", default="pytorch-example", help="job name")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps to train in total")
    p.add_argument("--ckpt-every", type=int, default=50, help="checkpoint every K steps (0 = never)")
    p.add_argument("--fail-at-step", type=int, default=None,
                   help="SIGKILL this process at step F (after the snapshot is copied, if F is a "
                        "checkpoint step)")
    p.add_argument("--resume", action="store_true",
                   help="restore the newest committed checkpoint, if any")
    p.add_argument("--dump-final", default=None, help="write the final state's bytes to this file")
    p.add_argument("--hidden", type=int, default=256, help="hidden layer width")
    p.add_argument("--batch", type=int, default=32, help="samples per step")
    p.add_argument("--log-every", type=int, default=50, help="print the loss every N steps")
    f = p.parse_args(argv)
    if f.steps < 0 or f.ckpt_every < 0 or f.hidden < 1:
        p.error("--steps, --ckpt-every must be >= 0 and --hidden >= 1")
    if f.batch < 1 or SAMPLES % f.batch != 0:
        p.error(f"--batch must divide {SAMPLES}")
    return f


def make_dataset():
    """A fixed synthetic classification task: labels from a random teacher."""
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(SAMPLES, FEATURES, generator=g)
    teacher = torch.randn(FEATURES, CLASSES, generator=g)
    y = (x @ teacher).argmax(dim=1)
    return torch.utils.data.TensorDataset(x, y)


class ResumableSampler(torch.utils.data.Sampler):
    """Shuffles every epoch with its own seed; an iterator starts at `start`
    of `epoch`, so that a resumed run reads the same samples in the same order
    (a loader that restarts from the epoch's beginning would not)."""

    def __init__(self, n, seed):
        self.n, self.seed = n, seed
        self.epoch, self.start = 0, 0

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g)[self.start:].tolist())

    def __len__(self):
        return self.n - self.start


class Batches:
    """Endless batches with a position (epoch, samples consumed this epoch)."""

    def __init__(self, dataset, batch):
        self.sampler = ResumableSampler(len(dataset), seed=99)
        # Its own generator: creating an iterator must not draw from torch's
        # global RNG (that stream belongs to dropout and the noise below).
        self.loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch, sampler=self.sampler, drop_last=True, num_workers=0,
            generator=torch.Generator().manual_seed(0))
        self.position = {"epoch": 0, "index": 0}
        self.it = None

    def seek(self, position):
        self.position = dict(position)
        self.it = None

    def next(self):
        while True:
            if self.it is None:
                self.sampler.epoch = self.position["epoch"]
                self.sampler.start = self.position["index"]
                self.it = iter(self.loader)
            batch = next(self.it, None)
            if batch is not None:
                self.position["index"] += len(batch[0])
                return batch
            self.position = {"epoch": self.position["epoch"] + 1, "index": 0}
            self.it = None


def make_model(hidden):
    return nn.Sequential(
        nn.Linear(FEATURES, hidden), nn.LayerNorm(hidden), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(hidden, CLASSES))


def final_state(model, optimizer):
    """Every tensor of the model and the optimizer, in a fixed order."""
    out = [t for _, t in sorted(model.state_dict().items())]
    for group in optimizer.param_groups:
        for p in group["params"]:
            for _, t in sorted(optimizer.state[p].items()):
                if isinstance(t, torch.Tensor):
                    out.append(t)
    return out


def main(argv):
    flags = parse_flags(argv)
    torch.manual_seed(42)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    model = make_model(flags.hidden)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)
    batches = Batches(make_dataset(), flags.batch)
    loss_fn = nn.CrossEntropyLoss()

    # ckpt: open a client and protect the training state (model tensors now,
    # Adam's moments once the first step has created them).
    client = ckpt.Client(store=flags.store, job=flags.job, chunk_bytes=256 << 10,
                         staging_bytes=16 << 20, checkpoint_every_steps=flags.ckpt_every)
    state = ckpt.torch.TrainingState(client, model, optimizer, scheduler)
    params = sum(p.numel() for p in model.parameters())
    print(f"pytorch_train: job {flags.job}, {params} parameters, torch {torch.__version__}",
          flush=True)

    step = 0
    if flags.resume:
        resumed = state.restore()  # ckpt: tensors, RNG states, LR schedule, loader position
        if resumed is None:
            print(f"no checkpoint of job {flags.job} yet; starting at step 0", flush=True)
        else:
            step = resumed.step
            batches.seek(resumed.extra["loader"])
            print(f"restored step {step} (loader at epoch {resumed.extra['loader']['epoch']}, "
                  f"sample {resumed.extra['loader']['index']})", flush=True)

    t0 = time.monotonic()
    ticket = None
    guarded = False
    checkpoints = 0
    loss = torch.tensor(float("nan"))
    model.train()
    while step < flags.steps:
        step += 1
        x, y = batches.next()
        x = x + 0.05 * torch.randn_like(x)  # input noise: draws from torch's RNG
        loss = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if ticket is not None and not guarded:
            # ckpt: the guard. The update below must not run before the
            # snapshot is copied; once per checkpoint is enough.
            ticket.guard()
            guarded = True
        optimizer.step()
        scheduler.step()
        if flags.log_every > 0 and step % flags.log_every == 0:
            print(f"step {step} loss {loss.item():.6f} lr {scheduler.get_last_lr()[0]:.2e} "
                  f"({time.monotonic() - t0:.1f} s)", flush=True)

        if client.should_checkpoint(step):  # ckpt: ask the policy
            if ticket is not None:
                ticket.wait_durable()  # at most one checkpoint in flight
            # ckpt: returns at once; the loader position travels with it
            ticket = state.checkpoint(step, extra={"loader": batches.position})
            guarded = False
            checkpoints += 1
        if flags.fail_at_step is not None and step == flags.fail_at_step:
            if ticket is not None and ticket.step == step:
                ticket.wait_copied()
            print(f"pytorch_train: --fail-at-step {step}: killing myself now", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    client.flush()  # ckpt: everything durable before exit
    print(f"done: {step} steps, final loss {loss.item():.6f}, {checkpoints} checkpoints requested, "
          f"{time.monotonic() - t0:.1f} s", flush=True)
    if flags.dump_final:
        with open(flags.dump_final, "wb") as out:
            for t in final_state(model, optimizer):
                out.write(t.detach().contiguous().numpy().tobytes())
        print(f"final state written to {flags.dump_final}", flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
