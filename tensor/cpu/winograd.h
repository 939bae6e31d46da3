// Winograd convolution for 3x3, stride-1, pad-1 layers in the padded NHWC layout of conv_direct.h
// (CpuBackend's 3x3 convolutions, forward and both gradients; the W6 inference engine), in two tile
// sizes. F(M x M, 3x3) computes an M x M output tile from an alpha x alpha input patch (alpha =
// M + 2): V = B^T d B per input channel, M = sum_c V * U per output channel (alpha^2 small GEMMs,
// one per transform position, tiles x cin @ cin x cout), Y = A^T M A; U = G g G^T is computed once
// per weight.
//  * F(2x2,3x3): 16 multiplies per 4 outputs instead of 36 (2.25x fewer); transform coefficients
//    0, +-1, +-1/2, so the result is within a few ulps of sum |w| |x|.
//  * F(4x4,3x3): 36 multiplies per 16 outputs (4x fewer, 1.78x fewer than F(2x2)) at the cost of
//    larger transforms (coefficients up to 8 and 1/24) and a larger error: measured about 10x
//    F(2x2)'s, bounded in tests/tensor/test_cpu_winograd.cpp. Partial tiles waste more on small
//    planes (a 6x7 board is 4 tiles covering 8x8: 1.33x fewer multiplies than F(2x2), not 1.78x).
//  * F(6x4,3x3): non-square tiles of 6 output rows x 4 columns (an 8 x 6 patch; F(6,3) along the
//    height, NNPACK's 1-D tile, F(4,3) along the width): 48 multiplies per 24 outputs. Made for
//    planes 6 rows high, where F(4x4)'s tiles overhang by a third: a 6x7 board is 2 tiles of 48
//    positions instead of 4 of 36 (1.5x fewer multiplies). F(6,3)'s coefficients (up to 21/4 and
//    32, down to 1/90) cost accuracy: its error, measured against F(4x4)'s, is bounded in the tests.
// Patch values outside the image read as 0, so the input's border need not be zero.
// Scalar path portable; AVX2 path (winograd_avx2.cpp) for avx2 and avx512, whose transforms run on
// 16-wide zmm vectors (winograd_avx512.cpp).
#pragma once

#include <cstdint>

#include "tensor/cpu/conv_direct.h"

namespace ember::cpu {

// Tile codes: 2 (F(2x2,3x3)), 4 (F(4x4,3x3)) or kWinograd6x4 (F(6x4,3x3): 6 rows x 4 columns);
// anything else is an error. Transform positions (rows + 2) x (columns + 2): 16, 36 or 48.
constexpr int kWinograd6x4 = 64;
struct WinogradTile {
  int h, w;  // output rows and columns per tile
};
WinogradTile winograd_tile_dims(int tile);
// Tile rows and columns covering an h x w plane (the last ones may overhang it).
struct WinogradGrid {
  int64_t th, tw;
};
WinogradGrid winograd_grid(int tile, int64_t h, int64_t w);
int winograd_positions(int tile);
// Floats of transformed weights for [cout][cin][3][3]: positions x cin x cout rounded up to 16.
int64_t winograd_weights_size(int64_t cout, int64_t cin, int tile);
// w [cout][cin][3][3] -> u [positions][ceil(cout/16)][cin][16] (zero past cout), computed in double.
void winograd_transform_weights(const float* w, int64_t cout, int64_t cin, int tile, float* u);

// Whether CpuBackend runs its f32 3x3 stride-1 pad-1 convolutions (forward and input gradient, 16+
// channels, AVX2 and up) with conv_winograd (the default) or im2col + GEMM. EMBER_CONV_WINOGRAD=0
// in the environment starts with it off; tests and benches switch it per process.
bool conv_winograd_enabled();
void set_conv_winograd(bool on);
// The tile CpuBackend uses for an h x w plane with cin -> cout channels: F(6x4) on planes 6 rows
// high where it saves at least 1.3x of F(4x4)'s multiplies with 32+ channels, F(4x4) where it
// measured faster than F(2x2) (winograd.cpp), else F(2x2). set_conv_winograd_tile(2, 4 or 64)
// forces one (EMBER_CONV_WINOGRAD_TILE=2|4|64 in the environment starts forced); 0 goes back to
// the rule.
int conv_winograd_tile(int64_t h, int64_t w, int64_t cin, int64_t cout);
void set_conv_winograd_tile(int tile);

// a.k must be 3 and a.packed_w the weights transformed for this tile size; otherwise as
// conv_direct. Scratch buffers are per thread and reused (no allocation once grown).
void conv_winograd(const DirectConv& a, int tile);

// Per ISA: the three phases over tile range [t0, t1) (input/output transforms) or transform
// positions [e0, e1) (products), for one block of `tiles` tiles starting at tile `tbase` (tiles
// are numbered over the whole batch; a block's transformed values stay in cache).
// v [positions][tiles][cin], m [positions][tiles][coutp] with coutp = cout rounded to 16;
// th x tw tiles per image (ceil(h / tile) x ceil(w / tile)).
struct WinogradPlan {
  const DirectConv* a;
  int tile;  // a tile code
  int64_t th, tw, tbase, tiles, coutp;
  float* v;
  float* m;
  const float* zeros;  // cin zeros (patch values outside the image)
};
void winograd_input_scalar(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_product_scalar(const WinogradPlan& p, int64_t e0, int64_t e1);
void winograd_output_scalar(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_input_avx2(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_product_avx2(const WinogradPlan& p, int64_t e0, int64_t e1);
void winograd_output_avx2(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_grad_output_avx2(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1);
// AVX-512 transforms (winograd_avx512.cpp; the products stay on the AVX2 register tiles).
void winograd_input_avx512(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_output_avx512(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_grad_output_avx512(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1);

// Weight gradient (F(3x3,2x2) or F(3x3,4x4), the forward read backwards): per output tile,
// dW += G^T [(A dy A^T) . (B^T d B)] G, so with V[e][t][c] = B^T d B (the input transform) and
// W[e][t][k] = A dy A^T (winograd_grad_output), M[e][k][c] = sum_t W[e][t][k] V[e][t][c] is 16 (36)
// products with the tiles as the reduction (winograd_weight_product) and dW = G^T M G once.
// 2.25x (4x) fewer multiplies than im2col + GEMM, and no im2col.
// winograd_input / winograd_grad_output dispatch on the active ISA (AVX2 path, or the portable
// loops); dy is dense NHWC [n][h][w][cout] without padding; the plan's m has row stride coutp.
void winograd_input(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_grad_output(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1);
// m[e][k][c] (=|+=) sum_t w[e][t][k] * v[e][t][c] for `positions` transform positions,
// w [positions][tiles][cout] and v [positions][tiles][cin] dense (the weight gradient's products;
// AVX2 path or the plain loops).
void winograd_weight_product(const float* w, const float* v, int64_t positions, int64_t tiles, int64_t cout,
                             int64_t cin, float* m, bool accumulate);
void winograd_weight_product_avx2(const float* w, const float* v, int64_t positions, int64_t tiles, int64_t cout,
                                  int64_t cin, float* m, bool accumulate);
// m [positions][cout][cin] -> gw [cout][cin][3][3] = G^T m G (computed in double; `=`).
void winograd_weight_grad_finish(const float* m, int64_t cout, int64_t cin, int tile, float* gw);

}  // namespace ember::cpu
