#!/usr/bin/env bash
# Checkpoint loading benchmark (issue: foundation). Writes a ~100 MB state dict with Debian's
# python3-torch in three formats, then times qncd loading each (one JVM per file, so the peak resident
# memory is the load's own) next to torch.load on the same files.
#   apt-get install -y python3-torch && scripts/bench_load.sh [outdir]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${1:-$ROOT/bench-out/load}"
mkdir -p "$OUT"
/usr/bin/python3 - "$OUT" <<'PY'
import os, sys, time, torch
out = sys.argv[1]
torch.manual_seed(0)
sd = {}
# A UNet-like mix: many small tensors and a few large ones, 100 MB of float32 in all.
sizes = [(256, 256, 3, 3)] * 30 + [(512, 512)] * 10 + [(128, 128, 3, 3)] * 30 + [(256,)] * 200
for i, s in enumerate(sizes):
    sd[f"block.{i}.weight"] = torch.randn(*s)
total = sum(t.numel() * 4 for t in sd.values())
torch.save(sd, os.path.join(out, "sd100.ckpt"))
torch.save(sd, os.path.join(out, "sd100_legacy.ckpt"), _use_new_zipfile_serialization=False)
print(f"wrote {len(sd)} tensors, {total/1e6:.1f} MB")
for name in ("sd100.ckpt", "sd100_legacy.ckpt"):
    p = os.path.join(out, name)
    torch.load(p)
    ts = []
    for _ in range(9):
        t0 = time.perf_counter(); torch.load(p); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    print(f"torch {torch.__version__} torch.load {name}: median {ts[len(ts)//2]:.1f} ms, min {ts[0]:.1f} ms")
PY
"$ROOT/qncd" convert "$OUT/sd100.ckpt" "$OUT/sd100.safetensors" -q
for f in sd100.safetensors sd100.ckpt sd100_legacy.ckpt; do
  "$ROOT/qncd" bench load "$OUT/$f" --repeat "${REPEAT:-9}" -q
done
