// Shared CUDA helpers: error checks that throw ember::Error (never exit), ceil_div.
#pragma once

#include <cuda_runtime.h>

#include "tensor/error.h"

namespace ember::cuda {

// Throws with the call text, the error code and its string, and file:line.
#define EMBER_CUDA_CHECK(call)                                                                      \
  do {                                                                                              \
    cudaError_t ember_err_ = (call);                                                                \
    if (ember_err_ != cudaSuccess) [[unlikely]]                                                     \
      ::ember::detail::throw_error(::fmt::format("cuda: {} failed with {} ({}) at {}:{}", #call,     \
                                                 static_cast<int>(ember_err_),                      \
                                                 cudaGetErrorString(ember_err_), __FILE__, __LINE__)); \
  } while (0)

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace ember::cuda
