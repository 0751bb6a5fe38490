#!/usr/bin/env python3
"""Parity fixtures for the DDIM UNet, made with the ORIGINAL model code of ermongroup/ddim.

The original code is not part of qncd: pass a checkout of the DDIM repository (its models/diffusion.py
imports only torch). Regenerate (Debian: apt-get install python3-torch python3-numpy):
    git clone https://github.com/ermongroup/ddim /tmp/ddim   # or any copy of models/diffusion.py
    /usr/bin/python3 scripts/make_ddim_fixtures.py --ddim-repo /tmp/ddim qncd-models/src/test/resources/fixtures/ddim

Writes, for two tiny configs (all code paths: conv and pooling resampling, attention, nin shortcuts,
the bayesian logvar): the config YAML, random weights (float16-exact, saved as float16 to keep the files
small) as torch.save zip (and legacy for the second),
inputs x/t and the original model's eps; and for the first config a 10-step DDIM (eta 0) run from a
fixed start code with its final images as uint8 NHWC, rounded as torchvision's save_image does.
"""
import argparse
import os
import sys
import types

import numpy as np
import torch

TINY = {
    "tiny": dict(type="simple", ch=32, ch_mult=[1, 2], num_res_blocks=1, attn_resolutions=[8],
                 resamp_with_conv=True, image_size=16),
    "tiny_pool": dict(type="bayesian", ch=32, ch_mult=[1, 1], num_res_blocks=1, attn_resolutions=[8],
                      resamp_with_conv=False, image_size=16),
}


def namespace(c):
    return types.SimpleNamespace(
        data=types.SimpleNamespace(image_size=c["image_size"], channels=3),
        model=types.SimpleNamespace(type=c["type"], in_channels=3, out_ch=3, ch=c["ch"], ch_mult=c["ch_mult"],
                                    num_res_blocks=c["num_res_blocks"], attn_resolutions=c["attn_resolutions"],
                                    dropout=0.0, resamp_with_conv=c["resamp_with_conv"], var_type="fixedlarge"),
        diffusion=types.SimpleNamespace(beta_schedule="linear", beta_start=0.0001, beta_end=0.02,
                                        num_diffusion_timesteps=1000))


def yaml_text(c):
    return f"""# tiny DDIM UNet for parity tests (scripts/make_ddim_fixtures.py)
data:
  dataset: TINY
  image_size: {c['image_size']}
  channels: 3
  rescaled: true
model:
  type: {c['type']}
  in_channels: 3
  out_ch: 3
  ch: {c['ch']}
  ch_mult: {c['ch_mult']}
  num_res_blocks: {c['num_res_blocks']}
  attn_resolutions: {c['attn_resolutions']}
  dropout: 0.0
  var_type: fixedlarge
  resamp_with_conv: {str(c['resamp_with_conv']).lower()}
diffusion:
  beta_schedule: linear
  beta_start: 0.0001
  beta_end: 0.02
  num_diffusion_timesteps: 1000
sampling:
  batch_size: 2
"""


def alpha_bar(betas, t):
    # alpha_bar at index t, with alpha_bar(-1) = 1 (as DDIM's compute_alpha)
    b = torch.cat([torch.zeros(1), betas], dim=0)
    return (1 - b).cumprod(dim=0).index_select(0, t + 1).view(-1, 1, 1, 1)


def ddim_eta0(model, x, seq, betas):
    seq_next = [-1] + list(seq[:-1])
    n = x.size(0)
    for i, j in zip(reversed(seq), reversed(seq_next)):
        t = torch.ones(n) * i
        at = alpha_bar(betas, t.long())
        at_next = alpha_bar(betas, (torch.ones(n) * j).long())
        et = model(x, t)
        x0 = (x - et * (1 - at).sqrt()) / at.sqrt()
        c2 = (1 - at_next).sqrt()
        x = at_next.sqrt() * x0 + c2 * et
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ddim-repo", required=True, help="checkout of ermongroup/ddim (for models/diffusion.py)")
    ap.add_argument("out", nargs="?", default="qncd-models/src/test/resources/fixtures/ddim")
    args = ap.parse_args()
    sys.path.insert(0, args.ddim_repo)
    from models.diffusion import Model  # the original architecture

    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, c in TINY.items():
        model = Model(namespace(c)).eval()
        with torch.no_grad():
            for p in model.parameters():  # non-trivial norms and biases, same scale as trained weights
                p.add_(torch.randn_like(p) * 0.05)
                p.copy_(p.half().float())  # exactly representable in float16, so the file can be half
        sd = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
        p = lambda f: os.path.join(args.out, f)
        open(p(name + ".yml"), "w").write(yaml_text(c))
        torch.save(sd, p(name + ".ckpt"))
        if name == "tiny_pool":
            torch.save(sd, p(name + "_legacy.ckpt"), _use_new_zipfile_serialization=False)
        x = torch.randn(2, 3, c["image_size"], c["image_size"])
        t = torch.tensor([3, 917], dtype=torch.int64)
        with torch.no_grad():
            eps = model(x, t)
        np.savez(p(name + "_forward.npz"), x=x.numpy(), t=t.numpy(), eps=eps.numpy())
        if name == "tiny":
            betas = torch.from_numpy(np.linspace(0.0001, 0.02, 1000, dtype=np.float64)).float()
            x_t = torch.randn(2, 3, c["image_size"], c["image_size"])
            seq = list(range(0, 1000, 1000 // 10))
            with torch.no_grad():
                x0 = ddim_eta0(model, x_t, seq, betas)
            img = ((x0 + 1) / 2).clamp(0, 1).mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
            np.save(p("tiny_start_code.npy"), x_t.numpy())
            np.savez(p("tiny_ddim10.npz"), arr_0=img.permute(0, 2, 3, 1).numpy(), x0=x0.numpy())
    print("fixtures in", args.out, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
