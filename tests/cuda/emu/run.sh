#!/usr/bin/env bash
# Runs CUDA tests on the CPU through the emulator in this folder (no GPU, no driver needed):
#   bash tests/cuda/emu/run.sh [unit ...]      # default: every tests/cuda/test_*.cpp
# Needs a CPU build with libember_tensor.a / libember_autograd.a (BUILD, default build/), g++ 12+,
# GoogleTest and fmt. Kernel files are converted (convert.py) into $WORK and compiled as C++20.
# Expected under emulation: CudaGemm.TensorCoreKernelsMatchRoundedReference fails (inline PTX is
# stubbed) and cuDNN cases skip. Large tests are slow (a thread per CUDA thread).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
EMU=$ROOT/tests/cuda/emu
BUILD=${BUILD:-$ROOT/build}
WORK=${WORK:-/tmp/ember-cuda-emu}
rm -rf "$WORK" && mkdir -p "$WORK/include" "$WORK/src/cuda/kernels" "$WORK/src/cuda/gemm" "$WORK/obj"
cp "$EMU/cuda_runtime.h" "$EMU/cuda_bf16.h" "$WORK/include/"
cp "$ROOT"/cuda/*.h "$ROOT"/cuda/*.cuh "$ROOT"/cuda/*.cpp "$WORK/src/cuda/"
cp "$ROOT"/cuda/kernels/*.h "$WORK/src/cuda/kernels/"
cp "$ROOT"/cuda/gemm/*.h "$WORK/src/cuda/gemm/"
for f in "$ROOT"/cuda/kernels/*.cu "$ROOT"/cuda/gemm/sgemm_tiled.cu; do
  python3 "$EMU/convert.py" "$f" "$WORK/src/cuda/$(basename "$(dirname "$f")")/$(basename "$f" .cu).cpp"
done
cp "$EMU/stubs.cpp" "$WORK/src/"
FLAGS="-std=c++20 -O1 -fopenmp -pthread -w -I$WORK/include -I$WORK/src -I$ROOT"
for f in $(find "$WORK/src" -name '*.cpp'); do
  g++ $FLAGS -c "$f" -o "$WORK/obj/$(echo "${f#$WORK/src/}" | tr / _).o" &
done
wait
units=${*:-$(ls "$ROOT"/tests/cuda/test_*.cpp | xargs -n1 basename | sed 's/^test_cuda_//; s/\.cpp$//')}
status=0
for u in $units; do
  g++ $FLAGS "$ROOT/tests/cuda/test_cuda_$u.cpp" "$WORK"/obj/*.o "$BUILD/autograd/libember_autograd.a" \
    "$BUILD/tensor/libember_tensor.a" -lgtest -lgtest_main -lfmt -o "$WORK/t_$u" || { status=1; continue; }
  echo "== $u"
  "$WORK/t_$u" > "$WORK/t_$u.log" 2>&1
  rc=$?
  grep -E "^\[  (PASSED|FAILED|SKIPPED)|Failure" "$WORK/t_$u.log"
  [[ $rc != 0 ]] && status=1
done
exit $status
