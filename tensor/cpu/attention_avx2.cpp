// f32 fused attention compiled for AVX2+FMA: the kernel of attention_kernel.h with its key and
// head-dim loops vectorized 8-wide and the softmax exponentials on vec_math_avx2.h.
#include "tensor/cpu/attention_kernel.h"
#include "tensor/cpu/vec_math_avx2.h"

namespace ember::cpu {
namespace {

struct ExpRowAvx2 {
  static void apply(float* x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, avx2::exp_ps(_mm256_loadu_ps(x + i)));
    if (i < n) {
      alignas(32) float buf[8] = {};
      for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
      _mm256_store_ps(buf, avx2::exp_ps(_mm256_load_ps(buf)));
      for (int64_t j = i; j < n; ++j) x[j] = buf[j - i];
    }
  }
};

}  // namespace

void sdpa_fwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, float* out, float* lse) {
  SdpaKernel<float, ExpRowAvx2>::forward(m, q, k, v, out, lse);
}

void sdpa_bwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, const float* out,
                       const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  SdpaKernel<float, ExpRowAvx2>::backward(m, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace ember::cpu
