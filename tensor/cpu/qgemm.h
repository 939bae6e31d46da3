// Row-dot products for inference on a few activation rows (decode) with the weight stored as a
// Linear weight W [N, K] (one output channel per row):
//   y[m, n] = scale[n] * sum_k x[m, k] * w[n, k]        (int8 w, weight-only quantization)
//   y[m, n] =            sum_k x[m, k] * w[n, k]        (f32 w, or bf16 w: the upper half of an f32)
// x f32 [M, K] row-major, y f32 [M, N]. int8 weights are widened to f32 in registers, so the
// activations keep full precision (W8A32) and the product is exact up to the f32 summation
// order; the gain is 4x fewer weight bytes per token (decode is memory-bound). The f32 form exists
// because the general GEMM packs all of W for every product, which dominates at M = 1.
//
// *_ref are the references (double accumulation); the dispatchers split N across threads and run
// the rows of the active ISA: qgemm_avx512.cpp (16 lanes, masked k tail), qgemm_avx2.cpp (8 lanes),
// or plain f32 loops, with f32 activations. bf16 weights are widened exactly (a 16-bit shift), so a
// bf16 product equals the f32 product of the rounded weights: half the bytes of f32 per token, no
// scale, no activation rounding (W16A32).
//
// Two low-precision-activation forms, opt in:
// - W8A8 (qgemm_i8_i8, linear_int8_dynamic): each activation row is quantized on the fly,
//   symmetric per row: xs[i] = max_k |x[i,k]| / 127 (1 for a zero row), xq = round-half-even(x / xs)
//   in [-127, 127]; then y[i, j] = (float(sum_k xq[i,k] * w[j,k]) * xs[i]) * scale[j]. The sums are
//   exact int32, so every path gives the same bits: AVX-512 VNNI (VPDPBUSD on w + 128 as u8 and xq as
//   s8, minus 128 * sum_k xq), AVX2 (VPMADDUBSW on |w| and xq with w's sign, which cannot saturate:
//   2 * 128 * 127 < 2^15) and scalar loops.
// - bf16 x bf16 rows: under set_matmul_precision(bf16), gemm_rows_bf16 rounds the activations to
//   bf16 too (the precision's rule) and runs VDPBF16PS where has_avx512_bf16(); elsewhere the W16A32
//   rows on the rounded activations (same values, another summation order).
#pragma once

#include <cstdint>
#include <utility>

#include "tensor/tensor.h"

namespace ember::cpu {

void qgemm_f32_i8_ref(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y);
void gemm_rows_f32_ref(int64_t m, int64_t n, int64_t k, const float* x, const float* w, float* y);
// Output channels [n0, n1) on one ISA path (y row stride n). scale may be null for f32 weights.
void qgemm_f32_i8_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const int8_t* w, const float* scale, float* y);
void qgemm_f32_i8_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                            const int8_t* w, const float* scale, float* y);
void qgemm_f32_i8_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const int8_t* w, const float* scale, float* y);
void gemm_rows_f32_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                               const float* w, float* y);
void gemm_rows_f32_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                             const float* w, float* y);
void gemm_rows_f32_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                               const float* w, float* y);
// bf16 weights as their bit patterns (bf16_bits of gemm_bf16.h: round to nearest even).
void gemm_rows_bf16_ref(int64_t m, int64_t n, int64_t k, const float* x, const uint16_t* w, float* y);
void gemm_rows_bf16_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                                const uint16_t* w, float* y);
void gemm_rows_bf16_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const uint16_t* w, float* y);
void gemm_rows_bf16_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                                const uint16_t* w, float* y);
// W8A8 pieces (see above). quantize_activation_rows_int8 writes xq [M, K], xs [M] and xsum [M]
// (sum_k xq, for the VNNI offset). The *_rows kernels take the quantized rows; the dispatcher
// quantizes. qgemm_i8_i8_ref quantizes with the same rule and sums in int64.
void quantize_activation_rows_int8(int64_t m, int64_t k, const float* x, int8_t* xq, float* xs, int32_t* xsum);
void qgemm_i8_i8_ref(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y);
void qgemm_i8_i8_rows_scalar(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                             const float* xs, const int32_t* xsum, const int8_t* w, const float* scale, float* y);
void qgemm_i8_i8_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                           const float* xs, const int32_t* xsum, const int8_t* w, const float* scale, float* y);
void qgemm_i8_i8_rows_avx512vnni(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                                 const float* xs, const int32_t* xsum, const int8_t* w, const float* scale, float* y);
// bf16 x bf16 rows with VDPBF16PS (x as bf16 bits [M, K]); only where has_avx512_bf16().
void gemm_rows_bf16_bf16_rows_avx512bf16(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1,
                                         const uint16_t* xb, const uint16_t* w, float* y);

// The dispatching, threaded products.
void qgemm_f32_i8(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y);
void gemm_rows_f32(int64_t m, int64_t n, int64_t k, const float* x, const float* w, float* y);
// Under matmul precision bf16 the activations are rounded to bf16 first (see above).
void gemm_rows_bf16(int64_t m, int64_t n, int64_t k, const float* x, const uint16_t* w, float* y);
void qgemm_i8_i8(int64_t m, int64_t n, int64_t k, const float* x, const int8_t* w, const float* scale, float* y);

// Tensor forms (not differentiable; CPU): x f32 [..., K] (any strides), qweight u8 [N, K] holding
// int8 bit patterns + scale f32 [N], or weight f32 [N, K] -> f32 [..., N]. Throw naming the
// shapes on a mismatch.
Tensor linear_int8(const Tensor& x, const Tensor& qweight, const Tensor& scale);
// The same with the activations quantized per row (W8A8, qgemm_i8_i8), for any number of rows.
Tensor linear_int8_dynamic(const Tensor& x, const Tensor& qweight, const Tensor& scale);
Tensor linear_rows_f32(const Tensor& x, const Tensor& weight);
// bf16 weights: wbits u8 [N, 2K], the little-endian bf16 bit patterns of each row.
Tensor linear_bf16(const Tensor& x, const Tensor& wbits);
// f32 [N, K] -> u8 [N, 2K] bf16 bit patterns (round to nearest even), and back (exact).
Tensor to_bf16_rows(const Tensor& w);
Tensor bf16_rows_to_f32(const Tensor& wbits);

// Symmetric per-row quantization of w f32 [N, K]: scale[n] = max_k |w[n,k]| / 127 (1 for a zero
// row), q = round(w / scale) clamped to [-127, 127]. Returns {qweight u8 [N, K], scale f32 [N]}.
std::pair<Tensor, Tensor> quantize_rows_int8(const Tensor& w);
// The inverse: f32 [N, K] = int8 value * scale[row] (for many-row products, which run the f32 GEMM).
Tensor dequantize_rows_int8(const Tensor& qweight, const Tensor& scale);

}  // namespace ember::cpu
