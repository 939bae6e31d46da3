// bf16 GEMM dispatch and the portable kernel: operands are rounded to bf16 while packing (kept as
// floats, so every product is exact) and summed in f32 by plain loops the compiler vectorizes at
// the baseline ISA. Same rounding as the AVX512-BF16 path; only the summation order differs.
#include "tensor/cpu/gemm_bf16.h"

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16_driver.h"

namespace ember::cpu {
namespace {

struct PortableKernel {
  using Packed = float;
  static constexpr int MR = 4, NR = 16;
  static int64_t packed_k(int64_t kc) { return kc; }

  template <int W>
  static void pack(const float* src, int64_t ws, int64_t ks, int64_t width, int64_t kc, float* dst) {
    for (int64_t p = 0; p < kc; ++p, dst += W) {
      for (int64_t w = 0; w < width; ++w) dst[w] = round_to_bf16(src[w * ws + p * ks]);
      for (int64_t w = width; w < W; ++w) dst[w] = 0.0f;
    }
  }

  static void run(int64_t kp, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    float acc[MR][NR] = {};
    for (int64_t p = 0; p < kp; ++p, a += MR, b += NR)
      for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
  }
};

}  // namespace

void gemm_bf16_portable(const GemmArgs& g) { Bf16GemmDriver<PortableKernel, 128, 256, 2048>::run(g); }

void gemm_bf16(const GemmArgs& g) {
  if (has_avx512_bf16()) return gemm_bf16_avx512(g);
  gemm_bf16_portable(g);
}

}  // namespace ember::cpu
