// bf16 GEMM dispatch, and the portable kernel (gemm_bf16_kernels.h) built for the baseline ISA; its
// AVX2 build is gemm_bf16_avx2.cpp.
#include "tensor/cpu/gemm_bf16.h"

#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16_kernels.h"

namespace ember::cpu {
void gemm_bf16_portable(const GemmArgs& g) { Bf16GemmDriver<PortableKernel<6, 8>, 144, 256, 2048>::run(g); }

void gemm_bf16(const GemmArgs& g) {
  if (has_avx512_bf16()) return gemm_bf16_avx512(g);
  if (active_isa() != Isa::scalar) return gemm_bf16_portable_avx2(g);
  gemm_bf16_portable(g);
}

}  // namespace ember::cpu
