// The CUDA backend: every Backend primitive on the device's stream with our kernels. The methods
// are split by family (backend_*.cpp), each translating Tensors into the launchers' POD arguments
// (kernels/kernels.h); the kernels live in kernels/*.cu and gemm/*.cu.
// All tensors of a call live on one CUDA device, except copy(), which also moves data between the
// host and a device, or between devices, with dtype conversion.
#pragma once

#include <array>

#include "cuda/common.cuh"
#include "tensor/backend.h"

namespace ember::cuda {

class CudaBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda(); }

  EMBER_BACKEND_SUPPORTS(cuda)
  EMBER_BACKEND_OVERRIDES(cuda)  // every primitive of tensor/op_list.h with a 1 in its cuda column
};

// ---- helpers shared by backend_*.cpp ----
// Makes the tensors' device current (all must share it) and checks a device exists.
void use_device(const Tensor& t);
// Coalesced iteration over `shape` for K operands with the given strides (innermost last).
template <int K>
Iter<K> make_iter(const Shape& shape, const std::array<Strides, K>& strides);
// Temporary device buffer from the caching allocator, released at scope exit.
Tensor scratch(const Shape& shape, DType dtype, Device device);

}  // namespace ember::cuda
