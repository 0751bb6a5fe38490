#!/usr/bin/env python3
"""PyTorch eager baseline for the DDIM UNet speed benchmark (scripts/bench_ddim.sh, docs/BENCHMARKS.md).

Uses the ORIGINAL model code of ermongroup/ddim (models/diffusion.py; pass a checkout with --ddim-repo,
it is not part of qncd) and Debian's python3-torch (1.13). Two sub-commands:

  prepare --config configs/cifar10.yml --out DIR [--batch 16]
      builds the model with random weights (seeded), writes DIR/unet.ckpt (torch.save zip, original keys),
      DIR/inputs.npz (x float32 NCHW, t int64, eps = the original model's output for them).
  time --config configs/cifar10.yml --out DIR [--threads 2] [--warmup 3] [--repeat 7]
      loads DIR/unet.ckpt and DIR/inputs.npz and times one forward pass (torch.no_grad, eval mode),
      printing one machine-readable line: "pytorch median_ms=... min_ms=... runs=..."
  serve --config configs/cifar10.yml --out DIR [--threads 2]
      loads the same, prints "ready", then for every line "go" on stdin times one forward pass and prints
      "ms=<milliseconds>" (until "quit" or end of input): scripts/bench_ddim.sh alternates it with
      `qncd bench unet --serve` pass by pass, so both see the same machine load.
"""
import argparse
import os
import sys
import time
import types

import numpy as np
import torch
import yaml


def to_namespace(d):
    if isinstance(d, dict):
        return types.SimpleNamespace(**{k: to_namespace(v) for k, v in d.items()})
    return d


def build(args):
    sys.path.insert(0, args.ddim_repo)
    from models.diffusion import Model  # the original architecture

    with open(args.config) as f:
        cfg = to_namespace(yaml.safe_load(f))
    return Model(cfg).eval(), cfg


def prepare(args):
    torch.manual_seed(0)
    model, cfg = build(args)
    with torch.no_grad():
        for p in model.parameters():  # non-trivial norms and biases, same scale as trained weights
            p.add_(torch.randn_like(p) * 0.02)
    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "unet.ckpt"))
    size, c = cfg.data.image_size, cfg.data.channels
    x = torch.randn(args.batch, c, size, size)
    t = torch.randint(0, cfg.diffusion.num_diffusion_timesteps, (args.batch,), dtype=torch.int64)
    with torch.no_grad():
        eps = model(x, t)
    np.savez(os.path.join(args.out, "inputs.npz"), x=x.numpy(), t=t.numpy(), eps=eps.numpy())
    print(f"prepared {args.out}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"batch {args.batch}, torch {torch.__version__}")


def load(args):
    torch.set_num_threads(args.threads)
    model, _ = build(args)
    model.load_state_dict(torch.load(os.path.join(args.out, "unet.ckpt")))
    inputs = np.load(os.path.join(args.out, "inputs.npz"))
    return model, inputs, torch.from_numpy(inputs["x"]), torch.from_numpy(inputs["t"])


def serve(args):
    model, _, x, t = load(args)
    print(f"ready pytorch threads={torch.get_num_threads()} torch={torch.__version__}", flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            if line.strip() != "go":
                break
            t0 = time.perf_counter()
            model(x, t)
            print(f"ms={(time.perf_counter() - t0) * 1000:.1f}", flush=True)


def time_forward(args):
    model, inputs, x, t = load(args)
    ms = []
    with torch.no_grad():
        for i in range(args.warmup + args.repeat):
            t0 = time.perf_counter()
            eps = model(x, t)
            dt = (time.perf_counter() - t0) * 1000
            if i >= args.warmup:
                ms.append(dt)
    err = float((eps - torch.from_numpy(inputs["eps"])).abs().max())
    ms.sort()
    print(f"pytorch median_ms={ms[len(ms) // 2]:.1f} min_ms={ms[0]:.1f} runs={len(ms)} threads={torch.get_num_threads()}"
          f" torch={torch.__version__} max_abs_err_vs_prepare={err:.2e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["prepare", "time", "serve"])
    ap.add_argument("--ddim-repo", required=True, help="checkout of ermongroup/ddim (for models/diffusion.py)")
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    {"prepare": prepare, "time": time_forward, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
