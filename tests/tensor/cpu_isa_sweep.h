// Test helpers for the CPU kernels with several ISA paths: the list of ISAs this machine runs,
// a scope that forces one, guarded output buffers (sentinels) and bitwise float comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/tensor.h"

namespace ember::test {

// Every ISA the CPU supports, best last (scalar is the reference path).
inline std::vector<cpu::Isa> cpu_isas() {
  std::vector<cpu::Isa> v = {cpu::Isa::scalar};
  if (cpu::best_isa() >= cpu::Isa::avx2) v.push_back(cpu::Isa::avx2);
  if (cpu::best_isa() >= cpu::Isa::avx512) v.push_back(cpu::Isa::avx512);
  return v;
}

// Forces an ISA for the scope's lifetime.
class IsaScope {
 public:
  explicit IsaScope(cpu::Isa isa) : prev_(cpu::active_isa()) { cpu::set_isa(isa); }
  ~IsaScope() { cpu::set_isa(prev_); }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  cpu::Isa prev_;
};

// A contiguous tensor of `shape` inside a buffer with kGuard sentinel elements on each side.
struct Guarded {
  static constexpr int64_t kGuard = 24;
  Tensor buf, view;
  Guarded(const Shape& shape, DType dt, double sentinel) {
    buf = Tensor::full({numel_of(shape) + 2 * kGuard}, sentinel, {.dtype = dt});
    view = buf.as_strided(shape, contiguous_strides(shape), kGuard);
  }
  // True when the sentinels on both sides are untouched.
  bool guards_intact(double sentinel) const {
    const std::vector<double> v = buf.to_vector<double>();
    for (int64_t i = 0; i < kGuard; ++i)
      if (v[size_t(i)] != sentinel || v[v.size() - 1 - size_t(i)] != sentinel) return false;
    return true;
  }
};

// Bitwise-equal f32 tensors (NaN payloads aside; signed zeros must match).
inline ::testing::AssertionResult same_bits(const Tensor& got, const Tensor& ref) {
  if (got.shape() != ref.shape()) return ::testing::AssertionFailure() << "shape mismatch";
  const std::vector<float> g = got.to_vector<float>(), r = ref.to_vector<float>();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(g[i]) && std::isnan(r[i])) continue;
    uint32_t a, b;
    std::memcpy(&a, &g[i], 4);
    std::memcpy(&b, &r[i], 4);
    if (a != b)
      return ::testing::AssertionFailure() << "shape " << shape_str(ref.shape()) << ": first mismatch at flat index "
                                           << i << " got " << g[i] << " ref " << r[i];
  }
  return ::testing::AssertionSuccess();
}

}  // namespace ember::test
