// Matmul precision: how f32 matrix products are computed, on every backend (like PyTorch's
// torch.set_float32_matmul_precision). It applies to every f32 GEMM and convolution that reaches a
// backend: matmul/bmm forward and backward, linear layers, conv2d / conv_transpose2d.
//
//   highest  (default) operands stay f32; products and sums in f32 (about 24 significant bits).
//            CUDA: our SIMT GEMM and implicit-GEMM convolution.
//   tf32     operands may be rounded to TF32 (11 significant bits), sums in f32. CUDA: the
//            tensor-core GEMM (conv as im2col + that GEMM). The CPU has no TF32 units and runs
//            these products as highest (a permission to lose precision, not a demand).
//   bf16     each operand element is rounded to bfloat16 (8 significant bits, f32's exponent range;
//            round to nearest even, NaN stays NaN, inf stays inf, f32 subnormals become signed
//            zero as the AVX512-BF16 conversion does), products are exact in f32 and sums are
//            accumulated in f32. Relative error per product is up to 2^-8 (about 0.4%), so a dot
//            product of length K has error about 2^-8 * sum|a*b| in the worst case and much less
//            on average; meant for mixed-precision training. Uses VDPBF16PS (AVX512-BF16) where the
//            CPU has it and the active ISA is avx512; elsewhere a portable kernel with the same
//            rounding gives the same class of results (not bit-identical: summation order differs).
//            CUDA has no bf16 kernel yet and runs bf16 as tf32 (the nearest precision it has).
//
// The initial value comes from the environment variable EMBER_MATMUL_PRECISION=highest|tf32|bf16,
// read once on first use (any other value throws ember::Error naming the variable). f64 GEMMs are
// not affected. On CUDA, EMBER_GEMM / EMBER_CONV (cuda/cuda.h) override this choice for
// benchmarking (e.g. cuBLAS or cuDNN baselines).
#pragma once

#include <string_view>

namespace ember {

enum class MatmulPrecision { highest, tf32, bf16 };

void set_matmul_precision(MatmulPrecision p);  // process-wide; takes effect on the next GEMM
MatmulPrecision matmul_precision();
std::string_view matmul_precision_name(MatmulPrecision p);    // "highest", "tf32" or "bf16"
MatmulPrecision parse_matmul_precision(std::string_view name);  // throws ember::Error on other names

// Sets a precision for a scope and restores the previous one on exit.
class MatmulPrecisionGuard {
 public:
  explicit MatmulPrecisionGuard(MatmulPrecision p) : saved_(matmul_precision()) { set_matmul_precision(p); }
  ~MatmulPrecisionGuard() { set_matmul_precision(saved_); }
  MatmulPrecisionGuard(const MatmulPrecisionGuard&) = delete;
  MatmulPrecisionGuard& operator=(const MatmulPrecisionGuard&) = delete;

 private:
  MatmulPrecision saved_;
};

}  // namespace ember
