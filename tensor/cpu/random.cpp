// CPU random fills on Philox4x32-10 (tensor/generator.h). Element i of a fill reads counter block
// `offset + i / per_block`, so results do not depend on the thread split.
//   uniform f32: one u32 per element (4 per block); uniform f64: two u32 (2 per block);
//   normal: Box-Muller (cos branch) on two uniforms: f32 2 per block, f64 1 per block;
//   int: 64 random bits per element (2 per block), reduced modulo the range (bias < range/2^64).
#include <algorithm>
#include <array>
#include <cmath>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/generator.h"
#include "tensor/parallel.h"

namespace ember::cpu {
namespace {

constexpr double kTwoPi = 6.283185307179586477;

template <typename F>
void fill_contiguous(const Tensor& out, F f) {
  EMBER_ASSERT(out.is_contiguous(), "random: output {} must be contiguous", shape_str(out.shape()));
  parallel_for(out.numel(), 1 << 16, f);
}

// Calls f(i, r) for i in [b, e) with r = philox4x32(seed, offset + i / per), each block computed
// once (a block serves `per` consecutive elements).
template <typename F>
void for_each_in_blocks(uint64_t seed, uint64_t offset, int64_t per, int64_t b, int64_t e, F f) {
  for (int64_t i = b; i < e;) {
    const int64_t block = i / per, end = std::min(e, (block + 1) * per);
    const auto r = philox4x32(seed, offset + uint64_t(block));
    for (; i < end; ++i) f(i, r);
  }
}

}  // namespace

void CpuBackend::random_uniform(const Tensor& out, double lo, double hi, uint64_t seed, uint64_t offset) {
  dispatch_float(out.dtype(), "random_uniform", [&]<typename T>() {
    T* p = out.data<T>();
    fill_contiguous(out, [&](int64_t b, int64_t e) {
      for_each_in_blocks(seed, offset, sizeof(T) == 4 ? 4 : 2, b, e, [&](int64_t i, const std::array<uint32_t, 4>& r) {
        double u;
        if constexpr (sizeof(T) == 4) u = uint_to_unit_float(r[i % 4]);
        else u = uints_to_unit_double(r[2 * (i % 2)], r[2 * (i % 2) + 1]);
        T v = T(lo + (hi - lo) * u);
        p[i] = v < T(hi) ? v : T(lo);  // rounding must not reach hi
      });
    });
  });
}

void CpuBackend::random_normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  dispatch_float(out.dtype(), "random_normal", [&]<typename T>() {
    T* p = out.data<T>();
    fill_contiguous(out, [&](int64_t b, int64_t e) {
      for_each_in_blocks(seed, offset, sizeof(T) == 4 ? 2 : 1, b, e, [&](int64_t i, const std::array<uint32_t, 4>& r) {
        double u1, u2;
        if constexpr (sizeof(T) == 4) {
          u1 = uint_to_unit_float(r[2 * (i % 2)]);
          u2 = uint_to_unit_float(r[2 * (i % 2) + 1]);
        } else {
          u1 = uints_to_unit_double(r[0], r[1]);
          u2 = uints_to_unit_double(r[2], r[3]);
        }
        double radius = std::sqrt(-2.0 * std::log(1.0 - u1));  // 1-u1 in (0,1]: log is finite
        p[i] = T(mean + std * radius * std::cos(kTwoPi * u2));
      });
    });
  });
}

void CpuBackend::random_int(const Tensor& out, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset) {
  uint64_t range = uint64_t(hi) - uint64_t(lo);
  dispatch_all(out.dtype(), "random_int", [&]<typename T>() {
    T* p = out.data<T>();
    fill_contiguous(out, [&](int64_t b, int64_t e) {
      for_each_in_blocks(seed, offset, 2, b, e, [&](int64_t i, const std::array<uint32_t, 4>& r) {
        uint64_t bits = (uint64_t(r[2 * (i % 2)]) << 32) | r[2 * (i % 2) + 1];
        p[i] = T(int64_t(uint64_t(lo) + bits % range));
      });
    });
  });
}

}  // namespace ember::cpu
