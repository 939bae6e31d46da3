#!/usr/bin/env bash
# One command that verifies the CUDA backend on a machine with an NVIDIA GPU:
#   bash scripts/gpu-check.sh
# configures and builds (Release, CUDA on, only the CUDA tests and benches, -j16), runs every CUDA
# test executable, then the CUDA benches with a short min_time, and writes ${OUT:-.}/gpu-summary.md
# (pass/fail/skip counts, failures, the ours-vs-cuBLAS/cuDNN ratio table) plus build/test/bench logs.
# Exits 1 when the build fails or any CUDA test fails or crashes, 2 when there is no GPU (every GPU
# test skipped: nothing was verified), 0 otherwise.
# Sized for < 8 minutes on an H200 with 16 cores (build ~2-3 min, tests ~1-2 min, benches ~2-3 min).
#
# Dependencies (fmt, GoogleTest, Google Benchmark): used from the system when CMake finds them.
# A GPU image without them can use a bundle made on a dev machine and carried along:
#   bash scripts/gpu-check.sh --bundle     # writes .gpu-deps/ (fmt headers as a header-only
#                                          # package, googletest sources, benchmark headers + .so)
# The check then builds googletest from the bundle and points CMake at it (EMBER_DEPS overrides
# the folder).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-.}
mkdir -p "$OUT"
DEPS=${EMBER_DEPS:-$ROOT/.gpu-deps}
JOBS=${JOBS:-16}
BUILD=${EMBER_GPU_BUILD:-$ROOT/build-gpu}
MIN_TIME=${BENCH_MIN_TIME:-0.05}
export PATH=/usr/local/cuda/bin:$PATH

if [[ "${1:-}" == "--bundle" ]]; then
  rm -rf "$DEPS" && mkdir -p "$DEPS/include" "$DEPS/lib/cmake/fmt" "$DEPS/src"
  cp -r /usr/include/fmt "$DEPS/include/"
  cat > "$DEPS/lib/cmake/fmt/fmt-config.cmake" <<'CFG'
# fmt as a header-only package (bundled by scripts/gpu-check.sh --bundle).
if(NOT TARGET fmt::fmt)
  add_library(fmt::fmt INTERFACE IMPORTED)
  get_filename_component(_fmt_inc "${CMAKE_CURRENT_LIST_DIR}/../../../include" ABSOLUTE)
  set_target_properties(fmt::fmt PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_fmt_inc}"
                                            INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)
endif()
set(fmt_FOUND TRUE)
CFG
  cp -r /usr/src/googletest "$DEPS/src/googletest"
  if [[ -d /usr/include/benchmark ]]; then
    # Same layout as the system's, so the package's relative import prefix resolves to $DEPS.
    mkdir -p "$DEPS/lib/x86_64-linux-gnu/cmake"
    cp -r /usr/include/benchmark "$DEPS/include/"
    cp -a /usr/lib/x86_64-linux-gnu/libbenchmark.so* /usr/lib/x86_64-linux-gnu/libbenchmark_main.a \
      "$DEPS/lib/x86_64-linux-gnu/"
    cp -r /usr/lib/x86_64-linux-gnu/cmake/benchmark "$DEPS/lib/x86_64-linux-gnu/cmake/"
  fi
  echo "bundle written to $DEPS ($(du -sh "$DEPS" | cut -f1)); carry it to the GPU machine"
  exit 0
fi

T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
SUMMARY="$OUT/gpu-summary.md"
XML="$BUILD/gpu-check-xml"
BENCH_JSON="$BUILD/gpu-check-bench"

# ---- dependencies from the bundle, when present
PREFIXES=""
if [[ -d "$DEPS" ]]; then
  if [[ -d "$DEPS/src/googletest" && ! -f "$DEPS/prefix/lib/cmake/GTest/GTestConfig.cmake" ]]; then
    echo "[gpu-check] building googletest from the bundle"
    cmake -S "$DEPS/src/googletest" -B "$DEPS/gtest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_GMOCK=OFF \
      -DCMAKE_INSTALL_PREFIX="$DEPS/prefix" > "$OUT/build.log" 2>&1 &&
      cmake --build "$DEPS/gtest-build" -j "$JOBS" >> "$OUT/build.log" 2>&1 &&
      cmake --install "$DEPS/gtest-build" >> "$OUT/build.log" 2>&1 || echo "[gpu-check] googletest build failed"
  fi
  PREFIXES="$DEPS/prefix;$DEPS"
  export LD_LIBRARY_PATH="$DEPS/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# ---- cuDNN from the Python wheel (nvidia-cudnn-cu13) when the toolkit has none
CUDNN_ARGS=()
if ! ls /usr/local/cuda/include/cudnn.h > /dev/null 2>&1; then
  CUDNN_DIR=$(python3 -c "import nvidia.cudnn, os; print(list(nvidia.cudnn.__path__)[0])" 2>/dev/null || true)
  CUDNN_SO=$(ls "$CUDNN_DIR"/lib/libcudnn.so* 2>/dev/null | head -1)
  if [[ -n "$CUDNN_DIR" && -n "$CUDNN_SO" && -f "$CUDNN_DIR/include/cudnn.h" ]]; then
    CUDNN_ARGS=(-DCUDNN_INCLUDE_DIR="$CUDNN_DIR/include" -DCUDNN_LIBRARY="$CUDNN_SO")
    export LD_LIBRARY_PATH="$CUDNN_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "[gpu-check] cuDNN from $CUDNN_DIR"
  fi
fi

# ---- configure and build only what the check needs
echo "[gpu-check] configure + build ($JOBS jobs)"
UNITS=$(ls tests/cuda/test_*.cpp | xargs -n1 basename | sed 's/\.cpp$//')
TEST_TARGETS=$(for u in $UNITS; do echo "cuda_$u"; done)
BENCH_TARGETS="bench_cuda_gemm bench_cuda_conv bench_cuda_attention bench_cuda_norm"
build_ok=1
{
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=ON -DEMBER_BUILD_HPO=OFF \
    -DEMBER_BUILD_TESTS=ON -DEMBER_BUILD_BENCH=ON ${PREFIXES:+-DCMAKE_PREFIX_PATH="$PREFIXES"} "${CUDNN_ARGS[@]}" &&
    timeout 360 cmake --build "$BUILD" -j "$JOBS" --target $TEST_TARGETS
} >> "$OUT/build.log" 2>&1 || build_ok=0
have_bench=1
timeout 240 cmake --build "$BUILD" -j "$JOBS" --target $BENCH_TARGETS >> "$OUT/build.log" 2>&1 || have_bench=0
echo "[gpu-check] build done at $(elapsed)s (tests ok=$build_ok, benches ok=$have_bench)"

# ---- tests: every CUDA test executable, one XML report each
rm -rf "$XML" "$BENCH_JSON" && mkdir -p "$XML" "$BENCH_JSON"
: > "$OUT/tests.log"
crashed=""
if [[ $build_ok == 1 ]]; then
  for u in $UNITS; do
    exe="$BUILD/tests/cuda_$u"
    echo "== $u" >> "$OUT/tests.log"
    timeout 240 "$exe" --gtest_output="xml:$XML/$u.xml" >> "$OUT/tests.log" 2>&1
    rc=$?
    [[ $rc != 0 ]] && crashed="$crashed $u(rc=$rc)"
  done
fi
echo "[gpu-check] tests done at $(elapsed)s"

# ---- benches: short min_time, JSON out
if [[ $build_ok == 1 && $have_bench == 1 ]] && nvidia-smi > /dev/null 2>&1; then
  : > "$OUT/bench.log"
  for b in gemm conv attention norm; do
    timeout 150 "$BUILD/bench/cuda/bench_cuda_$b" --benchmark_min_time="$MIN_TIME" \
      --benchmark_out="$BENCH_JSON/$b.json" --benchmark_out_format=json >> "$OUT/bench.log" 2>&1 ||
      echo "bench_cuda_$b exited with $?" >> "$OUT/bench.log"
  done
fi
echo "[gpu-check] benches done at $(elapsed)s"

# ---- summary
DEVICE=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
python3 - "$XML" "$BENCH_JSON" "$SUMMARY" "$build_ok" "$(elapsed)" "${DEVICE:-no GPU}" "$crashed" <<'PY'
import glob, json, os, sys, xml.etree.ElementTree as ET
xml_dir, bench_dir, out, build_ok, secs, device, crashed = sys.argv[1:8]
rows, fails, tot = [], [], {"pass": 0, "fail": 0, "skip": 0}
for f in sorted(glob.glob(os.path.join(xml_dir, "*.xml"))):
    c = {"pass": 0, "fail": 0, "skip": 0}
    for tc in ET.parse(f).getroot().iter("testcase"):
        name = tc.get("classname") + "." + tc.get("name")
        if tc.find("failure") is not None:
            c["fail"] += 1
            msg = tc.find("failure").get("message", "").splitlines()
            fails.append((name, " ".join(msg[:3])[:400]))
        elif tc.get("result") == "skipped" or tc.find("skipped") is not None:
            c["skip"] += 1
        else:
            c["pass"] += 1
    for k in tot: tot[k] += c[k]
    rows.append((os.path.basename(f)[:-4], c))
L = [f"# ember CUDA check\n", f"device: {device}; wall time {secs} s; build {'ok' if build_ok == '1' else 'FAILED'}\n"]
L.append(f"\n## Tests: {tot['pass']} passed, {tot['fail']} failed, {tot['skip']} skipped"
         + (f"; crashed or non-zero exit: {crashed.strip()}" if crashed.strip() else "") + "\n")
L.append("\n| test executable | pass | fail | skip |\n|---|---|---|---|\n")
for n, c in rows: L.append(f"| {n} | {c['pass']} | {c['fail']} | {c['skip']} |\n")
if fails:
    L.append("\n### Failures\n")
    for n, m in fails: L.append(f"- `{n}`: {m}\n")
targets = {  # issue 5's targets: (name prefix, minimum ratio)
    "gemm_f32/sq4096": 0.8, "gemm_bf16/sq4096": 0.6, "gemm_bf16/sq8192": 0.6, "conv2d_fwd/W3": 0.5,
    "conv2d_bwd_data/W3": 0.5, "conv2d_bwd_weight/W3": 0.5,
    "attention_fwd/d64/seq1024": 1.0, "attention_fwd/d64/seq2048": 1.0, "attention_fwd/d64/seq4096": 1.0,
    "attention_fwd/d128/seq1024": 1.0, "attention_fwd/d128/seq2048": 1.0, "attention_fwd/d128/seq4096": 1.0}
L.append("\n## Benchmarks (ratio = ours / base; base = cuBLAS, cuDNN, naive GEMM-softmax-GEMM, or HBM roofline)\n")
L.append("\n| benchmark | ours | base | unit | ratio | target | rel_err |\n|---|---|---|---|---|---|---|\n")
nb = 0
for f in sorted(glob.glob(os.path.join(bench_dir, "*.json"))):
    try: data = json.load(open(f))
    except Exception as e:
        L.append(f"| {os.path.basename(f)} unreadable: {e} |||||||\n"); continue
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            L.append(f"| {b['name']} | error: {b.get('error_message','')} ||||||\n"); continue
        unit = next((k[5:] for k in b if k.startswith("ours_") and k != "ours_bwd_ms"), None)
        if unit is None: continue
        nb += 1
        ours, base, ratio = b.get("ours_" + unit), b.get("base_" + unit), b.get("ratio")
        name = b["name"].split("/manual_time")[0]
        tgt = next((v for k, v in targets.items() if name.startswith(k)), None)
        tcol = "" if tgt is None or ratio is None else (f">= {tgt}: " + ("met" if ratio >= tgt else "MISSED"))
        extra = f"; bwd {b['ours_bwd_ms']:.3f} ms" if "ours_bwd_ms" in b else ""
        fmt = lambda v: "" if v is None else f"{v:.2f}"
        L.append(f"| {name} | {fmt(ours)} | {fmt(base)} | {unit} | {fmt(ratio)} | {tcol} | "
                 f"{b.get('rel_err', float('nan')):.1e}{extra} |\n")
if nb == 0: L.append("| (no benchmark results) |||||||\n")
open(out, "w").write("".join(L))
print("".join(L[:3]))
if device == "no GPU":
    print("no GPU on this machine: the CUDA tests were skipped, nothing was verified")
    sys.exit(2)
sys.exit(0 if build_ok == "1" and tot["fail"] == 0 and tot["pass"] > 0 else 1)
PY
status=$?
[[ -n "$crashed" && $status == 0 ]] && status=1
echo "[gpu-check] summary in $SUMMARY ($(elapsed)s total); exit $status"
exit $status
