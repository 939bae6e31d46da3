// Helpers for the CUDA benches: event timing on ember's stream, an L2 flush for memory-bound
// kernels, and the counters every bench reports so that scripts/gpu-check.sh can build its ratio
// table: ours_<unit>, base_<unit> (cuBLAS / cuDNN / the naive composition / the HBM roofline) and
// ratio = ours / base (higher is better), plus rel_err from one verification run before timing.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "cuda/common.cuh"
#include "cuda/cuda.h"
#include "cuda/device.h"
#include "autograd/ops.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace ember::bench {

inline bool have_gpu(benchmark::State& s) {
  if (cuda::is_available()) return true;
  s.SkipWithError("no CUDA device");
  return false;
}

// Overwrites a 256 MiB buffer (H200 L2 is 60 MB) so the next kernel reads from HBM.
inline void flush_l2() {
  static Tensor junk = Tensor::empty({64 << 20}, {.device = Device::cuda()});
  EMBER_CUDA_CHECK(cudaMemsetAsync(junk.raw_data(), 0, size_t(junk.numel()) * 4, cuda::current_stream()));
}

// Median milliseconds of f over `reps` event-timed runs after two warm-ups (flush outside the events).
inline double median_ms(const std::function<void()>& f, bool flush, int reps = 15) {
  cudaStream_t st = cuda::current_stream();
  cudaEvent_t a, b;
  EMBER_CUDA_CHECK(cudaEventCreate(&a));
  EMBER_CUDA_CHECK(cudaEventCreate(&b));
  f();
  f();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) {
    if (flush) flush_l2();
    EMBER_CUDA_CHECK(cudaEventRecord(a, st));
    f();
    EMBER_CUDA_CHECK(cudaEventRecord(b, st));
    EMBER_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

// The benchmark loop itself times ours with events (manual time); the counters carry the medians.
inline void run(benchmark::State& s, const std::function<void()>& ours, const std::function<void()>& base,
                bool flush, double work, const std::string& unit, double scale) {
  const double ours_ms = median_ms(ours, flush);
  const double base_ms = base ? median_ms(base, flush) : 0.0;
  cudaStream_t st = cuda::current_stream();
  cudaEvent_t a, b;
  EMBER_CUDA_CHECK(cudaEventCreate(&a));
  EMBER_CUDA_CHECK(cudaEventCreate(&b));
  for (auto _ : s) {
    if (flush) flush_l2();
    EMBER_CUDA_CHECK(cudaEventRecord(a, st));
    ours();
    EMBER_CUDA_CHECK(cudaEventRecord(b, st));
    EMBER_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    s.SetIterationTime(ms / 1e3);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  const double ours_rate = work / (ours_ms * 1e-3) / scale;
  s.counters["ours_" + unit] = ours_rate;
  if (base) {
    const double base_rate = work / (base_ms * 1e-3) / scale;
    s.counters["base_" + unit] = base_rate;
    s.counters["ratio"] = ours_rate / base_rate;
  }
}

// max |a - b| / max |b| over two device tensors (verification before timing).
inline double rel_err(const Tensor& got, const Tensor& ref) {
  std::vector<float> g = got.to_vector<float>(), r = ref.to_vector<float>();
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < g.size(); ++i) {
    num = std::max(num, double(std::abs(g[i] - r[i])));
    den = std::max(den, double(std::abs(r[i])));
  }
  return num / den;
}

}  // namespace ember::bench
