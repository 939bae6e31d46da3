// 2-D convolution forward on the GPU outside autograd, for the conv benches and their tests:
// our implicit-GEMM kernel or cuDNN, chosen per call or by EMBER_CONV=own|cudnn.
// (Autograd's conv2d on a CUDA tensor runs im2col + Backend::gemm and col2im for the gradients.)
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

}  // namespace ember::cuda
