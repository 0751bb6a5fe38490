#!/usr/bin/env bash
# DDIM UNet speed benchmark (issue 3; results in docs/BENCHMARKS.md, section "DDIM UNet (issue 3)").
# One UNet evaluation on the full CIFAR-10 config (configs/cifar10.yml), batch 16, in PyTorch eager
# (the ORIGINAL models/diffusion.py of ermongroup/ddim, Debian's python3-torch 1.13, torch.no_grad) and
# in qncd (`qncd bench unet`), alternately in the same run, same weights, inputs and thread count; then
# the resident memory of a qncd DDIM sampling run at step 10 and at the last step.
#
#   apt-get install -y python3-torch python3-numpy python3-yaml
#   git clone https://github.com/ermongroup/ddim /tmp/ddim        # the reference model code, not part of qncd
#   scripts/bench_ddim.sh --ddim-repo /tmp/ddim [outdir]
#
# Environment: ROUNDS (alternations, default 3), WARMUP (3), REPEAT (timed runs per round, 7),
# THREADS (intra-op threads on both sides, 2), BATCH (16), SAMPLE_STEPS (100; 0 skips the memory run),
# SAMPLE_BATCH (batch of the memory run, default BATCH).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DDIM_REPO=""
if [ "${1:-}" = "--ddim-repo" ]; then DDIM_REPO="$2"; shift 2; fi
[ -n "$DDIM_REPO" ] && [ -f "$DDIM_REPO/models/diffusion.py" ] || {
  echo "usage: $0 --ddim-repo <checkout of ermongroup/ddim> [outdir]" >&2; exit 2; }
OUT="${1:-$ROOT/bench-out/ddim}"
ROUNDS="${ROUNDS:-3}" WARMUP="${WARMUP:-3}" REPEAT="${REPEAT:-7}" THREADS="${THREADS:-2}" BATCH="${BATCH:-16}"
SAMPLE_STEPS="${SAMPLE_STEPS:-100}" SAMPLE_BATCH="${SAMPLE_BATCH:-$BATCH}"
CONFIG="$ROOT/configs/cifar10.yml"
PY=(/usr/bin/python3 "$ROOT/scripts/bench_ddim_unet.py" --ddim-repo "$DDIM_REPO" --config "$CONFIG" --out "$OUT")
mkdir -p "$OUT"

if [ ! -f "$OUT/unet.ckpt" ] || [ ! -f "$OUT/inputs.npz" ] || \
   [ "$(/usr/bin/python3 -c "import numpy; print(numpy.load('$OUT/inputs.npz')['x'].shape[0])" 2>/dev/null)" != "$BATCH" ]; then
  "${PY[@]}" prepare --batch "$BATCH"
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
LOG="$OUT/bench.log"
: > "$LOG"
for r in $(seq 1 "$ROUNDS"); do
  "${PY[@]}" time --threads "$THREADS" --warmup "$WARMUP" --repeat "$REPEAT" | tee -a "$LOG"
  "$ROOT/qncd" bench unet -q --config "$CONFIG" --ckpt "$OUT/unet.ckpt" --inputs "$OUT/inputs.npz" \
    --threads "$THREADS" --warmup "$WARMUP" --repeat "$REPEAT" | tee -a "$LOG"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { grep "^$1 median_ms" "$LOG" | sed -E "s/.*$2=([0-9.]+).*/\1/"; }
PT=$(field pytorch median_ms | median); QN=$(field qncd median_ms | median)
PTMIN=$(field pytorch min_ms | sort -g | head -1); QNMIN=$(field qncd min_ms | sort -g | head -1)
echo "summary: batch $BATCH, $THREADS threads, $ROUNDS rounds x $REPEAT runs (after $WARMUP warm-up):" \
  "PyTorch median of round medians ${PT} ms (best ${PTMIN}), qncd ${QN} ms (best ${QNMIN}), ratio qncd/PyTorch" \
  "$(awk -v a="$QN" -v b="$PT" 'BEGIN {printf "%.2f", a / b}')" | tee -a "$LOG"

if [ "$SAMPLE_STEPS" -gt 0 ]; then
  /usr/bin/python3 - "$OUT" "$SAMPLE_BATCH" <<'PY'
import sys, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
d = np.load(out + "/inputs.npz")
x = np.random.RandomState(1).randn(n, *d["x"].shape[1:]).astype(np.float32)
np.savez(out + "/sample_inputs.npz", x=x, t=np.full(n, 999, dtype=np.int64))
PY
  "$ROOT/qncd" bench unet -q --config "$CONFIG" --ckpt "$OUT/unet.ckpt" --inputs "$OUT/sample_inputs.npz" \
    --threads "$THREADS" --warmup 1 --repeat 1 --sample-steps "$SAMPLE_STEPS" | grep sampling | tee -a "$LOG"
fi
