#!/usr/bin/env bash
# Overhead of runtime noise estimation (--sample_reverse; results in docs/BENCHMARKS.md, section
# "Runtime noise estimation"). Runs `qncd sample-ddim` on the full CIFAR-10 config (random weights made by
# bench_ddim_unet.py prepare, same scale as trained ones) without and with --sample_reverse, alternating
# run by run (ABBA order) so machine load hits both alike, and reports per variant the median sampling
# seconds per step (run.json's seconds_per_step_per_batch, model loading excluded) and the median CPU
# seconds of the whole process (user + sys, /usr/bin/time; steadier than wall time on a shared machine),
# with the median per-pair ratios.
# Expected: one extra UNet evaluation per estimate, i.e. about (estimates per batch)/(steps) more time.
#
#   apt-get install -y python3-torch python3-numpy python3-yaml
#   git clone https://github.com/ermongroup/ddim /tmp/ddim     # only to build the random-weight checkpoint
#   scripts/bench_noise.sh --ddim-repo /tmp/ddim [outdir]
#
# Environment: PAIRS (timed pairs, default 3), STEPS (DDIM steps, 20), K (--reverse_interval, 10),
# BATCH (images = batch size, 8), THREADS (intra-op threads, 2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DDIM_REPO=""
if [ "${1:-}" = "--ddim-repo" ]; then DDIM_REPO="$2"; shift 2; fi
[ -n "$DDIM_REPO" ] && [ -f "$DDIM_REPO/models/diffusion.py" ] || {
  echo "usage: $0 --ddim-repo <checkout of ermongroup/ddim> [outdir]" >&2; exit 2; }
OUT="$(mkdir -p "${1:-$ROOT/bench-out/noise}" && cd "${1:-$ROOT/bench-out/noise}" && pwd)"
PAIRS="${PAIRS:-3}" STEPS="${STEPS:-20}" K="${K:-10}" BATCH="${BATCH:-8}" THREADS="${THREADS:-2}"
CONFIG="$ROOT/configs/cifar10.yml"
[ -f "$OUT/unet.ckpt" ] || /usr/bin/python3 "$ROOT/scripts/bench_ddim_unet.py" --ddim-repo "$DDIM_REPO" \
  --config "$CONFIG" --out "$OUT" prepare --batch "$BATCH"
"$ROOT/qncd" --version >/dev/null  # builds the jar now if needed, not during the measurement
export OMP_NUM_THREADS="$THREADS"

LOG="$OUT/bench.log"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$LOG"
run() {  # $1 = label, rest = extra flags; prints seconds per step, CPU seconds and the number of estimates
  local dir="$OUT/run-$1"
  rm -rf "$dir"
  /usr/bin/time -f "%U %S" -o "$OUT/time-$1" "$ROOT/qncd" sample-ddim -q --config "$CONFIG" --ckpt "$OUT/unet.ckpt" --timesteps "$STEPS" --eta 0 \
    --max_images "$BATCH" --batch_size "$BATCH" --seed 1 -l "$dir" "${@:2}"
  /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); \
print(r['seconds_per_step_per_batch'], r.get('noise_estimation', {}).get('extra_model_evaluations', 0))" "$dir/run.json"
}
cpu() { awk '{print $1 + $2}' "$OUT/time-$1"; }
PLAIN=() REV=() PCPU=() RCPU=() EST=0
for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) -eq 1 ]; then
    read -r p _ < <(run plain); read -r q EST < <(run reverse --sample_reverse --reverse_interval "$K")
  else
    read -r q EST < <(run reverse --sample_reverse --reverse_interval "$K"); read -r p _ < <(run plain)
  fi
  PLAIN+=("$p"); REV+=("$q"); PCPU+=("$(cpu plain)"); RCPU+=("$(cpu reverse)")
  echo "pair $i: plain $p s/step (${PCPU[-1]} CPU s), --sample_reverse $q s/step (${RCPU[-1]} CPU s)," \
    "load $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$LOG"
done
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { local -n A=$1 B=$2; for k in "${!A[@]}"; do awk -v a="${B[$k]}" -v b="${A[$k]}" 'BEGIN {print a / b}'; done | median; }
P=$(printf '%s\n' "${PLAIN[@]}" | median); Q=$(printf '%s\n' "${REV[@]}" | median)
PC=$(printf '%s\n' "${PCPU[@]}" | median); QC=$(printf '%s\n' "${RCPU[@]}" | median)
EXPECTED=$(awk -v e="$EST" -v n="$STEPS" 'BEGIN {printf "%.3f", 1 + e / n}')
echo "DDIM $STEPS steps, batch $BATCH, --reverse_interval $K ($EST estimates): wall plain $P s/step, with estimation" \
  "$Q s/step, median ratio $(ratio PLAIN REV); CPU plain $PC s, with estimation $QC s, median ratio $(ratio PCPU RCPU)" \
  "(one extra UNet evaluation per estimate predicts $EXPECTED for the sampling part)" | tee -a "$LOG"
