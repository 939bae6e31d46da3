#!/usr/bin/env bash
# Set-up + build + the whole test suite, twice: a normal Release build (with the CUDA code compiled
# when nvcc exists) and an ASan+UBSan build (CPU only, to keep the suite short).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

bash scripts/setup.sh
python3 scripts/sz --check
(cd build && ctest --output-on-failure -j "$jobs")

# -O0 without -g keeps the instrumented build quick on 2 cores (-O1 compiles 2.5-4.5x slower here);
# ASan/UBSan reports then name functions but not lines; rebuild with -g to dig in.
EMBER_BUILD_DIR=build-san bash scripts/setup.sh -DEMBER_SANITIZE=ON -DEMBER_CUDA=OFF \
  -DEMBER_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0
(cd build-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs")
