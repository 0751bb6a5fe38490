#!/usr/bin/env bash
# LDM / Stable Diffusion UNet speed benchmark (issue 7; results in docs/BENCHMARKS.md, section
# "LDM / SD UNet (issue 7)"). One UNet evaluation at a real config's full size with random weights, in
# PyTorch eager (scripts/bench_ldm_unet.py: the re-implementation of latent-diffusion's UNetModel from
# scripts/make_ldm_fixtures.py, or with --ldm-repo the ORIGINAL openaimodel.py; Debian's python3-torch
# 1.13, torch.no_grad) and in qncd (`qncd bench unet --serve`), same weights, inputs and thread count.
# Both processes stay loaded and take turns pass by pass (ABBA order), so a busy machine slows both
# alike; the script reports each side's median and the median of the per-pair ratios, then runs
# `qncd forward` once on the same inputs and reports max |eps_qncd - eps_pytorch|.
#
#   apt-get install -y python3-torch python3-numpy python3-yaml
#   scripts/bench_ldm.sh [--ldm-repo /tmp/latent-diffusion] [outdir]       # cin256-v2, batch 4, 64x64x3
#   CONFIG=configs/stable-diffusion/v1-inference.yaml BATCH=1 CONTEXT_LEN=77 PAIRS=5 scripts/bench_ldm.sh
#
# Environment: CONFIG (default configs/latent-diffusion/cin256-v2.yaml), BATCH (4), SIZE (latent H = W, 64),
# CONTEXT_LEN (context tokens: 1 for cin256-v2's class embedding, 77 for SD's CLIP text), PAIRS (timed
# pairs, 10), WARMUP (untimed pairs first, 2), THREADS (intra-op threads on both sides, 2).
# The random checkpoint (cin256-v2: 1.6 GB, SD v1: 3.4 GB) and inputs go to outdir (default
# bench-out/ldm-<config name>, ignored by git) and are reused while BATCH, SIZE and CONTEXT_LEN stay the same.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
LDM_REPO=()
if [ "${1:-}" = "--ldm-repo" ]; then LDM_REPO=(--ldm-repo "$2"); shift 2; fi
CONFIG="$(cd "$ROOT" && realpath "${CONFIG:-configs/latent-diffusion/cin256-v2.yaml}")"
NAME="$(basename "$CONFIG" .yaml)"
OUT="$(mkdir -p "${1:-$ROOT/bench-out/ldm-$NAME}" && cd "${1:-$ROOT/bench-out/ldm-$NAME}" && pwd)"
BATCH="${BATCH:-4}" SIZE="${SIZE:-64}" CONTEXT_LEN="${CONTEXT_LEN:-1}"
PAIRS="${PAIRS:-10}" WARMUP="${WARMUP:-2}" THREADS="${THREADS:-2}"
PY=(/usr/bin/python3 "$ROOT/scripts/bench_ldm_unet.py" --config "$CONFIG" --out "$OUT" "${LDM_REPO[@]}")

SHAPE="$BATCH $SIZE $CONTEXT_LEN"
if [ ! -f "$OUT/unet.ckpt" ] || [ ! -f "$OUT/inputs.npz" ] || [ "$(cat "$OUT/shape" 2>/dev/null)" != "$SHAPE" ]; then
  "${PY[@]}" prepare --batch "$BATCH" --size "$SIZE" --context-len "$CONTEXT_LEN" | tee "$OUT/prepare.log"
  echo "$SHAPE" >"$OUT/shape"
fi
"$ROOT/qncd" --version >/dev/null  # builds the jar now if needed, not during the measurement

LOG="$OUT/bench.log"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$LOG"
echo "config $CONFIG: $(tail -1 "$OUT/prepare.log" 2>/dev/null)" | tee -a "$LOG"

FIFO="$(mktemp -d)"
trap 'exec 3>&- 5>&- 2>/dev/null || true; rm -rf "$FIFO"' EXIT
mkfifo "$FIFO/py.in" "$FIFO/py.out" "$FIFO/qn.in" "$FIFO/qn.out"
"${PY[@]}" serve --threads "$THREADS" <"$FIFO/py.in" >"$FIFO/py.out" &
"$ROOT/qncd" bench unet -q --serve --config "$CONFIG" --ckpt "$OUT/unet.ckpt" --inputs "$OUT/inputs.npz" \
  --threads "$THREADS" <"$FIFO/qn.in" >"$FIFO/qn.out" &
exec 3>"$FIFO/py.in" 4<"$FIFO/py.out" 5>"$FIFO/qn.in" 6<"$FIFO/qn.out"

# Reads lines from a descriptor until one starts with the prefix; prints it.
expect() { local line; while read -r line <&"$1"; do case "$line" in "$2"*) echo "$line"; return 0;; esac; done; return 1; }
pass() { echo go >&"$1"; expect "$2" "ms=" | cut -d= -f2; }
echo "$(expect 4 ready) / $(expect 6 ready)" | tee -a "$LOG"

PYMS=() QNMS=()
for i in $(seq 1 $((WARMUP + PAIRS))); do
  if [ $((i % 2)) -eq 1 ]; then p=$(pass 3 4); q=$(pass 5 6); else q=$(pass 5 6); p=$(pass 3 4); fi
  if [ "$i" -gt "$WARMUP" ]; then PYMS+=("$p"); QNMS+=("$q"); echo "pair $((i - WARMUP)): pytorch $p ms, qncd $q ms" >>"$LOG"; fi
done
echo quit >&3; echo quit >&5; wait

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
PT=$(printf '%s\n' "${PYMS[@]}" | median); QN=$(printf '%s\n' "${QNMS[@]}" | median)
PTMIN=$(printf '%s\n' "${PYMS[@]}" | sort -g | head -1); QNMIN=$(printf '%s\n' "${QNMS[@]}" | sort -g | head -1)
RATIO=$(for k in "${!PYMS[@]}"; do awk -v a="${QNMS[$k]}" -v b="${PYMS[$k]}" 'BEGIN {print a / b}'; done | median)
printf 'summary: %s, batch %s, %sx%s latent, %s threads, %s alternating pairs after %s warm-up: PyTorch median %s ms (min %s), qncd median %s ms (min %s); ratio qncd/PyTorch: of medians %s, median of pair ratios %.3f\n' \
  "$NAME" "$BATCH" "$SIZE" "$SIZE" "$THREADS" "$PAIRS" "$WARMUP" "$PT" "$PTMIN" "$QN" "$QNMIN" \
  "$(awk -v a="$QN" -v b="$PT" 'BEGIN {printf "%.3f", a / b}')" "$RATIO" | tee -a "$LOG"

# Agreement at full size: qncd's eps against the PyTorch model's (recorded by prepare).
"$ROOT/qncd" forward -q --config "$CONFIG" --ckpt "$OUT/unet.ckpt" --inputs "$OUT/inputs.npz" --out "$OUT/eps_qncd.npz"
/usr/bin/python3 - "$OUT" <<'PY' | tee -a "$LOG"
import sys, numpy as np
out = sys.argv[1]
ref = np.load(out + "/inputs.npz")["eps"]
eps = np.load(out + "/eps_qncd.npz")["eps"]
err = float(np.abs(eps - ref).max())
scale = float(np.abs(ref).max())
print(f"agreement: max |eps_qncd - eps_pytorch| = {err:.2e}, max |eps| = {scale:.3f}, relative {err / scale:.1e}")
PY
