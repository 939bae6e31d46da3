// The backend-ops harness: a table of cases per primitive of tensor/op_list.h, each run on a
// target (backend, dtype, CPU ISA) and compared with an f64 reference, with guard values around
// every output. Used by tests/tensor/test_backend_ops.cpp (CPU, every ISA) and
// tests/cuda/test_cuda_backend_ops.cpp (CUDA; skips without a GPU).
//
// A case's setup(Ctx&) makes its inputs and outputs through the Ctx and returns the call of the
// primitive. The harness runs the setup twice: on the target, and on the reference context (CPU
// backend, scalar ISA, f64 copies of the very same input values: inputs are drawn in the target
// dtype and widened). Elementwise ops are also checked against the formulas of tensor/numerics.h
// evaluated in f64 (reference "formula"), so the CPU is not only compared with itself.
// Shapes include 1, primes and sizes that are not multiples of SIMD widths or GEMM tiles;
// inputs marked strided are non-contiguous views (every other element of a wider buffer).
// Tolerances by kind, for f32 targets (f64 targets: 1e-7 of them):
//   exact: integers, indices, copies, selections; ew: |d| <= 1e-6 + 1e-5 |ref|;
//   acc(n): sums of n terms, |d| <= 2e-6 sqrt(n) + 1e-5 |ref| (times the inputs' scale).
// Perf mode (EMBER_OPS_PERF=1): every case also prints its rate (elements or flops per second).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/generator.h"
#include "tensor/numerics.h"
#include "tensor/tensor.h"

namespace ember::test::ops {

struct Tol {
  double atol = 0, rtol = 0;
};
inline Tol exact() { return {}; }
inline Tol ew() { return {1e-6, 1e-5}; }
inline Tol acc(double n, double scale = 1) { return {2e-6 * std::sqrt(std::max(n, 1.0)) * scale, 1e-5}; }

// Where and how one run of a case happens.
class Ctx {
 public:
  static constexpr int64_t kGuard = 16;
  static constexpr double kSentinel = -77.25;  // exactly representable in every dtype but u8

  Ctx(Backend& be, DType dtype, DType draw, bool reference) : be_(be), dtype_(dtype), draw_(draw), ref_(reference) {}
  Backend& be() const { return be_; }
  Device dev() const { return be_.device(); }
  DType dtype() const { return dtype_; }  // floating dtype of the case's tensors in this run
  bool reference() const { return ref_; }

  // A floating input in U[lo, hi): drawn in the target dtype, so the reference sees equal values.
  // strided: a non-contiguous view (every other element of the last dim of a wider buffer).
  Tensor in(const Shape& shape, double lo = -1, double hi = 1, bool strided = false) {
    Generator g(seed_++);
    Shape wide = shape;
    if (strided && !wide.empty()) wide.back() *= 2;
    Tensor t = (Tensor::rand(wide, {}, &g) * (hi - lo) + lo).detach().to(draw_).to(dtype_).to(dev());
    if (strided && !shape.empty()) {
      Strides st = t.strides();
      st.back() = 2;
      t = t.as_strided(shape, st, 0);
    }
    ins_.push_back(t);
    return t;
  }
  const std::vector<Tensor>& inputs() const { return ins_; }
  // An integer input (i64 unless dt says otherwise) in [lo, hi).
  Tensor ints(const Shape& shape, int64_t lo, int64_t hi, DType dt = DType::i64) {
    Generator g(seed_++);
    return Tensor::randint(lo, hi, shape, {.dtype = DType::i64}, &g).to(dt).to(dev());
  }
  // An output inside a buffer with kGuard sentinels on each side. init: initial contents (for
  // accumulating primitives) drawn like in(); otherwise the sentinel, so unwritten elements show.
  Tensor out(const Shape& shape, std::optional<DType> dt = std::nullopt, bool init = false) {
    const DType d = dt.value_or(dtype_);
    const double sentinel = d == DType::u8 ? 201 : is_floating(d) ? kSentinel : -77;
    Tensor buf = Tensor::full({numel_of(shape) + 2 * kGuard}, sentinel, {.dtype = d, .device = dev()});
    Tensor v = buf.as_strided(shape, contiguous_strides(shape), kGuard);
    if (init) be_.copy(in(shape), v);
    else ++seed_;  // keep the draws of both runs aligned
    guards_.push_back({buf, sentinel});
    outs_.push_back(v);
    return v;
  }
  const std::vector<Tensor>& outputs() const { return outs_; }
  // Names the first output whose guards were written, or "".
  std::string broken_guard() const {
    for (size_t i = 0; i < guards_.size(); ++i) {
      const std::vector<double> v = guards_[i].buf.to(Device::cpu()).template to_vector<double>();
      for (int64_t k = 0; k < kGuard; ++k)
        if (v[size_t(k)] != guards_[i].sentinel || v[v.size() - 1 - size_t(k)] != guards_[i].sentinel)
          return "output " + std::to_string(i);
    }
    return "";
  }

 private:
  struct Guard {
    Tensor buf;
    double sentinel;
  };
  Backend& be_;
  DType dtype_, draw_;
  bool ref_;
  uint64_t seed_ = 1000;
  std::vector<Tensor> ins_, outs_;
  std::vector<Guard> guards_;
};

using Call = std::function<void()>;
struct Case {
  Prim prim;
  std::string name;                                  // printed on failure and in perf mode
  std::function<Call(Ctx&)> setup = {};
  std::function<Tol(DType)> tol = [](DType) { return ew(); };
  std::vector<DType> dtypes = {DType::f32, DType::f64};  // floating dtypes it runs in
  double work = 0;                                    // elements (or flops) per call, for perf mode
  bool ref_same_dtype = false;                        // reference runs in the target dtype (random)
  // Optional f64 formula reference: expected outputs from the f64 inputs (elementwise ops).
  std::function<std::vector<Tensor>(Ctx&)> formula = {};
};

// |got - ref| <= atol + rtol |ref| elementwise (NaN matches NaN); describes the first miss.
inline ::testing::AssertionResult close(const Tensor& got, const Tensor& ref, Tol t) {
  if (got.shape() != ref.shape()) return ::testing::AssertionFailure() << "shape " << shape_str(got.shape());
  const std::vector<double> g = got.to(Device::cpu()).contiguous().to_vector<double>();
  const std::vector<double> r = ref.to(Device::cpu()).contiguous().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(r[i])) continue;
    if (std::isinf(r[i]) && g[i] == r[i]) continue;
    if (!(std::fabs(g[i] - r[i]) <= t.atol + t.rtol * std::fabs(r[i])))
      return ::testing::AssertionFailure() << "element " << i << ": got " << g[i] << ", reference " << r[i]
                                           << " (atol " << t.atol << ", rtol " << t.rtol << ")";
  }
  return ::testing::AssertionSuccess();
}

// Whether an output still holds only the sentinel.
inline bool untouched(const Tensor& t) {
  for (double v : t.to(Device::cpu()).contiguous().to_vector<double>())
    if (v != Ctx::kSentinel) return false;
  return true;
}

inline bool perf_mode() {
  const char* e = std::getenv("EMBER_OPS_PERF");
  return e && e[0] == '1';
}

// Runs one case on `be` in `dtype` (the active CPU ISA as set by the caller) and compares it.
inline void run_case(const Case& c, Backend& be, DType dtype, const std::function<void()>& sync = [] {}) {
  SCOPED_TRACE(c.name + " [" + std::string(dtype_name(dtype)) + " on " + be.device().str() + "]");
  Ctx target(be, dtype, dtype, false);
  const Call call = c.setup(target);
  call();
  sync();
  EXPECT_EQ(target.broken_guard(), "") << "a primitive wrote outside its output";
  if (kPrimOptional[size_t(c.prim)] && untouched(target.outputs()[0])) {  // a fused kernel declined
    std::printf("note  %s [%s on %s]: declined by the backend (the caller composes it)\n", c.name.c_str(),
                std::string(dtype_name(dtype)).c_str(), be.device().str().c_str());
    return;
  }

  Backend& cpu = backend_for(Device::cpu());
  const DType ref_dtype = c.ref_same_dtype ? dtype : DType::f64;
  std::vector<Tensor> expected;
  {
    const cpu::Isa prev = cpu::active_isa();
    cpu::set_isa(cpu::Isa::scalar);
    Ctx ref(cpu, ref_dtype, dtype, true);
    c.setup(ref)();
    cpu::set_isa(prev);
    expected = ref.outputs();
  }
  const Tol tol = c.tol(dtype);
  const double k = dtype == DType::f64 ? 1e-7 : 1;
  ASSERT_EQ(target.outputs().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_TRUE(close(target.outputs()[i], expected[i], {tol.atol * k, tol.rtol * k})) << "output " << i;
  if (c.formula) {
    Ctx ref(cpu, DType::f64, dtype, true);
    c.setup(ref);  // inputs only
    const std::vector<Tensor> want = c.formula(ref);
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_TRUE(close(target.outputs()[i], want[i], {tol.atol * k, tol.rtol * k})) << "formula, output " << i;
  }
  if (perf_mode() && c.work > 0) {
    const auto t0 = std::chrono::steady_clock::now();
    int reps = 0;
    double s = 0;
    do {
      call();
      sync();
      ++reps;
      s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (s < 0.05);
    std::printf("perf  %-48s %-4s %-7s %10.3f G/s\n", c.name.c_str(), std::string(dtype_name(dtype)).c_str(),
                be.device().str().c_str(), c.work * reps / s * 1e-9);
  }
}

}  // namespace ember::test::ops
