// The Winograd F(2x2,3x3) transforms (winograd.h), written as plain loops over channels that the
// compiler vectorizes; included by winograd.cpp (baseline ISA) and winograd_avx2.cpp (AVX2 flags)
// inside a namespace of their own, so each copy is built for its ISA.
#pragma once

#include "tensor/cpu/winograd.h"

namespace ember::cpu {
namespace WINOGRAD_NS {

// Where tile t's values live (shared by the portable loops and the AVX2 kernels).
// d[i*4+j]: row (i, j) of the 4x4 input patch, p.zeros outside the image.
inline void patch_rows(const WinogradPlan& p, int64_t t, const float* d[16]) {
  const DirectConv& a = *p.a;
  const int64_t xw = a.w + 2 * a.x_pad, xh = a.h + 2 * a.x_pad;
  const int64_t img = t / (p.th * p.tw), ty = t / p.tw % p.th, tx = t % p.tw;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t r = 2 * ty - 1 + i, q = 2 * tx - 1 + j;  // unpadded input coordinates
      d[i * 4 + j] = r >= 0 && r < a.h && q >= 0 && q < a.w
                         ? a.x + ((img * xh + r + a.x_pad) * xw + q + a.x_pad) * a.cin
                         : p.zeros;
    }
}
// at[i*2+j]: offset in y of output pixel (i, j) of the tile, -1 past the image.
inline void output_offsets(const WinogradPlan& p, int64_t t, int64_t at[4]) {
  const DirectConv& a = *p.a;
  const int64_t yw = a.w + 2 * a.y_pad, yh = a.h + 2 * a.y_pad;
  const int64_t img = t / (p.th * p.tw), ty = t / p.tw % p.th, tx = t % p.tw;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const int64_t r = 2 * ty + i, q = 2 * tx + j;
      at[i * 2 + j] = r < a.h && q < a.w ? ((img * yh + r + a.y_pad) * yw + q + a.y_pad) * a.cout : -1;
    }
}
// d[i*2+j]: row (i, j) of the tile's 2x2 block of dy (dense NHWC [n][h][w][cout]), p.zeros past
// the image.
inline void grad_rows(const WinogradPlan& p, const float* dy, int64_t t, const float* d[4]) {
  const DirectConv& a = *p.a;
  const int64_t img = t / (p.th * p.tw), ty = t / p.tw % p.th, tx = t % p.tw;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) {
      const int64_t r = 2 * ty + i, q = 2 * tx + j;
      d[i * 2 + j] = r < a.h && q < a.w ? dy + ((img * a.h + r) * a.w + q) * a.cout : p.zeros;
    }
}

// V[e][t][c] = (B^T d B)[e] for the 4x4 patch d of tile t (zero outside the image), channels >= c0.
inline void input_transform(const WinogradPlan& p, int64_t t0, int64_t t1, int64_t c0 = 0) {
  const DirectConv& a = *p.a;
  const int64_t C = a.cin;
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[16];
    patch_rows(p, t, d);
    float* __restrict v = p.v + (t - p.tbase) * C;
    const int64_t es = p.tiles * C;  // stride between transform positions
    for (int64_t c = c0; c < C; ++c) {
      float tm[16];
      for (int j = 0; j < 4; ++j) {  // B^T d (rows)
        tm[0 * 4 + j] = d[0 * 4 + j][c] - d[2 * 4 + j][c];
        tm[1 * 4 + j] = d[1 * 4 + j][c] + d[2 * 4 + j][c];
        tm[2 * 4 + j] = d[2 * 4 + j][c] - d[1 * 4 + j][c];
        tm[3 * 4 + j] = d[1 * 4 + j][c] - d[3 * 4 + j][c];
      }
      for (int i = 0; i < 4; ++i) {  // (B^T d) B (columns)
        v[(i * 4 + 0) * es + c] = tm[i * 4 + 0] - tm[i * 4 + 2];
        v[(i * 4 + 1) * es + c] = tm[i * 4 + 1] + tm[i * 4 + 2];
        v[(i * 4 + 2) * es + c] = tm[i * 4 + 2] - tm[i * 4 + 1];
        v[(i * 4 + 3) * es + c] = tm[i * 4 + 1] - tm[i * 4 + 3];
      }
    }
  }
}

// y = act(A^T M A + bias + residual) for the tile's 2x2 outputs inside the image, channels >= k0.
inline void output_transform(const WinogradPlan& p, int64_t t0, int64_t t1, int64_t k0 = 0) {
  const DirectConv& a = *p.a;
  const int64_t K = a.cout, es = p.tiles * p.coutp;
  for (int64_t t = t0; t < t1; ++t) {
    const float* __restrict m = p.m + (t - p.tbase) * p.coutp;
    int64_t at[4];  // output offsets of the tile's four pixels, -1 outside the image
    output_offsets(p, t, at);
    for (int64_t k = k0; k < K; ++k) {
      float s[8];
      for (int j = 0; j < 4; ++j) {  // A^T M
        s[0 * 4 + j] = m[(0 * 4 + j) * es + k] + m[(1 * 4 + j) * es + k] + m[(2 * 4 + j) * es + k];
        s[1 * 4 + j] = m[(1 * 4 + j) * es + k] - m[(2 * 4 + j) * es + k] - m[(3 * 4 + j) * es + k];
      }
      const float b = a.bias ? a.bias[k] : 0.0f;
      const float y[4] = {s[0] + s[1] + s[2] + b, s[1] - s[2] - s[3] + b, s[4] + s[5] + s[6] + b,
                          s[5] - s[6] - s[7] + b};
      for (int q = 0; q < 4; ++q) {
        if (at[q] < 0) continue;
        float v = y[q] + (a.residual ? a.residual[at[q] + k] : 0.0f);
        a.y[at[q] + k] = a.relu ? (v > 0.0f ? v : 0.0f) : v;
      }
    }
  }
}

// Weight gradient: W[e][t][k] = (A dy A^T)[e] for the 2x2 tile t of dy [n][h][w][cout] (dense
// NHWC; zero past the image's edge), channels >= k0, into p.m with row stride p.coutp. With A^T =
// [[1,1,1,0],[0,1,-1,-1]], A (d0, d1) = (d0, d0 + d1, d0 - d1, -d1) along each axis.
inline void grad_output_transform(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1, int64_t k0 = 0) {
  const DirectConv& a = *p.a;
  const int64_t K = a.cout, es = p.tiles * p.coutp;
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[4];
    grad_rows(p, dy, t, d);
    float* __restrict m = p.m + (t - p.tbase) * p.coutp;
    for (int64_t k = k0; k < K; ++k) {
      float r[8];  // A dy along rows: r[i][j] for i < 4, j < 2
      for (int j = 0; j < 2; ++j) {
        const float d0 = d[j][k], d1 = d[2 + j][k];
        r[0 * 2 + j] = d0;
        r[1 * 2 + j] = d0 + d1;
        r[2 * 2 + j] = d0 - d1;
        r[3 * 2 + j] = -d1;
      }
      for (int i = 0; i < 4; ++i) {  // (A dy) A^T along columns
        const float c0 = r[i * 2], c1 = r[i * 2 + 1];
        m[(i * 4 + 0) * es + k] = c0;
        m[(i * 4 + 1) * es + k] = c0 + c1;
        m[(i * 4 + 2) * es + k] = c0 - c1;
        m[(i * 4 + 3) * es + k] = -c1;
      }
    }
  }
}

}  // namespace WINOGRAD_NS
}  // namespace ember::cpu
