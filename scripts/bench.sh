#!/usr/bin/env bash
# ember's benchmarks in one command: builds the bench programs (Release, into ./build) and runs
# the chosen suites, printing ratio tables (ours vs OpenBLAS for GEMM; GFLOP/s and GB/s for the
# other kernels; whole training steps for the WORKLOADS.md workloads; HPO sampler regret).
#
#   bash scripts/bench.sh [gemm|kernels|workloads|hpo|all] [--threads N]    (default: all, 1 thread)
#
# OpenBLAS (the GEMM baseline) is told the core type this CPU needs, since Debian's 0.3.21 may
# misdetect newer CPUs: SkylakeX with AVX-512, Haswell with AVX2 (the core it picked is printed).
# Timings on a shared machine are noisy: run twice and compare ratios taken in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
suite="all"; threads=1
while (($#)); do
  case "$1" in
    gemm|kernels|workloads|hpo|all) suite="$1" ;;
    --threads) threads="${2:?--threads needs a number}"; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument '$1' (expected gemm, kernels, workloads, hpo, all or --threads N)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --threads must be a positive integer (got '$threads')" >&2; exit 2; }

bash scripts/setup.sh > /tmp/ember-bench-setup.log || { cat /tmp/ember-bench-setup.log; exit 1; }
if grep -q avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}"
else export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"; fi
export OPENBLAS_NUM_THREADS="$threads" EMBER_NUM_THREADS="$threads"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; threads $threads; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
on() { [ "$suite" = all ] || [ "$suite" = "$1" ]; }

if on gemm; then
  echo "== GEMM: ours vs OpenBLAS (GFLOP/s; %peak against this run's FMA-loop peak)"
  build/bench/bench_gemm --benchmark_filter="T:$threads/|fma_peak" --benchmark_format=json > "$out/gemm.json"
  python3 bench/gemm_table.py "$out/gemm.json"
fi
if on kernels; then
  echo "== kernels (FLOP/s or bytes/s per kernel; 1 thread)"
  build/bench/bench_kernels --benchmark_counters_tabular=true
fi
if on workloads; then
  echo "== workloads (median ms per training step, WORKLOADS.md)"
  build/bench/bench_workloads --threads "$threads"
fi
if on hpo; then
  echo "== HPO samplers on HPO-SUITE.md (regret, cost per suggestion, pruning)"
  build/hpo/hpo_bench --seeds 5 --threads "$threads"
fi
