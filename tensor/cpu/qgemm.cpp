// Row-dot products for decode (int8 or f32 weights): the double-precision references, the
// portable row kernels, the threaded dispatchers and the Tensor entry points (see qgemm.h).
// Legend: M activation rows (tokens), N output channels, K input features.
#include "tensor/cpu/qgemm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16.h"
#include "tensor/matmul_precision.h"
#include "tensor/parallel.h"

namespace ember::cpu {

namespace {
// A contiguous copy through the backend's copy primitive (tensor/ cannot call Tensor::contiguous(),
// which lives in autograd/: a static link of tensor alone would leave it undefined).
Tensor qgemm_dense(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = Tensor::empty(t.shape(), {.dtype = t.dtype(), .device = t.device()});
  backend_of(t).copy(t, out);
  return out;
}
}  // namespace

void qgemm_f32_i8_ref(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale,
                      float* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(x[i * k + p]) * w[j * k + p];
      y[i * n + j] = static_cast<float>(s * scale[j]);
    }
}

void gemm_rows_f32_ref(int64_t m, int64_t n, int64_t k, const float* x, const float* w, float* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(x[i * k + p]) * w[j * k + p];
      y[i * n + j] = static_cast<float>(s);
    }
}

void gemm_rows_bf16_ref(int64_t m, int64_t n, int64_t k, const float* x, const uint16_t* w, float* y) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(x[i * k + p]) * bf16_to_float(w[j * k + p]);
      y[i * n + j] = static_cast<float>(s);
    }
}

namespace {

inline float weight_value(float v) { return v; }
inline float weight_value(int8_t v) { return static_cast<float>(v); }
inline float weight_value(uint16_t bf16) { return bf16_to_float(bf16); }

template <typename W>
void rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x, const W* w,
                 const float* scale, float* y) {
  for (int64_t j = n0; j < n1; ++j) {
    const W* wr = w + j * k;
    for (int64_t i = 0; i < m; ++i) {
      const float* xr = x + i * k;
      float s = 0;
      for (int64_t p = 0; p < k; ++p) s += xr[p] * weight_value(wr[p]);
      y[i * n + j] = scale ? s * scale[j] : s;
    }
  }
}

// Each thread owns a block of output channels (weight rows), so each weight byte is read by one
// thread; the grain keeps a block at >= 64 KiB of weights.
int64_t grain_of(int64_t k, size_t elem) {
  return std::max<int64_t>(16, (64 << 10) / std::max<int64_t>(1, k * static_cast<int64_t>(elem)));
}

}  // namespace

void gemm_rows_f32_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                               const float* w, float* y) {
  rows_scalar(m, n, k, n0, n1, x, w, nullptr, y);
}

void gemm_rows_f32(int64_t m, int64_t n, int64_t k, const float* x, const float* w, float* y) {
  const Isa isa = active_isa();
  parallel_for(n, grain_of(k, sizeof(float)), [&](int64_t n0, int64_t n1) {
    if (isa == Isa::avx512) gemm_rows_f32_rows_avx512(m, n, k, n0, n1, x, w, y);
    else if (isa == Isa::avx2) gemm_rows_f32_rows_avx2(m, n, k, n0, n1, x, w, y);
    else gemm_rows_f32_rows_scalar(m, n, k, n0, n1, x, w, y);
  });
}

void gemm_rows_bf16_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                                const uint16_t* w, float* y) {
  rows_scalar(m, n, k, n0, n1, x, w, nullptr, y);
}

namespace {
void bf16_rows_dispatch(int64_t m, int64_t n, int64_t k, const float* x, const uint16_t* w, float* y, Isa isa,
                        int64_t grain) {
  parallel_for(n, grain, [&](int64_t n0, int64_t n1) {
    if (isa == Isa::avx512) gemm_rows_bf16_rows_avx512(m, n, k, n0, n1, x, w, y);
    else if (isa == Isa::avx2) gemm_rows_bf16_rows_avx2(m, n, k, n0, n1, x, w, y);
    else gemm_rows_bf16_rows_scalar(m, n, k, n0, n1, x, w, y);
  });
}
}  // namespace

void gemm_rows_bf16(int64_t m, int64_t n, int64_t k, const float* x, const uint16_t* w, float* y) {
  const Isa isa = active_isa();
  const int64_t grain = grain_of(k, sizeof(uint16_t));
  if (matmul_precision() == MatmulPrecision::bf16) {
    if (has_avx512_bf16()) {  // bf16 x bf16 with VDPBF16PS
      std::vector<uint16_t> xb(static_cast<size_t>(m * k));
      for (int64_t i = 0; i < m * k; ++i) xb[i] = bf16_bits(x[i]);
      parallel_for(n, grain, [&](int64_t n0, int64_t n1) {
        gemm_rows_bf16_bf16_rows_avx512bf16(m, n, k, n0, n1, xb.data(), w, y);
      });
      return;
    }
    std::vector<float> xr(static_cast<size_t>(m * k));  // the same values, widened again
    for (int64_t i = 0; i < m * k; ++i) xr[i] = round_to_bf16(x[i]);
    bf16_rows_dispatch(m, n, k, xr.data(), w, y, isa, grain);
    return;
  }
  bf16_rows_dispatch(m, n, k, x, w, y, isa, grain);
}

void qgemm_f32_i8_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const int8_t* w, const float* scale, float* y) {
  rows_scalar(m, n, k, n0, n1, x, w, scale, y);
}

void qgemm_f32_i8(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y) {
  const Isa isa = active_isa();
  parallel_for(n, grain_of(k, 1), [&](int64_t n0, int64_t n1) {
    if (isa == Isa::avx512) qgemm_f32_i8_rows_avx512(m, n, k, n0, n1, x, w, scale, y);
    else if (isa == Isa::avx2) qgemm_f32_i8_rows_avx2(m, n, k, n0, n1, x, w, scale, y);
    else qgemm_f32_i8_rows_scalar(m, n, k, n0, n1, x, w, scale, y);
  });
}

void quantize_activation_rows_int8(int64_t m, int64_t k, const float* x, int8_t* xq, float* xs, int32_t* xsum) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xr = x + i * k;
    float amax = 0;
    bool finite = true;
    for (int64_t p = 0; p < k; ++p) {
      amax = std::max(amax, std::fabs(xr[p]));
      finite = finite && std::isfinite(xr[p]);
    }
    const float s = amax > 0 ? amax / 127.0f : 1.0f;
    int32_t sum = 0;
    if (!finite) {  // inf or NaN in the row: its outputs become NaN (0 * NaN)
      std::fill(xq + i * k, xq + (i + 1) * k, int8_t{0});
      xs[i] = std::numeric_limits<float>::quiet_NaN();
      xsum[i] = 0;
      continue;
    }
    for (int64_t p = 0; p < k; ++p) {
      const auto q = static_cast<int8_t>(std::clamp(std::nearbyint(xr[p] / s), -127.0f, 127.0f));
      xq[i * k + p] = q;
      sum += q;
    }
    xs[i] = s;
    xsum[i] = sum;
  }
}

void qgemm_i8_i8_ref(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y) {
  std::vector<int8_t> xq(static_cast<size_t>(m * k));
  std::vector<float> xs(static_cast<size_t>(m));
  std::vector<int32_t> xsum(static_cast<size_t>(m));
  quantize_activation_rows_int8(m, k, x, xq.data(), xs.data(), xsum.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int64_t dot = 0;
      for (int64_t p = 0; p < k; ++p) dot += int64_t{xq[i * k + p]} * w[j * k + p];
      y[i * n + j] = static_cast<float>(dot) * xs[i] * scale[j];
    }
}

void qgemm_i8_i8_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                             const float* xs, const int32_t* /*xsum*/, const int8_t* w, const float* scale, float* y) {
  for (int64_t j = n0; j < n1; ++j) {
    const int8_t* wr = w + j * k;
    for (int64_t i = 0; i < m; ++i) {
      const int8_t* xr = xq + i * k;
      int32_t dot = 0;
      for (int64_t p = 0; p < k; ++p) dot += int32_t{xr[p]} * wr[p];
      y[i * n + j] = static_cast<float>(dot) * xs[i] * scale[j];
    }
  }
}

void qgemm_i8_i8(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y) {
  // int32 sums stay exact while k * 128 * 127 < 2^31.
  EMBER_CHECK(k <= (int64_t{1} << 17), "qgemm_i8_i8: K = {} is above 131072, where int32 sums could overflow", k);
  std::vector<int8_t> xq(static_cast<size_t>(m * k));
  std::vector<float> xs(static_cast<size_t>(m));
  std::vector<int32_t> xsum(static_cast<size_t>(m));
  quantize_activation_rows_int8(m, k, x, xq.data(), xs.data(), xsum.data());
  const Isa isa = active_isa();
  const bool vnni = has_avx512_vnni();
  parallel_for(n, grain_of(k, 1), [&](int64_t n0, int64_t n1) {
    if (vnni) qgemm_i8_i8_rows_avx512vnni(m, n, k, n0, n1, xq.data(), xs.data(), xsum.data(), w, scale, y);
    else if (isa != Isa::scalar) qgemm_i8_i8_rows_avx2(m, n, k, n0, n1, xq.data(), xs.data(), xsum.data(), w, scale, y);
    else qgemm_i8_i8_rows_scalar(m, n, k, n0, n1, xq.data(), xs.data(), xsum.data(), w, scale, y);
  });
}

namespace {
// The Tensor forms of the int8-weight products: checks, shapes, contiguous operands.
template <typename Product>
Tensor int8_linear(const char* what, const Tensor& x, const Tensor& qweight, const Tensor& scale, Product product) {
  EMBER_CHECK(x.dtype() == DType::f32 && qweight.dtype() == DType::u8 && scale.dtype() == DType::f32,
              "{}: expected f32 x, u8 (int8 bits) qweight and f32 scale, got {}, {}, {}", what,
              dtype_name(x.dtype()), dtype_name(qweight.dtype()), dtype_name(scale.dtype()));
  EMBER_CHECK(x.device().is_cpu() && qweight.device().is_cpu() && scale.device().is_cpu(), "{}: CPU tensors only",
              what);
  EMBER_CHECK(qweight.dim() == 2 && scale.dim() == 1 && scale.size(0) == qweight.size(0) && x.dim() >= 1 &&
                  x.size(-1) == qweight.size(1),
              "{}: x {}, qweight {} and scale {} do not fit (expected [..., K], [N, K], [N])", what,
              shape_str(x.shape()), shape_str(qweight.shape()), shape_str(scale.shape()));
  const int64_t k = qweight.size(1), n = qweight.size(0), m = k > 0 ? x.numel() / k : 0;
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = n;
  Tensor y = Tensor::empty(out_shape);
  if (y.numel() == 0) return y;
  const Tensor xc = qgemm_dense(x), wc = qgemm_dense(qweight), sc = qgemm_dense(scale);
  product(m, n, k, xc.data<float>(), reinterpret_cast<const int8_t*>(wc.data<uint8_t>()), sc.data<float>(),
          y.data<float>());
  return y;
}
}  // namespace

Tensor linear_int8(const Tensor& x, const Tensor& qweight, const Tensor& scale) {
  return int8_linear("linear_int8", x, qweight, scale, qgemm_f32_i8);
}

Tensor linear_int8_dynamic(const Tensor& x, const Tensor& qweight, const Tensor& scale) {
  return int8_linear("linear_int8_dynamic", x, qweight, scale, qgemm_i8_i8);
}

Tensor linear_rows_f32(const Tensor& x, const Tensor& weight) {
  EMBER_CHECK(x.dtype() == DType::f32 && weight.dtype() == DType::f32 && x.device().is_cpu() &&
                  weight.device().is_cpu(),
              "linear_rows_f32: expected f32 CPU tensors, got {} and {}", dtype_name(x.dtype()),
              dtype_name(weight.dtype()));
  EMBER_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1),
              "linear_rows_f32: x {} and weight {} do not fit (expected [..., K] and [N, K])", shape_str(x.shape()),
              shape_str(weight.shape()));
  const int64_t k = weight.size(1), n = weight.size(0), m = k > 0 ? x.numel() / k : 0;
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = n;
  Tensor y = Tensor::empty(out_shape);
  if (y.numel() == 0) return y;
  const Tensor xc = qgemm_dense(x), wc = qgemm_dense(weight);
  gemm_rows_f32(m, n, k, xc.data<float>(), wc.data<float>(), y.data<float>());
  return y;
}

Tensor linear_bf16(const Tensor& x, const Tensor& wbits) {
  EMBER_CHECK(x.dtype() == DType::f32 && wbits.dtype() == DType::u8 && x.device().is_cpu() && wbits.device().is_cpu(),
              "linear_bf16: expected f32 x and u8 (bf16 bits) weight on the CPU, got {} and {}",
              dtype_name(x.dtype()), dtype_name(wbits.dtype()));
  EMBER_CHECK(wbits.dim() == 2 && wbits.size(1) % 2 == 0 && x.dim() >= 1 && x.size(-1) * 2 == wbits.size(1),
              "linear_bf16: x {} and weight bits {} do not fit (expected [..., K] and [N, 2K])", shape_str(x.shape()),
              shape_str(wbits.shape()));
  const int64_t k = wbits.size(1) / 2, n = wbits.size(0), m = k > 0 ? x.numel() / k : 0;
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = n;
  Tensor y = Tensor::empty(out_shape);
  if (y.numel() == 0) return y;
  const Tensor xc = qgemm_dense(x), wc = qgemm_dense(wbits);
  gemm_rows_bf16(m, n, k, xc.data<float>(), reinterpret_cast<const uint16_t*>(wc.data<uint8_t>()), y.data<float>());
  return y;
}

Tensor to_bf16_rows(const Tensor& w) {
  EMBER_CHECK(w.dim() == 2 && w.dtype() == DType::f32, "to_bf16_rows: expected f32 [N, K], got {} {}",
              dtype_name(w.dtype()), shape_str(w.shape()));
  const Tensor wc = qgemm_dense(w);
  Tensor out = Tensor::empty({w.size(0), 2 * w.size(1)}, {.dtype = DType::u8});
  const float* src = wc.data<float>();
  auto* dst = reinterpret_cast<uint16_t*>(out.data<uint8_t>());
  for (int64_t i = 0; i < w.numel(); ++i) dst[i] = bf16_bits(src[i]);
  return out;
}

Tensor bf16_rows_to_f32(const Tensor& wbits) {
  EMBER_CHECK(wbits.dim() == 2 && wbits.dtype() == DType::u8 && wbits.size(1) % 2 == 0,
              "bf16_rows_to_f32: expected u8 [N, 2K], got {} {}", dtype_name(wbits.dtype()), shape_str(wbits.shape()));
  const Tensor bc = qgemm_dense(wbits);
  Tensor out = Tensor::empty({wbits.size(0), wbits.size(1) / 2});
  const auto* src = reinterpret_cast<const uint16_t*>(bc.data<uint8_t>());
  float* dst = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) dst[i] = bf16_to_float(src[i]);
  return out;
}

std::pair<Tensor, Tensor> quantize_rows_int8(const Tensor& w) {
  EMBER_CHECK(w.dim() == 2 && w.dtype() == DType::f32, "quantize_rows_int8: expected f32 [N, K], got {} {}",
              dtype_name(w.dtype()), shape_str(w.shape()));
  const Tensor wc = qgemm_dense(w);
  const int64_t n = w.size(0), k = w.size(1);
  Tensor q = Tensor::empty({n, k}, {.dtype = DType::u8}), s = Tensor::empty({n});
  const float* src = wc.data<float>();
  auto* qd = reinterpret_cast<int8_t*>(q.data<uint8_t>());
  float* sd = s.data<float>();
  for (int64_t j = 0; j < n; ++j) {
    float amax = 0;
    for (int64_t p = 0; p < k; ++p) amax = std::max(amax, std::fabs(src[j * k + p]));
    const float scale = amax > 0 ? amax / 127.0f : 1.0f;
    sd[j] = scale;
    for (int64_t p = 0; p < k; ++p)
      qd[j * k + p] = static_cast<int8_t>(std::clamp(std::nearbyint(src[j * k + p] / scale), -127.0f, 127.0f));
  }
  return {q, s};
}

Tensor dequantize_rows_int8(const Tensor& qweight, const Tensor& scale) {
  EMBER_CHECK(qweight.dtype() == DType::u8 && qweight.dim() == 2 && scale.dtype() == DType::f32 && scale.dim() == 1 &&
                  scale.size(0) == qweight.size(0),
              "dequantize_rows_int8: expected u8 [N, K] and f32 [N], got {} {} and {} {}", dtype_name(qweight.dtype()),
              shape_str(qweight.shape()), dtype_name(scale.dtype()), shape_str(scale.shape()));
  const Tensor qc = qgemm_dense(qweight), sc = qgemm_dense(scale);
  const int64_t n = qweight.size(0), k = qweight.size(1);
  Tensor w = Tensor::empty({n, k});
  const auto* q = reinterpret_cast<const int8_t*>(qc.data<uint8_t>());
  const float* s = sc.data<float>();
  float* d = w.data<float>();
  for (int64_t j = 0; j < n; ++j)
    for (int64_t p = 0; p < k; ++p) d[j * k + p] = static_cast<float>(q[j * k + p]) * s[j];
  return w;
}

}  // namespace ember::cpu
