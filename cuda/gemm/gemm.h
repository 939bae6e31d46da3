// GEMM launchers (C++17 header, shared by kernels, backend glue, tests and benches).
// Legend: C[b] (M x N, row-major, ldc, batch stride sc) = A[b] (M x K) @ B[b] (K x N) [+ C[b]].
// A element (m, k) of batch b sits at a + b*sa + m*sam + k*sak; B (k, n) at b + b*sb + k*sbk + n*sbn.
// Any strides work for the SIMT kernels (a zero batch stride broadcasts); the tensor-core kernels
// need row-major A and B with 16-byte aligned rows and return false otherwise.
#pragma once

#include <cstdint>

#include "cuda/common.cuh"
#include "tensor/conv_geometry.h"

struct __nv_bfloat16;

namespace ember::cuda {

template <typename T>
struct GemmOperands {
  const T* a;
  int64_t sa, sam, sak;
  const T* b;
  int64_t sb, sbk, sbn;
  T* c;
  int64_t sc, ldc;
  int64_t batch, m, n, k;
  bool accumulate;
};

// Tiled shared-memory + register-blocked SIMT kernel: 128x128x8 block tile, 256 threads, 8x8
// outputs per thread, register-staged double buffering. f32 and f64 (for the f64 tests).
void launch_gemm_tiled(const GemmOperands<float>& g);
void launch_gemm_tiled(const GemmOperands<double>& g);

// Tensor cores via mma.sync (sm_80+ PTX, tiles chosen for sm_90): 128x128 block tile, 8 warps of
// 64x32, 3-stage cp.async pipeline. f32 accumulation; C row-major f32.
//  bf16: A [M,K] (lda), B [K,N] (ldb) row-major bf16; needs K, lda, ldb multiples of 8.
//  tf32: A, B row-major f32 rounded to tf32 in the kernel; needs K, lda, ldb multiples of 4.
struct TcGemm {
  const void* a;
  int64_t lda, sa;
  const void* b;
  int64_t ldb, sb;
  float* c;
  int64_t ldc, sc;
  int64_t batch, m, n, k;
  bool accumulate;
};
bool launch_gemm_bf16_tc(const TcGemm& g);
bool launch_gemm_tf32_tc(const TcGemm& g);

// cuBLAS baselines (cublas.cpp): cublasSgemmStridedBatched (tf32: CUBLAS_COMPUTE_32F_FAST_TF32
// through cublasGemmStridedBatchedEx) and bf16 cublasGemmStridedBatchedEx. Return false when a
// layout has no unit stride on either axis.
bool cublas_gemm_f32(const GemmOperands<float>& g, bool tf32);
bool cublas_gemm_bf16(const TcGemm& g);

// f32 <-> bf16 conversion on the device (round to nearest even), for benches and tests.
void launch_f32_to_bf16(const float* src, __nv_bfloat16* dst, int64_t n);

// Implicit-GEMM 2-D convolution forward (f32): y [N, Cout, OH, OW] = w [Cout, C*kh*kw] @ im2col(x),
// the im2col gather done inside the SIMT GEMM's B loader (no col buffer). x any strides.

void launch_conv2d_implicit_gemm(const float* x, const int64_t (&xs)[4], const float* w, float* y, const Conv2dGeom& g,
                                 int64_t cout);
// Backward passes as implicit GEMMs: dx [N, C, H, W] (`=`) from dy [N, Cout, OH, OW] and w; and
// dw [Cout, C, kh, kw] (`=`) from x (any strides) and dy. dy, w, dx, dw contiguous.
void launch_conv2d_bwd_data_implicit_gemm(const float* dy, const float* w, float* dx, const Conv2dGeom& g, int64_t cout);
void launch_conv2d_bwd_weight_implicit_gemm(const float* x, const int64_t (&xs)[4], const float* dy, float* dw,
                                            const Conv2dGeom& g, int64_t cout);

}  // namespace ember::cuda
