// AVX2 path of the Winograd F(2x2,3x3) / F(4x4,3x3) convolution (winograd.h): the transforms from
// winograd_impl.h built with AVX2 flags on 8-channel ymm vectors, and the products with a 6-tile x
// 16-channel register tile (tile_avx2.h, shared with conv_direct_avx2.cpp).
#include <immintrin.h>

#include <algorithm>

#define WINOGRAD_NS avx2
#include "tensor/cpu/tile_avx2.h"
#include "tensor/cpu/winograd_impl.h"

namespace ember::cpu {

namespace avx2 {
// 8 channels in a ymm register (GCC 12 left the portable loops scalar); +, - and scalar * are
// GCC's vector extensions on __m256.
struct Avx2Vec {
  using V = __m256;
  static constexpr int kWidth = 8;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V splat(float v) { return _mm256_set1_ps(v); }
  static V relu(V v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }
};
}  // namespace avx2

void winograd_input_avx2(const WinogradPlan& p, int64_t t0, int64_t t1) {
  avx2::input_phase<avx2::Avx2Vec>(p, t0, t1);
}

void winograd_output_avx2(const WinogradPlan& p, int64_t t0, int64_t t1) {
  avx2::output_phase<avx2::Avx2Vec>(p, t0, t1);
}

void winograd_grad_output_avx2(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  avx2::grad_output_phase<avx2::Avx2Vec>(p, dy, t0, t1);
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
        float* out = me + t * p.coutp + kb * kDirectConvBlock;
        if (rows <= 4) {  // e.g. F(4x4) on one 6x7 board: 4 tiles (F(6x4): 2)
          Tile4x16 acc;
          for (int64_t c = 0; c < C; ++c, u += kDirectConvBlock)
            acc.step(r, c, _mm256_loadu_ps(u), _mm256_loadu_ps(u + 8));
          acc.store(out, p.coutp, rows, false);
          continue;
        }
        Tile6x16 acc;
        for (int64_t c = 0; c < C; ++c, u += kDirectConvBlock)
          acc.step(r, c, _mm256_loadu_ps(u), _mm256_loadu_ps(u + 8));
        acc.store(out, p.coutp, rows, false);
      }
    }
  }
}

// The weight gradient's products (winograd.h): for each transform position e,
// m[e][k][c] (=|+=) sum_t w[e][t][k] * v[e][t][c]. Register tile 6 k x 16 c (12 ymm accumulators:
// 6 broadcasts of w and 2 loads of v per 12 FMAs, as the forward's product); the tiles run in
// chunks whose rows of w and v (~48 KiB) stay in L1 across the register tiles. Channels past the
// last multiple of 16 take the plain loop.
void winograd_weight_product_avx2(const float* w, const float* v, int64_t positions, int64_t tiles, int64_t cout,
                                  int64_t cin, float* m, bool accumulate) {
  const int64_t c16 = cin / 16 * 16, chunk = std::max<int64_t>(16, 12288 / (cout + cin));
  for (int64_t e = 0; e < positions; ++e) {
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
          if (rows <= 4) {  // the last rows of cout (e.g. 64 = 10 x 6 + 4)
            Tile4x16 acc;
            for (int64_t t = t0; t < t1; ++t)
              acc.step(wk, t * cout, _mm256_loadu_ps(ve + t * cin + c), _mm256_loadu_ps(ve + t * cin + c + 8));
            acc.store(me + k * cin + c, cin, rows, add);
            continue;
          }
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
