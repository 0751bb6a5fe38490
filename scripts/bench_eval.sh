#!/usr/bin/env bash
# Evaluator benchmarks (issue 5). Usage: scripts/bench_eval.sh [fid]
#   fid: FID of 10k vs 10k random features of dimension 2048 (statistics + distance), twice.
# Override sizes with QNCD_BENCH_N / QNCD_BENCH_D. Needs qncd-core installed:
#   mvn -B -q -o install -DskipTests -pl qncd-core
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-fid}
case "$what" in
  fid)
    mvn -B -q -o -pl qncd-eval test -Dtest=FidBenchmarkTest -Dsurefire.failIfNoSpecifiedTests=false \
      -Dqncd.bench=true -Dqncd.bench.n="${QNCD_BENCH_N:-10000}" -Dqncd.bench.d="${QNCD_BENCH_D:-2048}" \
      -Dsurefire.argLine=-Xmx4g 2>&1 | grep -E "^FID|ERROR|FAIL" ;;
  *) echo "unknown benchmark: $what" >&2; exit 2 ;;
esac
