#!/usr/bin/python3
"""Real training snapshots for the compression and io benches (issue 6).

Trains a small byte-level transformer language model for real, with AdamW, on
text every Debian 12 machine with Python 3.11 has: the Python standard
library's own sources (/usr/lib/python3.11/*.py, the top-level modules, sorted
by name). At each step in --steps it saves the weights (fp32 and a bf16 copy)
and AdamW's exp_avg and exp_avg_sq. Then a fine-tuning run starts from the
last pre-training snapshot, freezes the embeddings and the lower half of the
blocks, trains on the licenses in /usr/share/common-licenses and is saved
too: its frozen tensors keep their weights bit for bit and have no optimizer
state (zeros in the exp_avg files).

Layout (docs: bench/data/README.md):
  OUT/<snapshot>/weights_fp32.f32   all parameters, fp32, parameter order
  OUT/<snapshot>/weights_bf16.bf16  the same, rounded to bf16
  OUT/<snapshot>/exp_avg.f32        AdamW first moment (zeros where frozen)
  OUT/<snapshot>/exp_avg_sq.f32     AdamW second moment (zeros where frozen)
  OUT/<snapshot>/meta.json          config, step, variant, per-tensor table
Snapshot names: pretrain-step<N> and finetune-step<N>.

Needs torch (Debian's python3-torch): run with /usr/bin/python3.
Deterministic for a given --seed, --model-mb, --steps and torch build.
"""

import argparse
import glob
import json
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRETRAIN_TEXT = "/usr/lib/python3.11/*.py"
FINETUNE_TEXT = "/usr/share/common-licenses/*"
VOCAB = 256  # byte-level tokens


def load_text(pattern):
    paths = sorted(p for p in glob.glob(pattern) if os.path.isfile(p))
    if not paths:
        sys.exit(f"make_snapshots: no text found at {pattern}")
    data = b"".join(open(p, "rb").read() for p in paths)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).long(), len(paths)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class LM(nn.Module):
    def __init__(self, d, layers, heads, context):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB, bias=False)
        mask = torch.triu(torch.full((context, context), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t))
        for b in self.blocks:
            x = b(x, self.mask[:t, :t])
        return self.head(self.ln(x))


def config_for(model_mb, context):
    """Width and depth whose fp32 parameters come to about model_mb MB."""
    target = model_mb * 1e6 / 4
    layers = 4
    # Per block ~12 d^2, plus token/position embeddings and the head.
    d = (-(2 * VOCAB + context) + math.sqrt((2 * VOCAB + context) ** 2 + 48 * layers * target)) / (24 * layers)
    d = max(64, int(round(d / 64)) * 64)
    return {"d_model": d, "layers": layers, "heads": d // 64, "context": context, "vocab": VOCAB}


def batches(data, batch, context, gen):
    while True:
        starts = torch.randint(0, len(data) - context - 1, (batch,), generator=gen)
        x = torch.stack([data[s:s + context] for s in starts])
        y = torch.stack([data[s + 1:s + context + 1] for s in starts])
        yield x, y


def save(out, name, model, opt, meta):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    files = {k: open(os.path.join(folder, f), "wb") for k, f in
             [("fp32", "weights_fp32.f32"), ("bf16", "weights_bf16.bf16"),
              ("m", "exp_avg.f32"), ("v", "exp_avg_sq.f32")]}
    tensors, offset = [], 0
    for pname, p in model.named_parameters():
        w = p.detach().contiguous().float()
        state = opt.state.get(p, {})
        m = state.get("exp_avg", torch.zeros_like(w)).detach().float()
        v = state.get("exp_avg_sq", torch.zeros_like(w)).detach().float()
        files["fp32"].write(w.numpy().tobytes())
        files["bf16"].write(w.to(torch.bfloat16).view(torch.int16).numpy().tobytes())
        files["m"].write(m.numpy().tobytes())
        files["v"].write(v.numpy().tobytes())
        tensors.append({"name": pname, "shape": list(w.shape), "elements": w.numel(),
                        "offset_elements": offset, "frozen": not p.requires_grad})
        offset += w.numel()
    for f in files.values():
        f.close()
    meta = dict(meta, tensors=tensors, total_elements=offset,
                files={"weights_fp32.f32": "float32", "weights_bf16.bf16": "bfloat16",
                       "exp_avg.f32": "float32", "exp_avg_sq.f32": "float32"},
                byte_order="little")
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"  saved {folder} ({offset * 4 / 1e6:.1f} MB fp32 weights)", flush=True)


def train(model, opt, data, steps_to_save, first_step, last_step, args, gen, variant, out, cfg, text):
    it = batches(data, args.batch, cfg["context"], gen)
    t0 = time.time()
    for step in range(first_step + 1, last_step + 1):
        x, y = next(it)
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == last_step:
            rate = (step - first_step) / (time.time() - t0)
            print(f"{variant} step {step}/{last_step} loss {loss.item():.3f} ({rate:.1f} steps/s)", flush=True)
        if step in steps_to_save:
            save(out, f"{variant}-step{step}", model, opt,
                 {"config": cfg, "step": step, "variant": variant, "seed": args.seed,
                  "text": text, "batch": args.batch, "loss": round(loss.item(), 4),
                  "optimizer": {"name": "AdamW", "lr": args.lr, "weight_decay": 0.01}})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to write the snapshots into")
    ap.add_argument("--steps", default="20,100,200",
                    help="pre-training steps to save at, comma-separated (default: 20,100,200)")
    ap.add_argument("--finetune-steps", type=int, default=50,
                    help="fine-tuning steps after the last pre-training step; 0 = none (default: 50)")
    ap.add_argument("--model-mb", type=float, default=16,
                    help="approximate fp32 size of the parameters in MB (default: 16)")
    ap.add_argument("--batch", type=int, default=4, help="sequences per step (default: 4)")
    ap.add_argument("--context", type=int, default=64, help="tokens per sequence (default: 64)")
    ap.add_argument("--lr", type=float, default=3e-4, help="AdamW learning rate (default: 3e-4)")
    ap.add_argument("--seed", type=int, default=1, help="seed of init and batches (default: 1)")
    args = ap.parse_args()
    try:
        steps = sorted({int(s) for s in args.steps.split(",") if s.strip()})
    except ValueError:
        ap.error(f"--steps must be comma-separated integers, got '{args.steps}'")
    if not steps or steps[0] < 1:
        ap.error("--steps needs at least one step >= 1")
    if args.model_mb <= 0 or args.batch < 1 or args.context < 2 or args.finetune_steps < 0:
        ap.error("--model-mb, --batch, --context and --finetune-steps must be positive")

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(args.seed)
    cfg = config_for(args.model_mb, args.context)
    model = LM(cfg["d_model"], cfg["layers"], cfg["heads"], cfg["context"])
    n = sum(p.numel() for p in model.parameters())
    data, files = load_text(PRETRAIN_TEXT)
    print(f"model d={cfg['d_model']} layers={cfg['layers']} params={n} ({n * 4 / 1e6:.1f} MB fp32); "
          f"pre-training text {PRETRAIN_TEXT}: {files} files, {len(data)} bytes", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    train(model, opt, data, set(steps), 0, steps[-1], args, gen, "pretrain", args.out, cfg, PRETRAIN_TEXT)

    if args.finetune_steps:
        # Freeze the embeddings and the lower half of the blocks; a fresh
        # optimizer over the rest, as a fine-tuning job would start.
        frozen = ["tok.", "pos."] + [f"blocks.{i}." for i in range(cfg["layers"] // 2)]
        for pname, p in model.named_parameters():
            p.requires_grad_(not any(pname.startswith(f) for f in frozen))
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.01)
        data, files = load_text(FINETUNE_TEXT)
        print(f"fine-tuning on {FINETUNE_TEXT}: {files} files, {len(data)} bytes; frozen: {', '.join(frozen)}",
              flush=True)
        last = steps[-1] + args.finetune_steps
        train(model, opt, data, {last}, steps[-1], last, args, gen, "finetune", args.out, cfg, FINETUNE_TEXT)


if __name__ == "__main__":
    main()
