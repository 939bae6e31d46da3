// AVX2+FMA tile kernel of the direct small-plane convolution (conv_direct.h): 6 positions x 16
// output channels in 12 ymm accumulators (tile_avx2.h); per input channel of a kernel tap, two
// weight loads and six broadcasts from the padded input planes feed 12 FMAs (the GEMM
// micro-kernel's ratio).
#include <immintrin.h>

#include <algorithm>

#include "tensor/cpu/conv_direct.h"
#include "tensor/cpu/tile_avx2.h"

namespace ember::cpu {

void conv_direct_rows_avx2(const DirectConv& a, int64_t m0, int64_t m1) {
  constexpr int MR = 6;
  const int64_t xw = a.w + 2 * a.x_pad, xh = a.h + 2 * a.x_pad, yw = a.w + 2 * a.y_pad, yh = a.h + 2 * a.y_pad;
  const int64_t shift = a.x_pad - a.k / 2, blocks = (a.cout + kDirectConvBlock - 1) / kDirectConvBlock;
  const int64_t taps = a.k * a.k;
  for (int64_t mt = m0; mt < m1; mt += MR) {
    const int rows = int(std::min<int64_t>(MR, m1 - mt));
    const float* xr[MR];
    int64_t yo[MR];
    for (int r = 0; r < MR; ++r) {
      const int64_t m = mt + std::min(r, rows - 1);  // a short tile repeats its last position
      const int64_t img = m / (a.h * a.w), oh = m / a.w % a.h, ow = m % a.w;
      xr[r] = a.x + ((img * xh + oh + shift) * xw + ow + shift) * a.cin;
      yo[r] = ((img * yh + oh + a.y_pad) * yw + ow + a.y_pad) * a.cout;
    }
    for (int64_t b = 0; b < blocks; ++b) {
      Tile6x16 acc;
      const float* wp = a.packed_w + b * taps * a.cin * kDirectConvBlock;
      for (int64_t i = 0; i < a.k; ++i)
        for (int64_t j = 0; j < a.k; ++j) {
          const int64_t off = (i * xw + j) * a.cin;
          const float* p[MR] = {xr[0] + off, xr[1] + off, xr[2] + off, xr[3] + off, xr[4] + off, xr[5] + off};
          for (int64_t c = 0; c < a.cin; ++c, wp += kDirectConvBlock)
            acc.step(p, c, _mm256_loadu_ps(wp), _mm256_loadu_ps(wp + 8));
        }
      const __m256 c0[MR] = {acc.a0, acc.a1, acc.a2, acc.a3, acc.a4, acc.a5};
      const __m256 c1[MR] = {acc.b0, acc.b1, acc.b2, acc.b3, acc.b4, acc.b5};
      const int64_t o0 = b * kDirectConvBlock, cnt = std::min(kDirectConvBlock, a.cout - o0);
      alignas(32) float tmp[kDirectConvBlock];
      __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
      if (a.bias) {
        std::fill(tmp, tmp + kDirectConvBlock, 0.0f);
        std::copy(a.bias + o0, a.bias + o0 + cnt, tmp);
        bias0 = _mm256_load_ps(tmp);
        bias1 = _mm256_load_ps(tmp + 8);
      }
      for (int r = 0; r < rows; ++r) {
        float* y = a.y + yo[r] + o0;
        __m256 v0 = _mm256_add_ps(c0[r], bias0), v1 = _mm256_add_ps(c1[r], bias1);
        if (cnt == kDirectConvBlock) {
          if (a.residual) {
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(a.residual + yo[r] + o0));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(a.residual + yo[r] + o0 + 8));
          }
          if (a.relu) {
            v0 = _mm256_max_ps(v0, _mm256_setzero_ps());
            v1 = _mm256_max_ps(v1, _mm256_setzero_ps());
          }
          _mm256_storeu_ps(y, v0);
          _mm256_storeu_ps(y + 8, v1);
        } else {  // a partial block (cout % 16): through a buffer, no write past cout
          _mm256_store_ps(tmp, v0);
          _mm256_store_ps(tmp + 8, v1);
          for (int64_t l = 0; l < cnt; ++l) {
            float v = tmp[l] + (a.residual ? a.residual[yo[r] + o0 + l] : 0.0f);
            y[l] = a.relu ? std::max(v, 0.0f) : v;
          }
        }
      }
    }
  }
}

}  // namespace ember::cpu
