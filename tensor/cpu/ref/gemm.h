// Scalar reference GEMM: the obviously-right triple loop every fast GEMM path is tested against.
#pragma once

#include "tensor/tensor.h"

namespace ember::cpu::ref {

// a [Bt, M, K], b [Bt, K, N] any strides (f32 or f64); out [Bt, M, N] contiguous.
// Accumulates each dot product in double. out = a@b, or += when accumulate.
void gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate);

}  // namespace ember::cpu::ref
