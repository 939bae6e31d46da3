// Implementation of bench/workloads/common.h.
#include "bench/workloads/common.h"

#include "data/fashion_mnist.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <ctime>

#include "tensor/storage.h"

namespace ember::bench {

Tensor uniform_stream(uint64_t seed, const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(numel_of(shape)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = float(double(splitmix64(seed, k) >> 40) / 16777216.0);
  return Tensor::from_vector(v, shape);
}

Tensor bytes_stream(uint64_t seed, const Shape& shape) {
  std::vector<int64_t> v(static_cast<size_t>(numel_of(shape)));
  for (size_t k = 0; k < v.size(); ++k) v[k] = int64_t(splitmix64(seed, k) >> 56);
  return Tensor::from_vector(v, shape, {.dtype = DType::i64});
}

Tensor Params::add(Tensor t) {
  t.requires_grad_(true);
  list.push_back(t);
  return t;
}

int64_t Params::count() const {
  int64_t n = 0;
  for (const Tensor& t : list) n += t.numel();
  return n;
}

void Params::zero_grad() {
  for (const Tensor& t : list) {
    Tensor g = t.grad();
    if (g.defined()) g.zero_();
  }
}

Tensor init_uniform(const Shape& shape, int64_t fan_in, Generator& g) {
  const double bound = 1.0 / std::sqrt(double(fan_in));
  Tensor t = Tensor::empty(shape);
  t.uniform_(-bound, bound, &g);
  return t;
}

Mnist load_fashion_mnist(int64_t n) {
  data::FashionMnist train(data::Split::train);
  EMBER_CHECK(n <= train.size(), "load_fashion_mnist: need {} images, the training split has {}", n, train.size());
  return {train.images().narrow(0, 0, n).contiguous(), train.labels().narrow(0, 0, n).contiguous()};
}

double StepStats::quantile(double q) const { return quantile_of(ms, q); }

double quantile_of(std::vector<double> s, double q) {
  std::sort(s.begin(), s.end());
  if (s.empty()) return 0;
  const double pos = q * double(s.size() - 1);
  const size_t lo = size_t(pos), hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (pos - double(lo)) * (s[hi] - s[lo]);
}

double StepStats::mean() const {
  return ms.empty() ? 0 : std::accumulate(ms.begin(), ms.end(), 0.0) / double(ms.size());
}

StepStats time_steps(int warmup, int timed, const std::function<void(int)>& step) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < warmup; ++i) step(i);
  StepStats st;
  cpu_allocator_reset_peak();
  const AllocatorStats a0 = cpu_allocator_stats();
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
  };
  for (int i = 0; i < timed; ++i) {
    const double c0 = cpu_now();
    auto t0 = clock::now();
    step(warmup + i);
    st.ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    st.cpu_ms.push_back(cpu_now() - c0);
  }
  const AllocatorStats a = cpu_allocator_stats();
  st.peak_mb = double(a.peak_allocated - a0.allocated) / 1e6;  // above what was live before (data, weights)
  st.system_allocs_per_step = double(a.system_allocs - a0.system_allocs) / std::max(1, timed);
  return st;
}

void print_header() {
  std::printf("%-18s %10s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "workload", "median", "min", "p10", "p90",
              "max", "mean", "cpu-med", "ref", "ref/ours", "peak MB", "sys/step");
}

void print_row(const std::string& name, const StepStats& s, double ref, const std::string& unit) {
  const double med = s.quantile(0.5);
  std::printf("%-18s %8.3f%-2s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %7.2fx %8.1f %8.2f\n", name.c_str(), med,
              unit.c_str(), s.quantile(0), s.quantile(0.1), s.quantile(0.9), s.quantile(1), s.mean(),
              quantile_of(s.cpu_ms, 0.5), ref, ref > 0 ? ref / med : 0.0, s.peak_mb, s.system_allocs_per_step);
  std::fflush(stdout);
}

}  // namespace ember::bench
