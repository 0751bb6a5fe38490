#!/usr/bin/env python3
"""Writes the torch.save test fixtures of qncd-core with Debian's PyTorch (1.13).

Regenerate (Debian: apt-get install python3-torch python3-numpy):
    /usr/bin/python3 scripts/make_torch_fixtures.py qncd-core/src/test/resources/fixtures/torch

Each checkpoint's expected tensors are also written with numpy to <name>.expected.npz (float16 and
bfloat16 as float32, which is exact), so the Java test compares bit for bit.
"""
import argparse
import collections
import os
import sys

import numpy as np
import torch


def state_dict():
    g = torch.Generator().manual_seed(1234)
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.randn(8, 4, 3, 3, generator=g)
    sd["conv.bias"] = torch.randn(8, generator=g)
    sd["fc.weight"] = torch.randn(5, 7, generator=g)
    sd["bn.num_batches_tracked"] = torch.tensor(12345678901, dtype=torch.int64)
    sd["steps"] = torch.arange(-3, 9, dtype=torch.int64).reshape(3, 4)
    sd["half"] = (torch.randn(6, 5, generator=g) * 3).half()
    sd["bf16"] = (torch.randn(4, 3, generator=g) * 3).bfloat16()
    sd["mask"] = torch.tensor([True, False, True])
    sd["bytes"] = torch.arange(0, 250, 10, dtype=torch.uint8)
    # Views: two slices of one storage (shared storage, second one with an offset), a transposed
    # tensor (non-contiguous strides), an expanded one (stride 0) and a strided slice.
    base = torch.arange(40, dtype=torch.float32) * 0.25
    sd["shared.a"] = base[0:12].view(3, 4)
    sd["shared.b"] = base[10:30].view(4, 5)
    sd["transposed"] = torch.randn(3, 6, generator=g).t()
    sd["expanded"] = torch.randn(1, 4, generator=g).expand(3, 4)
    sd["every_other"] = base[1:40:3]
    sd["empty"] = torch.zeros(0, 3)
    sd["scalar"] = torch.tensor(2.5)
    return sd


def expected(sd, prefix=""):
    out = {}
    for k, v in sd.items():
        t = v.detach()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        out[prefix + k] = t.contiguous().numpy()
    return out


class Evil:
    """A pickle payload that would run a shell command when loaded by Python's pickle."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/qncd-fixture-pwned",))


def main(out):
    os.makedirs(out, exist_ok=True)
    sd = state_dict()
    p = lambda n: os.path.join(out, n)
    torch.save(sd, p("sd_zip.ckpt"))
    torch.save(sd, p("sd_legacy.ckpt"), _use_new_zipfile_serialization=False)
    np.savez(p("sd.expected.npz"), **expected(sd))

    small = collections.OrderedDict((k, sd[k]) for k in ("conv.bias", "fc.weight", "half"))
    np.savez(p("small.expected.npz"), **expected(small))
    torch.save({"state_dict": small, "epoch": 3, "global_step": 10, "name": "run"}, p("nested_state_dict.ckpt"))
    torch.save({"model": small, "optimizer": {"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]}},
               p("nested_model_legacy.pth"), _use_new_zipfile_serialization=False)
    # DDIM's ckpt.pth layout: [model, optimizer, epoch, step, ema]
    ema = collections.OrderedDict((k, v * 2) for k, v in small.items())
    np.savez(p("ema.expected.npz"), **expected(ema))
    torch.save([small, {"state": {}, "param_groups": []}, 7, 700, ema], p("ddim_list.pth"))
    torch.save(collections.OrderedDict(("module." + k, v) for k, v in small.items()), p("dataparallel.pth"))
    # Parameters (nn.Parameter pickles through torch._utils._rebuild_parameter).
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3))
        lin.bias.copy_(torch.tensor([0.5, -0.5]))
    torch.save({"weight": lin.weight, "bias": lin.bias}, p("parameters.pt"))

    # Unsafe: a payload that runs a command, and a harmless but non-tensor global.
    torch.save({"x": torch.ones(2), "payload": Evil()}, p("evil.ckpt"))
    torch.save({"state_dict": small, "hparams": argparse.Namespace(lr=0.1)}, p("namespace.ckpt"))

    full = open(p("sd_zip.ckpt"), "rb").read()
    open(p("truncated_zip.ckpt"), "wb").write(full[: len(full) // 2])
    full = open(p("sd_legacy.ckpt"), "rb").read()
    open(p("truncated_legacy.ckpt"), "wb").write(full[: int(len(full) * 0.8)])
    print("torch", torch.__version__, "fixtures in", out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "qncd-core/src/test/resources/fixtures/torch")
