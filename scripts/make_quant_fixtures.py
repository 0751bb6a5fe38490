#!/usr/bin/env python3
"""Runs Q-Diffusion's own UniformAffineQuantizer on fixed inputs and saves what it computes, so the Java
quantizer is checked against the reference implementation rather than against our reading of it.

The reference file is not part of qncd: pass its path (q-diffusion's qdiff/quant_layer.py, which imports
only torch; QNCD's quant/quant_layer.py is the same maths). Regenerate (Debian: python3-torch):
    /usr/bin/python3 scripts/make_quant_fixtures.py --quant-layer /path/to/q-diffusion/qdiff/quant_layer.py \
        qncd-core/src/test/resources/fixtures/quant

Writes one .npz per case: x (input; for running statistics also x1, x2), delta, zero_point, out (the
quantizer's forward on x after calibration), and the case settings as 0-d arrays (bits, symmetric, channel_wise, method_mse, always_zero).
"""
import argparse
import importlib.util
import os

import numpy as np
import torch


def load_reference(path):
    spec = importlib.util.spec_from_file_location("reference_quant_layer", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def heavy_tailed(g, *shape):
    # Student-t-like: normal / sqrt(chi2/3), plus a few large outliers.
    x = torch.randn(*shape, generator=g) / torch.sqrt(torch.rand(*shape, generator=g) * 3 + 0.05)
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quant-layer", required=True, help="path of q-diffusion's qdiff/quant_layer.py")
    ap.add_argument("out", nargs="?", default="qncd-core/src/test/resources/fixtures/quant")
    args = ap.parse_args()
    ref = load_reference(args.quant_layer)
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(2024)

    conv_w = torch.randn(16, 8, 3, 3, generator=g) * 0.05
    conv_w[3, 2, 1, 1] = 0.9  # an outlier channel
    conv_w[5] = conv_w[5].abs() + 0.01  # a channel whose range excludes 0
    lin_w = torch.randn(32, 24, generator=g) * 0.1
    act = heavy_tailed(g, 4, 16, 8, 8)
    post_silu = torch.nn.functional.silu(torch.randn(4, 16, 8, 8, generator=g) * 2)
    probs = torch.softmax(torch.randn(2, 64, 64, generator=g) * 3, dim=-1)

    cases = [
        # name, tensor, n_bits, symmetric, channel_wise, scale_method, always_zero
        ("w8_max_conv", conv_w, 8, False, True, "max", False),
        ("w4_max_conv", conv_w, 4, False, True, "max", False),
        ("w4_mse_linear", lin_w, 4, False, True, "mse", False),
        ("w8_sym_max_conv", conv_w, 8, True, True, "max", False),
        ("a8_mse_heavy", act, 8, False, False, "mse", False),
        ("a6_mse_heavy", act, 6, False, False, "mse", False),
        ("a8_max_silu", post_silu, 8, False, False, "max", False),
        ("sm8_mse_probs", probs, 8, False, False, "mse", True),
        ("sm16_max_probs", probs, 16, False, False, "max", True),
    ]
    for name, x, bits, sym, cw, method, az in cases:
        q = ref.UniformAffineQuantizer(n_bits=bits, symmetric=sym, channel_wise=cw, scale_method=method,
                                       always_zero=az)
        with torch.no_grad():
            out = q(x)
        delta = torch.as_tensor(q.delta).float().reshape(-1).numpy()
        zp = torch.as_tensor(q.zero_point).float().reshape(-1).numpy()
        np.savez(os.path.join(args.out, name + ".npz"), x=x.numpy(), delta=delta, zero_point=zp, out=out.numpy(),
                 bits=np.int64(bits), symmetric=np.bool_(sym), channel_wise=np.bool_(cw),
                 method_mse=np.bool_(method == "mse"), always_zero=np.bool_(az))

    # Running statistics (the activation quantizers' leaf_param + running_stat): the first forward
    # initialises the range by MSE and also applies the momentum update with the same batch.
    q = ref.UniformAffineQuantizer(n_bits=8, symmetric=False, channel_wise=False, scale_method="mse",
                                   leaf_param=True)
    q.running_stat = True
    x0, x1, x2 = heavy_tailed(g, 2, 16, 8, 8), heavy_tailed(g, 2, 16, 8, 8) * 1.5, heavy_tailed(g, 2, 16, 8, 8)
    with torch.no_grad():
        q(x0)
        q(x1)
        q(x2)
        q.running_stat = False
        out = q(x0)
    np.savez(os.path.join(args.out, "a8_mse_running.npz"), x=x0.numpy(), x1=x1.numpy(), x2=x2.numpy(),
             delta=q.delta.detach().float().reshape(-1).numpy(),
             zero_point=torch.as_tensor(q.zero_point).float().reshape(-1).numpy(), out=out.numpy(),
             bits=np.int64(8), symmetric=np.bool_(False), channel_wise=np.bool_(False), method_mse=np.bool_(True),
             always_zero=np.bool_(False))
    print("wrote", len(cases) + 1, "cases to", args.out)


if __name__ == "__main__":
    main()
