#!/usr/bin/env python3
"""PyTorch eager baseline for the LDM / Stable Diffusion UNet speed benchmark (scripts/bench_ldm.sh,
docs/BENCHMARKS.md).

The model is the re-implementation of latent-diffusion's UNetModel in scripts/make_ldm_fixtures.py
(checked there against the original openaimodel.py, bit for bit); with --ldm-repo (a checkout holding
ldm/, e.g. CompVis/latent-diffusion or QNCD; needs einops) the ORIGINAL UNetModel is used instead.
Debian's python3-torch (1.13), torch.no_grad, eval mode. Sub-commands:

  prepare --config configs/latent-diffusion/cin256-v2.yaml --out DIR [--batch 4] [--size 64] [--context-len 1]
      builds the UNet of the config's model.params.unet_config with random weights (seeded; PyTorch's
      default init plus N(0, 0.02) noise, so zero-initialised output convs are not zero), writes
      DIR/unet.ckpt (torch.save zip, the UNet's original keys, float32) and DIR/inputs.npz (x float32
      N,C,size,size, t int64, context N,L,context_dim when the model cross-attends, y when it is
      class-conditional, eps = this model's output for them). Weights are never committed.
  time --config ... --out DIR [--threads 2] [--warmup 2] [--repeat 5]
      loads DIR/unet.ckpt and DIR/inputs.npz, times one forward pass, prints
      "pytorch median_ms=... min_ms=... runs=... max_abs_err_vs_prepare=..."
  serve --config ... --out DIR [--threads 2]
      loads the same, prints "ready", then for every line "go" on stdin times one forward pass and prints
      "ms=<milliseconds>" (until "quit"): scripts/bench_ldm.sh alternates it with `qncd bench unet --serve`.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_ldm_fixtures as ldm  # noqa: E402  (the re-implementation)


def unet_params(config):
    with open(config) as f:
        cfg = yaml.safe_load(f)
    unet = cfg["model"]["params"]["unet_config"]
    assert unet["target"] == ldm.UNET_TARGET, unet["target"]
    return dict(unet["params"])


def build(args):
    params = unet_params(args.config)
    if args.ldm_repo:
        return ldm.build_original(args.ldm_repo, params), params
    return ldm.build_unet(params), params


def prepare(args):
    torch.manual_seed(0)
    model, params = build(args)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    os.makedirs(args.out, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(args.out, "unet.ckpt"))
    n = args.batch
    d = {"x": torch.randn(n, params["in_channels"], args.size, args.size),
         "t": torch.randint(0, 1000, (n,), dtype=torch.int64)}
    if params.get("context_dim") is not None:
        d["context"] = torch.randn(n, args.context_len, params["context_dim"])
    if params.get("num_classes") is not None:
        d["y"] = torch.randint(0, params["num_classes"], (n,), dtype=torch.int64)
    with torch.no_grad():
        eps = model(d["x"], d["t"], context=d.get("context"), y=d.get("y"))
    np.savez(os.path.join(args.out, "inputs.npz"), **{k: v.numpy() for k, v in d.items()}, eps=eps.numpy())
    print(f"prepared {args.out}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, "
          f"inputs {', '.join(f'{k} {tuple(v.shape)}' for k, v in d.items())}, max |eps| {float(eps.abs().max()):.3f}, "
          f"torch {torch.__version__}{' (original UNetModel)' if args.ldm_repo else ''}")


def load(args):
    torch.set_num_threads(args.threads)
    model, _ = build(args)
    model.load_state_dict(torch.load(os.path.join(args.out, "unet.ckpt")))
    inputs = np.load(os.path.join(args.out, "inputs.npz"))
    d = {k: torch.from_numpy(inputs[k]) for k in ("x", "t", "context", "y") if k in inputs}
    return model, inputs, d


def forward(model, d):
    return model(d["x"], d["t"], context=d.get("context"), y=d.get("y"))


def serve(args):
    model, _, d = load(args)
    print(f"ready pytorch threads={torch.get_num_threads()} torch={torch.__version__}", flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            if line.strip() != "go":
                break
            t0 = time.perf_counter()
            forward(model, d)
            print(f"ms={(time.perf_counter() - t0) * 1000:.1f}", flush=True)


def time_forward(args):
    model, inputs, d = load(args)
    ms = []
    with torch.no_grad():
        for i in range(args.warmup + args.repeat):
            t0 = time.perf_counter()
            eps = forward(model, d)
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
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ldm-repo", help="use the original UNetModel of this checkout instead of the re-implementation")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=64, help="latent height = width")
    ap.add_argument("--context-len", type=int, default=1, help="context tokens (cin256-v2: 1, SD v1: 77)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    {"prepare": prepare, "time": time_forward, "serve": serve}[args.command](args)


if __name__ == "__main__":
    main()
