// Direct convolution for small planes (W6's 6x7 boards, 7x7 maps) in a padded NHWC layout, for
// inference: no im2col, no packing of the input, no allocation per call.
//
// Layout: an activation is [N][H + 2*pad][W + 2*pad][C] floats with a zero border of `pad` (the
// caller keeps the border zero; the kernel writes only the interior of its output). Weights are
// packed once (pack_conv_weights) into blocks of 16 output channels: [ceil(O/16)][k][k][I][16].
// The convolution is stride 1, dilation 1, "same" padding k/2 (k odd); output = act(conv + bias +
// residual), act = identity or relu, bias and residual optional.
//
// Kernel: an implicit GEMM with positions as rows (batch folded in) and output channels as columns:
// a tile of 6 positions x 16 channels lives in 12 ymm accumulators (AVX2: conv_direct_avx2.cpp);
// the input values are broadcast straight from the padded planes. Threads take position tiles
// only when the convolution is large enough to pay for waking them (batch 1 on a board stays on
// one thread). The scalar path is the portable fallback; tests/tensor/test_cpu_conv_direct.cpp
// checks every ISA path against ref::im2col + a plain product. AVX-512 machines run the AVX2
// kernel (no 512-bit version yet).
#pragma once

#include <cstdint>

namespace ember::cpu {

struct DirectConv {
  int64_t n = 1, h = 1, w = 1;  // batch and plane size (input = output size)
  int64_t cin = 1, cout = 1, k = 3;
  const float* x = nullptr;  // [n][h + 2*x_pad][w + 2*x_pad][cin], x_pad >= k/2
  int64_t x_pad = 1;
  const float* packed_w = nullptr;  // pack_conv_weights
  const float* bias = nullptr;      // [cout] or null
  const float* residual = nullptr;  // same layout and padding as y, or null
  bool relu = false;
  float* y = nullptr;  // [n][h + 2*y_pad][w + 2*y_pad][cout]; only the interior is written
  int64_t y_pad = 0;
};

constexpr int64_t kDirectConvBlock = 16;  // output channels per packed block

// Floats pack_conv_weights writes for weights [cout][cin][k][k].
int64_t packed_conv_weights_size(int64_t cout, int64_t cin, int64_t k);
// w [cout][cin][k][k] (PyTorch layout) -> packed (zero-filled past cout).
void pack_conv_weights(const float* w, int64_t cout, int64_t cin, int64_t k, float* packed);

// Runs the convolution on the active ISA; checks the geometry (one-line errors).
void conv_direct(const DirectConv& a);

// One position tile [m0, m1) of positions x every output channel block, per ISA (conv_direct.cpp
// splits the work and calls these).
void conv_direct_rows_scalar(const DirectConv& a, int64_t m0, int64_t m1);
void conv_direct_rows_avx2(const DirectConv& a, int64_t m0, int64_t m1);

}  // namespace ember::cpu
