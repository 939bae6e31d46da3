#include "tensor/shape.h"

#include <algorithm>

#include "tensor/error.h"

namespace ember {

int64_t checked_mul(int64_t a, int64_t b, const Shape& shape, std::string_view op) {
  int64_t r = 0;
  EMBER_CHECK(!__builtin_mul_overflow(a, b, &r), "{}: size overflows int64 (shape {})", op, shape_str(shape));
  return r;
}

// An empty shape has numel 0 whatever its other dims; otherwise the product must fit in int64.
int64_t numel_of(const Shape& shape, std::string_view op) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t s : shape) n = checked_mul(n, s, shape, op);
  return n;
}

// Strides treat size-0 dims as 1 (like PyTorch), so they must fit in int64 even when numel is 0.
Strides contiguous_strides(const Shape& shape, std::string_view op) {
  Strides st(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    if (i > 0) acc = checked_mul(acc, std::max<int64_t>(shape[i], 1), shape, op);
  }
  return st;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ",")); }

int64_t wrap_dim(int64_t dim, int64_t ndim, std::string_view op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  EMBER_CHECK(dim >= lo && dim <= hi, "{}: dim {} out of range for a {}-d tensor (expected [{}, {}])", op, dim,
              ndim, lo, hi);
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    EMBER_CHECK(da == db || da == 1 || db == 1, "{}: shapes {} and {} cannot be broadcast (dim {}: {} vs {})", op,
                shape_str(a), shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target) {
  size_t n = target.size(), off = n - shape.size();
  Strides out(n, 0);
  for (size_t i = 0; i < shape.size(); ++i) out[i + off] = shape[i] == 1 && target[i + off] != 1 ? 0 : strides[i];
  return out;
}

std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, std::string_view op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  EMBER_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: dim list [{}] repeats a dim", op,
              fmt::join(dims, ","));
  return out;
}

}  // namespace ember
