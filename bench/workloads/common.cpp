// Implementation of bench/workloads/common.h.
#include "bench/workloads/common.h"

#include <zlib.h>

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

Adam::Adam(const Params& p, AdamOptions o) : params_(p.list), o_(o) {
  for (const Tensor& t : params_) {
    m_.push_back(Tensor::zeros(t.shape(), t.options()));
    v_.push_back(Tensor::zeros(t.shape(), t.options()));
  }
}

void Adam::step() {
  NoGradGuard no_grad;
  ++t_;
  const Backend::AdamStep s{.lr = o_.lr, .beta1 = o_.beta1, .beta2 = o_.beta2, .eps = o_.eps,
                            .weight_decay = o_.weight_decay, .decoupled = o_.decoupled, .step = t_};
  const double bc1 = 1 - std::pow(o_.beta1, double(t_)), bc2 = 1 - std::pow(o_.beta2, double(t_));
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor p = params_[i], g = p.grad();
    if (!g.defined()) continue;
    if (o_.fused && backend_of(p).adam_update(p, g, m_[i], v_[i], s)) continue;
    // Composite: the same formula as Backend::AdamStep from tensor ops.
    if (o_.weight_decay != 0 && o_.decoupled) p.mul_(1 - o_.lr * o_.weight_decay);
    if (o_.weight_decay != 0 && !o_.decoupled) g = add(g, mul(p, o_.weight_decay));
    m_[i].mul_(o_.beta1).add_(g, 1 - o_.beta1);
    v_[i].mul_(o_.beta2).add_(mul(g, g), 1 - o_.beta2);
    Tensor denom = sqrt(v_[i] / bc2) + o_.eps;
    p.add_(div(m_[i], denom), -o_.lr / bc1);
  }
}

namespace {

// Reads the whole gzip file (the training split is ~26 MB decompressed).
std::vector<uint8_t> gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EMBER_CHECK(f != nullptr, "load_fashion_mnist: cannot open {}", path);
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(1 << 20);
  int got;
  while ((got = gzread(f, buf.data(), unsigned(buf.size()))) > 0) out.insert(out.end(), buf.begin(), buf.begin() + got);
  gzclose(f);
  EMBER_CHECK(got == 0, "load_fashion_mnist: read error in {}", path);
  return out;
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t(b[at]) << 24 | uint32_t(b[at + 1]) << 16 | uint32_t(b[at + 2]) << 8 | uint32_t(b[at + 3]);
}

}  // namespace

Mnist load_fashion_mnist(int64_t n, const std::string& dir) {
  const std::string ip = dir + "/train-images-idx3-ubyte.gz", lp = dir + "/train-labels-idx1-ubyte.gz";
  std::vector<uint8_t> img = gunzip(ip), lab = gunzip(lp);
  EMBER_CHECK(img.size() >= 16 && be32(img, 0) == 2051, "load_fashion_mnist: {} is not an IDX3 image file", ip);
  EMBER_CHECK(lab.size() >= 8 && be32(lab, 0) == 2049, "load_fashion_mnist: {} is not an IDX1 label file", lp);
  const int64_t count = be32(img, 4), rows = be32(img, 8), cols = be32(img, 12);
  EMBER_CHECK(rows == 28 && cols == 28 && count >= n && int64_t(be32(lab, 4)) >= n,
              "load_fashion_mnist: need {} 28x28 images, file has {} of {}x{}", n, count, rows, cols);
  EMBER_CHECK(int64_t(img.size()) >= 16 + count * 784 && int64_t(lab.size()) >= 8 + count,
              "load_fashion_mnist: {} or {} is truncated", ip, lp);
  std::vector<float> px(static_cast<size_t>(n * 784));
  for (size_t i = 0; i < px.size(); ++i) px[i] = float(img[16 + i]) / 255.0f;
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (size_t i = 0; i < y.size(); ++i) y[i] = lab[8 + i];
  return {Tensor::from_vector(px, {n, 1, 28, 28}), Tensor::from_vector(y, {n}, {.dtype = DType::i64})};
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
