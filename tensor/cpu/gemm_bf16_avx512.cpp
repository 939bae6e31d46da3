// AVX512-BF16 GEMM: f32 operands are rounded to bf16 while packing (VCVTNE2PS2BF16, 32 values per
// instruction) and multiplied with VDPBF16PS, which adds the two products of a bf16 k-pair into
// each f32 lane. Packed panels hold k-pairs as 32-bit words: A panel [kp][MR] (word = A[i][2q],
// A[i][2q+1]), B panel [kp][NR] (word = B[2q][j], B[2q+1][j]); an odd K's last pair is padded with 0.
// Micro-kernel: 12 x 32 tile of C in 24 zmm accumulators; per k-pair 2 B loads, 12 broadcasts of
// an A pair, 24 VDPBF16PS (64 FLOPs each). Compiled with -mavx512bf16 (tensor/CMakeLists.txt).
#include <immintrin.h>

#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/gemm_bf16_kernels.h"

namespace ember::cpu {
namespace {

__mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1); }

// In-place transpose of a 16 x 16 matrix of 32-bit words (r[i] is row i). Four stages swap the
// off-diagonal b x b blocks of every 2b x 2b block (b = 8, 4, 2, 1): row i (bit b clear) takes the
// upper half of row i+b's blocks and row i+b the lower half of row i's.
inline void transpose16(__m512i r[16]) {
#pragma GCC unroll 4
  for (int b = 8; b >= 1; b /= 2) {
    alignas(64) int32_t lo_idx[16], hi_idx[16];
    for (int j = 0; j < 16; ++j) {
      lo_idx[j] = (j & b) ? 16 + j - b : j;
      hi_idx[j] = (j & b) ? 16 + j : j + b;
    }
    const __m512i lo = _mm512_load_si512(lo_idx), hi = _mm512_load_si512(hi_idx);
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) {
      if (i & b) continue;
      const __m512i x = _mm512_permutex2var_epi32(r[i], lo, r[i + b]);
      r[i + b] = _mm512_permutex2var_epi32(r[i], hi, r[i + b]);
      r[i] = x;
    }
  }
}

struct Bf16Kernel {
  using Packed = uint32_t;
  static constexpr int MR = 12, NR = 32;
  static int64_t packed_k(int64_t kc) { return (kc + 1) / 2; }

  template <int W>
  static void pack(const float* src, int64_t ws, int64_t ks, int64_t width, int64_t kc, uint32_t* dst) {
    const int64_t kp = packed_k(kc);
    if (ws == 1) {
      // W-contiguous (A^T stored row-major, B row-major): each k-pair is two rows of W floats;
      // convert both and interleave their bf16 halves into pair words.
      const __m512i pairs = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                             6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      for (int64_t q = 0; q < kp; ++q, dst += W) {
        const float* r0 = src + 2 * q * ks;
        const bool second = 2 * q + 1 < kc;
        for (int w0 = 0; w0 < W; w0 += 16) {
          const __mmask16 m = first_lanes(width - w0);
          const __m512 lo = _mm512_maskz_loadu_ps(m, r0 + w0);
          const __m512 hi = second ? _mm512_maskz_loadu_ps(m, r0 + ks + w0) : _mm512_setzero_ps();
          const __m512i v = _mm512_permutexvar_epi16(pairs, __m512i(_mm512_cvtne2ps_pbh(hi, lo)));
          _mm512_mask_storeu_epi32(dst + w0, first_lanes(W - w0), v);
        }
      }
    } else if (ks == 1) {
      // K-contiguous (A row-major, B^T row-major): 32 consecutive k of one row or column convert to
      // 16 pair words in order. 16 such vectors (16 rows or columns) are transposed in registers so
      // each becomes one k-pair's words across the 16, stored as a row of the panel.
      for (int w0 = 0; w0 < W; w0 += 16) {
        for (int64_t p0 = 0; p0 < kc; p0 += 32) {
          __m512i r[16];
#pragma GCC unroll 16
          for (int w = 0; w < 16; ++w) {
            const bool in = w0 + w < width;
            const float* sw = in ? src + (w0 + w) * ws + p0 : src;  // rows past width load nothing
            const __m512 lo = _mm512_maskz_loadu_ps(in ? first_lanes(kc - p0) : 0, sw);
            const __m512 hi = _mm512_maskz_loadu_ps(in ? first_lanes(kc - p0 - 16) : 0, sw + 16);
            r[w] = __m512i(_mm512_cvtne2ps_pbh(hi, lo));
          }
          transpose16(r);
          const int64_t q0 = p0 / 2, n = std::min<int64_t>(16, kp - q0);
          const __mmask16 lanes = first_lanes(W - w0);
          for (int64_t q = 0; q < n; ++q) _mm512_mask_storeu_epi32(dst + (q0 + q) * W + w0, lanes, r[q]);
        }
      }
    } else {
      for (int64_t q = 0; q < kp; ++q, dst += W)
        for (int64_t w = 0; w < W; ++w) {
          const float* s = src + w * ws + 2 * q * ks;
          const uint32_t lo = w < width ? bf16_bits(s[0]) : 0, hi = w < width && 2 * q + 1 < kc ? bf16_bits(s[ks]) : 0;
          dst[w] = lo | hi << 16;
        }
    }
  }

  static void run(int64_t kp, const uint32_t* a, const uint32_t* b, float* c, int64_t ldc, bool accumulate) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t q = 0; q < kp; ++q, a += MR, b += NR) {
      const __m512bh b0 = __m512bh(_mm512_loadu_si512(b)), b1 = __m512bh(_mm512_loadu_si512(b + 16));
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const __m512bh av = __m512bh(_mm512_set1_epi32(int(a[i])));
        c0[i] = _mm512_dpbf16_ps(c0[i], av, b0);
        c1[i] = _mm512_dpbf16_ps(c1[i], av, b1);
      }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(row));
        c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, c0[i]);
      _mm512_storeu_ps(row + 16, c1[i]);
    }
  }
};

}  // namespace

// A block MC x KC in bf16 (144 x 512 x 2 B = 144 KiB) stays in L2, a B micro-panel (32 x 512 x 2 B
// = 32 KiB) in L1.
void gemm_bf16_avx512(const GemmArgs& g) { Bf16GemmDriver<Bf16Kernel, 144, 512, 3072>::run(g); }

}  // namespace ember::cpu
