// Scalar references for the convolution lowering (im2col / col2im): one bounds test per element,
// obviously right, slow. tests/tensor/test_cpu_conv.cpp checks the kernels in ../conv.cpp against them.
// Legend: N batch, C channels, H/W input size, kh/kw kernel, OH/OW output size, L = OH*OW.
#pragma once

#include "tensor/backend.h"

namespace ember::cpu::ref {

// x [N, C, H, W] any strides -> col [N, C*kh*kw, L] contiguous (`=`).
void im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col);
// col [N, C*kh*kw, L] contiguous -> x [N, C, H, W] contiguous (`+=`).
void col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x);

}  // namespace ember::cpu::ref
