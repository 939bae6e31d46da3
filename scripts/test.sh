#!/usr/bin/env bash
# Set-up + build + the whole test suite, twice: a normal Release build (with the CUDA code compiled
# when nvcc exists) and a clang ASan+UBSan build (CPU only, to keep the suite short) that also runs
# each libFuzzer target for 10 s (EMBER_CI_FUZZ_SECONDS; `scripts/fuzz.sh 600` is the long run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="$(nproc)"

# Unity builds (16 sources per compile; test files and per-ISA kernel files stay separate) cut the
# header parsing that dominates a clean build on 2 cores (sanitized pass ~400 s -> ~250 s).
unity=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16
# lld links the ~180 test executables about 3.5x quicker than GNU ld (0.5 s vs 1.9 s each with
# ASan): several minutes of CI's budget on 2 cores.
       -DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld)
bash scripts/setup.sh "${unity[@]}"
python3 scripts/sz --check
(cd build && ctest --output-on-failure -j "$jobs")

# The sanitized pass is built with clang-14: its UBSan also catches what gcc's does not (pointer
# overflow such as nullptr + offset, float -> int casts out of range), and its libFuzzer builds the
# fuzz targets (tests/fuzz) in the same tree, so each loader is fuzzed briefly on every CI run
# (scripts/fuzz.sh runs them for longer). -O0 without -g keeps the instrumented build quick on 2
# cores; reports name functions but not lines; rebuild with -g to dig in. It builds the tests of the
# engine and the loaders (tensor, autograd, nn, data, hpo) and no examples: the zoo, dist, nas and CLI
# tests run in the Release pass above, and with them this pass alone overran CI's budget.
EMBER_SKIP_DATA=1 EMBER_BUILD_DIR=build-clang-san CC=clang-14 CXX=clang++-14 bash scripts/setup.sh "${unity[@]}" \
  -DEMBER_SANITIZE=ON -DEMBER_FUZZ=ON -DEMBER_CUDA=OFF -DEMBER_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=None \
  -DEMBER_BUILD_EXAMPLES=OFF "-DEMBER_TEST_FOLDERS=tensor;autograd;nn;data;hpo" \
  -DCMAKE_CXX_FLAGS=-O0
(cd build-clang-san && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs")
EMBER_FUZZ_BUILD_DIR=build-clang-san EMBER_FUZZ_JOBS="$jobs" bash scripts/fuzz.sh "${EMBER_CI_FUZZ_SECONDS:-10}"
