// Winograd F(2x2,3x3), F(4x4,3x3) and F(6x4,3x3) convolution (winograd.h): the weight transforms,
// the scalar path, the tile rule and the three-phase driver (input transform over tiles, 16, 36 or
// 48 products, output transform over tiles).
#include "tensor/cpu/winograd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

#define WINOGRAD_NS scalar
#include "tensor/cpu/winograd_impl.h"

namespace ember::cpu {

namespace {
// The weight transforms G (alpha x 3) as 1-D forms along one axis, in double: U = G g G^T forward
// (apply: 3 -> alpha values), dW = G^T M G for the weight gradient (apply_t: alpha -> 3). Factored
// like the input transforms (a dense G g G^T with runtime-indexed coefficients cost more than the
// convolution itself at 256 channels).
template <int Tile>
struct GForms;

// F(2x2,3x3): G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
template <>
struct GForms<2> {
  static void apply(const double* g, double* r) {
    const double s = 0.5 * (g[0] + g[2]), h = 0.5 * g[1];
    r[0] = g[0];
    r[1] = s + h;
    r[2] = s - h;
    r[3] = g[2];
  }
  static void apply_t(const double* m, double* r) {
    const double s = 0.5 * (m[1] + m[2]);
    r[0] = m[0] + s;
    r[1] = 0.5 * (m[1] - m[2]);
    r[2] = s + m[3];
  }
};

// F(4x4,3x3), points 0, 1, -1, 2, -2, infinity (B^T and A^T in winograd_impl.h):
// G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1].
template <>
struct GForms<4> {
  static constexpr double k4 = 1.0 / 4, k6 = 1.0 / 6, k12 = 1.0 / 12, k24 = 1.0 / 24;
  static void apply(const double* g, double* r) {
    const double s = g[0] + g[2], a = k24 * g[0] + k6 * g[2], b = k12 * g[1];
    r[0] = k4 * g[0];
    r[1] = -k6 * (s + g[1]);
    r[2] = -k6 * (s - g[1]);
    r[3] = a + b;
    r[4] = a - b;
    r[5] = g[2];
  }
  static void apply_t(const double* m, double* r) {
    const double s12 = m[1] + m[2], s34 = m[3] + m[4];
    r[0] = k4 * m[0] - k6 * s12 + k24 * s34;
    r[1] = k6 * (m[2] - m[1]) + k12 * (m[3] - m[4]);
    r[2] = k6 * (s34 - s12) + m[5];
  }
};

// F(6,3), points 0, 1, -1, 2, -2, 1/2, -1/2, infinity (B^T and A^T in winograd_impl.h):
// G = [1 0 0; -2/9 -2/9 -2/9; -2/9 2/9 -2/9; 1/90 1/45 2/45; 1/90 -1/45 2/45;
//      32/45 16/45 8/45; 32/45 -16/45 8/45; 0 0 1].
template <>
struct GForms<6> {
  static void apply(const double* g, double* r) {
    const double s = g[0] + g[2];
    const double a = g[0] / 90 + g[2] * 2 / 45, b = g[1] / 45;
    const double c = g[0] * 32 / 45 + g[2] * 8 / 45, d = g[1] * 16 / 45;
    r[0] = g[0];
    r[1] = -2.0 / 9 * (s + g[1]);
    r[2] = -2.0 / 9 * (s - g[1]);
    r[3] = a + b;
    r[4] = a - b;
    r[5] = c + d;
    r[6] = c - d;
    r[7] = g[2];
  }
  static void apply_t(const double* m, double* r) {
    const double s12 = m[1] + m[2], s34 = m[3] + m[4], s56 = m[5] + m[6];
    r[0] = m[0] - 2.0 / 9 * s12 + s34 / 90 + s56 * 32 / 45;
    r[1] = -2.0 / 9 * (m[1] - m[2]) + (m[3] - m[4]) / 45 + (m[5] - m[6]) * 16 / 45;
    r[2] = -2.0 / 9 * s12 + s34 * 2 / 45 + s56 * 8 / 45 + m[7];
  }
};

// The transformed weights (u) and the weight gradient's products (m) keep their transform
// positions a power-of-two distance apart at 2^k channels (256 x 256: 256 KiB), so the alpha^2
// values of one (o, c) pair share a cache set: touched together they thrash L1 and L2 (the
// transform ran at ~400 cycles a pair). Both loops below go through a small local block instead
// and touch the big arrays one position at a time.
constexpr int64_t kFormChunk = 8;  // input channels per local block

// u (the products' layout) = G_h g G_w^T for output-channel blocks [kb0, kb1), zero past cout.
template <int MH, int MW>
void transform_weights(const float* w, int64_t kb0, int64_t kb1, int64_t cout, int64_t cin, int64_t blocks,
                       float* u) {
  constexpr int AH = MH + 2, AW = MW + 2, P = AH * AW;
  constexpr int64_t L = kDirectConvBlock;
  float local[P][kFormChunk][L];
  for (int64_t kb = kb0; kb < kb1; ++kb)
    for (int64_t c0 = 0; c0 < cin; c0 += kFormChunk) {
      const int64_t nc = std::min(kFormChunk, cin - c0);
      for (int64_t l = 0; l < L; ++l) {
        const int64_t o = kb * L + l;
        for (int64_t cc = 0; cc < nc; ++cc) {
          if (o >= cout) {
            for (int e = 0; e < P; ++e) local[e][cc][l] = 0.0f;
            continue;
          }
          const float* g = w + (o * cin + c0 + cc) * 9;
          scalar::separable<3, 3, AH, AW, double>(  // (G_h g) G_w^T
              [](const double* x, double* r) { GForms<MH>::apply(x, r); },
              [](const double* x, double* r) { GForms<MW>::apply(x, r); },
              [&](int i, int j) { return double(g[i * 3 + j]); },
              [&](int i, int j, double r) { local[i * AW + j][cc][l] = static_cast<float>(r); });
        }
      }
      for (int e = 0; e < P; ++e)
        std::copy(&local[e][0][0], &local[e][0][0] + nc * L, u + ((e * blocks + kb) * cin + c0) * L);
    }
}

// gw = G_h^T m G_w for output channels [o0, o1); m [positions][cout][cin].
template <int MH, int MW>
void weight_grad_finish(const float* m, int64_t o0, int64_t o1, int64_t cout, int64_t cin, float* gw) {
  constexpr int AH = MH + 2, AW = MW + 2, P = AH * AW;
  const int64_t es = cout * cin;
  float local[P][kFormChunk];
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t c0 = 0; c0 < cin; c0 += kFormChunk) {
      const int64_t nc = std::min(kFormChunk, cin - c0);
      for (int e = 0; e < P; ++e) std::copy(m + e * es + o * cin + c0, m + e * es + o * cin + c0 + nc, local[e]);
      for (int64_t cc = 0; cc < nc; ++cc) {
        float* g = gw + (o * cin + c0 + cc) * 9;
        scalar::separable<AH, AW, 3, 3, double>(  // (G_h^T M) G_w
            [](const double* x, double* r) { GForms<MH>::apply_t(x, r); },
            [](const double* x, double* r) { GForms<MW>::apply_t(x, r); },
            [&](int i, int j) { return double(local[i * AW + j][cc]); },
            [&](int i, int j, double r) { g[i * 3 + j] = static_cast<float>(r); });
      }
    }
}

std::atomic<bool>& winograd_switch() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("EMBER_CONV_WINOGRAD");
    return !env || std::string_view(env) != "0";
  }()};
  return on;
}
std::atomic<int>& tile_override() {
  static std::atomic<int> tile{[] {
    const char* env = std::getenv("EMBER_CONV_WINOGRAD_TILE");
    const std::string_view v = env ? env : "";
    return v == "2" ? 2 : v == "4" ? 4 : v == "64" ? kWinograd6x4 : 0;
  }()};
  return tile;
}
}  // namespace

bool conv_winograd_enabled() { return winograd_switch().load(std::memory_order_relaxed); }
void set_conv_winograd(bool on) { winograd_switch().store(on, std::memory_order_relaxed); }

void set_conv_winograd_tile(int tile) {
  EMBER_CHECK(tile == 0 || tile == 2 || tile == 4 || tile == kWinograd6x4,
              "set_conv_winograd_tile: tile must be 0 (automatic), 2, 4 or 64 (6x4), got {}", tile);
  tile_override().store(tile, std::memory_order_relaxed);
}

// F(4x4) does 1.78x fewer multiplies than F(2x2) on planes whose sides are multiples of 4, fewer
// where its 4x4 tiles overhang the plane (14x14: 1.36x; a 6x7 board: 1.33x), and its transforms
// cost more per output, which matters less as the channel counts (the products' size) grow.
// Measured (bench_kernels, forward + both gradients, 1 thread, AVX2 Zen 2), F(4x4)'s time over
// F(2x2)'s: 0.59x at 64x64 32->32, 0.71x at 32x32x64, 0.73x at 16x16x128, 0.87x at 8x8x256, 0.96x
// on 6x7 boards with 64 channels (the W6 training step: 0.94x), but 1.08x (3 of 4 runs slower) at
// 14x14 32->64. So F(4x4) where it saves at least 1.5x of the multiplies, or 1.3x with 64+
// channels on both sides.
// F(6x4) only on planes whose height is a multiple of 6 (no overhang in the rows, where F(6,3)'s
// larger error buys the most), at least 1.3x fewer multiplies than F(4x4) and 32+ channels: a 6x7
// board (1.5x); a 64x64 plane would save only 1.09x and keeps F(4x4).
int conv_winograd_tile(int64_t h, int64_t w, int64_t cin, int64_t cout) {
  if (const int forced = tile_override().load(std::memory_order_relaxed)) return forced;
  const int64_t f2 = 16 * ((h + 1) / 2) * ((w + 1) / 2), f4 = 36 * ((h + 3) / 4) * ((w + 3) / 4);
  const int64_t f64 = 48 * ((h + 5) / 6) * ((w + 3) / 4);
  if (h % 6 == 0 && 10 * f4 >= 13 * f64 && std::min(cin, cout) >= 32) return kWinograd6x4;
  if (2 * f2 >= 3 * f4) return 4;
  return 10 * f2 >= 13 * f4 && std::min(cin, cout) >= 64 ? 4 : 2;
}

WinogradTile winograd_tile_dims(int tile) {
  EMBER_CHECK(tile == 2 || tile == 4 || tile == kWinograd6x4, "winograd: tile must be 2, 4 or 64 (6x4), got {}",
              tile);
  return tile == kWinograd6x4 ? WinogradTile{6, 4} : WinogradTile{tile, tile};
}

WinogradGrid winograd_grid(int tile, int64_t h, int64_t w) {
  const WinogradTile d = winograd_tile_dims(tile);
  return {(h + d.h - 1) / d.h, (w + d.w - 1) / d.w};
}

int winograd_positions(int tile) {
  const WinogradTile d = winograd_tile_dims(tile);
  return (d.h + 2) * (d.w + 2);
}

int64_t winograd_weights_size(int64_t cout, int64_t cin, int tile) {
  return winograd_positions(tile) * ((cout + kDirectConvBlock - 1) / kDirectConvBlock * kDirectConvBlock) * cin;
}

void winograd_transform_weights(const float* w, int64_t cout, int64_t cin, int tile, float* u) {
  const int64_t blocks = (cout + kDirectConvBlock - 1) / kDirectConvBlock;
  winograd_positions(tile);  // checks the size
  // Output-channel blocks split across threads (each writes its own entries).
  parallel_for(blocks, std::max<int64_t>(1, 64 / std::max<int64_t>(cin, 1)), [&](int64_t kb0, int64_t kb1) {
    if (tile == 4) return transform_weights<4, 4>(w, kb0, kb1, cout, cin, blocks, u);
    if (tile == kWinograd6x4) return transform_weights<6, 4>(w, kb0, kb1, cout, cin, blocks, u);
    transform_weights<2, 2>(w, kb0, kb1, cout, cin, blocks, u);
  });
}

void winograd_input_scalar(const WinogradPlan& p, int64_t t0, int64_t t1) {
  scalar::input_phase<scalar::ScalarVec>(p, t0, t1);
}
void winograd_output_scalar(const WinogradPlan& p, int64_t t0, int64_t t1) {
  scalar::output_phase<scalar::ScalarVec>(p, t0, t1);
}

void winograd_input(const WinogradPlan& p, int64_t t0, int64_t t1) {
  if (active_isa() >= Isa::avx512) return winograd_input_avx512(p, t0, t1);
  if (active_isa() != Isa::scalar) return winograd_input_avx2(p, t0, t1);
  winograd_input_scalar(p, t0, t1);
}

void winograd_grad_output(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  if (active_isa() >= Isa::avx512) return winograd_grad_output_avx512(p, dy, t0, t1);
  if (active_isa() != Isa::scalar) return winograd_grad_output_avx2(p, dy, t0, t1);
  scalar::grad_output_phase<scalar::ScalarVec>(p, dy, t0, t1);
}

void winograd_weight_product(const float* w, const float* v, int64_t positions, int64_t tiles, int64_t cout,
                             int64_t cin, float* m, bool accumulate) {
  if (active_isa() != Isa::scalar)
    return winograd_weight_product_avx2(w, v, positions, tiles, cout, cin, m, accumulate);
  for (int64_t e = 0; e < positions; ++e)
    for (int64_t k = 0; k < cout; ++k)
      for (int64_t c = 0; c < cin; ++c) {
        float acc = 0.0f;
        for (int64_t t = 0; t < tiles; ++t) acc += w[(e * tiles + t) * cout + k] * v[(e * tiles + t) * cin + c];
        float& dst = m[(e * cout + k) * cin + c];
        dst = accumulate ? dst + acc : acc;
      }
}

void winograd_weight_grad_finish(const float* m, int64_t cout, int64_t cin, int tile, float* gw) {
  winograd_positions(tile);  // checks the size
  parallel_for(cout, std::max<int64_t>(1, 4096 / std::max<int64_t>(cin, 1)), [&](int64_t o0, int64_t o1) {
    if (tile == 4) return weight_grad_finish<4, 4>(m, o0, o1, cout, cin, gw);
    if (tile == kWinograd6x4) return weight_grad_finish<6, 4>(m, o0, o1, cout, cin, gw);
    weight_grad_finish<2, 2>(m, o0, o1, cout, cin, gw);
  });
}

void winograd_product_scalar(const WinogradPlan& p, int64_t e0, int64_t e1) {
  const int64_t C = p.a->cin, T = p.tiles, blocks = p.coutp / kDirectConvBlock;
  for (int64_t e = e0; e < e1; ++e)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t kb = 0; kb < blocks; ++kb) {
        float acc[kDirectConvBlock] = {};
        const float* v = p.v + (e * T + t) * C;
        const float* u = p.a->packed_w + (e * blocks + kb) * C * kDirectConvBlock;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t l = 0; l < kDirectConvBlock; ++l) acc[l] += v[c] * u[c * kDirectConvBlock + l];
        std::copy(acc, acc + kDirectConvBlock, p.m + (e * T + t) * p.coutp + kb * kDirectConvBlock);
      }
}

void conv_winograd(const DirectConv& a, int tile) {
  EMBER_CHECK(a.k == 3, "conv_winograd: only 3x3 kernels (got k {})", a.k);
  const int64_t positions = winograd_positions(tile);
  EMBER_CHECK(a.n >= 1 && a.h >= 1 && a.w >= 1 && a.cin >= 1 && a.cout >= 1 && a.x_pad >= 0 && a.y_pad >= 0,
              "conv_winograd: bad sizes (n {}, h {}, w {}, cin {}, cout {}, x_pad {}, y_pad {})", a.n, a.h, a.w,
              a.cin, a.cout, a.x_pad, a.y_pad);
  EMBER_CHECK(a.x && a.packed_w && a.y, "conv_winograd: x, transformed weights and y must be given");
  const WinogradGrid grid = winograd_grid(tile, a.h, a.w);
  const int64_t th = grid.th, tw = grid.tw, tiles = a.n * th * tw;
  const int64_t coutp = (a.cout + kDirectConvBlock - 1) / kDirectConvBlock * kDirectConvBlock;
  const bool avx2 = active_isa() != Isa::scalar, avx512 = active_isa() >= Isa::avx512;
  auto in = avx512 ? winograd_input_avx512 : avx2 ? winograd_input_avx2 : winograd_input_scalar;
  auto prod = avx2 ? winograd_product_avx2 : winograd_product_scalar;
  auto out = avx512 ? winograd_output_avx512 : avx2 ? winograd_output_avx2 : winograd_output_scalar;
  // Tiles go in blocks whose transformed input and products (positions x block x (cin + coutp)
  // floats) stay within ~384 KiB of cache, but at least 48 tiles for F(2x2) (24 for F(4x4), whose
  // tiles are 2.25x larger), so each block's products use every weight that often per read. A
  // block is one task: its three phases run on one thread.
  const int64_t min_block = tile == 2 ? 48 : 24;
  const int64_t block = std::min(
      tiles, std::max<int64_t>(min_block, (int64_t{96} << 10) / (positions * (a.cin + coutp)) / 6 * 6));
  const int64_t blocks = (tiles + block - 1) / block;
  auto run_block = [&](int64_t b) {
    const int64_t t0 = b * block, n = std::min(block, tiles - t0);
    thread_local std::vector<float> v, m, zeros;  // this thread's scratch, reused
    if (zeros.size() < size_t(a.cin)) zeros.assign(size_t(a.cin), 0.0f);
    if (v.size() < size_t(positions * n * a.cin)) v.resize(size_t(positions * n * a.cin));
    if (m.size() < size_t(positions * n * coutp)) m.resize(size_t(positions * n * coutp));
    const WinogradPlan p{&a, tile, th, tw, t0, n, coutp, v.data(), m.data(), zeros.data()};
    in(p, t0, t0 + n);
    prod(p, 0, positions);
    out(p, t0, t0 + n);
  };
  // Threads only for large convolutions (as conv_direct).
  const double flops = 2.0 * double(positions) * double(tiles) * double(a.cin) * double(coutp);
  if (blocks == 1 || get_num_threads() == 1 || flops < 8e6 || in_parallel_region()) {
    for (int64_t b = 0; b < blocks; ++b) run_block(b);
    return;
  }
  parallel_tasks(blocks, run_block);
}

}  // namespace ember::cpu
