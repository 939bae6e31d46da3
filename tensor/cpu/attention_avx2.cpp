// f32 fused attention compiled for AVX2+FMA: the kernel of attention_kernel.h with its small
// products on a register-blocked AVX2 routine and the softmax exponentials on vec_math_avx2.h.
#include "tensor/cpu/attention_kernel.h"
#include "tensor/cpu/vec_math_avx2.h"

namespace ember::cpu {
namespace {

struct OpsAvx2 {
  static float hsum(__m256 v) {
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    return _mm_cvtss_f32(_mm_add_ss(x, _mm_movehdup_ps(x)));
  }
  static float row_max(const float* x, int64_t n, float init) {
    __m256 m = _mm256_set1_ps(init);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    float r = init;
    for (float v : lanes) r = std::max(r, v);
    for (; i < n; ++i) r = std::max(r, x[i]);
    return r;
  }
  // x = exp(x - shift) in place (8 lanes, masked tail); returns the sum.
  static float exp_sub_sum(float* x, int64_t n, float shift) {
    const __m256 s = _mm256_set1_ps(shift);
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m256 e = avx2::exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
      _mm256_storeu_ps(x + i, e);
      acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    if (i < n) {
      alignas(32) float buf[8] = {};
      for (int64_t j = i; j < n; ++j) buf[j - i] = x[j];
      _mm256_store_ps(buf, avx2::exp_ps(_mm256_sub_ps(_mm256_load_ps(buf), s)));
      for (int64_t j = i; j < n; ++j) sum += (x[j] = buf[j - i]);
    }
    return sum;
  }

  // C[i..i+R, e..e+16) (=|+=) A B for a compile-time row count R <= 6: 2R ymm accumulators; one
  // broadcast of A per row and two loads of B per 2R FMAs. kMasked: a column tail (masked loads
  // and stores, which are slow on AMD cores, so only the tail takes them). The row count must be a
  // template argument: with a run-time row loop GCC 12 kept the accumulator array on the stack and
  // loaded and stored every accumulator on each step (the kernel ran at ~18 GFLOP/s).
  template <int R, bool kMasked>
  static void block(int64_t i, int64_t e, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
                    int64_t ldb, float* c, int64_t ldc, bool accumulate, __m256i m0, __m256i m1) {
    auto load = [&](const float* p, __m256i mk) { return kMasked ? _mm256_maskload_ps(p, mk) : _mm256_loadu_ps(p); };
    __m256 lo[R], hi[R];
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
    const float* ar = a + i * ars;
    const float* bp = b + e;
    for (int64_t p = 0; p < k; ++p, bp += ldb) {
      const __m256 b0 = load(bp, m0), b1 = load(bp + 8, m1);
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_broadcast_ss(ar + r * ars + p * acs);
        lo[r] = _mm256_fmadd_ps(av, b0, lo[r]);
        hi[r] = _mm256_fmadd_ps(av, b1, hi[r]);
      }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      float* cp = c + (i + r) * ldc + e;
      if (accumulate) {
        lo[r] = _mm256_add_ps(lo[r], load(cp, m0));
        hi[r] = _mm256_add_ps(hi[r], load(cp + 8, m1));
      }
      if constexpr (kMasked) {
        _mm256_maskstore_ps(cp, m0, lo[r]);
        _mm256_maskstore_ps(cp + 8, m1, hi[r]);
      } else {
        _mm256_storeu_ps(cp, lo[r]);
        _mm256_storeu_ps(cp + 8, hi[r]);
      }
    }
  }

  template <bool kMasked>
  static void rows_block(int rows, int64_t i, int64_t e, int64_t k, const float* a, int64_t ars, int64_t acs,
                         const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate, __m256i m0, __m256i m1) {
    switch (rows) {
      case 1: return block<1, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
      case 2: return block<2, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
      case 3: return block<3, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
      case 4: return block<4, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
      case 5: return block<5, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
      default: return block<6, kMasked>(i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
    }
  }

  // C (=|+=) A B as SmallGemmPortable::mm, in blocks of 6 rows x 16 columns (decode's single
  // query row runs a 1-row block, not a 6-row one).
  static void mm(int64_t m, int64_t n, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
                 int64_t ldb, float* c, int64_t ldc, bool accumulate) {
    const __m256i all = _mm256_set1_epi32(-1);
    const int64_t n16 = n / 16 * 16;
    for (int64_t e = 0; e < n16; e += 16)
      for (int64_t i = 0; i < m; i += 6)
        rows_block<false>(int(std::min<int64_t>(6, m - i)), i, e, k, a, ars, acs, b, ldb, c, ldc, accumulate, all,
                          all);
    if (n16 == n) return;
    const int64_t cols = n - n16;
    alignas(32) int32_t mk[16];
    for (int t = 0; t < 16; ++t) mk[t] = t < cols ? -1 : 0;
    const __m256i m0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(mk));
    const __m256i m1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(mk + 8));
    for (int64_t i = 0; i < m; i += 6)
      rows_block<true>(int(std::min<int64_t>(6, m - i)), i, n16, k, a, ars, acs, b, ldb, c, ldc, accumulate, m0, m1);
  }
};

}  // namespace

void sdpa_fwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, float* out, float* lse) {
  SdpaKernel<float, OpsAvx2>::forward(m, q, k, v, out, lse);
}

void sdpa_bwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, const float* out,
                       const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  SdpaKernel<float, OpsAvx2>::backward(m, q, k, v, out, lse, dout, dq, dk, dv);
}

}  // namespace ember::cpu
