#!/usr/bin/env bash
# Set-up + build + the whole test suite, twice: a normal Release build (with the CUDA code compiled
# when nvcc exists) and an ASan+UBSan build (CPU only, to keep the suite short).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

# Unity builds (16 sources per compile; test files and per-ISA kernel files stay separate) cut the
# header parsing that dominates a clean build on 2 cores (sanitized pass ~400 s -> ~250 s).
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)
bash scripts/setup.sh "${unity[@]}"
python3 scripts/sz --check
(cd build && ctest --output-on-failure -j "$jobs")

# -O0 without -g keeps the instrumented build quick on 2 cores (-O1 compiles 2.5-4.5x slower here);
# ASan/UBSan reports then name functions but not lines; rebuild with -g to dig in.
EMBER_BUILD_DIR=build-san bash scripts/setup.sh "${unity[@]}" -DEMBER_SANITIZE=ON -DEMBER_CUDA=OFF \
  -DEMBER_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0
(cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs")
