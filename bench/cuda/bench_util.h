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

// Event pair on ember's stream; times one call of f in milliseconds (the flush stays outside).
class EventTimer {
 public:
  EventTimer() {
    EMBER_CUDA_CHECK(cudaEventCreate(&a_));
    EMBER_CUDA_CHECK(cudaEventCreate(&b_));
  }
  ~EventTimer() {
    cudaEventDestroy(a_);
    cudaEventDestroy(b_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  float time_ms(const std::function<void()>& f, bool flush) {
    if (flush) flush_l2();
    cudaStream_t st = cuda::current_stream();
    EMBER_CUDA_CHECK(cudaEventRecord(a_, st));
    f();
    EMBER_CUDA_CHECK(cudaEventRecord(b_, st));
    EMBER_CUDA_CHECK(cudaEventSynchronize(b_));
    float ms = 0;
    EMBER_CUDA_CHECK(cudaEventElapsedTime(&ms, a_, b_));
    return ms;
  }

 private:
  cudaEvent_t a_, b_;
};

// Median milliseconds of f over `reps` event-timed runs after two warm-ups.
inline double median_ms(const std::function<void()>& f, bool flush, int reps = 15) {
  EventTimer timer;
  f();
  f();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) t.push_back(timer.time_ms(f, flush));
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

// The benchmark loop itself times ours with events (manual time); the counters carry the medians.
inline void run(benchmark::State& s, const std::function<void()>& ours, const std::function<void()>& base,
                bool flush, double work, const std::string& unit, double scale) {
  const double ours_ms = median_ms(ours, flush);
  const double base_ms = base ? median_ms(base, flush) : 0.0;
  EventTimer timer;
  for (auto _ : s) s.SetIterationTime(timer.time_ms(ours, flush) / 1e3);
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

// The body of every CUDA bench's main(): register the suite, then run Google Benchmark.
inline int run_benchmarks(int argc, char** argv, void (*register_suite)()) {
  register_suite();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace ember::bench
