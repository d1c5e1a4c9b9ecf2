"""ckpt: asynchronous, deduplicated checkpoints of training state.

    import ckpt
    client = ckpt.Client(store="/ckpt", job="run7", checkpoint_every_steps=100)
    client.protect("weights", weights)          # a torch.Tensor (CPU or CUDA) or numpy array
    step = client.restore() + 1 if client.latest_step() is not None else 0
    ticket = None
    for step in range(step, steps):
        loss = forward_backward()
        if ticket is not None:
            ticket.guard()                       # the snapshot is copied: safe to update
        optimizer_step()
        if client.should_checkpoint(step):
            ticket = client.checkpoint(step)     # returns at once
    client.flush()

For a whole ``nn.Module`` with its optimizer, LR scheduler, RNG states and
data-loader position, use :class:`ckpt.torch.TrainingState`.

Memory: ``protect`` records the tensor's address; no bytes are copied until a
checkpoint, and then by the library's threads (zero-copy for the caller). The
client keeps a reference to every protected tensor so that its memory stays
valid; do not replace a protected tensor's storage (``tensor.data = ...``,
``optimizer.load_state_dict``) while the client lives. A tensor must be
contiguous and dense.

Errors raise :class:`CkptError` subclasses, one per ckpt status code
(``NotFoundError``, ``InvalidArgumentError``, ``FailedPreconditionError``,
``CorruptionError``, ``UnsupportedError``, ...), with the library's message.

Blocking calls (``checkpoint``, ``restore``, ``flush``, the ticket waits)
release the GIL.
"""

from . import _ckpt
from ._ckpt import (  # noqa: F401  (re-exported)
    AbortedError,
    AlreadyExistsError,
    BusyError,
    CkptError,
    CorruptionError,
    FailedPreconditionError,
    InvalidArgumentError,
    NoSpaceError,
    NotFoundError,
    StorageIOError,
    UnsupportedError,
    MAX_USER_STATE_BYTES,
    build_info,
)

__all__ = [
    "Client", "Ticket", "CkptError", "InvalidArgumentError", "NotFoundError",
    "AlreadyExistsError", "CorruptionError", "StorageIOError", "NoSpaceError", "BusyError",
    "FailedPreconditionError", "UnsupportedError", "AbortedError", "MAX_USER_STATE_BYTES",
    "build_info", "dtype_name",
]

__version__ = build_info()["version"]

# torch dtype name (str(dtype) without "torch.") -> ckpt element type.
_TORCH_DTYPES = {
    "float32": "f32", "float": "f32",
    "float64": "f64", "double": "f64",
    "float16": "f16", "half": "f16",
    "bfloat16": "bf16",
    "int8": "i8", "uint8": "u8", "bool": "u8",
    "int16": "i16", "short": "i16",
    "int32": "i32", "int": "i32",
    "int64": "i64", "long": "i64",
    "uint16": "u16", "uint32": "u32", "uint64": "u64",
}

# numpy dtype.name -> ckpt element type.
_NUMPY_DTYPES = {
    "float32": "f32", "float64": "f64", "float16": "f16",
    "int8": "i8", "uint8": "u8", "bool": "u8",
    "int16": "i16", "uint16": "u16", "int32": "i32", "uint32": "u32",
    "int64": "i64", "uint64": "u64",
}


def _is_torch_tensor(obj):
    mod = type(obj).__module__
    return (mod.startswith("torch") and hasattr(obj, "data_ptr") and hasattr(obj, "is_contiguous"))


def dtype_name(obj):
    """The ckpt element type ("f32", "bf16", ...) of a torch.Tensor or numpy array."""
    if _is_torch_tensor(obj):
        name = str(obj.dtype).replace("torch.", "")
        table = _TORCH_DTYPES
    elif hasattr(obj, "__array_interface__"):
        name = obj.dtype.name
        table = _NUMPY_DTYPES
    else:
        raise InvalidArgumentError(f"expected a torch.Tensor or a numpy array, got {type(obj).__name__}")
    if name not in table:
        raise InvalidArgumentError(
            f"dtype {name} has no ckpt element type (supported: {', '.join(sorted(set(table)))})")
    return table[name]


def _describe(obj):
    """(address, bytes, dtype, shape, cuda_device or None) of a tensor or array."""
    if _is_torch_tensor(obj):
        if obj.layout is not None and str(obj.layout) != "torch.strided":
            raise InvalidArgumentError(f"a {obj.layout} tensor cannot be protected; only dense tensors")
        if not obj.is_contiguous():
            raise InvalidArgumentError(
                f"the tensor (shape {tuple(obj.shape)}, strides {obj.stride()}) is not contiguous; "
                "protect a contiguous tensor (ckpt records the address of its memory: a "
                ".contiguous() copy would not be the tensor the training loop updates)")
        dev = obj.device
        if dev.type not in ("cpu", "cuda"):
            raise InvalidArgumentError(f"tensors on {dev} cannot be protected; only CPU and CUDA tensors")
        nbytes = obj.numel() * obj.element_size()
        cuda = dev.index if dev.type == "cuda" else None
        if dev.type == "cuda" and cuda is None:
            import torch
            cuda = torch.cuda.current_device()
        return obj.data_ptr(), nbytes, dtype_name(obj), tuple(int(d) for d in obj.shape), cuda
    if hasattr(obj, "__array_interface__"):
        if not obj.flags["C_CONTIGUOUS"]:
            raise InvalidArgumentError(f"the array (shape {obj.shape}) is not C-contiguous")
        if not obj.flags["WRITEABLE"]:
            raise InvalidArgumentError("the array is read-only; restore() writes into it")
        address = obj.__array_interface__["data"][0]
        return address, obj.nbytes, dtype_name(obj), tuple(int(d) for d in obj.shape), None
    raise InvalidArgumentError(f"expected a torch.Tensor or a numpy array, got {type(obj).__name__}")


def _current_stream(device):
    """cudaStream_t (as an int) of torch's current stream on `device`; 0 without CUDA."""
    if device is None:
        return 0
    import torch
    return int(torch.cuda.current_stream(device).cuda_stream)


class Ticket:
    """One requested checkpoint (see ckpt/client.h, class Ticket).

    guard() is the call a training loop makes before it updates protected
    tensors again: with CUDA tensors protected it makes torch's current CUDA
    stream wait for the snapshot copy without blocking the host; otherwise it
    waits on the host until the snapshot is copied.
    """

    def __init__(self, ticket, cuda_device):
        self._t = ticket
        self._cuda_device = cuda_device

    @property
    def step(self):
        return self._t.step

    def guard(self, stream=None):
        """Orders later work after the snapshot copy. `stream`: a
        torch.cuda.Stream or a raw cudaStream_t int; default: torch's current
        stream on the protected tensors' device (none without CUDA tensors)."""
        if stream is None:
            stream = _current_stream(self._cuda_device)
        elif hasattr(stream, "cuda_stream"):
            stream = int(stream.cuda_stream)
        self._t.guard(int(stream))

    def wait_copied(self):
        """Blocks until the snapshot is in staging memory; raises its error."""
        self._t.wait_copied()

    def wait_durable(self):
        """Blocks until the checkpoint is committed; raises its error."""
        self._t.wait_durable()

    @property
    def copied(self):
        return self._t.copied

    @property
    def durable(self):
        return self._t.durable

    @property
    def finished(self):
        return self._t.finished

    def stats(self):
        """Sizes and times of a durable checkpoint (dict)."""
        return self._t.stats()

    def __repr__(self):
        state = "durable" if self.durable else "finished" if self.finished else \
            "copied" if self.copied else "in flight"
        return f"<ckpt.Ticket step={self.step} {state}>"


class Client:
    """A training job's connection to a checkpoint store.

    Client(store=DIR, job=NAME, daemon=None, **options). Options (defaults as
    in ckpt/options.h): chunk_bytes (4 MiB), staging_bytes (256 MiB),
    compression ("auto", "on" or "off"; "zstd" = "on"), zstd_level (1),
    checkpoint_every_steps (0: should_checkpoint() never true),
    create_if_missing (True), use_direct_io (True). `daemon`: path of a ckptd
    socket (daemon mode, docs/operations.md): the daemon writes its own store
    (`store` is then ignored); shapes, user state, restored_user_state() and
    info() work as in embedded mode, so ckpt.torch.TrainingState works too.

    Thread safety: as the C++ client; calls may come from several threads.
    Use as a context manager or call close(): both wait for checkpoints in
    flight.
    """

    def __init__(self, store, job, daemon=None, **options):
        self._c = _ckpt.Client(store=str(store), job=job, daemon=daemon or "", **options)
        self._tensors = {}  # name -> protected object (keeps its memory alive)
        self._cuda_device = None

    # -- regions -------------------------------------------------------------
    def protect(self, name, tensor):
        """Registers a contiguous torch.Tensor (CPU or CUDA) or numpy array
        under `name`, recording its dtype and shape. Zero-copy: ckpt reads
        the tensor's memory at each checkpoint and restore() writes into it."""
        address, nbytes, dtype, shape, cuda = _describe(tensor)
        if cuda is not None and not build_info()["cuda_backend"]:
            # A host-only engine would read the device pointer as host memory.
            raise UnsupportedError(
                f"region '{name}' is a CUDA tensor, but this ckpt build has no CUDA backend "
                "(built without a CUDA toolkit or with -DCKPT_WITH_CUDA=OFF)")
        self._c.protect(name, address, nbytes, dtype, list(shape))
        self._tensors[name] = tensor
        if cuda is not None and self._cuda_device is None:
            self._cuda_device = cuda

    def regions(self):
        """The protected regions: dicts of name, bytes, dtype, shape, memory, device."""
        return self._c.regions()

    def tensor(self, name):
        """The object protected under `name`."""
        return self._tensors[name]

    # -- checkpoints ---------------------------------------------------------
    def checkpoint(self, step, user_state=b"", stream=None):
        """Asks for a checkpoint of every protected region; returns a Ticket
        at once. `user_state`: bytes (or str, stored as UTF-8) saved with this
        checkpoint, at most MAX_USER_STATE_BYTES. With CUDA tensors protected
        the snapshot is taken where `stream` (default: torch's current stream)
        stands; the call does not synchronize the host."""
        if isinstance(user_state, str):
            user_state = user_state.encode()
        if stream is None:
            stream = _current_stream(self._cuda_device)
        elif hasattr(stream, "cuda_stream"):
            stream = int(stream.cuda_stream)
        return Ticket(self._c.checkpoint(step, int(stream), bytes(user_state)), self._cuda_device)

    def restore(self, step=None):
        """Fills every protected tensor from checkpoint `step` (default: the
        newest) and returns the step. NotFoundError when there is none."""
        if self._cuda_device is not None:
            import torch
            torch.cuda.synchronize(self._cuda_device)  # no kernel may still use the old values
        return self._c.restore(step)

    def restored_user_state(self):
        """The user_state bytes of the checkpoint restore() read (b"" when none)."""
        return self._c.restored_user_state()

    def latest_step(self):
        """Newest committed step of this job, or None."""
        return self._c.latest_step()

    def should_checkpoint(self, step):
        return self._c.should_checkpoint(step)

    def info(self, step):
        """What the store holds for `step`: regions (name, dtype, bytes, shape),
        sizes and user_state. NotFoundError when absent."""
        return self._c.info(step)

    def flush(self):
        """Waits until every requested checkpoint is durable; raises the first failure."""
        self._c.flush()

    def close(self):
        """Waits for checkpoints in flight and closes the store. Idempotent."""
        self._c.close()
        self._tensors.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
