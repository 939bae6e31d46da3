// Shapes and strides: numel, contiguous strides, NumPy broadcasting, dim wrapping, printing.
// Strides are in elements (not bytes). A 0-d tensor has shape [] and numel 1.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace ember {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// Both throw "op: size overflows int64 (shape [..])" when the product does not fit in int64.
int64_t numel_of(const Shape& shape, std::string_view op = "numel");
Strides contiguous_strides(const Shape& shape, std::string_view op = "strides");
// a * b, or the same overflow error naming `shape`.
int64_t checked_mul(int64_t a, int64_t b, const Shape& shape, std::string_view op);

// "[2,3]"; "[]" for a scalar.
std::string shape_str(const Shape& shape);

// Wraps a possibly negative dim into [0, ndim); throws "op: dim d out of range for a k-d tensor".
int64_t wrap_dim(int64_t dim, int64_t ndim, std::string_view op);

// NumPy broadcasting of two shapes; throws "op: shapes [..] and [..] cannot be broadcast".
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// Strides that view a tensor of (shape, strides) as broadcast to `target` (0 on broadcast dims).
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target);

// Sorted, wrapped, de-duplicated reduction dims; empty `dims` means all dims.
std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, std::string_view op);

}  // namespace ember
