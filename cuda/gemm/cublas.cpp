// cuBLAS baselines for the GEMM benches and EMBER_GEMM=cublas|cublas_tf32. Row-major C = A B is
// computed as column-major C^T = B^T A^T: the row-major [K, N] B with unit stride on n is, read
// column-major, an N x K matrix (op N, ld = sbk); with unit stride on k it is transposed (op T,
// ld = sbn). Same for A. One handle per device, bound to the device's stream.
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include "cuda/common.cuh"
#include "cuda/gemm/gemm.h"
#include "tensor/error.h"

namespace ember::cuda {
namespace {

#define EMBER_CUBLAS_CHECK(call)                                                                          \
  do {                                                                                                    \
    cublasStatus_t st_ = (call);                                                                          \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                     \
      ::ember::detail::throw_error(fmt::format("cublas: {} failed with {} ({}) at {}:{}", #call, int(st_), \
                                               cublasGetStatusString(st_), __FILE__, __LINE__));           \
  } while (0)

cublasHandle_t handle() {
  static cublasHandle_t handles[16] = {};
  int dev = 0;
  EMBER_CUDA_CHECK(cudaGetDevice(&dev));
  if (!handles[dev]) EMBER_CUBLAS_CHECK(cublasCreate(&handles[dev]));
  EMBER_CUBLAS_CHECK(cublasSetStream(handles[dev], current_stream()));
  return handles[dev];
}

// Column-major operand description of a row-major matrix (rows x cols) with strides (s0, s1).
bool col_major_op(int64_t s0, int64_t s1, int64_t rows, int64_t cols, cublasOperation_t& op, int64_t& ld) {
  if (s1 == 1 && (s0 >= cols || rows == 1)) {
    op = CUBLAS_OP_N, ld = std::max<int64_t>(s0, std::max<int64_t>(cols, 1));
    return true;
  }
  if (s0 == 1 && (s1 >= rows || cols == 1)) {
    op = CUBLAS_OP_T, ld = std::max<int64_t>(s1, std::max<int64_t>(rows, 1));
    return true;
  }
  return false;
}

}  // namespace

bool cublas_gemm_f32(const GemmOperands<float>& g, bool tf32) {
  cublasOperation_t opa, opb;
  int64_t lda, ldb;
  if (!col_major_op(g.sam, g.sak, g.m, g.k, opa, lda) || !col_major_op(g.sbk, g.sbn, g.k, g.n, opb, ldb)) return false;
  if (g.batch == 0 || g.m == 0 || g.n == 0) return true;
  const float alpha = 1.f, beta = g.accumulate ? 1.f : 0.f;
  cublasHandle_t h = handle();
  EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, opb, opa, int(g.n), int(g.m), int(g.k), &alpha, g.b, CUDA_R_32F,
                                                int(ldb), g.sb, g.a, CUDA_R_32F, int(lda), g.sa, &beta, g.c,
                                                CUDA_R_32F, int(g.ldc), g.sc, int(g.batch),
                                                tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                                CUBLAS_GEMM_DEFAULT));
  return true;
}

bool cublas_gemm_bf16(const TcGemm& g) {
  if (g.batch == 0 || g.m == 0 || g.n == 0) return true;
  const float alpha = 1.f, beta = g.accumulate ? 1.f : 0.f;
  EMBER_CUBLAS_CHECK(cublasGemmStridedBatchedEx(handle(), CUBLAS_OP_N, CUBLAS_OP_N, int(g.n), int(g.m), int(g.k),
                                                &alpha, g.b, CUDA_R_16BF, int(g.ldb), g.sb, g.a, CUDA_R_16BF,
                                                int(g.lda), g.sa, &beta, g.c, CUDA_R_32F, int(g.ldc), g.sc,
                                                int(g.batch), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return true;
}

}  // namespace ember::cuda
