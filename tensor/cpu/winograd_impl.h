// The Winograd transforms (winograd.h) for every tile shape, written once over a vector type: Vec
// is ScalarVec (one float) or a SIMD wrapper with the same four members (winograd_avx2.cpp's
// Avx2Vec, 8 floats in a ymm register; GCC's vector extensions give +, - and scalar * on __m256).
// Included by winograd.cpp (baseline ISA) and winograd_avx2.cpp (AVX2 flags) inside a namespace
// of their own, so each copy is built for its ISA.
#pragma once

#include "tensor/cpu/winograd.h"

namespace ember::cpu {
namespace WINOGRAD_NS {

struct ScalarVec {
  using V = float;
  static constexpr int kWidth = 1;
  static V load(const float* p) { return *p; }
  static void store(float* p, V v) { *p = v; }
  static V splat(float v) { return v; }
  static V relu(V v) { return v > 0.0f ? v : 0.0f; }
};

// The 1-D transforms along one axis; the 2-D ones apply them to the columns (the tile's height
// MH), then the rows (its width MW).
// F(2x2,3x3), points 0, 1, -1, infinity:
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], A^T = [1 1 1 0; 0 1 -1 -1].
// F(4x4,3x3), points 0, 1, -1, 2, -2, infinity (Lavin & Gray 2016):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]; G in winograd.cpp.
// F(6,3), points 0, 1, -1, 2, -2, 1/2, -1/2, infinity (the same construction; NNPACK's tile):
//   B^T = [1 0 -21/4 0 21/4 0 -1 0; 0 1 1 -17/4 -17/4 1 1 0; 0 -1 1 17/4 -17/4 -1 1 0;
//          0 1/2 1/4 -5/2 -5/4 2 1 0; 0 -1/2 1/4 5/2 -5/4 -2 1 0; 0 2 4 -5/2 -5 1/2 1 0;
//          0 -2 4 5/2 -5 -1/2 1 0; 0 -1 0 21/4 0 -21/4 0 1],
//   A^T = [1 1 1 1 1 1 1 0; 0 1 -1 2 -2 1/2 -1/2 0; 0 1 1 4 4 1/4 1/4 0; 0 1 -1 8 -8 1/8 -1/8 0;
//          0 1 1 16 16 1/16 1/16 0; 0 1 -1 32 -32 1/32 -1/32 1].
// input: r = B^T d (alpha values); output: r = A^T m (M values); grad: r = A d (M -> alpha values,
// the weight gradient's transform of dy).
template <int M>
struct Transforms;

template <>
struct Transforms<2> {
  template <class V>
  static void input(const V* d, V* r) {
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
  }
  template <class V>
  static void output(const V* m, V* r) {
    r[0] = m[0] + m[1] + m[2];
    r[1] = m[1] - m[2] - m[3];
  }
  template <class V>
  static void grad(const V* d, V* r) {
    r[0] = d[0];
    r[1] = d[0] + d[1];
    r[2] = d[0] - d[1];
    r[3] = -d[1];
  }
};

template <>
struct Transforms<4> {
  template <class V>
  static void input(const V* d, V* r) {
    const V a = d[4] - 4.0f * d[2], b = d[3] - 4.0f * d[1];  // shared by rows 1 and 2
    const V c = d[4] - d[2], e = 2.0f * (d[3] - d[1]);       // shared by rows 3 and 4
    r[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    r[1] = a + b;
    r[2] = a - b;
    r[3] = c + e;
    r[4] = c - e;
    r[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
  }
  template <class V>
  static void output(const V* m, V* r) {
    const V s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    r[0] = m[0] + s12 + s34;
    r[1] = d12 + 2.0f * d34;
    r[2] = s12 + 4.0f * s34;
    r[3] = d12 + 8.0f * d34 + m[5];
  }
  template <class V>
  static void grad(const V* d, V* r) {
    const V e1 = d[0] + d[2], o1 = d[1] + d[3], e2 = d[0] + 4.0f * d[2], o2 = 2.0f * d[1] + 8.0f * d[3];
    r[0] = d[0];
    r[1] = e1 + o1;
    r[2] = e1 - o1;
    r[3] = e2 + o2;
    r[4] = e2 - o2;
    r[5] = d[3];
  }
};

template <>
struct Transforms<6> {
  template <class V>
  static void input(const V* d, V* r) {
    const V a = d[2] + d[6] - 4.25f * d[4], b = d[1] + d[5] - 4.25f * d[3];             // rows 1, 2
    const V c = 0.25f * d[2] - 1.25f * d[4] + d[6], e = 0.5f * d[1] - 2.5f * d[3] + 2.0f * d[5];  // rows 3, 4
    const V f = 4.0f * d[2] - 5.0f * d[4] + d[6], h = 2.0f * d[1] - 2.5f * d[3] + 0.5f * d[5];    // rows 5, 6
    r[0] = d[0] - d[6] + 5.25f * (d[4] - d[2]);
    r[1] = a + b;
    r[2] = a - b;
    r[3] = c + e;
    r[4] = c - e;
    r[5] = f + h;
    r[6] = f - h;
    r[7] = d[7] - d[1] + 5.25f * (d[3] - d[5]);
  }
  template <class V>
  static void output(const V* m, V* r) {
    const V s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    const V s56 = m[5] + m[6], d56 = m[5] - m[6];
    r[0] = m[0] + s12 + s34 + s56;
    r[1] = d12 + 2.0f * d34 + 0.5f * d56;
    r[2] = s12 + 4.0f * s34 + 0.25f * s56;
    r[3] = d12 + 8.0f * d34 + 0.125f * d56;
    r[4] = s12 + 16.0f * s34 + 0.0625f * s56;
    r[5] = d12 + 32.0f * d34 + 0.03125f * d56 + m[7];
  }
  template <class V>
  static void grad(const V* d, V* r) {
    const V e1 = d[0] + d[2] + d[4], o1 = d[1] + d[3] + d[5];
    const V e2 = d[0] + 4.0f * d[2] + 16.0f * d[4], o2 = 2.0f * d[1] + 8.0f * d[3] + 32.0f * d[5];
    const V e3 = d[0] + 0.25f * d[2] + 0.0625f * d[4], o3 = 0.5f * d[1] + 0.125f * d[3] + 0.03125f * d[5];
    r[0] = d[0];
    r[1] = e1 + o1;
    r[2] = e1 - o1;
    r[3] = e2 + o2;
    r[4] = e2 - o2;
    r[5] = e3 + o3;
    r[6] = e3 - o3;
    r[7] = d[5];
  }
};

// Tile t's place: image, tile row and column.
struct TilePos {
  int64_t img, ty, tx;
};
inline TilePos tile_pos(const WinogradPlan& p, int64_t t) {
  return {t / (p.th * p.tw), t / p.tw % p.th, t % p.tw};
}

// d[i*AW+j]: row (i, j) of the (MH+2) x (MW+2) input patch of tile t, p.zeros outside the image.
template <int MH, int MW>
void patch_rows(const WinogradPlan& p, int64_t t, const float** d) {
  constexpr int AH = MH + 2, AW = MW + 2;
  const DirectConv& a = *p.a;
  const int64_t xw = a.w + 2 * a.x_pad, xh = a.h + 2 * a.x_pad;
  const TilePos tp = tile_pos(p, t);
  for (int i = 0; i < AH; ++i)
    for (int j = 0; j < AW; ++j) {
      const int64_t r = MH * tp.ty - 1 + i, q = MW * tp.tx - 1 + j;  // unpadded input coordinates
      d[i * AW + j] = r >= 0 && r < a.h && q >= 0 && q < a.w
                         ? a.x + ((tp.img * xh + r + a.x_pad) * xw + q + a.x_pad) * a.cin
                         : p.zeros;
    }
}
// at[i*MW+j]: offset in y of output pixel (i, j) of tile t, -1 past the image.
template <int MH, int MW>
void output_offsets(const WinogradPlan& p, int64_t t, int64_t* at) {
  const DirectConv& a = *p.a;
  const int64_t yw = a.w + 2 * a.y_pad, yh = a.h + 2 * a.y_pad;
  const TilePos tp = tile_pos(p, t);
  for (int i = 0; i < MH; ++i)
    for (int j = 0; j < MW; ++j) {
      const int64_t r = MH * tp.ty + i, q = MW * tp.tx + j;
      at[i * MW + j] = r < a.h && q < a.w ? ((tp.img * yh + r + a.y_pad) * yw + q + a.y_pad) * a.cout : -1;
    }
}
// d[i*MW+j]: row (i, j) of tile t's MH x MW block of dy (dense NHWC [n][h][w][cout]), p.zeros
// past the image.
template <int MH, int MW>
void grad_rows(const WinogradPlan& p, const float* dy, int64_t t, const float** d) {
  const DirectConv& a = *p.a;
  const TilePos tp = tile_pos(p, t);
  for (int i = 0; i < MH; ++i)
    for (int j = 0; j < MW; ++j) {
      const int64_t r = MH * tp.ty + i, q = MW * tp.tx + j;
      d[i * MW + j] = r < a.h && q < a.w ? dy + ((tp.img * a.h + r) * a.w + q) * a.cout : p.zeros;
    }
}

// A 2-D transform by two 1-D ones: fh (NH -> PH values: a Transforms member here, winograd.cpp's
// weight forms G and G^T in double) is applied to the NW columns of the NH x NW block load(i, j),
// then fw (NW -> PW) to the PH rows of the PH x NW result; store(i, j, value) receives the PH x PW
// outcome. The loops are fully unrolled, so a vector block stays in registers where it fits.
template <int NH, int NW, int PH, int PW, class V, class FH, class FW, class Load, class Store>
void separable(FH fh, FW fw, Load load, Store store) {
  V t[PH][NW];
#pragma GCC unroll 8
  for (int j = 0; j < NW; ++j) {  // columns
    V col[NH], r[PH];
#pragma GCC unroll 8
    for (int i = 0; i < NH; ++i) col[i] = load(i, j);
    fh(col, r);
#pragma GCC unroll 8
    for (int i = 0; i < PH; ++i) t[i][j] = r[i];
  }
#pragma GCC unroll 8
  for (int i = 0; i < PH; ++i) {  // rows
    V r[PW];
    fw(t[i], r);
#pragma GCC unroll 8
    for (int j = 0; j < PW; ++j) store(i, j, r[j]);
  }
}

// v[e * es + c] = (B^T d B)[e] for channels [c, c + width) of one patch.
template <int MH, int MW, class Vec>
void input_tile(const float* const* d, int64_t c, float* v, int64_t es) {
  constexpr int AH = MH + 2, AW = MW + 2;
  using V = typename Vec::V;
  separable<AH, AW, AH, AW, V>([](const V* x, V* r) { Transforms<MH>::input(x, r); },
                               [](const V* x, V* r) { Transforms<MW>::input(x, r); },
                               [&](int i, int j) { return Vec::load(d[i * AW + j] + c); },
                               [&](int i, int j, V r) { Vec::store(v + (i * AW + j) * es + c, r); });
}

// y = act(A^T m A + bias + residual) for output channels [k, k + width) of one tile.
template <int MH, int MW, class Vec>
void output_tile(const DirectConv& a, const float* m, int64_t es, const int64_t* at, int64_t k) {
  constexpr int AH = MH + 2, AW = MW + 2;
  using V = typename Vec::V;
  const V b = a.bias ? Vec::load(a.bias + k) : Vec::splat(0.0f);
  separable<AH, AW, MH, MW, V>([](const V* x, V* r) { Transforms<MH>::output(x, r); },
                               [](const V* x, V* r) { Transforms<MW>::output(x, r); },
                               [&](int i, int j) { return Vec::load(m + (i * AW + j) * es + k); },
                               [&](int i, int j, V r) {
                       const int64_t o = at[i * MW + j];
                       if (o < 0) return;
                       V y = r + b;
                       if (a.residual) y = y + Vec::load(a.residual + o + k);
                       if (a.relu) y = Vec::relu(y);
                       Vec::store(a.y + o + k, y);
                     });
}

// m[e * es + k] = (A dy A^T)[e] for channels [k, k + width) of one tile of dy.
template <int MH, int MW, class Vec>
void grad_tile(const float* const* d, int64_t k, float* m, int64_t es) {
  constexpr int AW = MW + 2;
  using V = typename Vec::V;
  separable<MH, MW, MH + 2, AW, V>([](const V* x, V* r) { Transforms<MH>::grad(x, r); },
                                   [](const V* x, V* r) { Transforms<MW>::grad(x, r); },
                                   [&](int i, int j) { return Vec::load(d[i * MW + j] + k); },
                                   [&](int i, int j, V r) { Vec::store(m + (i * AW + j) * es + k, r); });
}

// The three phases over tiles [t0, t1): channels in steps of Vec's width, the tail one at a time.
// V[e][t][c] = (B^T d B)[e] for the patch d of tile t (zero outside the image).
template <int MH, int MW, class Vec>
void input_transform(const WinogradPlan& p, int64_t t0, int64_t t1) {
  const int64_t C = p.a->cin, es = p.tiles * C;  // es: stride between transform positions
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[(MH + 2) * (MW + 2)];
    patch_rows<MH, MW>(p, t, d);
    float* v = p.v + (t - p.tbase) * C;
    int64_t c = 0;
    for (; c + Vec::kWidth <= C; c += Vec::kWidth) input_tile<MH, MW, Vec>(d, c, v, es);
    for (; c < C; ++c) input_tile<MH, MW, ScalarVec>(d, c, v, es);
  }
}

// y = act(A^T M A + bias + residual) for the tile's outputs inside the image.
template <int MH, int MW, class Vec>
void output_transform(const WinogradPlan& p, int64_t t0, int64_t t1) {
  const DirectConv& a = *p.a;
  const int64_t K = a.cout, es = p.tiles * p.coutp;
  for (int64_t t = t0; t < t1; ++t) {
    const float* m = p.m + (t - p.tbase) * p.coutp;
    int64_t at[MH * MW];
    output_offsets<MH, MW>(p, t, at);
    int64_t k = 0;
    for (; k + Vec::kWidth <= K; k += Vec::kWidth) output_tile<MH, MW, Vec>(a, m, es, at, k);
    for (; k < K; ++k) output_tile<MH, MW, ScalarVec>(a, m, es, at, k);
  }
}

// Weight gradient: W[e][t][k] = (A dy A^T)[e] for tile t of dy [n][h][w][cout] (dense NHWC; zero
// past the image's edge), into p.m with row stride p.coutp.
template <int MH, int MW, class Vec>
void grad_output_transform(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  const int64_t K = p.a->cout, es = p.tiles * p.coutp;
  for (int64_t t = t0; t < t1; ++t) {
    const float* d[MH * MW];
    grad_rows<MH, MW>(p, dy, t, d);
    float* m = p.m + (t - p.tbase) * p.coutp;
    int64_t k = 0;
    for (; k + Vec::kWidth <= K; k += Vec::kWidth) grad_tile<MH, MW, Vec>(d, k, m, es);
    for (; k < K; ++k) grad_tile<MH, MW, ScalarVec>(d, k, m, es);
  }
}

// The entry points per ISA: dispatch on the plan's tile shape (winograd.h's tile codes).
template <class Vec>
void input_phase(const WinogradPlan& p, int64_t t0, int64_t t1) {
  if (p.tile == 4) return input_transform<4, 4, Vec>(p, t0, t1);
  if (p.tile == kWinograd6x4) return input_transform<6, 4, Vec>(p, t0, t1);
  input_transform<2, 2, Vec>(p, t0, t1);
}
template <class Vec>
void output_phase(const WinogradPlan& p, int64_t t0, int64_t t1) {
  if (p.tile == 4) return output_transform<4, 4, Vec>(p, t0, t1);
  if (p.tile == kWinograd6x4) return output_transform<6, 4, Vec>(p, t0, t1);
  output_transform<2, 2, Vec>(p, t0, t1);
}
template <class Vec>
void grad_output_phase(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  if (p.tile == 4) return grad_output_transform<4, 4, Vec>(p, dy, t0, t1);
  if (p.tile == kWinograd6x4) return grad_output_transform<6, 4, Vec>(p, dy, t0, t1);
  grad_output_transform<2, 2, Vec>(p, dy, t0, t1);
}

}  // namespace WINOGRAD_NS
}  // namespace ember::cpu
