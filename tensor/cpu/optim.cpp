// Fused optimizer updates on CPU: Adam/AdamW in one pass over param, grad, exp_avg, exp_avg_sq
// (the composite version makes ~8 passes and 4 temporaries). Contiguous operands only; split
// across threads in 64-byte-aligned chunks above a grain; f32 runs the AVX2 row when the active
// ISA has it (AVX-512 reuses it: the loop is memory-bound), f64 the scalar row.
#include <cmath>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/optim.h"
#include "tensor/parallel.h"

namespace ember::cpu {

bool CpuBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                             const AdamStep& s) {
  const DType dt = param.dtype();
  if (dt != DType::f32 && dt != DType::f64) return false;
  for (const Tensor* t : {&grad, &exp_avg, &exp_avg_sq})
    if (t->dtype() != dt || t->shape() != param.shape() || !t->is_contiguous()) return false;
  if (!param.is_contiguous() || s.step < 1) return false;
  AdamCoeffs c;
  c.decay = s.decoupled ? 1 - s.lr * s.weight_decay : 1;
  c.l2 = s.decoupled ? 0 : s.weight_decay;
  c.beta1 = s.beta1;
  c.beta2 = s.beta2;
  c.step_size = s.lr / (1 - std::pow(s.beta1, double(s.step)));
  c.inv_sqrt_bc2 = 1 / std::sqrt(1 - std::pow(s.beta2, double(s.step)));
  c.eps = s.eps;
  const int64_t n = param.numel();
  constexpr int64_t kGrain = 1 << 16;  // elements; below this one thread streams it faster
  constexpr int64_t kChunk = 16;       // chunk boundaries stay on 64-byte lines
  dispatch_float(dt, "adam_update", [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    const bool avx2 = std::is_same_v<T, float> && active_isa() != Isa::scalar;
    parallel_for((n + kChunk - 1) / kChunk, kGrain / kChunk, [&](int64_t b, int64_t e) {
      const int64_t i0 = b * kChunk, len = std::min(n, e * kChunk) - i0;
      if constexpr (std::is_same_v<T, float>) {
        if (avx2) return adam_row_f32_avx2(p + i0, g + i0, m + i0, v + i0, len, c);
      }
      adam_row_scalar(p + i0, g + i0, m + i0, v + i0, len, c);
    });
  });
  return true;
}

}  // namespace ember::cpu
