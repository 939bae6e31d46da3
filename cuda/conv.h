// 2-D convolution forward and backward on the GPU with an explicit implementation, for the conv
// benches and their tests: our implicit-GEMM kernels or cuDNN, chosen per call. Autograd's conv2d
// reaches the same kernels through the backend primitives (CudaBackend::conv2d_fwd and co., in
// conv.cpp), where EMBER_CONV=own|cudnn overrides the choice.
#pragma once

#include <string>

#include "tensor/backend.h"

namespace ember::cuda {

enum class ConvImpl : uint8_t { own, cudnn };
ConvImpl conv_impl_from_env();  // EMBER_CONV, default own
bool have_cudnn();

// x [N, C, H, W] f32 (any strides for own, contiguous for cudnn), weight [Cout, C, kh, kw]
// contiguous, y [N, Cout, OH, OW] contiguous (`=`); no bias. Throws naming the call on failure.
void conv2d_forward(const Tensor& x, const Tensor& weight, const Conv2dGeom& g, const Tensor& y, ConvImpl impl);
// Gradients of that convolution for grad_y [N, Cout, OH, OW] (contiguous): grad_x [N, C, H, W]
// and grad_weight [Cout, C, kh, kw], both contiguous and overwritten. own = implicit GEMM.
void conv2d_backward_data(const Tensor& grad_y, const Tensor& weight, const Conv2dGeom& g, const Tensor& grad_x,
                          ConvImpl impl);
void conv2d_backward_weight(const Tensor& x, const Tensor& grad_y, const Conv2dGeom& g, const Tensor& grad_weight,
                            ConvImpl impl);

}  // namespace ember::cuda
