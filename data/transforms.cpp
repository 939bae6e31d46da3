// Batch transforms (see transforms.h). Legend: N samples, C channels, H x W input plane,
// S output side (crop). Work is split over the N*C planes with parallel_for; inside a plane the
// loops run over contiguous rows (memcpy, a reversed copy, or one subtract-divide), which the
// compiler vectorizes. Random draws: one Philox block per sample, counter 0, key = keys[n].
#include "data/transforms.h"

#include <cstring>

#include "tensor/generator.h"
#include "tensor/parallel.h"

namespace ember::data {
namespace {

constexpr int64_t kPlaneGrain = 16;  // planes per thread chunk; a 28x28 plane is ~3 KiB

uint64_t mix64(uint64_t z) {  // splitmix64 finalizer
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform integer in [0, range) from a 32-bit draw (Lemire's multiply-shift; bias < range / 2^32).
int64_t uniform_below(uint32_t r, int64_t range) { return int64_t((uint64_t(r) * uint64_t(range)) >> 32); }

void check_images(const Tensor& x, std::span<const uint64_t> keys, std::string_view op) {
  EMBER_CHECK(x.defined() && x.dim() == 4, "{}: expected x [N,C,H,W], got {}", op,
              x.defined() ? shape_str(x.shape()) : "an undefined tensor");
  EMBER_CHECK(int64_t(keys.size()) == x.size(0), "{}: got {} random keys for a batch of {} (x {})", op,
              keys.size(), x.size(0), shape_str(x.shape()));
}

}  // namespace

uint64_t sample_key(uint64_t seed, int64_t epoch, int64_t index) {
  return mix64(mix64(mix64(seed) ^ uint64_t(epoch)) ^ uint64_t(index));
}

Tensor Normalize::operator()(const Tensor& x_in, std::span<const uint64_t>) const {
  EMBER_CHECK(x_in.defined() && x_in.dim() >= 2, "Normalize: expected x [N,C,...], got {}",
              x_in.defined() ? shape_str(x_in.shape()) : "an undefined tensor");
  const int64_t n = x_in.size(0), c = x_in.size(1), plane = c ? x_in.numel() / (n * c) : 0;
  auto per_channel = [&](const std::vector<double>& v, const char* name) {
    EMBER_CHECK(int64_t(v.size()) == c || v.size() == 1, "Normalize: {} has {} values for {} channels (x {})", name,
                v.size(), c, shape_str(x_in.shape()));
    return v.size() == 1 ? std::vector<double>(size_t(c), v[0]) : v;
  };
  const std::vector<double> m = per_channel(mean, "mean"), s = per_channel(std, "std");
  for (int64_t k = 0; k < c; ++k) EMBER_CHECK(s[k] > 0, "Normalize: std[{}] = {} must be > 0", k, s[k]);
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.options());
  dispatch_float(x.dtype(), "Normalize", [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    parallel_for(n * c, kPlaneGrain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const T mk = T(m[p % c]), sk = T(s[p % c]);
        const T* sp = src + p * plane;
        T* dp = dst + p * plane;
        for (int64_t i = 0; i < plane; ++i) dp[i] = (sp[i] - mk) / sk;
      }
    });
  });
  return out;
}

Tensor RandomCrop::operator()(const Tensor& x_in, std::span<const uint64_t> keys) const {
  check_images(x_in, keys, "RandomCrop");
  const int64_t n = x_in.size(0), c = x_in.size(1), h = x_in.size(2), w = x_in.size(3), S = size, pad = padding;
  EMBER_CHECK(S >= 1 && pad >= 0, "RandomCrop: size {} must be >= 1 and padding {} >= 0", S, pad);
  EMBER_CHECK(h + 2 * pad >= S && w + 2 * pad >= S,
              "RandomCrop: a {}x{} crop does not fit {}x{} images padded by {} (x {})", S, S, h, w, pad,
              shape_str(x_in.shape()));
  // Window origin in padded coordinates, per sample.
  std::vector<int64_t> top(static_cast<size_t>(n)), left(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto r = philox4x32(keys[size_t(i)], 0);
    top[size_t(i)] = uniform_below(r[0], h + 2 * pad - S + 1);
    left[size_t(i)] = uniform_below(r[1], w + 2 * pad - S + 1);
  }
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty({n, c, S, S}, x.options());
  dispatch_float(x.dtype(), "RandomCrop", [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    parallel_for(n * c, kPlaneGrain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t y0 = top[size_t(p / c)] - pad, x0 = left[size_t(p / c)] - pad;  // in input coordinates
        // Output columns [lo, hi) read input columns x0+lo .. x0+hi-1; the rest is zero padding.
        const int64_t lo = std::clamp<int64_t>(-x0, 0, S), hi = std::clamp<int64_t>(w - x0, lo, S);
        const T* sp = src + p * h * w;
        T* dp = dst + p * S * S;
        for (int64_t y = 0; y < S; ++y) {
          T* row = dp + y * S;
          const int64_t sy = y0 + y;
          if (sy < 0 || sy >= h || lo == hi) {
            std::fill(row, row + S, T(0));
            continue;
          }
          std::fill(row, row + lo, T(0));
          std::memcpy(row + lo, sp + sy * w + x0 + lo, size_t(hi - lo) * sizeof(T));
          std::fill(row + hi, row + S, T(0));
        }
      }
    });
  });
  return out;
}

Tensor RandomHorizontalFlip::operator()(const Tensor& x_in, std::span<const uint64_t> keys) const {
  check_images(x_in, keys, "RandomHorizontalFlip");
  EMBER_CHECK(p >= 0 && p <= 1, "RandomHorizontalFlip: p = {} must lie in [0, 1]", p);
  const int64_t n = x_in.size(0), c = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  std::vector<char> flip(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) flip[size_t(i)] = double(uint_to_unit_float(philox4x32(keys[size_t(i)], 0)[2])) < p;
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), x.options());
  dispatch_float(x.dtype(), "RandomHorizontalFlip", [&]<typename T>() {
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    parallel_for(n * c, kPlaneGrain, [&](int64_t b, int64_t e) {
      for (int64_t pl = b; pl < e; ++pl) {
        const T* sp = src + pl * h * w;
        T* dp = dst + pl * h * w;
        if (!flip[size_t(pl / c)]) {
          std::memcpy(dp, sp, size_t(h * w) * sizeof(T));
          continue;
        }
        for (int64_t y = 0; y < h; ++y)
          for (int64_t i = 0; i < w; ++i) dp[y * w + i] = sp[y * w + w - 1 - i];
      }
    });
  });
  return out;
}

Tensor Compose::operator()(const Tensor& x, std::span<const uint64_t> keys) const {
  Tensor y = x;
  std::vector<uint64_t> stage_keys(keys.size());
  for (size_t j = 0; j < stages.size(); ++j) {
    EMBER_CHECK(bool(stages[j]), "Compose: stage {} is empty", j);
    for (size_t i = 0; i < keys.size(); ++i) stage_keys[i] = mix64(keys[i] ^ mix64(j + 1));
    y = stages[j](y, stage_keys);
  }
  return y;
}

Tensor apply_transform(const Transform& t, const Tensor& x, uint64_t seed) {
  EMBER_CHECK(x.defined() && x.dim() >= 1, "apply_transform: expected a batch x [N,...]");
  std::vector<uint64_t> keys(size_t(x.size(0)));
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = sample_key(seed, 0, int64_t(i));
  return t(x, keys);
}

}  // namespace ember::data
