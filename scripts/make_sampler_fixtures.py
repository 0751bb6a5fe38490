#!/usr/bin/env python3
"""Parity fixtures for the samplers, made with the ORIGINAL sampling loops of ermongroup/ddim.

Runs DDIM's functions/denoising.py (generalized_steps with eta 0, 0.5 and 1; ddpm_steps) on a stub
noise model whose output both sides can compute exactly, eps(x, t) = 0.8 tanh(x) + 0.1 sin(t / 100),
with the step noise that torch.randn_like would draw replaced by recorded arrays, so that the Java
samplers can be fed the same noise (the torch RNG cannot be reproduced in Java). The original code
moves tensors to 'cuda'; that call is made a no-op so the loops run on the CPU unchanged.

    git clone https://github.com/ermongroup/ddim /tmp/ddim   # the reference code, not part of qncd
    /usr/bin/python3 scripts/make_sampler_fixtures.py --ddim-repo /tmp/ddim \
        qncd-models/src/test/resources/fixtures/ddim

Writes samplers.npz: x_T (2,3,4,4), betas (1000, float64: the linear schedule 1e-4..0.02), and per case
<case>_seq (the timesteps), <case>_noise (steps, 2,3,4,4; the noise of each step, in loop order),
<case>_xs (steps + 1, ...; x_T and every x after a step) and <case>_x0 (the x0 predictions).
"""
import argparse
import os
import sys

import numpy as np
import torch

STEPS = 10


def stub_model(x, t):
    return 0.8 * torch.tanh(x) + 0.1 * torch.sin(t.float() / 100).view(-1, 1, 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddim-repo", required=True, help="checkout of ermongroup/ddim (functions/denoising.py)")
    ap.add_argument("out", nargs="?", default="qncd-models/src/test/resources/fixtures/ddim")
    args = ap.parse_args()
    sys.path.insert(0, args.ddim_repo)
    import functions.denoising as denoising  # the original sampling loops

    original_to = torch.Tensor.to

    def to_cpu_only(self, *a, **k):  # the reference hard-codes .to('cuda')
        if a and a[0] == "cuda":
            return self
        return original_to(self, *a, **k)

    torch.Tensor.to = to_cpu_only

    torch.manual_seed(7)
    betas64 = np.linspace(0.0001, 0.02, 1000, dtype=np.float64)  # get_beta_schedule("linear", ...)
    b = torch.from_numpy(betas64).float()
    x_t = torch.randn(2, 3, 4, 4)
    skip = 1000 // STEPS
    uniform = list(range(0, 1000, skip))
    quad = [int(s) for s in list(np.linspace(0, np.sqrt(1000 * 0.8), STEPS) ** 2)]
    cases = {
        "ddim_eta0": (denoising.generalized_steps, uniform, 0.0),
        "ddim_eta05": (denoising.generalized_steps, uniform, 0.5),
        "ddim_eta1_quad": (denoising.generalized_steps, quad, 1.0),
        "ddpm": (denoising.ddpm_steps, uniform, None),
    }
    arrays = {"x_T": x_t.numpy(), "betas": betas64}
    for name, (loop, seq, eta) in cases.items():
        noise = torch.randn(len(seq), *x_t.shape)
        drawn = iter(noise)
        original_randn_like = torch.randn_like
        torch.randn_like = lambda x: next(drawn).clone()
        try:
            kwargs = {} if eta is None else {"eta": eta}
            xs, x0s = loop(x_t.clone(), seq, stub_model, b, **kwargs)
        finally:
            torch.randn_like = original_randn_like
        arrays[name + "_seq"] = np.array(seq, dtype=np.int64)
        arrays[name + "_noise"] = noise.numpy()
        arrays[name + "_xs"] = torch.stack(xs).numpy()
        arrays[name + "_x0"] = torch.stack(x0s).numpy()
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, "samplers.npz"), **arrays)
    print("wrote", os.path.join(args.out, "samplers.npz"), "with torch", torch.__version__)


if __name__ == "__main__":
    main()
