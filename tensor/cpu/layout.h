// Plane transposes for layout changes (NCHW <-> NHWC around the Winograd convolution,
// tensor/cpu/conv.cpp): dst[j * ldd + i] (= or +=) src[i * lds + j] for i < rows, j < cols.
// AVX2 path: 8x8 blocks transposed in registers (layout_avx2.cpp); the scalar loop is the
// reference and the edge path. Both give the same bits (a copy, or one add per element).
#pragma once

#include <cstdint>

namespace ember::cpu {

void transpose_f32(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd,
                   bool accumulate);

// Per ISA (transpose_f32 dispatches): the scalar loop over [r0, r1) x [c0, c1).
void transpose_f32_scalar(const float* src, int64_t r0, int64_t r1, int64_t c0, int64_t c1, int64_t lds, float* dst,
                          int64_t ldd, bool accumulate);
void transpose_f32_avx2(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd,
                        bool accumulate);

}  // namespace ember::cpu
