#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang + ASan/UBSan and runs each for N seconds
# (default 600): scripts/fuzz.sh [SECONDS] [TARGET...]. Targets: safetensors idx image
# study_storage cli. Each run starts from the seeds written at build time plus anything earlier
# runs found (build-fuzz/corpus/<target>, kept between runs); a crash leaves its input as
# build-fuzz/crash-* and makes the script exit non-zero. EMBER_FUZZ_BUILD_DIR picks the build
# folder; EMBER_FUZZ_JOBS runs that many targets at once (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-600}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=(safetensors idx image study_storage cli)
build="${EMBER_FUZZ_BUILD_DIR:-build-fuzz}"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g" \
    -DEMBER_SANITIZE=ON -DEMBER_FUZZ=ON -DEMBER_CUDA=OFF -DEMBER_BUILD_BENCH=OFF \
    -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16  # unity: ~5x quicker to build on 2 cores
fi
cmake --build "$build" -j "$(nproc)" --target fuzz_seeds

fdir="$build/tests/fuzz"
status=0
run_one() {
  local t="$1" corpus="$build/corpus/$t"
  mkdir -p "$corpus"
  local extra=()
  [ "$t" = cli ] && extra=(-max_len=512)
  [ "$t" = image ] && extra=(-max_len=65536)
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$fdir/fuzz_$t" "$corpus" "$fdir/corpus/$t" -dict="tests/fuzz/$t.dict" -max_total_time="$secs" \
    -rss_limit_mb=2560 -timeout=30 -print_final_stats=1 -artifact_prefix="$build/crash-$t-" "${extra[@]}" \
    > "$build/fuzz-$t.log" 2>&1 || rc=$?
  local stats
  stats=$(grep -E "^#[0-9]+.*(DONE|cov:)" "$build/fuzz-$t.log" | tail -1 || true)
  echo "fuzz $t: exit $rc, $secs s: $stats"
  [ $rc -eq 0 ] || { tail -30 "$build/fuzz-$t.log"; return 1; }
}
jobs="${EMBER_FUZZ_JOBS:-1}"
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if ((${#pids[@]} >= jobs)); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
