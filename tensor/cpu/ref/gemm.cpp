#include "tensor/cpu/ref/gemm.h"

namespace ember::cpu::ref {

void gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const int64_t bt = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  dispatch_float(a.dtype(), "ref::gemm", [&]<typename T>() {
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
    for (int64_t q = 0; q < bt; ++q)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < k; ++p)
            acc += double(ap[q * a.stride(0) + i * a.stride(1) + p * a.stride(2)]) *
                   double(bp[q * b.stride(0) + p * b.stride(1) + j * b.stride(2)]);
          T& c = op[(q * m + i) * n + j];
          c = accumulate ? T(double(c) + acc) : T(acc);
        }
  });
}

}  // namespace ember::cpu::ref
