// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, pad-1 layers in the padded NHWC layout of
// conv_direct.h (inference: the W6 engine at batch >= 2). Each 2x2 output tile comes from a 4x4
// input patch: V = B^T d B per input channel, M = sum_c V * U per output channel (16 small GEMMs,
// one per transform position, tiles x cin @ cin x cout), Y = A^T M A; U = G g G^T is computed once
// per weight. 16 multiplies per 4 outputs instead of 36: 2.25x fewer (on a 6x7 board 12 tiles cover
// 6x8, so ~2x). Patch values outside the image read as 0, so the input's border need not be zero.
//
// Error: the transforms' coefficients are 0, +-1 and +-1/2, so the result differs from the direct
// sum by a few ulps of sum |w| |x| (tests/tensor/test_cpu_winograd.cpp bounds it by 1e-5 relative).
// Scalar path portable; AVX2 path (winograd_avx2.cpp) for avx2 and avx512 (no 512-bit version yet).
#pragma once

#include <cstdint>

#include "tensor/cpu/conv_direct.h"

namespace ember::cpu {

// Floats of transformed weights for [cout][cin][3][3]: 16 positions x cin x cout rounded up to 16.
int64_t winograd_weights_size(int64_t cout, int64_t cin);
// w [cout][cin][3][3] -> u [16][ceil(cout/16)][cin][16] (zero past cout), computed in double.
void winograd_transform_weights(const float* w, int64_t cout, int64_t cin, float* u);

// Whether CpuBackend runs its f32 3x3 stride-1 pad-1 convolutions (forward and input gradient, 16+
// channels, AVX2 and up) with conv_winograd (the default) or im2col + GEMM. EMBER_CONV_WINOGRAD=0
// in the environment starts with it off; tests and benches switch it per process.
bool conv_winograd_enabled();
void set_conv_winograd(bool on);

// a.k must be 3 and a.packed_w the transformed weights; otherwise as conv_direct. Scratch buffers
// are per thread and reused (no allocation once grown).
void conv_winograd(const DirectConv& a);

// Per ISA: the three phases over tile range [t0, t1) (input/output transforms) or transform
// positions [e0, e1) (products), for one block of `tiles` tiles starting at tile `tbase` (tiles
// are numbered over the whole batch; a block's transformed values stay in cache).
// v [16][tiles][cin], m [16][tiles][coutp] with coutp = cout rounded to 16.
struct WinogradPlan {
  const DirectConv* a;
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

// Weight gradient (F(3x3,2x2), the forward read backwards): per 2x2 output tile,
// dW += G^T [(A dy A^T) . (B^T d B)] G, so with V[e][t][c] = B^T d B (the input transform) and
// W[e][t][k] = A dy A^T (winograd_grad_output), M[e][k][c] = sum_t W[e][t][k] V[e][t][c] is 16
// products with the tiles as the reduction (winograd_weight_product) and dW = G^T M G once.
// 36 / 16 = 2.25x fewer multiplies than im2col + GEMM, and no im2col.
// winograd_input / winograd_grad_output dispatch on the active ISA (AVX2 path, or the portable
// loops); dy is dense NHWC [n][h][w][cout] without padding; the plan's m has row stride coutp.
void winograd_input(const WinogradPlan& p, int64_t t0, int64_t t1);
void winograd_grad_output(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1);
// m[e][k][c] (=|+=) sum_t w[e][t][k] * v[e][t][c] for the 16 transform positions, w [16][tiles][cout]
// and v [16][tiles][cin] dense (the weight gradient's products; AVX2 path or the plain loops).
void winograd_weight_product(const float* w, const float* v, int64_t tiles, int64_t cout, int64_t cin, float* m,
                             bool accumulate);
void winograd_weight_product_avx2(const float* w, const float* v, int64_t tiles, int64_t cout, int64_t cin, float* m,
                                  bool accumulate);
// m [16][cout][cin] -> gw [cout][cin][3][3] = G^T m G (computed in double; `=`).
void winograd_weight_grad_finish(const float* m, int64_t cout, int64_t cin, float* gw);

}  // namespace ember::cpu
