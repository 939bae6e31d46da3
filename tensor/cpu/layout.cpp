// Plane transposes (layout.h): the scalar reference loop and the ISA dispatch.
#include "tensor/cpu/layout.h"

#include "tensor/cpu/cpu_features.h"

namespace ember::cpu {

void transpose_f32_scalar(const float* src, int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t lds, float* dst,
                          int64_t ldd, bool accumulate) {
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = c0; j < c1; ++j) {
      if (accumulate) dst[j * ldd + i] += src[i * lds + j];
      else dst[j * ldd + i] = src[i * lds + j];
    }
}

void transpose_f32(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd,
                   bool accumulate) {
  if (active_isa() != Isa::scalar) return transpose_f32_avx2(src, rows, cols, lds, dst, ldd, accumulate);
  transpose_f32_scalar(src, 0, rows, 0, cols, lds, dst, ldd, accumulate);
}

}  // namespace ember::cpu
