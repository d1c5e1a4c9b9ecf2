"""PyTorch training state with ckpt: a model, its optimizer and the small state
that must resume with them.

    import ckpt, ckpt.torch
    client = ckpt.Client(store="/ckpt", job="run7", checkpoint_every_steps=100)
    state = ckpt.torch.TrainingState(client, model, optimizer, scheduler)
    resumed = state.restore()                    # None on a fresh start
    step = resumed.step if resumed else 0
    position = resumed.extra["loader"] if resumed else 0
    ticket = None
    for step in range(step + 1, steps + 1):
        loss = model(batch).backward()
        if ticket is not None:
            ticket.guard()                       # the snapshot is copied: safe to update
        optimizer.step(); scheduler.step()
        if client.should_checkpoint(step):
            ticket = state.checkpoint(step, extra={"loader": position})

Tensors (zero-copy, dtype and shape recorded, regions named
"model/<name>" and "optim/<param name>/<key>"):
  - every parameter and persistent buffer of the model;
  - every tensor of the optimizer's per-parameter state (Adam: exp_avg,
    exp_avg_sq, step, ...).
User state (JSON in the checkpoint's manifest; see ckpt/client.h):
  - the step; torch's CPU RNG, every CUDA device's RNG (when CUDA is
    initialized), numpy's global RNG (when numpy is importable) and Python's
    `random`;
  - the optimizer's param_groups hyperparameters (lr, betas, ...: schedulers
    change them) and its non-tensor per-parameter state;
  - the LR scheduler's state_dict;
  - `extra`: any JSON-serializable value of the caller (the data-loader
    position, an epoch counter, ...), handed back by restore().

Lazily created optimizer state. Adam and most other optimizers create their
per-parameter state at the first optimizer.step(). TrainingState therefore
protects the optimizer's tensors when they exist: at the first checkpoint()
after a step (or, if new state appears later, at the next checkpoint, after
waiting for the one in flight). On restore() it makes the optimizer create
its state first when the checkpoint holds optimizer tensors: it runs one
optimizer.step() with zero gradients and every learning rate set to 0, then
overwrites every tensor (and the parameters) from the checkpoint, so the
dummy step leaves no trace. Call restore() before training starts, when no
gradients are pending.

The optimizer's and model's tensors must stay where they are: do not call
load_state_dict() on them or replace `.data` while the client lives (ckpt
writes into the memory it was given).
"""

import base64
import json
import random

import torch

import ckpt

FORMAT = "ckpt.torch/1"


class Resumed:
    """What TrainingState.restore() brought back."""

    def __init__(self, step, extra, user_state):
        self.step = step            # the step restored
        self.extra = extra          # the `extra` given to checkpoint()
        self.user_state = user_state  # the whole decoded JSON document

    def __repr__(self):
        return f"<ckpt.torch.Resumed step={self.step} extra={self.extra!r}>"


def _b64(t):
    return base64.b64encode(t.cpu().numpy().tobytes()).decode("ascii")


def _from_b64(s):
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def rng_state():
    """The RNG states a deterministic resume needs, as JSON-serializable data."""
    state = {"torch": _b64(torch.get_rng_state()), "python": None, "numpy": None, "cuda": None}
    version, internal, gauss = random.getstate()
    state["python"] = [version, list(internal), gauss]
    try:
        import numpy as np
        name, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]
    except ImportError:
        pass
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state):
    """Inverse of rng_state()."""
    torch.set_rng_state(_from_b64(state["torch"]))
    if state.get("python") is not None:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if state.get("numpy") is not None:
        import numpy as np
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_from_b64(s) for s in state["cuda"]])


def _jsonable(value):
    """`value` as JSON data, or raises TypeError."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"a tensor of shape {tuple(value.shape)}")
        return {"__tensor__": value.item()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a value of type {type(value).__name__}")


def _like(saved, current):
    """Saved JSON data converted back to the type of the current value."""
    if isinstance(saved, dict) and "__tensor__" in saved:
        if isinstance(current, torch.Tensor):
            current.fill_(saved["__tensor__"])
            return current
        return saved["__tensor__"]
    if isinstance(current, tuple) and isinstance(saved, list):
        return tuple(_like(s, c) for s, c in zip(saved, current))
    return saved


class TrainingState:
    """Protects a model (and optimizer) with a ckpt.Client and saves the
    small state that resumes with it. See the module documentation."""

    def __init__(self, client, model, optimizer=None, scheduler=None, prefix=""):
        self.client = client
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.prefix = prefix
        self._names = {}   # id(param) -> its name in the model
        self._optim_protected = set()  # region names of optimizer tensors
        seen = set()
        for name, t in model.state_dict(keep_vars=True).items():
            if id(t) in seen:  # tied weights: one region
                continue
            seen.add(id(t))
            client.protect(f"{prefix}model/{name}", t.data)
        for name, p in model.named_parameters():
            self._names[id(p)] = name

    # -- optimizer state -----------------------------------------------------
    def _param_name(self, group_index, param_index, p):
        name = self._names.get(id(p))
        return name if name is not None else f"group{group_index}.param{param_index}"

    def _optimizer_items(self):
        """(region base name, state dict of a param) for every param with state."""
        if self.optimizer is None:
            return
        for g, group in enumerate(self.optimizer.param_groups):
            for i, p in enumerate(group["params"]):
                state = self.optimizer.state.get(p)
                if state:
                    yield f"{self.prefix}optim/{self._param_name(g, i, p)}", state

    def _protect_optimizer_state(self):
        """Protects optimizer tensors that appeared since the last call."""
        new = []
        for base, state in self._optimizer_items():
            for key, value in state.items():
                region = f"{base}/{key}"
                if isinstance(value, torch.Tensor) and region not in self._optim_protected:
                    new.append((region, value))
        if not new:
            return
        if self._optim_protected:
            self.client.flush()  # protect() must not race a checkpoint in flight
        for region, value in new:
            self.client.protect(region, value)
            self._optim_protected.add(region)

    def _materialize_optimizer_state(self):
        """Makes a lazily initialized optimizer create its state: one step
        with zero gradients and learning rate 0 (its effects are overwritten
        by the restore that follows)."""
        opt = self.optimizer
        if opt is None:
            return
        params = [p for group in opt.param_groups for p in group["params"]]
        if any(opt.state.get(p) for p in params):
            return  # created already
        if any(p.grad is not None for p in params):
            raise ckpt.FailedPreconditionError(
                "TrainingState.restore(): parameters have gradients; restore before training starts")
        saved_lrs = []
        for group in opt.param_groups:
            saved_lrs.append(group.get("lr"))
            if isinstance(group.get("lr"), torch.Tensor):
                group["lr"] = group["lr"].clone().fill_(0.0)
            elif "lr" in group:
                group["lr"] = 0.0
        for p in params:
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
        with torch.no_grad():
            opt.step()
        for group, lr in zip(opt.param_groups, saved_lrs):
            if lr is not None:
                group["lr"] = lr
        opt.zero_grad(set_to_none=True)

    # -- user state ----------------------------------------------------------
    def _user_state(self, step, extra):
        try:
            return self._encode_user_state(step, extra)
        except (TypeError, ValueError) as e:
            raise ckpt.InvalidArgumentError(
                f"TrainingState.checkpoint({step}): the user state is not JSON data: {e}") from e

    def _encode_user_state(self, step, extra):
        doc = {"format": FORMAT, "step": step, "rng": rng_state(), "extra": extra}
        if self.optimizer is not None:
            groups = []
            for group in self.optimizer.param_groups:
                groups.append({k: _jsonable(v) for k, v in group.items() if k != "params"})
            scalars = {}
            for base, state in self._optimizer_items():
                plain = {k: _jsonable(v) for k, v in state.items() if not isinstance(v, torch.Tensor)}
                if plain:
                    scalars[base] = plain
            doc["optimizer"] = {"param_groups": groups, "state": scalars}
        if self.scheduler is not None:
            doc["scheduler"] = _jsonable(self.scheduler.state_dict())
        return json.dumps(doc, allow_nan=True).encode()

    def _apply_user_state(self, doc):
        if doc.get("format") != FORMAT:
            raise ckpt.UnsupportedError(
                f"the checkpoint's user state is not a {FORMAT} document (format {doc.get('format')!r})")
        set_rng_state(doc["rng"])
        if self.optimizer is not None and "optimizer" in doc:
            saved = doc["optimizer"]
            if len(saved["param_groups"]) != len(self.optimizer.param_groups):
                raise ckpt.FailedPreconditionError(
                    f"the checkpoint's optimizer has {len(saved['param_groups'])} param groups, "
                    f"this one {len(self.optimizer.param_groups)}")
            for group, values in zip(self.optimizer.param_groups, saved["param_groups"]):
                for k, v in values.items():
                    group[k] = _like(v, group.get(k))
            for base, state in self._optimizer_items():
                for k, v in saved["state"].get(base, {}).items():
                    state[k] = _like(v, state.get(k))
        if self.scheduler is not None and doc.get("scheduler") is not None:
            self.scheduler.load_state_dict(doc["scheduler"])

    # -- the calls a training loop makes ---------------------------------------
    def checkpoint(self, step, extra=None, stream=None):
        """Checkpoints the model, optimizer and user state at `step` (after
        the optimizer step of `step`); returns the ckpt.Ticket at once.
        `extra`: JSON-serializable data handed back by restore()."""
        self._protect_optimizer_state()
        return self.client.checkpoint(step, user_state=self._user_state(step, extra), stream=stream)

    def restore(self, step=None):
        """Restores the newest checkpoint (or `step`): tensors, RNG states,
        optimizer hyperparameters, scheduler. Returns a Resumed, or None when
        the job has no checkpoint yet (nothing is changed then)."""
        newest = step if step is not None else self.client.latest_step()
        if newest is None:
            return None
        info = self.client.info(newest)
        optim_prefix = f"{self.prefix}optim/"
        if any(r["name"].startswith(optim_prefix) for r in info["regions"]):
            self._materialize_optimizer_state()
            self._protect_optimizer_state()
        restored = self.client.restore(step)
        blob = self.client.restored_user_state()
        doc = json.loads(blob) if blob else {}
        if doc:
            self._apply_user_state(doc)
        return Resumed(restored, doc.get("extra"), doc)
