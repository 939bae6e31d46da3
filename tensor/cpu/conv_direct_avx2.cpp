// AVX2+FMA tile kernel of the direct small-plane convolution (conv_direct.h): 6 positions x 16
// output channels in 12 ymm accumulators; per input channel of a kernel tap, two weight loads and
// six broadcasts from the padded input planes feed 12 FMAs (the GEMM micro-kernel's ratio).
#include <immintrin.h>

#include <algorithm>

#include "tensor/cpu/conv_direct.h"

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
      // Twelve named accumulators (arrays of __m256 across the tap loops were spilled by GCC 12).
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
      __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
      const float* wp = a.packed_w + b * taps * a.cin * kDirectConvBlock;
      for (int64_t i = 0; i < a.k; ++i)
        for (int64_t j = 0; j < a.k; ++j) {
          const int64_t off = (i * xw + j) * a.cin;
          const float *p0 = xr[0] + off, *p1 = xr[1] + off, *p2 = xr[2] + off, *p3 = xr[3] + off,
                      *p4 = xr[4] + off, *p5 = xr[5] + off;
          for (int64_t c = 0; c < a.cin; ++c, wp += kDirectConvBlock) {
            const __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8);
            __m256 v = _mm256_broadcast_ss(p0 + c);
            a0 = _mm256_fmadd_ps(v, w0, a0);
            b0 = _mm256_fmadd_ps(v, w1, b0);
            v = _mm256_broadcast_ss(p1 + c);
            a1 = _mm256_fmadd_ps(v, w0, a1);
            b1 = _mm256_fmadd_ps(v, w1, b1);
            v = _mm256_broadcast_ss(p2 + c);
            a2 = _mm256_fmadd_ps(v, w0, a2);
            b2 = _mm256_fmadd_ps(v, w1, b2);
            v = _mm256_broadcast_ss(p3 + c);
            a3 = _mm256_fmadd_ps(v, w0, a3);
            b3 = _mm256_fmadd_ps(v, w1, b3);
            v = _mm256_broadcast_ss(p4 + c);
            a4 = _mm256_fmadd_ps(v, w0, a4);
            b4 = _mm256_fmadd_ps(v, w1, b4);
            v = _mm256_broadcast_ss(p5 + c);
            a5 = _mm256_fmadd_ps(v, w0, a5);
            b5 = _mm256_fmadd_ps(v, w1, b5);
          }
        }
      const __m256 c0[MR] = {a0, a1, a2, a3, a4, a5}, c1[MR] = {b0, b1, b2, b3, b4, b5};
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
