// Matmul precision: how f32 matrix products are computed on the CPU (like PyTorch's
// torch.set_float32_matmul_precision). It applies to every f32 GEMM that reaches the CPU backend:
// matmul/bmm forward and backward, linear layers, and conv (im2col + GEMM).
//
//   highest  (default) operands stay f32; products and sums in f32 (about 24 significant bits).
//   bf16     each operand element is rounded to bfloat16 (8 significant bits, f32's exponent range;
//            round to nearest even, NaN stays NaN, inf stays inf, f32 subnormals become signed
//            zero as the AVX512-BF16 conversion does), products are exact in f32 and sums are
//            accumulated in f32. Relative error per product is up to 2^-8 (about 0.4%), so a dot
//            product of length K has error about 2^-8 * sum|a*b| in the worst case and much less
//            on average; meant for mixed-precision training. Uses VDPBF16PS (AVX512-BF16) where the
//            CPU has it and the active ISA is avx512; elsewhere a portable kernel with the same
//            rounding gives the same class of results (not bit-identical: summation order differs).
//
// The initial value comes from the environment variable EMBER_MATMUL_PRECISION=highest|bf16, read
// once on first use (any other value throws ember::Error naming the variable). f64 GEMMs and the
// CUDA backend are not affected.
#pragma once

#include <string_view>

namespace ember {

enum class MatmulPrecision { highest, bf16 };

void set_matmul_precision(MatmulPrecision p);  // process-wide; takes effect on the next GEMM
MatmulPrecision matmul_precision();
std::string_view matmul_precision_name(MatmulPrecision p);    // "highest" or "bf16"
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
