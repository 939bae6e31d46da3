// Strided loops shared by the CPU elementwise, copy and reduction drivers.
// A StridedLoop<K> walks an n-d index space in row-major order for K operands, each with its own
// strides (in elements). Dims are coalesced first (adjacent dims merge when every operand is
// contiguous across them, size-1 dims drop out), so a contiguous tensor becomes one long row.
// The innermost dim is the "row": callers get base offsets plus the inner length and strides and
// run a tight loop, which the compiler vectorizes when every inner stride is 1.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/parallel.h"
#include "tensor/shape.h"

namespace ember::cpu {

template <int K>
class StridedLoop {
 public:
  StridedLoop(const Shape& shape, const std::array<Strides, K>& strides) {
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      bool merge = !shape_.empty();
      for (int k = 0; k < K && merge; ++k) merge = strides_[k].back() == strides[k][d] * shape[d];
      if (merge) {
        shape_.back() *= shape[d];
        for (int k = 0; k < K; ++k) strides_[k].back() = strides[k][d];
      } else {
        shape_.push_back(shape[d]);
        for (int k = 0; k < K; ++k) strides_[k].push_back(strides[k][d]);
      }
    }
    if (shape_.empty()) {  // a single element
      shape_.push_back(1);
      for (int k = 0; k < K; ++k) strides_[k].push_back(0);
    }
    numel_ = numel_of(shape_);
  }

  int64_t inner() const { return shape_.back(); }
  int64_t rows() const { return inner() == 0 ? 0 : numel_ / inner(); }

  // f(offsets, n, inner_strides) for each row in [row_begin, row_end).
  template <typename F>
  void run_rows(int64_t row_begin, int64_t row_end, F&& f) const {
    const int nd = static_cast<int>(shape_.size()) - 1;  // outer dims
    std::array<int64_t, K> inner_st;
    for (int k = 0; k < K; ++k) inner_st[k] = strides_[k].back();
    // Multi-index of row_begin over the outer dims, and the operands' offsets there.
    std::vector<int64_t> idx(nd, 0);
    std::array<int64_t, K> off{};
    int64_t r = row_begin;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = r % shape_[d];
      r /= shape_[d];
      for (int k = 0; k < K; ++k) off[k] += idx[d] * strides_[k][d];
    }
    for (int64_t row = row_begin; row < row_end; ++row) {
      f(off, shape_.back(), inner_st);
      for (int d = nd - 1; d >= 0; --d) {  // odometer increment
        ++idx[d];
        for (int k = 0; k < K; ++k) off[k] += strides_[k][d];
        if (idx[d] < shape_[d]) break;
        for (int k = 0; k < K; ++k) off[k] -= shape_[d] * strides_[k][d];
        idx[d] = 0;
      }
    }
  }

  // Parallel over rows; `grain` is in elements.
  template <typename F>
  void run(int64_t grain, F&& f) const {
    int64_t row_grain = std::max<int64_t>(1, grain / std::max<int64_t>(inner(), 1));
    parallel_for(rows(), row_grain, [&](int64_t b, int64_t e) { run_rows(b, e, f); });
  }

 private:
  Shape shape_;
  std::array<Strides, K> strides_;
  int64_t numel_ = 0;
};

// Elements per thread below which elementwise work stays on one thread.
constexpr int64_t kElementwiseGrain = 32768;
// Rows per parallel chunk for row kernels of width d: at least kElementwiseGrain elements.
inline int64_t row_grain(int64_t d) { return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(d, 1)); }

}  // namespace ember::cpu
