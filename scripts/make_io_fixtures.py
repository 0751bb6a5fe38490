#!/usr/bin/python3
# Regenerate the fixtures of package dev.qncd.core.io (run from the repository root):
#
#   /usr/bin/python3 scripts/make_io_fixtures.py
#
# Needs Debian's python3-torch (1.13.1) and python3-numpy. Deterministic: fixed seeds, fixed
# formulas; re-running rewrites identical tensor data. Not byte-identical: legacy checkpoints name
# storages by memory address (str(storage._cdata)) and short_storage.pt carries zip timestamps.
# Everything goes to qncd-core/src/test/resources/fixtures/io/ and stays well under 1 MB (~54 KB).
#
# Layout:
#   torch/*.pt, *.pth   checkpoints written by torch.save (zip and legacy format)
#   torch/*.expected.npz  the tensors of a checkpoint as numpy copies (fp16/bf16 -> float32,
#                         exact), keyed by the flattened dotted path the Java reader produces
#   npy/*.npy, *.npz    numpy arrays with formula values the Java tests recompute
#   npy/bad/*           malformed numpy files
import argparse
import io
import os
import zipfile

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                    "qncd-core", "src", "test", "resources", "fixtures", "io")
TORCH_DIR = os.path.join(ROOT, "torch")
NPY_DIR = os.path.join(ROOT, "npy")
# The malicious payloads would create this file if anything executed them.
PWNED_MARKER = "/tmp/qncd-io-pwned-marker"


def save_both(obj, name):
    """Writes <name>_zip.pt and <name>_legacy.pt."""
    torch.save(obj, os.path.join(TORCH_DIR, name + "_zip.pt"))
    torch.save(obj, os.path.join(TORCH_DIR, name + "_legacy.pt"), _use_new_zipfile_serialization=False)


def flatten(obj, prefix, out):
    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    return out


def expected(tensors, name):
    """Saves numpy copies of the tensors: fp16/bf16 widen to float32 exactly."""
    arrays = {}
    for k, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        arrays[k] = t.numpy().copy()
    np.savez(os.path.join(TORCH_DIR, name + ".expected.npz"), **arrays)


def small_state_dict(seed):
    g = torch.Generator().manual_seed(seed)
    sd = {
        "conv_in.weight": torch.randn(4, 3, 3, 3, generator=g),
        "conv_in.bias": torch.randn(4, generator=g),
        "fc.weight": torch.randn(5, 8, generator=g),
        "fc.bias": torch.randn(5, generator=g),
        "norm.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "steps": torch.arange(6, dtype=torch.int64) * 1000003 - 2,
    }
    # a real nn.Module state dict is an OrderedDict with a _metadata attribute (BUILD opcode)
    module = torch.nn.Linear(2, 2)
    od = module.state_dict()
    od.clear()
    od.update(sd)
    return od


class Evil:
    """Pickles as a call of os.system: a loader that honours it runs a shell command."""

    def __reduce__(self):
        return (os.system, ("touch " + PWNED_MARKER,))


class EvalEvil:
    def __reduce__(self):
        return (eval, ("open('" + PWNED_MARKER + "', 'w').close()",))


def make_torch():
    os.makedirs(TORCH_DIR, exist_ok=True)
    sd = small_state_dict(1)
    save_both(sd, "plain")
    expected(dict(sd), "plain")

    g = torch.Generator().manual_seed(2)
    dtypes = {
        "f32": torch.randn(3, 4, generator=g),
        "f16": torch.randn(3, 4, generator=g).half(),
        "bf16": torch.randn(3, 4, generator=g).bfloat16(),
        "f64": torch.randn(2, 3, generator=g).double(),
        "i64": torch.tensor([-(2 ** 62), -1, 0, 1, 2 ** 62 + 5], dtype=torch.int64),
        "i32": torch.tensor([-(2 ** 31), -7, 0, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([-32768, -2, 3, 32767], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, False, True, True]),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
    }
    save_both(dtypes, "dtypes")
    expected(dtypes, "dtypes")

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.25 - 1
    half = (torch.arange(12, dtype=torch.float32).reshape(3, 4) / 8).half()
    views = {
        "base": base,
        "same": base,                          # the same tensor object twice (memo)
        "alias": base.view(6, 4),              # another tensor on the same storage
        "row": base[1],                        # storage offset 6
        "sliced": base[1:3, 2:5],              # offset 8, strides (6, 1): not contiguous
        "transposed": base.t(),                # strides (1, 6)
        "stepped": base[:, ::2],               # strides (6, 2)
        "expanded": torch.arange(3, dtype=torch.float32).reshape(3, 1).expand(3, 4),  # stride 0
        "half_t": half.t(),
        "int_slice": (torch.arange(20, dtype=torch.int64) - 10)[5:15:3],
    }
    save_both(views, "views")
    expected(views, "views")

    nested = {"state_dict": sd, "epoch": 3, "hparams": {"lr": 0.1, "name": "ddim", "betas": [0.9, 0.999],
                                                       "flag": True, "none": None}}
    torch.save(nested, os.path.join(TORCH_DIR, "nested_state_dict.pt"))
    torch.save({"model": sd, "step": 10}, os.path.join(TORCH_DIR, "nested_model.pt"))

    # DDIM's ckpt.pth: [model state, optimizer state, epoch, step, ema state]
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4)
        model.bias.copy_(torch.tensor([0.5, -0.5]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    ema = {k: v * 0 + 1 for k, v in model.state_dict().items()}
    ddim = [model.state_dict(), opt.state_dict(), 7, 1234, ema]
    torch.save(ddim, os.path.join(TORCH_DIR, "ddim_list.pth"))
    expected(flatten(ddim, "", {}), "ddim_list")

    prefixed = type(sd)()
    for k, v in sd.items():
        prefixed["module." + k] = v
    torch.save(prefixed, os.path.join(TORCH_DIR, "module_prefixed.pt"))

    # parameters (torch._utils._rebuild_parameter), e.g. torch.save(model.named_parameters())
    params = {"weight": torch.nn.Parameter(torch.arange(4, dtype=torch.float32)),
              "frozen": torch.nn.Parameter(torch.ones(2, 2), requires_grad=False)}
    torch.save(params, os.path.join(TORCH_DIR, "parameters.pt"))
    expected(params, "parameters")

    # unsafe: code execution through __reduce__, in both formats and with protocol 4 (STACK_GLOBAL)
    torch.save({"w": torch.ones(2), "evil": Evil()}, os.path.join(TORCH_DIR, "malicious_system_zip.pt"))
    torch.save({"w": torch.ones(2), "evil": Evil()}, os.path.join(TORCH_DIR, "malicious_system_legacy.pt"),
               _use_new_zipfile_serialization=False)
    torch.save({"w": torch.ones(2), "evil": EvalEvil()}, os.path.join(TORCH_DIR, "malicious_eval_proto4.pt"),
               pickle_protocol=4)
    torch.save({"state_dict": sd, "args": argparse.Namespace(lr=0.1, steps=100)},
               os.path.join(TORCH_DIR, "namespace.pt"))

    # corrupt copies
    with open(os.path.join(TORCH_DIR, "plain_zip.pt"), "rb") as f:
        zip_bytes = f.read()
    with open(os.path.join(TORCH_DIR, "plain_legacy.pt"), "rb") as f:
        legacy_bytes = f.read()
    with open(os.path.join(TORCH_DIR, "truncated_zip.pt"), "wb") as f:
        f.write(zip_bytes[: len(zip_bytes) * 6 // 10])
    with open(os.path.join(TORCH_DIR, "truncated_legacy.pt"), "wb") as f:
        f.write(legacy_bytes[:-20])
    with open(os.path.join(TORCH_DIR, "truncated_legacy_pickle.pt"), "wb") as f:
        f.write(legacy_bytes[:200])
    # a well-formed zip whose storage record is shorter than its tensor needs
    src = zipfile.ZipFile(io.BytesIO(zip_bytes))
    short_tensor = torch.arange(18, dtype=torch.float32)[2:].reshape(4, 4)   # offset 2, needs 18 floats
    buf = io.BytesIO()
    torch.save({"x": short_tensor}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(os.path.join(TORCH_DIR, "short_storage.pt"), "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith("/data/0"):
                data = data[:40]
            dst.writestr(info.filename, data)
    with open(os.path.join(TORCH_DIR, "not_a_checkpoint.pt"), "wb") as f:
        f.write(b"this is a text file, not a checkpoint\n")
    open(os.path.join(TORCH_DIR, "empty.pt"), "wb").close()


def formula(dtype, n):
    """The values the Java tests recompute: i = 0..n-1."""
    i = np.arange(n)
    if dtype.kind == "f":
        return ((i - 5) * 0.5).astype(dtype)
    if dtype.kind == "b":
        return i % 3 == 0
    if dtype.kind == "u":
        return (i * 7 % 256).astype(dtype)
    return (i - 5).astype(dtype)


def make_npy():
    os.makedirs(os.path.join(NPY_DIR, "bad"), exist_ok=True)
    for descr in ["<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "|b1"]:
        dt = np.dtype(descr)
        a = formula(dt, 24).reshape(2, 3, 4)
        np.save(os.path.join(NPY_DIR, "dtype_" + dt.str[1:] + ".npy"), a)
    np.save(os.path.join(NPY_DIR, "fortran_2d.npy"), np.asfortranarray(formula(np.dtype("<f4"), 12).reshape(3, 4)))
    np.save(os.path.join(NPY_DIR, "fortran_3d.npy"), np.asfortranarray(formula(np.dtype("<i8"), 24).reshape(2, 3, 4)))
    np.save(os.path.join(NPY_DIR, "scalar_0d.npy"), np.array(-2.5, dtype="<f8"))
    np.save(os.path.join(NPY_DIR, "empty.npy"), np.zeros((0, 3), dtype="<f4"))
    for version in [(2, 0), (3, 0)]:
        with open(os.path.join(NPY_DIR, "version_%d.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, formula(np.dtype("<f4"), 12).reshape(3, 4), version=version)
    # an ADM-style sample batch (uint8 NHWC) and FID statistics, as the evaluator exchanges them
    batch = formula(np.dtype("|u1"), 8 * 8 * 8 * 3).reshape(8, 8, 8, 3)
    np.savez(os.path.join(NPY_DIR, "batch_nhwc.npz"), batch, labels=np.arange(8, dtype="<i8"))
    mu = formula(np.dtype("<f8"), 16)
    sigma = formula(np.dtype("<f8"), 256).reshape(16, 16)
    np.savez_compressed(os.path.join(NPY_DIR, "stats_compressed.npz"), mu=mu, sigma=sigma)
    # malformed files
    np.save(os.path.join(NPY_DIR, "bad", "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(NPY_DIR, "bad", "big_endian.npy"), np.arange(4, dtype=">f4"))
    np.save(os.path.join(NPY_DIR, "bad", "complex.npy"), np.arange(4, dtype="<c8"))
    np.save(os.path.join(NPY_DIR, "bad", "structured.npy"), np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")]))
    with open(os.path.join(NPY_DIR, "dtype_f4.npy"), "rb") as f:
        good = f.read()
    with open(os.path.join(NPY_DIR, "bad", "truncated_data.npy"), "wb") as f:
        f.write(good[:-10])
    with open(os.path.join(NPY_DIR, "bad", "truncated_header.npy"), "wb") as f:
        f.write(good[:30])
    with open(os.path.join(NPY_DIR, "bad", "bad_magic.npy"), "wb") as f:
        f.write(b"\x93NUMPX" + good[6:])
    with open(os.path.join(NPY_DIR, "bad", "bad_header.npy"), "wb") as f:
        header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4, }"
        header = header + b" " * (118 - len(header)) + b"\n"
        f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + good[128:])


if __name__ == "__main__":
    torch.manual_seed(0)
    make_torch()
    make_npy()
    total = 0
    for d, _, files in os.walk(ROOT):
        total += sum(os.path.getsize(os.path.join(d, f)) for f in files)
    print("fixtures in %s: %d bytes" % (os.path.normpath(ROOT), total))
