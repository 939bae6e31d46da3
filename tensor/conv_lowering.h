// Convolution lowered to a backend's own im2col / col2im and batched GEMM primitives, one GEMM per
// image (per group). Any backend can implement conv2d_fwd / bwd_data / bwd_weight with these; the
// CPU backend uses them for grouped convs and large 1x1 ones (tensor/cpu/conv.cpp), the CUDA
// backend where its implicit-GEMM kernels do not apply (cuda/conv.cpp).
//
// Legend: N batch, C input channels, M output channels (both over all G groups), L = OH*OW,
// K = (C/G)*kh*kw the GEMM depth. col(img) = im2col(img) is [N, G*K, L] (group g's rows
// contiguous), built for a chunk of the batch at a time (<= kColBudget elements); a 1x1,
// stride-1, unpadded conv on a contiguous image uses the image itself as col.
//   lower:       y[n, g]   = W_g @ col(x)[n, g]            (conv2d_fwd)
//   raise:       x[n]     += col2im(W_g^T @ y[n, g])       (conv2d_bwd_data)
//   weight_grad: gW_g      = sum_n gy[n, g] @ col(x)[n, g]^T   (conv2d_bwd_weight)
#pragma once

#include "tensor/backend.h"

namespace ember::conv_lowering {

inline constexpr int64_t kColBudget = int64_t{1} << 22;  // elements of one col chunk (16 MiB in f32)

// Contracts as Backend::conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight (tensor/backend.h).
void forward(Backend& be, const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate);
void backward_data(Backend& be, const Tensor& gy, const Tensor& w, const Conv2dGeom& g, const Tensor& gx);
void backward_weight(Backend& be, const Tensor& gy, const Tensor& x, const Conv2dGeom& g, const Tensor& gw);

// [nb, d1, d2] contiguous view of a contiguous tensor, starting at batch index n0.
inline Tensor batch_view(const Tensor& t, int64_t n0, int64_t nb, int64_t d1, int64_t d2) {
  return t.as_strided({nb, d1, d2}, {d1 * d2, d2, 1}, t.offset() + n0 * d1 * d2);
}
// Images n0 .. n0+nb of x [N, C, H, W] (any strides).
inline Tensor image_chunk(const Tensor& x, const Conv2dGeom& g, int64_t n0, int64_t nb) {
  return x.as_strided({nb, g.c, g.h, g.w}, x.strides(), x.offset() + n0 * x.stride(0));
}

}  // namespace ember::conv_lowering
