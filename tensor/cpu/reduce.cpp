// CPU reductions: sum/prod/max/min over any set of dims, and max/min with indices along one dim.
// Legend: K = number of kept output elements, R = number of reduced elements per output.
// Two strategies, picked by where the innermost (last) dim of x goes:
//  * inner: the last dim is reduced -> each output element reduces its R inputs (rows of x),
//    with 16 partial accumulators so the contiguous case vectorizes, float sums in pairwise-added
//    blocks (reduce_row); parallel over K.
//    Reduced rows are the outer loop, so memory is walked in order (see reduce_inner).
//  * outer: the last dim is kept -> for each reduced index, whole output rows are updated
//    (out[k] op= x[k, r]) with unit-stride loops; parallel over kept rows (no write sharing).
#include <cmath>
#include <limits>
#include <type_traits>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/loops.h"

namespace ember::cpu {
namespace {

template <typename T>
T identity_of(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum: return T(0);
    case ReduceOp::prod: return T(1);
    case ReduceOp::max:
      return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                  : std::numeric_limits<T>::lowest();
    case ReduceOp::min:
      return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  return T(0);
}

// max/min propagate NaN, like PyTorch. The op is a template argument in the hot loops, so each
// loop is a plain vectorizable sum/product/select (a runtime switch per element kept the 8-lane
// inner loop scalar).
template <ReduceOp Op, typename T>
T combine(T acc, T v) {
  if constexpr (Op == ReduceOp::sum) return T(acc + v);
  if constexpr (Op == ReduceOp::prod) return T(acc * v);
  if constexpr (Op == ReduceOp::max) return (v > acc || v != v) ? v : acc;
  if constexpr (Op == ReduceOp::min) return (v < acc || v != v) ? v : acc;
  return acc;
}

// f.template operator()<Op>() with the runtime op made a compile-time one.
template <typename F>
void with_op(ReduceOp op, F&& f) {
  switch (op) {
    case ReduceOp::sum: return f.template operator()<ReduceOp::sum>();
    case ReduceOp::prod: return f.template operator()<ReduceOp::prod>();
    case ReduceOp::max: return f.template operator()<ReduceOp::max>();
    case ReduceOp::min: return f.template operator()<ReduceOp::min>();
  }
}

struct Split {
  Shape kept_shape, red_shape;
  Strides kept_x, kept_out, red_x;
};

Split split_dims(const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) {
  Split s;
  size_t j = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (j < dims.size() && dims[j] == d) {
      s.red_shape.push_back(x.size(d));
      s.red_x.push_back(x.stride(d));
      ++j;
    } else {
      s.kept_shape.push_back(x.size(d));
      s.kept_x.push_back(x.stride(d));
      s.kept_out.push_back(out.stride(d));
    }
  }
  return s;
}

// Offsets (relative to x's first element) of every reduced position, row-major.
std::vector<int64_t> reduced_offsets(const Split& s) {
  std::vector<int64_t> offs;
  offs.reserve(size_t(numel_of(s.red_shape)));
  StridedLoop<1> red(s.red_shape, {s.red_x});
  red.run_rows(0, red.rows(), [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
    for (int64_t i = 0; i < n; ++i) offs.push_back(off[0] + i * st[0]);
  });
  return offs;
}

// One row of the reduced space (m elements, `stride` apart) folded into kAcc independent
// accumulators (`acc`, which the caller initializes): 16 floats are four SSE registers, enough
// adds in flight to hide the add latency.
constexpr int kAcc = 16;
template <ReduceOp op, typename T>
void fold_block(const T* p, int64_t m, int64_t stride, T* acc) {
  if (stride == 1) {
    int64_t i = 0;
    for (; i + kAcc <= m; i += kAcc)
      for (int l = 0; l < kAcc; ++l) acc[l] = combine<op>(acc[l], p[i + l]);
    for (; i < m; ++i) acc[0] = combine<op>(acc[0], p[i]);
  } else {
    for (int64_t i = 0; i < m; ++i) acc[0] = combine<op>(acc[0], p[i * stride]);
  }
}

// Floating sums: the row is cut into blocks of kBlock elements (64 per accumulator) and the
// blocks' accumulator vectors are added pairwise (a binary counter keeps one pending vector per
// tree level; a merge is 16 lane-wise adds), so the rounding error grows with
// log2(m / kBlock) + 64 instead of m / 16: a 2^20-element f32 sum went from ~3e-7 to ~1e-8
// relative error (PyTorch's cascade sum: ~5e-8), at the same speed. Other ops fold straight through.
constexpr int64_t kBlock = 1024;
template <ReduceOp op, typename T>
T reduce_row(const T* p, int64_t m, int64_t stride) {
  T acc[kAcc];
  for (auto& a : acc) a = identity_of<T>(op);
  if constexpr (op == ReduceOp::sum && std::is_floating_point_v<T>) {
    if (m > kBlock) {
      T level[48][kAcc];  // 2^48 blocks: far past any tensor
      int top = 0;
      uint64_t count = 0;
      for (int64_t i = 0; i < m; i += kBlock, ++count) {
        for (auto& a : acc) a = T(0);
        fold_block<op>(p + i * stride, std::min(kBlock, m - i), stride, acc);
        for (uint64_t c = count; c & 1; c >>= 1) {  // merge equal-sized subtrees
          --top;
          for (int l = 0; l < kAcc; ++l) acc[l] = level[top][l] + acc[l];
        }
        for (int l = 0; l < kAcc; ++l) level[top][l] = acc[l];
        ++top;
      }
      for (int l = 0; l < kAcc; ++l) acc[l] = level[top - 1][l];
      for (--top; top > 0; --top)
        for (int l = 0; l < kAcc; ++l) acc[l] = level[top - 1][l] + acc[l];
    } else {
      fold_block<op>(p, m, stride, acc);
    }
  } else {
    fold_block<op>(p, m, stride, acc);
  }
  T total = acc[0];
  for (int l = 1; l < kAcc; ++l) total = combine<op>(total, acc[l]);
  return total;
}

// Loop order: reduced rows outside, kept elements inside. For a conv bias gradient (sum over
// {0, 2, 3} of [N, C, H, W]) that walks x front to back (n, then c, then the H*W row) instead of
// jumping C*H*W elements between the N rows of one channel (measured 10 -> 50 GB/s).
template <ReduceOp op, typename T>
void reduce_inner(const Tensor& x, const Split& s, const Tensor& out) {
  const T* xp = x.data<T>();
  T* outp = out.data<T>();
  StridedLoop<1> red(s.red_shape, {s.red_x});
  struct Row {
    int64_t off, m, stride;
  };
  std::vector<Row> rows;
  rows.reserve(size_t(red.rows()));
  red.run_rows(0, red.rows(), [&](const std::array<int64_t, 1>& ro, int64_t m, const std::array<int64_t, 1>& rs) {
    rows.push_back({ro[0], m, rs[0]});
  });
  const int64_t k_total = numel_of(s.kept_shape), r = numel_of(s.red_shape);
  const int nd = static_cast<int>(s.kept_shape.size());
  parallel_for(k_total, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(r, 1)), [&](int64_t b, int64_t e) {
    // Offsets of each kept element k in x and in out (row-major index -> strided offsets).
    std::vector<int64_t> xoff(size_t(e - b), 0), ooff(size_t(e - b), 0);
    std::vector<T> part(size_t(e - b), identity_of<T>(op));
    for (int64_t k = b; k < e; ++k) {
      int64_t rem = k;
      for (int d = nd - 1; d >= 0; --d) {
        const int64_t i = rem % s.kept_shape[d];
        rem /= s.kept_shape[d];
        xoff[size_t(k - b)] += i * s.kept_x[d];
        ooff[size_t(k - b)] += i * s.kept_out[d];
      }
    }
    for (const Row& row : rows)
      for (size_t k = 0; k < part.size(); ++k)
        part[k] = combine<op>(part[k], reduce_row<op>(xp + xoff[k] + row.off, row.m, row.stride));
    for (size_t k = 0; k < part.size(); ++k) outp[ooff[k]] = part[k];
  });
}

template <ReduceOp op, typename T>
void reduce_outer(const Tensor& x, const Split& s, const Tensor& out) {
  const T* xp = x.data<T>();
  T* op_ = out.data<T>();
  StridedLoop<2> kept(s.kept_shape, {s.kept_x, s.kept_out});
  std::vector<int64_t> red = reduced_offsets(s);
  const T init = identity_of<T>(op);
  int64_t row_grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(kept.inner() * int64_t(red.size()), 1));
  parallel_for(kept.rows(), row_grain, [&](int64_t b, int64_t e) {
    kept.run_rows(b, e, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
      T* o = op_ + off[1];
      for (int64_t i = 0; i < n; ++i) o[i * st[1]] = init;
    });
    for (int64_t roff : red) {
      kept.run_rows(b, e, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
        const T* p = xp + off[0] + roff;
        T* o = op_ + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = combine<op>(o[i], p[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[1]] = combine<op>(o[i * st[1]], p[i * st[0]]);
        }
      });
    }
  });
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) {
  EMBER_ASSERT(out.dim() == x.dim(), "reduce: out {} must keep the dims of x {}", shape_str(out.shape()),
               shape_str(x.shape()));
  if (out.numel() == 0) return;
  Split s = split_dims(x, dims, out);
  if (s.red_shape.empty() || x.numel() == 0) {  // nothing to reduce: copy or fill the identity
    if (x.numel() == 0) {
      dispatch_all(x.dtype(), "reduce", [&]<typename T>() { fill(out, double(identity_of<T>(op))); });
    } else {
      copy(x, out);
    }
    return;
  }
  bool last_reduced = !dims.empty() && dims.back() == x.dim() - 1;
  dispatch_all(x.dtype(), "reduce", [&]<typename T>() {
    with_op(op, [&]<ReduceOp O>() {
      if (last_reduced || s.kept_shape.empty())
        reduce_inner<O, T>(x, s, out);
      else
        reduce_outer<O, T>(x, s, out);
    });
  });
}

void CpuBackend::arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) {
  EMBER_ASSERT(op == ReduceOp::max || op == ReduceOp::min, "arg_reduce: only max/min");
  int64_t n = x.size(dim), xs = x.stride(dim);
  Split s = split_dims(x, {dim}, values);
  StridedLoop<3> kept(s.kept_shape, {s.kept_x, s.kept_out, s.kept_out});
  dispatch_all(x.dtype(), "arg_reduce", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* vp = values.data<T>();
    int64_t* ip = indices.data<int64_t>();
    kept.run(std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n, 1)),
             [&](const std::array<int64_t, 3>& off, int64_t m, const std::array<int64_t, 3>& st) {
      for (int64_t i = 0; i < m; ++i) {
        const T* p = xp + off[0] + i * st[0];
        T best = p[0];
        int64_t arg = 0;
        for (int64_t k = 1; k < n && best == best; ++k) {
          T v = p[k * xs];
          bool better = op == ReduceOp::max ? (v > best || v != v) : (v < best || v != v);
          if (better) {
            best = v;
            arg = k;
          }
        }
        vp[off[1] + i * st[1]] = best;
        ip[off[2] + i * st[2]] = arg;
      }
    });
  });
}

}  // namespace ember::cpu
