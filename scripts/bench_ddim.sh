#!/usr/bin/env bash
# DDIM UNet speed benchmark (issue 3; results in docs/BENCHMARKS.md, section "DDIM UNet (issue 3)").
# One UNet evaluation on the full CIFAR-10 config (configs/cifar10.yml), batch 16, in PyTorch eager
# (the ORIGINAL models/diffusion.py of ermongroup/ddim, Debian's python3-torch 1.13, torch.no_grad) and
# in qncd (`qncd bench unet --serve`), with the same weights, inputs and thread count. Both processes
# stay loaded and take turns pass by pass (ABBA order), so a busy machine slows both alike; the script
# reports each side's median and the median of the per-pair ratios. Then the resident memory of a qncd
# DDIM sampling run (eta 0) at step 10 and at the last step.
#
#   apt-get install -y python3-torch python3-numpy python3-yaml
#   git clone https://github.com/ermongroup/ddim /tmp/ddim        # the reference model code, not part of qncd
#   scripts/bench_ddim.sh --ddim-repo /tmp/ddim [outdir]
#
# Environment: PAIRS (timed pairs, default 15), WARMUP (untimed pairs first, 3), THREADS (intra-op threads
# on both sides, 2), BATCH (16), SAMPLE_STEPS (100; 0 skips the memory run), SAMPLE_BATCH (its batch, BATCH).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DDIM_REPO=""
if [ "${1:-}" = "--ddim-repo" ]; then DDIM_REPO="$2"; shift 2; fi
[ -n "$DDIM_REPO" ] && [ -f "$DDIM_REPO/models/diffusion.py" ] || {
  echo "usage: $0 --ddim-repo <checkout of ermongroup/ddim> [outdir]" >&2; exit 2; }
OUT="$(mkdir -p "${1:-$ROOT/bench-out/ddim}" && cd "${1:-$ROOT/bench-out/ddim}" && pwd)"
PAIRS="${PAIRS:-15}" WARMUP="${WARMUP:-3}" THREADS="${THREADS:-2}" BATCH="${BATCH:-16}"
SAMPLE_STEPS="${SAMPLE_STEPS:-100}" SAMPLE_BATCH="${SAMPLE_BATCH:-$BATCH}"
CONFIG="$ROOT/configs/cifar10.yml"
PY=(/usr/bin/python3 "$ROOT/scripts/bench_ddim_unet.py" --ddim-repo "$DDIM_REPO" --config "$CONFIG" --out "$OUT")

if [ ! -f "$OUT/unet.ckpt" ] || [ ! -f "$OUT/inputs.npz" ] || \
   [ "$(/usr/bin/python3 -c "import numpy; print(numpy.load('$OUT/inputs.npz')['x'].shape[0])" 2>/dev/null)" != "$BATCH" ]; then
  "${PY[@]}" prepare --batch "$BATCH"
fi
"$ROOT/qncd" --version >/dev/null  # builds the jar now if needed, not during the measurement

LOG="$OUT/bench.log"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$LOG"

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
printf 'summary: batch %s, %s threads, %s alternating pairs after %s warm-up: PyTorch median %s ms (min %s), qncd median %s ms (min %s); ratio qncd/PyTorch: of medians %s, median of pair ratios %.3f\n' \
  "$BATCH" "$THREADS" "$PAIRS" "$WARMUP" "$PT" "$PTMIN" "$QN" "$QNMIN" \
  "$(awk -v a="$QN" -v b="$PT" 'BEGIN {printf "%.3f", a / b}')" "$RATIO" | tee -a "$LOG"

if [ "$SAMPLE_STEPS" -gt 0 ]; then
  /usr/bin/python3 - "$OUT" "$SAMPLE_BATCH" <<'PY'
import sys, numpy as np
out, n = sys.argv[1], int(sys.argv[2])
d = np.load(out + "/inputs.npz")
x = np.random.RandomState(1).randn(n, *d["x"].shape[1:]).astype(np.float32)
np.savez(out + "/sample_inputs.npz", x=x, t=np.full(n, 999, dtype=np.int64))
PY
  # A fixed, pre-touched Java heap, so that growth of the resident set is native memory.
  QNCD_JAVA_OPTS="${QNCD_JAVA_OPTS:--Xms1g -Xmx1g -XX:+AlwaysPreTouch}" "$ROOT/qncd" bench unet -q --config "$CONFIG" --ckpt "$OUT/unet.ckpt" \
    --inputs "$OUT/sample_inputs.npz" --threads "$THREADS" --warmup 1 --repeat 1 --sample-steps "$SAMPLE_STEPS" \
    | grep sampling | tee -a "$LOG"
fi
