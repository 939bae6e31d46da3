// CPU copy (with dtype conversion by tensor/dtype.h's convert rule) and fill. Both accept any strided destination; copy's source
// may be an expanded view (zero strides). Row loops are contiguous when both sides are.
#include <algorithm>
#include <cstring>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"

namespace ember::cpu {

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  EMBER_ASSERT(src.shape() == dst.shape(), "copy: src {} vs dst {}", shape_str(src.shape()), shape_str(dst.shape()));
  if (dst.numel() == 0) return;
  StridedLoop<2> loop(dst.shape(), {src.strides(), dst.strides()});
  dispatch_all(src.dtype(), "copy", [&]<typename S>() {
    dispatch_all(dst.dtype(), "copy", [&]<typename D>() {
      const S* s = src.data<S>();
      D* d = dst.data<D>();
      loop.run(kElementwiseGrain * 4, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
        const S* sp = s + off[0];
        D* dp = d + off[1];
        if constexpr (std::is_same_v<S, D>) {
          if (st[0] == 1 && st[1] == 1) {
            std::memcpy(dp, sp, size_t(n) * sizeof(D));
            return;
          }
        }
        if (st[0] == 0 && st[1] == 1) {  // a broadcast row (conv's bias fill): a vectorized fill
          std::fill(dp, dp + n, convert<D>(sp[0]));
          return;
        }
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) dp[i] = convert<D>(sp[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) dp[i * st[1]] = convert<D>(sp[i * st[0]]);
        }
      });
    });
  });
}

void CpuBackend::fill(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  StridedLoop<1> loop(dst.shape(), {dst.strides()});
  dispatch_all(dst.dtype(), "fill", [&]<typename T>() {
    T* d = dst.data<T>();
    const T v = convert<T>(value);
    loop.run(kElementwiseGrain * 4, [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
      T* p = d + off[0];
      if (st[0] == 1) {
        for (int64_t i = 0; i < n; ++i) p[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) p[i * st[0]] = v;
      }
    });
  });
}

}  // namespace ember::cpu
