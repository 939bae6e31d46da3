// Depthwise convolution on the CPU (groups == C_in == C_out, weight [C, 1, kh, kw]): forward,
// gradient w.r.t. the input and w.r.t. the weight, each one pass over (n, c) planes instead of the
// per-image, per-group im2col + tiny GEMMs the generic grouped path would run (one 1-row GEMM per
// channel). This is the first half of every separable / dilated conv of a NAS cell.
//
// Legend: N batch, C channels, H/W input, OH/OW output, kh/kw kernel, sh/sw stride, ph/pw zero
// padding, dh/dw dilation (all in Conv2dGeom). Each plane is copied once into a zero-padded buffer
// so every output row is a branch-free sum of kh*kw shifted input rows. f32 with sw == 1 runs the
// AVX-512 / AVX2 plane kernels (depthwise_avx512.cpp / depthwise_avx2.cpp, per cpu::active_isa());
// everything else (f64, strides > 1 along W, scalar ISA) the plain loops in depthwise.cpp.
// Results depend on the ISA (FMA vs mul+add), never on the thread count.
#pragma once

#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace ember::cpu {

// True when the conv with `groups` and `m` output channels is depthwise and `t` (any operand) is
// an f32/f64 CPU tensor: the three functions below then apply.
bool depthwise_applies(const Tensor& t, const Conv2dGeom& g, int64_t groups, int64_t m);

// out [N, C, OH, OW] contiguous (=, or += when accumulate) depthwise conv of x [N, C, H, W] (any
// strides) with w [C, 1, kh, kw] contiguous.
void depthwise_forward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& out, bool accumulate);
// gx [N, C, H, W] contiguous += the input gradient of grad_out [N, C, OH, OW] contiguous.
void depthwise_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dGeom& g, const Tensor& gx);
// gw [C, 1, kh, kw] contiguous = the weight gradient, sum over n of grad_out[n, c] . x[n, c] shifted.
void depthwise_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dGeom& g, const Tensor& gw);

// The SIMD plane kernels (sw == 1; pad is a zero-padded plane of row length wp with >= 64 floats of
// readable slack after it). out (=|+=) one output plane; acc[kh*kw] += the weight gradient of one plane.
struct DwPlane {
  const float* pad;
  int64_t wp;       // padded row length
  int64_t oh, ow;   // output plane
  int64_t kh, kw, sh, dh, dw;
};
void dw_fwd_plane_f32_avx2(const DwPlane& p, const float* w, float* out, bool accumulate);
void dw_fwd_plane_f32_avx512(const DwPlane& p, const float* w, float* out, bool accumulate);
void dw_wgrad_plane_f32_avx2(const DwPlane& p, const float* gy, float* acc);
void dw_wgrad_plane_f32_avx512(const DwPlane& p, const float* gy, float* acc);

}  // namespace ember::cpu
