// CPU layer norm and RMS norm over the last dim, forward and backward.
//
// Legend: N rows (all leading dims flattened), D normalised features. x, y, grad_y, grad_x are
// contiguous [N, D]; weight, bias, grad_weight, grad_bias are contiguous [D] or undefined;
// mean and rstd are contiguous [N] in x's dtype. All outputs are written with `=`.
// Threads: the row passes split N over parallel_for (about 32K elements per chunk); the column
// reductions for grad_weight / grad_bias split D instead, each thread walking all rows over its
// own contiguous column block, so no partial buffers are needed and results are deterministic.
// Numerics: per-row statistics (mean, variance, mean square, the two backward dot products)
// accumulate in double, also for f32; variance is two-pass (sum (x - mean)^2), never E[x^2]-E[x]^2.
// The plain loops are the reference (STYLE "Reference first"); f32 rows run the AVX2 passes of
// norm_avx2.cpp unless the ISA is forced to scalar (tests/tensor/test_cpu_norm.cpp compares).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/loops.h"
#include "tensor/parallel.h"

namespace ember::cpu {

// norm_avx2.cpp (and row_sum from softmax_avx2.cpp): f32 row passes.
double row_sum_f32_avx2(const float* x, int64_t d);
double row_centered_sqsum_f32_avx2(const float* x, int64_t d, double m);
double row_sqsum_f32_avx2(const float* x, int64_t d);
void layer_norm_write_f32_avx2(const float* x, int64_t d, float m, float r, const float* w, const float* b, float* y);
void rms_norm_write_f32_avx2(const float* x, int64_t d, float r, const float* w, float* y);
void layer_norm_bwd_dots_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float m, float r,
                                  double& sg, double& sgx);
void layer_norm_bwd_write_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float m, float r,
                                   float mg, float mgx, float* gx);
double rms_norm_bwd_dot_f32_avx2(const float* x, const float* gy, const float* w, int64_t d);
void rms_norm_bwd_write_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float r, float c,
                                 float* gx);
void affine_grads_row_f32_avx2(const float* x, const float* gy, int64_t len, float m, float r, double* aw,
                               double* ab);
void batch_norm_write_f32_avx2(const float* x, const float* gy, int64_t d, float m, float a, float k, float c,
                               float* out);

namespace {

// f32 rows take the AVX2 passes unless the ISA is forced to scalar.
template <typename T>
bool simd_rows() {
  return std::is_same_v<T, float> && active_isa() != Isa::scalar;
}

template <typename T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <typename T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// ---- layer norm ----
// mean = sum_j x_j / D, var = sum_j (x_j - mean)^2 / D, rstd = 1 / sqrt(var + eps)
// y_j = (x_j - mean) * rstd * w_j + b_j
template <typename T>
void layer_norm_fwd_rows(const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd, int64_t n,
                         int64_t d) {
  const bool simd = simd_rows<T>();
  parallel_for(n, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      T* yr = y + r * d;
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          const double m = row_sum_f32_avx2(xr, d) / static_cast<double>(d);
          const double rs = 1.0 / std::sqrt(row_centered_sqsum_f32_avx2(xr, d, m) / static_cast<double>(d) + eps);
          mean[r] = static_cast<T>(m);
          rstd[r] = static_cast<T>(rs);
          layer_norm_write_f32_avx2(xr, d, mean[r], rstd[r], w, b, yr);
          continue;
        }
      }
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += xr[j];
      const double m = s / static_cast<double>(d);
      double ss = 0;
      for (int64_t j = 0; j < d; ++j) {
        const double c = xr[j] - m;
        ss += c * c;
      }
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
      mean[r] = static_cast<T>(m);
      rstd[r] = static_cast<T>(rs);
      const T mt = static_cast<T>(m), rt = static_cast<T>(rs);
      for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - mt) * rt;
      if (w)
        for (int64_t j = 0; j < d; ++j) yr[j] *= w[j];
      if (b)
        for (int64_t j = 0; j < d; ++j) yr[j] += b[j];
    }
  });
}

// grad_x = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat)), g = grad_y * w; grad_w, grad_b are
// column sums (derivation: LayerNormBackward in autograd/functions/norm.cpp).
template <typename T>
void layer_norm_bwd_rows(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* gx, int64_t n,
                         int64_t d) {
  const bool simd = simd_rows<T>();
  parallel_for(n, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      const T* gr = gy + r * d;
      T* out = gx + r * d;
      const T m = mean[r], rs = rstd[r];
      double sg = 0, sgx = 0;  // sum g, sum g * xhat
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          layer_norm_bwd_dots_f32_avx2(xr, gr, w, d, m, rs, sg, sgx);
          const T mg = static_cast<T>(sg / static_cast<double>(d)), mgx = static_cast<T>(sgx / static_cast<double>(d));
          layer_norm_bwd_write_f32_avx2(xr, gr, w, d, m, rs, mg, mgx, out);
          continue;
        }
      }
      for (int64_t j = 0; j < d; ++j) {
        const T g = w ? gr[j] * w[j] : gr[j];
        sg += g;
        sgx += static_cast<double>(g) * ((xr[j] - m) * rs);
      }
      const T mg = static_cast<T>(sg / static_cast<double>(d));
      const T mgx = static_cast<T>(sgx / static_cast<double>(d));
      for (int64_t j = 0; j < d; ++j) {
        const T g = w ? gr[j] * w[j] : gr[j];
        out[j] = rs * (g - mg - (xr[j] - m) * rs * mgx);
      }
    }
  });
}

// Column sums over rows: gw_j = sum_r gy_rj * xhat_rj (xhat from mean/rstd, or x * rstd when
// mean is null, for RMS norm), gb_j = sum_r gy_rj. Either output may be null.
template <typename T>
void affine_grads(const T* x, const T* mean, const T* rstd, const T* gy, T* gw, T* gb, int64_t n, int64_t d) {
  if (!gw && !gb) return;
  const bool simd = simd_rows<T>();
  parallel_for(d, std::max<int64_t>(64, 32768 / std::max<int64_t>(n, 1)), [&](int64_t c0, int64_t c1) {
    const int64_t len = c1 - c0;
    std::vector<double> aw(gw ? len : 0, 0.0), ab(gb ? len : 0, 0.0);
    for (int64_t r = 0; r < n; ++r) {
      const T* xr = x + r * d + c0;
      const T* gr = gy + r * d + c0;
      const T m = mean ? mean[r] : T(0), rs = rstd[r];
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          affine_grads_row_f32_avx2(xr, gr, len, m, rs, gw ? aw.data() : nullptr, gb ? ab.data() : nullptr);
          continue;
        }
      }
      if (gw)
        for (int64_t j = 0; j < len; ++j) aw[j] += static_cast<double>(gr[j] * ((xr[j] - m) * rs));
      if (gb)
        for (int64_t j = 0; j < len; ++j) ab[j] += static_cast<double>(gr[j]);
    }
    for (int64_t j = 0; j < len; ++j) {
      if (gw) gw[c0 + j] = static_cast<T>(aw[j]);
      if (gb) gb[c0 + j] = static_cast<T>(ab[j]);
    }
  });
}

// ---- RMS norm ----
// rstd = 1 / sqrt(mean_j x_j^2 + eps),   y_j = x_j * rstd * w_j
template <typename T>
void rms_norm_fwd_rows(const T* x, const T* w, double eps, T* y, T* rstd, int64_t n, int64_t d) {
  const bool simd = simd_rows<T>();
  parallel_for(n, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      T* yr = y + r * d;
      double ss = 0;
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          rstd[r] = static_cast<T>(1.0 / std::sqrt(row_sqsum_f32_avx2(xr, d) / static_cast<double>(d) + eps));
          rms_norm_write_f32_avx2(xr, d, rstd[r], w, yr);
          continue;
        }
      }
      for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(xr[j]) * xr[j];
      const double rs = 1.0 / std::sqrt(ss / static_cast<double>(d) + eps);
      rstd[r] = static_cast<T>(rs);
      const T rt = static_cast<T>(rs);
      if (w)
        for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * rt * w[j];
      else
        for (int64_t j = 0; j < d; ++j) yr[j] = xr[j] * rt;
    }
  });
}

// grad_x = r * (g - x * r^2 * mean_j(g_j x_j)), r = rstd, g = grad_y * w (derivation:
// RmsNormBackward in autograd/functions/norm.cpp).
template <typename T>
void rms_norm_bwd_rows(const T* x, const T* w, const T* rstd, const T* gy, T* gx, int64_t n, int64_t d) {
  const bool simd = simd_rows<T>();
  parallel_for(n, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      const T* gr = gy + r * d;
      T* out = gx + r * d;
      const T rs = rstd[r];
      if constexpr (std::is_same_v<T, float>) {
        if (simd) {
          const double sgx = rms_norm_bwd_dot_f32_avx2(xr, gr, w, d);
          const T c = static_cast<T>(static_cast<double>(rs) * rs * (sgx / static_cast<double>(d)));
          rms_norm_bwd_write_f32_avx2(xr, gr, w, d, rs, c, out);
          continue;
        }
      }
      double sgx = 0;
      for (int64_t j = 0; j < d; ++j) {
        const T g = w ? gr[j] * w[j] : gr[j];
        sgx += static_cast<double>(g) * xr[j];
      }
      const T c = static_cast<T>(static_cast<double>(rs) * rs * (sgx / static_cast<double>(d)));
      for (int64_t j = 0; j < d; ++j) {
        const T g = w ? gr[j] * w[j] : gr[j];
        out[j] = rs * (g - xr[j] * c);
      }
    }
  });
}

// ---- batch norm (training) ----
// x [N, C, S]: channel ch is N segments of S values, x + (n * C + ch) * S, M = N * S in all.
//   mean = sum x / M, var = sum (x - mean)^2 / M (both in double), rstd = 1 / sqrt(var + eps)
//   y = (x - mean) * (w * rstd) + b
// Backward, with xhat = (x - mean) * rstd, sg = sum gy, sgx = sum gy * xhat (the layer-norm
// derivation in autograd/functions/norm.cpp, over the channel's M values, g = gy * w):
//   grad_x = w rstd (gy - sg / M - xhat sgx / M) = gy * (w rstd) + (x - mean) * (-w rstd^2 sgx / M) - w rstd sg / M
//   grad_w = sgx, grad_b = sg.
// One channel is one task (its passes over N * S values stay in L2), so results do not depend on
// the thread count. f32 segments take the AVX2 row passes (double accumulation) unless the ISA is
// forced to scalar; the plain loops are their reference.
struct BatchNormDims {
  int64_t n, c, s;
};

template <typename T>
void batch_norm_fwd_channel(const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* var,
                            const BatchNormDims& d, int64_t ch, bool simd) {
  const double cnt = static_cast<double>(d.n * d.s);
  double sum = 0, sq = 0;
  for (int64_t n = 0; n < d.n; ++n) {
    const T* xs = x + (n * d.c + ch) * d.s;
    if constexpr (std::is_same_v<T, float>)
      if (simd) {
        sum += row_sum_f32_avx2(xs, d.s);
        continue;
      }
    for (int64_t j = 0; j < d.s; ++j) sum += static_cast<double>(xs[j]);
  }
  const double m = sum / cnt;
  for (int64_t n = 0; n < d.n; ++n) {
    const T* xs = x + (n * d.c + ch) * d.s;
    if constexpr (std::is_same_v<T, float>)
      if (simd) {
        sq += row_centered_sqsum_f32_avx2(xs, d.s, m);
        continue;
      }
    for (int64_t j = 0; j < d.s; ++j) sq += (static_cast<double>(xs[j]) - m) * (static_cast<double>(xs[j]) - m);
  }
  const double v = sq / cnt, r = 1.0 / std::sqrt(v + eps);
  const T tm = static_cast<T>(m), a = static_cast<T>((w ? static_cast<double>(w[ch]) : 1.0) * r);
  const T c = b ? b[ch] : T(0);
  for (int64_t n = 0; n < d.n; ++n) {
    const T* xs = x + (n * d.c + ch) * d.s;
    T* ys = y + (n * d.c + ch) * d.s;
    if constexpr (std::is_same_v<T, float>)
      if (simd) {
        batch_norm_write_f32_avx2(xs, nullptr, d.s, tm, a, 0.0f, c, ys);
        continue;
      }
    for (int64_t j = 0; j < d.s; ++j) ys[j] = std::fma(xs[j] - tm, a, c);
  }
  mean[ch] = tm;
  var[ch] = static_cast<T>(v);
}

template <typename T>
void batch_norm_bwd_channel(const T* x, const T* w, const T* mean, const T* var, double eps, const T* gy, T* gx,
                            T* gw, T* gb, const BatchNormDims& d, int64_t ch, bool simd) {
  const double cnt = static_cast<double>(d.n * d.s);
  const double r = 1.0 / std::sqrt(static_cast<double>(var[ch]) + eps);
  const T m = mean[ch], rs = static_cast<T>(r);
  double sg = 0, sgx = 0;
  for (int64_t n = 0; n < d.n; ++n) {
    const T* xs = x + (n * d.c + ch) * d.s;
    const T* gs = gy + (n * d.c + ch) * d.s;
    if constexpr (std::is_same_v<T, float>)
      if (simd) {
        double a = 0, b = 0;
        layer_norm_bwd_dots_f32_avx2(xs, gs, nullptr, d.s, m, rs, a, b);
        sg += a;
        sgx += b;
        continue;
      }
    for (int64_t j = 0; j < d.s; ++j) {
      sg += static_cast<double>(gs[j]);
      sgx += static_cast<double>(gs[j]) * ((xs[j] - m) * rs);
    }
  }
  if (gw) gw[ch] = static_cast<T>(sgx);
  if (gb) gb[ch] = static_cast<T>(sg);
  if (!gx) return;
  const double wr = (w ? static_cast<double>(w[ch]) : 1.0) * r;
  const T k = static_cast<T>(wr), a = static_cast<T>(-wr * r * sgx / cnt), c = static_cast<T>(-wr * sg / cnt);
  for (int64_t n = 0; n < d.n; ++n) {
    const T* xs = x + (n * d.c + ch) * d.s;
    const T* gs = gy + (n * d.c + ch) * d.s;
    T* out = gx + (n * d.c + ch) * d.s;
    if constexpr (std::is_same_v<T, float>)
      if (simd) {
        batch_norm_write_f32_avx2(xs, gs, d.s, m, a, k, c, out);
        continue;
      }
    for (int64_t j = 0; j < d.s; ++j) out[j] = std::fma(gs[j], k, std::fma(xs[j] - m, a, c));
  }
}

BatchNormDims batch_norm_dims(const Tensor& x, const Tensor& weight, const Tensor& stat, const char* op) {
  EMBER_ASSERT(x.dim() >= 2 && x.is_contiguous(), "{}: x must be contiguous [N, C, *], got {}", op,
               shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1), s = c == 0 || n == 0 ? 0 : x.numel() / (n * c);
  EMBER_ASSERT(!weight.defined() || (weight.is_contiguous() && weight.numel() == c), "{}: bad weight", op);
  EMBER_ASSERT(stat.is_contiguous() && stat.numel() == c, "{}: bad channel statistics", op);
  return {n, c, s};
}

// Runs f(ch) for every channel, channels split across threads above a grain.
template <typename F>
void for_channels(const BatchNormDims& d, F&& f) {
  parallel_for(d.c, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(d.n * d.s, 1)),
               [&](int64_t c0, int64_t c1) {
                 for (int64_t ch = c0; ch < c1; ++ch) f(ch);
               });
}

// Empty inputs (N = 0 or D = 0) have nothing to compute and may carry any strides.
void assert_rows(const Tensor& x, const Tensor& weight, const Tensor& stat, const char* op) {
  EMBER_ASSERT(x.dim() == 2 && x.is_contiguous(), "{}: x must be contiguous [N, D], got {}", op,
               shape_str(x.shape()));
  EMBER_ASSERT(!weight.defined() || (weight.is_contiguous() && weight.numel() == x.size(1)), "{}: bad weight",
               op);
  EMBER_ASSERT(stat.is_contiguous() && stat.numel() == x.size(0), "{}: bad row statistics", op);
}

}  // namespace

void CpuBackend::layer_norm_fwd(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  if (x.numel() == 0) return;
  assert_rows(x, weight, mean, "layer_norm_fwd");
  EMBER_ASSERT(y.is_contiguous() && y.shape() == x.shape() && rstd.numel() == x.size(0), "layer_norm_fwd: bad out");
  dispatch_float(x.dtype(), "layer_norm", [&]<typename T>() {
    layer_norm_fwd_rows(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), eps, y.data<T>(),
                        mean.data<T>(), rstd.data<T>(), x.size(0), x.size(1));
  });
}

void CpuBackend::layer_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                                const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight,
                                const Tensor& grad_bias) {
  if (x.numel() == 0) return;
  assert_rows(x, weight, mean, "layer_norm_bwd");
  EMBER_ASSERT(grad_y.is_contiguous() && grad_y.shape() == x.shape(), "layer_norm_bwd: bad grad_y");
  dispatch_float(x.dtype(), "layer_norm", [&]<typename T>() {
    const int64_t n = x.size(0), d = x.size(1);
    if (grad_x.defined())
      layer_norm_bwd_rows(x.data<T>(), ptr_or_null<T>(weight), mean.data<T>(), rstd.data<T>(), grad_y.data<T>(),
                          grad_x.data<T>(), n, d);
    affine_grads(x.data<T>(), mean.data<T>(), rstd.data<T>(), grad_y.data<T>(), mut_ptr_or_null<T>(grad_weight),
                 mut_ptr_or_null<T>(grad_bias), n, d);
  });
}

void CpuBackend::rms_norm_fwd(const Tensor& x, const Tensor& weight, double eps, const Tensor& y,
                              const Tensor& rstd) {
  if (x.numel() == 0) return;
  assert_rows(x, weight, rstd, "rms_norm_fwd");
  EMBER_ASSERT(y.is_contiguous() && y.shape() == x.shape(), "rms_norm_fwd: bad out");
  dispatch_float(x.dtype(), "rms_norm", [&]<typename T>() {
    rms_norm_fwd_rows(x.data<T>(), ptr_or_null<T>(weight), eps, y.data<T>(), rstd.data<T>(), x.size(0),
                      x.size(1));
  });
}

void CpuBackend::rms_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& rstd, const Tensor& grad_y,
                              const Tensor& grad_x, const Tensor& grad_weight) {
  if (x.numel() == 0) return;
  assert_rows(x, weight, rstd, "rms_norm_bwd");
  EMBER_ASSERT(grad_y.is_contiguous() && grad_y.shape() == x.shape(), "rms_norm_bwd: bad grad_y");
  dispatch_float(x.dtype(), "rms_norm", [&]<typename T>() {
    const int64_t n = x.size(0), d = x.size(1);
    if (grad_x.defined())
      rms_norm_bwd_rows(x.data<T>(), ptr_or_null<T>(weight), rstd.data<T>(), grad_y.data<T>(), grad_x.data<T>(), n,
                        d);
    affine_grads<T>(x.data<T>(), nullptr, rstd.data<T>(), grad_y.data<T>(), mut_ptr_or_null<T>(grad_weight),
                    nullptr, n, d);
  });
}

bool CpuBackend::batch_norm_fwd(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                const Tensor& y, const Tensor& mean, const Tensor& var) {
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) return false;
  const BatchNormDims d = batch_norm_dims(x, weight, mean, "batch_norm_fwd");
  EMBER_ASSERT(y.is_contiguous() && y.shape() == x.shape() && var.is_contiguous() && var.numel() == d.c &&
                   (!bias.defined() || (bias.is_contiguous() && bias.numel() == d.c)),
               "batch_norm_fwd: bad y, var or bias");
  if (d.n * d.s == 0) return true;
  dispatch_float(x.dtype(), "batch_norm", [&]<typename T>() {
    const bool simd = simd_rows<T>();
    for_channels(d, [&](int64_t ch) {
      batch_norm_fwd_channel<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), eps, y.data<T>(),
                                mean.data<T>(), var.data<T>(), d, ch, simd);
    });
  });
  return true;
}

bool CpuBackend::batch_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& var,
                                double eps, const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight,
                                const Tensor& grad_bias) {
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) return false;
  const BatchNormDims d = batch_norm_dims(x, weight, mean, "batch_norm_bwd");
  EMBER_ASSERT(grad_y.is_contiguous() && grad_y.shape() == x.shape() && var.numel() == d.c &&
                   (!grad_x.defined() || (grad_x.is_contiguous() && grad_x.shape() == x.shape())),
               "batch_norm_bwd: bad grad_y, grad_x or var");
  if (d.n * d.s == 0) {
    if (grad_weight.defined()) fill(grad_weight, 0);
    if (grad_bias.defined()) fill(grad_bias, 0);
    return true;
  }
  dispatch_float(x.dtype(), "batch_norm", [&]<typename T>() {
    const bool simd = simd_rows<T>();
    for_channels(d, [&](int64_t ch) {
      batch_norm_bwd_channel<T>(x.data<T>(), ptr_or_null<T>(weight), mean.data<T>(), var.data<T>(), eps,
                                grad_y.data<T>(), mut_ptr_or_null<T>(grad_x), mut_ptr_or_null<T>(grad_weight),
                                mut_ptr_or_null<T>(grad_bias), d, ch, simd);
    });
  });
  return true;
}

}  // namespace ember::cpu
