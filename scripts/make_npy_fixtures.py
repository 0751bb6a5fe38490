#!/usr/bin/env python3
"""Writes the .npy/.npz test fixtures of qncd-core with numpy.

Regenerate (Debian: apt-get install python3-numpy):
    /usr/bin/python3 scripts/make_npy_fixtures.py qncd-core/src/test/resources/fixtures/npy

Values are formulas the Java test recomputes: value[i] = i * 0.5 - 3 (floats), i * 7 - 50 (ints),
i * 11 % 256 (uint8), in C order over the shape.
"""
import os
import sys

import numpy as np


def main(out):
    os.makedirs(out, exist_ok=True)
    n = 24
    i = np.arange(n)
    arrays = {
        "f4": (i * 0.5 - 3).astype("<f4").reshape(2, 3, 4),
        "f8": (i * 0.5 - 3).astype("<f8").reshape(4, 6),
        "f2": (i * 0.5 - 3).astype("<f2").reshape(24),
        "i8": (i * 7 - 50).astype("<i8").reshape(3, 8),
        "i4": (i * 7 - 50).astype("<i4").reshape(6, 4),
        "i2": (i * 7 - 50).astype("<i2").reshape(2, 12),
        "i1": (i * 7 - 50).astype("i1").reshape(24),
        "u1": (i * 11 % 256).astype("u1").reshape(2, 3, 4),
        "b1": (i % 3 == 0).reshape(4, 6),
    }
    for k, a in arrays.items():
        np.save(os.path.join(out, k + ".npy"), a)
    # Fortran order: same logical values as f4, stored column-major.
    np.save(os.path.join(out, "f4_fortran.npy"), np.asfortranarray(arrays["f4"]))
    np.save(os.path.join(out, "scalar.npy"), np.float32(2.5))
    np.save(os.path.join(out, "empty.npy"), np.zeros((0, 3), dtype="<f4"))
    np.save(os.path.join(out, "big_endian.npy"), arrays["f4"].astype(">f4"))
    np.save(os.path.join(out, "object.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    # A version 2.0 header (numpy writes 2.0 only for huge headers; force it).
    with open(os.path.join(out, "v2.npy"), "wb") as f:
        np.lib.format.write_array(f, arrays["i8"], version=(2, 0))
    # ADM-style batch and statistics.
    batch = ((np.arange(4 * 8 * 8 * 3) * 11) % 256).astype(np.uint8).reshape(4, 8, 8, 3)
    np.savez(os.path.join(out, "batch.npz"), batch)  # arr_0
    mu = np.arange(5, dtype=np.float64) / 3
    sigma = np.eye(5) * 2 + 0.25
    np.savez_compressed(os.path.join(out, "stats_compressed.npz"), mu=mu, sigma=sigma)
    full = open(os.path.join(out, "f4.npy"), "rb").read()
    with open(os.path.join(out, "truncated.npy"), "wb") as f:
        f.write(full[:-5])
    full = open(os.path.join(out, "batch.npz"), "rb").read()
    with open(os.path.join(out, "truncated.npz"), "wb") as f:
        f.write(full[: len(full) // 2])


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "qncd-core/src/test/resources/fixtures/npy")
