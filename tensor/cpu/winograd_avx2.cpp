// AVX2 path of the Winograd F(2x2,3x3) convolution (winograd.h): the transforms from
// winograd_impl.h built with AVX2 flags, and the 16 products with a 6-tile x 16-channel register
// tile (tile_avx2.h, shared with conv_direct_avx2.cpp).
#include <immintrin.h>

#include <algorithm>

#define WINOGRAD_NS avx2
#include "tensor/cpu/winograd_impl.h"
#include "tensor/cpu/tile_avx2.h"

namespace ember::cpu {

// The transforms 8 channels at a time in ymm registers (GCC 12 left the portable loops scalar);
// the channel tail goes through the portable loops.
void winograd_input_avx2(const WinogradPlan& p, int64_t t0, int64_t t1) {
  const DirectConv& a = *p.a;
  const int64_t C = a.cin, C8 = C / 8 * 8, es = p.tiles * C;
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[16];
    avx2::patch_rows(p, t, d);
    float* v = p.v + (t - p.tbase) * C;
    for (int64_t c = 0; c < C8; c += 8) {
      __m256 tm[16];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256 d0 = _mm256_loadu_ps(d[j] + c), d1 = _mm256_loadu_ps(d[4 + j] + c);
        const __m256 d2 = _mm256_loadu_ps(d[8 + j] + c), d3 = _mm256_loadu_ps(d[12 + j] + c);
        tm[j] = _mm256_sub_ps(d0, d2);
        tm[4 + j] = _mm256_add_ps(d1, d2);
        tm[8 + j] = _mm256_sub_ps(d2, d1);
        tm[12 + j] = _mm256_sub_ps(d1, d3);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(v + (i * 4 + 0) * es + c, _mm256_sub_ps(tm[i * 4 + 0], tm[i * 4 + 2]));
        _mm256_storeu_ps(v + (i * 4 + 1) * es + c, _mm256_add_ps(tm[i * 4 + 1], tm[i * 4 + 2]));
        _mm256_storeu_ps(v + (i * 4 + 2) * es + c, _mm256_sub_ps(tm[i * 4 + 2], tm[i * 4 + 1]));
        _mm256_storeu_ps(v + (i * 4 + 3) * es + c, _mm256_sub_ps(tm[i * 4 + 1], tm[i * 4 + 3]));
      }
    }
    if (C8 < C) avx2::input_transform(p, t, t + 1, C8);
  }
}

void winograd_output_avx2(const WinogradPlan& p, int64_t t0, int64_t t1) {
  const DirectConv& a = *p.a;
  const int64_t K = a.cout, K8 = K / 8 * 8, es = p.tiles * p.coutp;
  for (int64_t t = t0; t < t1; ++t) {
    const float* m = p.m + (t - p.tbase) * p.coutp;
    int64_t at[4];
    avx2::output_offsets(p, t, at);
    for (int64_t k = 0; k < K8; k += 8) {
      __m256 s[8];
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256 m0 = _mm256_loadu_ps(m + j * es + k), m1 = _mm256_loadu_ps(m + (4 + j) * es + k);
        const __m256 m2 = _mm256_loadu_ps(m + (8 + j) * es + k), m3 = _mm256_loadu_ps(m + (12 + j) * es + k);
        s[j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s[4 + j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
      }
      const __m256 b = a.bias ? _mm256_loadu_ps(a.bias + k) : _mm256_setzero_ps();
      __m256 y[4] = {_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), s[2]), b),
                     _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[1], s[2]), s[3]), b),
                     _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s[4], s[5]), s[6]), b),
                     _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s[5], s[6]), s[7]), b)};
      for (int q = 0; q < 4; ++q) {
        if (at[q] < 0) continue;
        if (a.residual) y[q] = _mm256_add_ps(y[q], _mm256_loadu_ps(a.residual + at[q] + k));
        if (a.relu) y[q] = _mm256_max_ps(y[q], _mm256_setzero_ps());
        _mm256_storeu_ps(a.y + at[q] + k, y[q]);
      }
    }
    if (K8 < K) avx2::output_transform(p, t, t + 1, K8);
  }
}

// The weight gradient's transform of dy (winograd_impl.h's grad_output_transform), 8 channels at a
// time.
void winograd_grad_output_avx2(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  const DirectConv& a = *p.a;
  const int64_t K = a.cout, K8 = K / 8 * 8, es = p.tiles * p.coutp;
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[4];
    avx2::grad_rows(p, dy, t, d);
    float* m = p.m + (t - p.tbase) * p.coutp;
    for (int64_t k = 0; k < K8; k += 8) {
      __m256 r[8];
      for (int j = 0; j < 2; ++j) {
        const __m256 d0 = _mm256_loadu_ps(d[j] + k), d1 = _mm256_loadu_ps(d[2 + j] + k);
        r[j] = d0;
        r[2 + j] = _mm256_add_ps(d0, d1);
        r[4 + j] = _mm256_sub_ps(d0, d1);
        r[6 + j] = _mm256_sub_ps(zero, d1);
      }
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        const __m256 c0 = r[i * 2], c1 = r[i * 2 + 1];
        _mm256_storeu_ps(m + (i * 4 + 0) * es + k, c0);
        _mm256_storeu_ps(m + (i * 4 + 1) * es + k, _mm256_add_ps(c0, c1));
        _mm256_storeu_ps(m + (i * 4 + 2) * es + k, _mm256_sub_ps(c0, c1));
        _mm256_storeu_ps(m + (i * 4 + 3) * es + k, _mm256_sub_ps(zero, c1));
      }
    }
    if (K8 < K) avx2::grad_output_transform(p, dy, t, t + 1, K8);
  }
}

// m[e][t][k] = sum_c v[e][t][c] * u[e][kb][c][k % 16] for e in [e0, e1).
void winograd_product_avx2(const WinogradPlan& p, int64_t e0, int64_t e1) {
  const int64_t C = p.a->cin, T = p.tiles, blocks = p.coutp / kDirectConvBlock;
  for (int64_t e = e0; e < e1; ++e) {
    const float* ve = p.v + e * T * C;
    float* me = p.m + e * T * p.coutp;
    for (int64_t t = 0; t < T; t += 6) {
      const int rows = int(std::min<int64_t>(6, T - t));
      const float* r[6];
      for (int i = 0; i < 6; ++i) r[i] = ve + (t + std::min(i, rows - 1)) * C;
      for (int64_t kb = 0; kb < blocks; ++kb) {
        const float* u = p.a->packed_w + (e * blocks + kb) * C * kDirectConvBlock;
        Tile6x16 acc;
        for (int64_t c = 0; c < C; ++c, u += kDirectConvBlock)
          acc.step(r, c, _mm256_loadu_ps(u), _mm256_loadu_ps(u + 8));
        acc.store(me + t * p.coutp + kb * kDirectConvBlock, p.coutp, rows, false);
      }
    }
  }
}

// The weight gradient's products (winograd.h): for each transform position e,
// m[e][k][c] (=|+=) sum_t w[e][t][k] * v[e][t][c]. Register tile 6 k x 16 c (12 ymm accumulators:
// 6 broadcasts of w and 2 loads of v per 12 FMAs, as the forward's product); the tiles run in
// chunks whose rows of w and v (~48 KiB) stay in L1 across the register tiles. Channels past the
// last multiple of 16 take the plain loop.
void winograd_weight_product_avx2(const float* w, const float* v, int64_t tiles, int64_t cout, int64_t cin, float* m,
                                  bool accumulate) {
  const int64_t c16 = cin / 16 * 16, chunk = std::max<int64_t>(16, 12288 / (cout + cin));
  for (int64_t e = 0; e < 16; ++e) {
    const float* we = w + e * tiles * cout;
    const float* ve = v + e * tiles * cin;
    float* me = m + e * cout * cin;
    for (int64_t t0 = 0; t0 < tiles; t0 += chunk) {
      const int64_t t1 = std::min(tiles, t0 + chunk);
      const bool add = accumulate || t0 > 0;
      for (int64_t k = 0; k < cout; k += 6) {
        const int rows = int(std::min<int64_t>(6, cout - k));
        const float* wk[6];  // this tile's columns of w (the last repeated past cout)
        for (int i = 0; i < 6; ++i) wk[i] = we + k + std::min(i, rows - 1);
        for (int64_t c = 0; c < c16; c += 16) {
          Tile6x16 acc;
          for (int64_t t = t0; t < t1; ++t)
            acc.step(wk, t * cout, _mm256_loadu_ps(ve + t * cin + c), _mm256_loadu_ps(ve + t * cin + c + 8));
          acc.store(me + k * cin + c, cin, rows, add);
        }
      }
      for (int64_t k = 0; k < cout; ++k)  // channel tail
        for (int64_t c = c16; c < cin; ++c) {
          float acc = 0.0f;
          for (int64_t t = t0; t < t1; ++t) acc += we[t * cout + k] * ve[t * cin + c];
          me[k * cin + c] = add ? me[k * cin + c] + acc : acc;
        }
    }
  }
}

}  // namespace ember::cpu
