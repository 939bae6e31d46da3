#!/usr/bin/env bash
# ember vs PyTorch on the WORKLOADS.md workloads, in the same window: bench_workloads and the
# libtorch peer (bench/torch/bench_torch.cpp) run alternately at each thread count, `rounds` times,
# and the table prints each side's median (the median of the rounds' medians), the ratio
# PyTorch / ember (> 1: ember faster) on wall time and on process CPU time per step (the CPU
# figure is steadier on a shared machine), and the spread of the rounds.
#
# PyTorch runs in its best configuration on this machine: Debian's libtorch 1.13 with the OpenMP
# OpenBLAS build (libopenblas0-openmp, picked by LD_LIBRARY_PATH; the system default stays the
# pthread build), OPENBLAS_CORETYPE for this CPU (Haswell kernels on an AVX2-only CPU, SkylakeX on
# AVX-512), ATEN_CPU_CAPABILITY=avx2 or avx512, and set_num_threads = OMP_NUM_THREADS =
# OPENBLAS_NUM_THREADS = threads. GOMP_SPINCOUNT=100000 bounds libgomp's spin-wait to ~0.1 ms
# like ember's pool (GOMP's default active wait made PyTorch's 2-thread rows 20-2000x slower on
# this shared machine); set TORCH_GOMP_SPINCOUNT= (empty) to keep libgomp's default.
#
# Needs: apt-get install libtorch-dev libopenblas0-openmp (not part of scripts/setup.sh), and
# ninja -C build bench_workloads. bench_torch is compiled here (g++, ~1.5 min) when missing.
# usage: scripts/bench-vs-torch.sh [--build DIR] [--rounds N] [--threads "1 2"] [workloads...]
#        (default workloads: W1 W2 W3 W4 W5 W6 W6inf)
set -euo pipefail
build=build rounds=1 threads="1 2"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
work=("$@")
[[ ${#work[@]} -eq 0 ]] && work=(W1 W2 W3 W4 W5 W6 W6inf)
root="$(cd "$(dirname "$0")/.." && pwd)"
ember="$build/bench/bench_workloads" torchb="$build/bench/bench_torch"
[[ -x "$ember" ]] || { echo "bench-vs-torch: $ember not found (ninja -C $build bench_workloads)" >&2; exit 1; }
if [[ ! -x "$torchb" ]]; then
  [[ -f /usr/include/torch/csrc/api/include/torch/torch.h ]] ||
    { echo "bench-vs-torch: libtorch not installed (apt-get install libtorch-dev libopenblas0-openmp)" >&2; exit 1; }
  echo "compiling $torchb ..." >&2
  g++ -std=c++17 -O2 -o "$torchb" "$root/bench/torch/bench_torch.cpp" -I/usr/include/torch/csrc/api/include \
    -ltorch -ltorch_cpu -lc10 -lz
fi
if grep -q avx512f /proc/cpuinfo; then core=SkylakeX cap=avx512; else core=Haswell cap=avx2; fi
omp=/usr/lib/x86_64-linux-gnu/openblas-openmp
[[ -d $omp ]] || { echo "bench-vs-torch: warning: $omp missing, PyTorch uses the pthread OpenBLAS" >&2; omp=""; }
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "pytorch: OPENBLAS_CORETYPE=$core ATEN_CPU_CAPABILITY=$cap openblas=${omp:-pthread} GOMP_SPINCOUNT=${TORCH_GOMP_SPINCOUNT-100000}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  for t in $threads; do
    echo "round $r, $t thread(s) ..." >&2
    "$ember" --threads "$t" "${work[@]}" | grep -E '^W[0-9]' | grep -v '(' > "$tmp/ember.$t.$r"
    spin=()
    [[ -n "${TORCH_GOMP_SPINCOUNT-100000}" ]] && spin=(GOMP_SPINCOUNT="${TORCH_GOMP_SPINCOUNT-100000}")
    env "${spin[@]}" LD_LIBRARY_PATH="$omp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_CORETYPE=$core ATEN_CPU_CAPABILITY=$cap \
      OMP_NUM_THREADS="$t" OPENBLAS_NUM_THREADS="$t" "$torchb" --threads "$t" "${work[@]}" | grep -E '^W[0-9]' \
      > "$tmp/torch.$t.$r"
  done
done
# Rows: name (18 chars), median with unit, min, p10, p90, max, mean, cpu-med.
python3 - "$tmp" "$rounds" "$threads" <<'PY'
import sys, statistics, glob, re
tmp, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
def rows(path):
    out = {}
    for line in open(path):
        name, rest = line[:18].strip(), line[18:].split()
        m = re.match(r"([0-9.]+)(\w*)", rest[0])
        out[name] = (float(m.group(1)), m.group(2), float(rest[6]))
    return out
print(f"{'workload':<18} {'thr':>3} {'ember':>12} {'pytorch':>12} {'ratio':>7} {'cpu ratio':>9} {'rounds (ratio)':>16}")
for t in threads:
    e = [rows(f"{tmp}/ember.{t}.{r}") for r in range(1, rounds + 1)]
    p = [rows(f"{tmp}/torch.{t}.{r}") for r in range(1, rounds + 1)]
    for name in e[0]:
        if name not in p[0]: continue
        em = statistics.median(x[name][0] for x in e); pm = statistics.median(x[name][0] for x in p)
        ec = statistics.median(x[name][2] for x in e); pc = statistics.median(x[name][2] for x in p)
        per = [x[name][0] / y[name][0] for x, y in zip(p, e)]
        unit = e[0][name][1]
        print(f"{name:<18} {t:>3} {em:>10.3f}{unit:<2} {pm:>10.3f}{unit:<2} {pm/em:>6.2f}x {pc/ec:>8.2f}x "
              f"{min(per):>7.2f}-{max(per):.2f}x")
PY
