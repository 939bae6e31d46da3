// CPU indexing primitives: index_select, index_add, gather, scatter_add.
//
// Legend: every tensor is viewed around the indexed dim `dim` as [O, n, I]:
//   O = product of the dims before `dim` (outer), n = size along `dim`, I = product of the dims
//   after it (inner). Index tensors are i64 and already bounds-checked by the op layer
//   (autograd/functions/index.cpp); a pre-pass re-asserts it, so a miss is an internal error, not UB.
//
// Layout: inputs may have any strides. Rather than a stride walker in the hot loop, each driver
// precomputes the element offsets of the O outer and I inner positions once (two small tables),
// so the inner loop is a plain `out[k] op= x[base + inner[k]]`, with a contiguous fast path.
// Threads: gather/index_select split the (o, j) output rows; the accumulating ops (index_add,
// scatter_add) split (o, inner-chunk) units and loop over j inside, so two threads never add into
// the same element even when indices repeat.
#include <algorithm>
#include <vector>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/parallel.h"

namespace ember::cpu {
namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per thread before splitting pays off
constexpr int64_t kChunk = 512;      // inner elements per unit in the accumulating ops

// Row-major element offsets of every position of shape[lo:hi) under `strides` (one entry for an
// empty range). Table sizes are O or I, at most the tensor's numel.
std::vector<int64_t> offset_table(const Shape& shape, const Strides& strides, int64_t lo, int64_t hi) {
  std::vector<int64_t> table{0};
  for (int64_t d = lo; d < hi; ++d) {
    std::vector<int64_t> next;
    next.reserve(table.size() * static_cast<size_t>(shape[d]));
    for (int64_t base : table)
      for (int64_t i = 0; i < shape[d]; ++i) next.push_back(base + i * strides[d]);
    table = std::move(next);
  }
  return table;
}

bool is_iota(const std::vector<int64_t>& t) {
  for (size_t k = 0; k < t.size(); ++k)
    if (t[k] != static_cast<int64_t>(k)) return false;
  return true;
}

int64_t prod(const Shape& s, int64_t lo, int64_t hi) {
  int64_t p = 1;
  for (int64_t d = lo; d < hi; ++d) p *= s[d];
  return p;
}

// The op layer validates index values; this single pass outside the parallel region turns a
// missed check into an internal error instead of an out-of-bounds access.
void assert_in_range(const Tensor& index, int64_t size, const char* op) {
  const int64_t* p = index.data<int64_t>();
  for (int64_t off : offset_table(index.shape(), index.strides(), 0, index.dim()))
    EMBER_ASSERT(p[off] >= 0 && p[off] < size, "{}: index {} out of range [0, {})", op, p[off], size);
}

}  // namespace

// out [O, m, I] (contiguous) = x [O, n, I] (any strides) at rows index[j], j < m.
void CpuBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.dim() <= 1, "index_select: bad call");
  const int64_t nd = x.dim(), n = x.size(dim), m = index.numel();
  const int64_t sx = x.stride(dim), si = index.dim() == 1 ? index.stride(0) : 0;
  const std::vector<int64_t> outer = offset_table(x.shape(), x.strides(), 0, dim);
  const std::vector<int64_t> inner = offset_table(x.shape(), x.strides(), dim + 1, nd);
  const int64_t rows = static_cast<int64_t>(outer.size()) * m, I = static_cast<int64_t>(inner.size());
  const bool dense = is_iota(inner);
  assert_in_range(index, n, "index_select");
  const int64_t* idx = index.data<int64_t>();
  dispatch_all(x.dtype(), "index_select", [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(I, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {  // r = o * m + j
        const T* src = px + outer[r / m] + idx[(r % m) * si] * sx;
        T* dst = po + r * I;
        if (dense) {
          for (int64_t k = 0; k < I; ++k) dst[k] = src[k];
        } else {
          for (int64_t k = 0; k < I; ++k) dst[k] = src[inner[k]];
        }
      }
    });
  });
}

// out [O, n, I] (contiguous) at rows index[j] += src [O, m, I] (any strides).
void CpuBackend::index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.dim() <= 1, "index_add: bad call");
  const int64_t nd = out.dim(), n = out.size(dim), m = index.numel();
  const int64_t si = index.dim() == 1 ? index.stride(0) : 0, ss = src.stride(dim);
  const int64_t O = prod(out.shape(), 0, dim), I = prod(out.shape(), dim + 1, nd);
  const std::vector<int64_t> src_outer = offset_table(src.shape(), src.strides(), 0, dim);
  const std::vector<int64_t> src_inner = offset_table(src.shape(), src.strides(), dim + 1, nd);
  const bool dense = is_iota(src_inner);
  const int64_t chunks = (I + kChunk - 1) / kChunk;
  assert_in_range(index, n, "index_add");
  const int64_t* idx = index.data<int64_t>();
  dispatch_all(out.dtype(), "index_add", [&]<typename T>() {
    T* po = out.data<T>();
    const T* ps = src.data<T>();
    parallel_for(O * chunks, std::max<int64_t>(1, kGrain / std::max<int64_t>(m * std::min(I, kChunk), 1)),
                 [&](int64_t u0, int64_t u1) {
                   for (int64_t u = u0; u < u1; ++u) {  // u = o * chunks + c
                     const int64_t o = u / chunks, k0 = (u % chunks) * kChunk, k1 = std::min(I, k0 + kChunk);
                     for (int64_t j = 0; j < m; ++j) {
                       T* dst = po + (o * n + idx[j * si]) * I;
                       const T* s = ps + src_outer[o] + j * ss;
                       if (dense) {
                         for (int64_t k = k0; k < k1; ++k) dst[k] += s[k];
                       } else {
                         for (int64_t k = k0; k < k1; ++k) dst[k] += s[src_inner[k]];
                       }
                     }
                   }
                 });
  });
}

// out [O, m, I] (contiguous, index's shape) = x at [o, index[o, j, k], k]; x and index any strides.
void CpuBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.shape() == out.shape(), "gather: bad call");
  const int64_t nd = index.dim(), n = x.size(dim), m = index.size(dim);
  const int64_t sx = x.stride(dim), si = index.stride(dim);
  // x's strides over index's shape: index.size(d) <= x.size(d) off `dim`, so every offset is in x.
  const std::vector<int64_t> x_outer = offset_table(index.shape(), x.strides(), 0, dim);
  const std::vector<int64_t> x_inner = offset_table(index.shape(), x.strides(), dim + 1, nd);
  const std::vector<int64_t> i_outer = offset_table(index.shape(), index.strides(), 0, dim);
  const std::vector<int64_t> i_inner = offset_table(index.shape(), index.strides(), dim + 1, nd);
  const int64_t rows = static_cast<int64_t>(x_outer.size()) * m, I = static_cast<int64_t>(x_inner.size());
  assert_in_range(index, n, "gather");
  const int64_t* pi = index.data<int64_t>();
  dispatch_all(x.dtype(), "gather", [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(I, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {  // r = o * m + j
        const int64_t o = r / m, j = r % m;
        const T* xrow = px + x_outer[o];
        const int64_t* irow = pi + i_outer[o] + j * si;
        T* dst = po + r * I;
        for (int64_t k = 0; k < I; ++k) dst[k] = xrow[irow[i_inner[k]] * sx + x_inner[k]];
      }
    });
  });
}

// out [O, n, I] (contiguous) at [o, index[o, j, k], k] += src[o, j, k], over index's shape; src
// may be larger than index (only index's extent is read), any strides.
void CpuBackend::scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64, "scatter_add: bad call");
  const int64_t nd = index.dim(), n = out.size(dim), m = index.size(dim);
  const int64_t so = out.stride(dim), si = index.stride(dim), ss = src.stride(dim);
  const std::vector<int64_t> o_outer = offset_table(index.shape(), out.strides(), 0, dim);
  const std::vector<int64_t> o_inner = offset_table(index.shape(), out.strides(), dim + 1, nd);
  const std::vector<int64_t> i_outer = offset_table(index.shape(), index.strides(), 0, dim);
  const std::vector<int64_t> i_inner = offset_table(index.shape(), index.strides(), dim + 1, nd);
  const std::vector<int64_t> s_outer = offset_table(index.shape(), src.strides(), 0, dim);
  const std::vector<int64_t> s_inner = offset_table(index.shape(), src.strides(), dim + 1, nd);
  const int64_t O = static_cast<int64_t>(o_outer.size()), I = static_cast<int64_t>(o_inner.size());
  const int64_t chunks = (I + kChunk - 1) / kChunk;
  assert_in_range(index, n, "scatter_add");
  const int64_t* pi = index.data<int64_t>();
  dispatch_all(out.dtype(), "scatter_add", [&]<typename T>() {
    T* po = out.data<T>();
    const T* ps = src.data<T>();
    parallel_for(O * chunks, std::max<int64_t>(1, kGrain / std::max<int64_t>(m * std::min(I, kChunk), 1)),
                 [&](int64_t u0, int64_t u1) {
                   for (int64_t u = u0; u < u1; ++u) {  // u = o * chunks + c; (o, k) owns its out elements
                     const int64_t o = u / chunks, k0 = (u % chunks) * kChunk, k1 = std::min(I, k0 + kChunk);
                     for (int64_t j = 0; j < m; ++j) {
                       const int64_t* irow = pi + i_outer[o] + j * si;
                       const T* srow = ps + s_outer[o] + j * ss;
                       T* orow = po + o_outer[o];
                       for (int64_t k = k0; k < k1; ++k) orow[irow[i_inner[k]] * so + o_inner[k]] += srow[s_inner[k]];
                     }
                   }
                 });
  });
}

}  // namespace ember::cpu
