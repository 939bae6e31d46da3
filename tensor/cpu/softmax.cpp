// CPU softmax family: softmax / log_softmax over the last dim, their backward, and the fused
// softmax-cross-entropy forward and backward.
//
// Legend: R rows (all leading dims flattened), D the softmax dim; for cross-entropy N rows and
// C classes. Every tensor is contiguous and viewed as [R, D] / [N, C] (the op layer moves the
// dim last and calls contiguous()); per-row tensors are contiguous [N]. Outputs are written with
// `=`. Rows are split over threads with parallel_for, about 32K elements per chunk; each row is
// a few contiguous passes (max, exp-sum, write) whose elementwise loops the compiler vectorises.
// Numerics: the row max is subtracted before exp (no overflow at x = 1000); the exp-sums and the
// dot products of the backward accumulate in double, one rounding per row instead of D.
// The plain loops are the reference (STYLE "Reference first"); f32 rows run the AVX2 row
// functions of softmax_avx2.cpp (the exp-heavy ones from softmax_avx512.cpp on AVX-512) unless
// the ISA is forced to scalar (tests/tensor/test_cpu_softmax.cpp compares every path).
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"

namespace ember::cpu {

// softmax_avx2.cpp: f32 rows (max, exp-sum, sum, log_softmax write, scale, CE gradient).
float row_max_f32_avx2(const float* x, int64_t d);
double row_exp_sum_f32_avx2(const float* x, int64_t d, float m, float* y);
double row_sum_f32_avx2(const float* x, int64_t d);
void row_log_softmax_write_f32_avx2(const float* x, int64_t d, float m, float ls, float* y);
void row_scale_f32_avx2(float* y, int64_t d, float s);
void ce_grad_row_f32_avx2(const float* x, int64_t c, float lse, float g, float off, float* dx);
// softmax_avx512.cpp: the exp-heavy rows on 16 lanes.
float row_max_f32_avx512(const float* x, int64_t d);
double row_exp_sum_f32_avx512(const float* x, int64_t d, float m, float* y);
void ce_grad_row_f32_avx512(const float* x, int64_t c, float lse, float g, float off, float* dx);

namespace {

// f32 rows of 16 or more take the AVX2 functions unless the ISA is forced to scalar. Shorter rows
// (W1's 10 classes) stay scalar: there the padded tails cost more than they save (measured 13 vs
// 18 us for [128, 10]).
template <typename T>
bool simd_rows(int64_t d) {
  return std::is_same_v<T, float> && d >= 16 && active_isa() != Isa::scalar;
}

template <typename T>
T row_max(const T* x, int64_t d) {
  if constexpr (std::is_same_v<T, float>)
    if (simd_rows<T>(d)) return active_isa() == Isa::avx512 ? row_max_f32_avx512(x, d) : row_max_f32_avx2(x, d);
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < d; ++j) m = std::max(m, x[j]);
  return m;
}

// sum_j exp(x_j - m) in double; y_j = exp(x_j - m) too when y is given.
template <typename T>
double row_exp_sum(const T* x, int64_t d, T m, T* y) {
  if constexpr (std::is_same_v<T, float>)
    if (simd_rows<T>(d))
      return active_isa() == Isa::avx512 ? row_exp_sum_f32_avx512(x, d, m, y) : row_exp_sum_f32_avx2(x, d, m, y);
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    const T e = std::exp(x[j] - m);
    if (y) y[j] = e;
    s += e;
  }
  return s;
}

template <typename T>
double row_sum(const T* x, int64_t d) {
  if constexpr (std::is_same_v<T, float>)
    if (simd_rows<T>(d)) return row_sum_f32_avx2(x, d);
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += x[j];
  return s;
}

// log(sum_j exp(x_j)) computed as m + log(sum_j exp(x_j - m)), m = max_j x_j.
// A row of all -inf gives NaN (as PyTorch); +inf anywhere gives NaN through inf - inf.
template <typename T>
double row_logsumexp(const T* x, int64_t d) {
  const T m = row_max(x, d);
  return static_cast<double>(m) + std::log(row_exp_sum<T>(x, d, m, nullptr));
}

// y = softmax(x) or log_softmax(x) along each row of [R, D].
template <typename T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t d, bool log) {
  parallel_for(rows, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * d;
      T* yr = y + r * d;
      const T m = row_max(xr, d);
      const bool simd = simd_rows<T>(d);
      if (log) {
        // (x - m) - log(s) keeps the small shifted value exact before subtracting.
        const T ls = static_cast<T>(std::log(row_exp_sum<T>(xr, d, m, nullptr)));
        if constexpr (std::is_same_v<T, float>)
          if (simd) {
            row_log_softmax_write_f32_avx2(xr, d, m, ls, yr);
            continue;
          }
        for (int64_t j = 0; j < d; ++j) yr[j] = (xr[j] - m) - ls;
      } else {
        const T inv = static_cast<T>(1.0 / row_exp_sum<T>(xr, d, m, yr));
        if constexpr (std::is_same_v<T, float>)
          if (simd) {
            row_scale_f32_avx2(yr, d, inv);
            continue;
          }
        for (int64_t j = 0; j < d; ++j) yr[j] *= inv;
      }
    }
  });
}

// softmax:     dx_j = y_j * (dy_j - sum_k dy_k y_k)      (J = diag(y) - y y^T, symmetric)
// log_softmax: dx_j = dy_j - exp(y_j) * sum_k dy_k      (J = I - 1 softmax^T, so J^T dy)
template <typename T>
void softmax_backward_rows(const T* y, const T* dy, T* dx, int64_t rows, int64_t d, bool log) {
  parallel_for(rows, row_grain(d), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* yr = y + r * d;
      const T* gr = dy + r * d;
      T* xr = dx + r * d;
      double s = 0;
      if (log) {
        for (int64_t j = 0; j < d; ++j) s += gr[j];
        const T st = static_cast<T>(s);
        for (int64_t j = 0; j < d; ++j) xr[j] = gr[j] - std::exp(yr[j]) * st;
      } else {
        for (int64_t j = 0; j < d; ++j) s += static_cast<double>(gr[j]) * yr[j];
        const T st = static_cast<T>(s);
        for (int64_t j = 0; j < d; ++j) xr[j] = yr[j] * (gr[j] - st);
      }
    }
  });
}

// Cross-entropy of row i with target t and smoothing eps (lse = logsumexp of the row):
//   loss_i = (1 - eps) * (lse - x_t) + eps * (lse - mean_c x_c)        (0 when t == ignore_index)
// i.e. (1-eps) * nll + eps * mean_c(-log p_c), PyTorch's label smoothing.
template <typename T>
void cross_entropy_fwd_rows(const T* x, const int64_t* target, int64_t n, int64_t c, int64_t ignore_index,
                            double eps, T* loss, T* lse) {
  parallel_for(n, row_grain(c), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* xr = x + i * c;
      const double l = row_logsumexp(xr, c);
      lse[i] = static_cast<T>(l);
      const int64_t t = target[i];
      if (t == ignore_index || t < 0 || t >= c) {  // out-of-range was rejected before; never read it
        loss[i] = T(0);
        continue;
      }
      double v = (1.0 - eps) * (l - static_cast<double>(xr[t]));
      if (eps > 0) v += eps * (l - row_sum(xr, c) / static_cast<double>(c));
      loss[i] = static_cast<T>(v);
    }
  });
}

// d loss_i / d x_ij = p_ij - (1 - eps) [j == t_i] - eps / C,   p_ij = exp(x_ij - lse_i);
// scaled by grad_loss[i]; ignored rows get 0.
template <typename T>
void cross_entropy_bwd_rows(const T* x, const int64_t* target, const T* lse, const T* gloss, int64_t n, int64_t c,
                            int64_t ignore_index, double eps, T* dx) {
  parallel_for(n, row_grain(c), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* xr = x + i * c;
      T* dr = dx + i * c;
      const int64_t t = target[i];
      if (t == ignore_index || t < 0 || t >= c) {
        std::fill(dr, dr + c, T(0));
        continue;
      }
      const T g = gloss[i], l = lse[i];
      const T off = static_cast<T>(eps / static_cast<double>(c));
      if constexpr (std::is_same_v<T, float>) {
        if (simd_rows<T>(c))
          (active_isa() == Isa::avx512 ? ce_grad_row_f32_avx512 : ce_grad_row_f32_avx2)(xr, c, l, g, off, dr);
        else for (int64_t j = 0; j < c; ++j) dr[j] = g * (std::exp(xr[j] - l) - off);
      } else {
        for (int64_t j = 0; j < c; ++j) dr[j] = g * (std::exp(xr[j] - l) - off);
      }
      dr[t] -= g * static_cast<T>(1.0 - eps);
    }
  });
}

// Internal check (the op layer validated targets): no row may index outside [0, C).
void assert_targets(const int64_t* target, int64_t n, int64_t c, int64_t ignore_index) {
  for (int64_t i = 0; i < n; ++i) {
    const int64_t t = target[i];
    EMBER_ASSERT(t == ignore_index || (t >= 0 && t < c), "cross_entropy: target {} at row {} outside [0,{})", t, i,
                 c);
  }
}

}  // namespace

void CpuBackend::softmax(const Tensor& x, const Tensor& out, bool log) {
  if (x.numel() == 0) return;  // empty tensors may carry any strides
  EMBER_ASSERT(x.is_contiguous() && out.is_contiguous() && x.shape() == out.shape(), "softmax: bad layout");
  const int64_t d = x.dim() == 0 ? 1 : x.size(-1);
  const int64_t rows = d == 0 ? 0 : x.numel() / d;
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    softmax_rows(x.data<T>(), out.data<T>(), rows, d, log);
  });
}

void CpuBackend::softmax_backward(const Tensor& y, const Tensor& grad_y, const Tensor& grad_x, bool log) {
  if (y.numel() == 0) return;
  EMBER_ASSERT(y.is_contiguous() && grad_y.is_contiguous() && grad_x.is_contiguous() &&
                   y.shape() == grad_y.shape() && y.shape() == grad_x.shape(),
               "softmax_backward: bad layout");
  const int64_t d = y.dim() == 0 ? 1 : y.size(-1);
  const int64_t rows = d == 0 ? 0 : y.numel() / d;
  dispatch_float(y.dtype(), "softmax_backward", [&]<typename T>() {
    softmax_backward_rows(y.data<T>(), grad_y.data<T>(), grad_x.data<T>(), rows, d, log);
  });
}

void CpuBackend::cross_entropy_fwd(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                   double label_smoothing, const Tensor& loss, const Tensor& lse) {
  if (logits.numel() == 0) return;  // N = 0 (C = 0 is rejected by the op layer)
  EMBER_ASSERT(logits.dim() == 2 && logits.is_contiguous() && target.is_contiguous() && loss.is_contiguous() &&
                   lse.is_contiguous() && target.numel() == logits.size(0),
               "cross_entropy_fwd: bad layout");
  const int64_t n = logits.size(0), c = logits.size(1);
  const int64_t* t = target.data<int64_t>();
  assert_targets(t, n, c, ignore_index);
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    cross_entropy_fwd_rows(logits.data<T>(), t, n, c, ignore_index, label_smoothing, loss.data<T>(), lse.data<T>());
  });
}

void CpuBackend::cross_entropy_bwd(const Tensor& logits, const Tensor& target, const Tensor& lse,
                                   const Tensor& grad_loss, int64_t ignore_index, double label_smoothing,
                                   const Tensor& grad_logits) {
  if (logits.numel() == 0) return;
  EMBER_ASSERT(logits.dim() == 2 && logits.is_contiguous() && target.is_contiguous() && lse.is_contiguous() &&
                   grad_loss.is_contiguous() && grad_logits.is_contiguous() && grad_logits.shape() == logits.shape(),
               "cross_entropy_bwd: bad layout");
  const int64_t n = logits.size(0), c = logits.size(1);
  const int64_t* t = target.data<int64_t>();
  assert_targets(t, n, c, ignore_index);
  dispatch_float(logits.dtype(), "cross_entropy", [&]<typename T>() {
    cross_entropy_bwd_rows(logits.data<T>(), t, lse.data<T>(), grad_loss.data<T>(), n, c, ignore_index,
                           label_smoothing, grad_logits.data<T>());
  });
}

}  // namespace ember::cpu
