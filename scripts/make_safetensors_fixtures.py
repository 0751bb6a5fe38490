#!/usr/bin/env python3
"""Writes the safetensors test fixtures of qncd-core, independently of the Java writer.

Regenerate (Debian: apt-get install python3-torch python3-numpy):
    /usr/bin/python3 scripts/make_safetensors_fixtures.py qncd-core/src/test/resources/fixtures/safetensors

The file layout follows the safetensors specification: u64 little-endian header length, a JSON header
padded with spaces to a multiple of 8 bytes, then the tensor bytes. Tensor values are simple formulas
(value[i] = i * 0.5 - 3 and friends) so the Java test recomputes them without a second fixture.
"""
import json
import os
import struct
import sys

import torch


def tensors():
    n = 24
    base = torch.arange(n, dtype=torch.float64) * 0.5 - 3.0
    return {
        # The names are ordered so that the header order differs from the data order on purpose.
        "z.f32": base.to(torch.float32).reshape(2, 3, 4),
        "a.f16": base.to(torch.float16).reshape(4, 6),
        "m.bf16": base.to(torch.bfloat16).reshape(24),
        "b.f64": base.reshape(6, 4),
        "c.i64": (torch.arange(n, dtype=torch.int64) * 1000003 - 7).reshape(3, 8),
        "d.i32": (torch.arange(n, dtype=torch.int32) * 7 - 50).reshape(2, 12),
        "e.u8": (torch.arange(n, dtype=torch.int64) * 11 % 256).to(torch.uint8).reshape(2, 3, 4),
        "f.scalar": torch.tensor(2.5, dtype=torch.float32),
    }


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
          torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def raw_bytes(t):
    t = t.contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    return t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write(path, ts, metadata=None):
    header = {}
    blobs = []
    offset = 0
    # Data order: reverse alphabetical, so header (JSON) order != data order.
    for name in sorted(ts, reverse=True):
        b = raw_bytes(ts[name])
        header[name] = {"dtype": DTYPES[ts[name].dtype], "shape": list(ts[name].shape),
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, sort_keys=True).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main(out):
    os.makedirs(out, exist_ok=True)
    ts = tensors()
    write(os.path.join(out, "all_dtypes.safetensors"), ts, {"format": "pt", "note": "qncd fixture"})
    full = open(os.path.join(out, "all_dtypes.safetensors"), "rb").read()
    with open(os.path.join(out, "truncated.safetensors"), "wb") as f:
        f.write(full[:-10])
    with open(os.path.join(out, "bad_json.safetensors"), "wb") as f:
        h = b'{"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]'  # missing closing braces
        h += b" " * ((8 - len(h) % 8) % 8)
        f.write(struct.pack("<Q", len(h)) + h + b"\0" * 8)
    with open(os.path.join(out, "wrong_size.safetensors"), "wb") as f:
        h = json.dumps({"x": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        f.write(struct.pack("<Q", len(h)) + h + b"\0" * 8)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "qncd-core/src/test/resources/fixtures/safetensors")
