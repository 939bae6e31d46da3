// The portable bf16 kernel (gemm_bf16_kernels.h) built with AVX2 + FMA: the fallback on CPUs without
// AVX512-BF16 (or with the ISA forced to avx2). Tile 6 x 16 as the f32 AVX2 kernel (12 ymm sums).
#include "tensor/cpu/gemm_bf16_kernels.h"

namespace ember::cpu {

void gemm_bf16_portable_avx2(const GemmArgs& g) { Bf16GemmDriver<PortableKernel<6, 16>, 144, 256, 3072>::run(g); }

}  // namespace ember::cpu
