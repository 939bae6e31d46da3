// Element types and the dispatch helpers that turn a runtime DType into a template argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <string_view>

#include "tensor/error.h"
#include "tensor/numerics.h"  // enum DType

namespace ember {


constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::u8: return 1;
  }
  return 0;
}

constexpr std::string_view dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
    case DType::i64: return "i64";
    case DType::u8: return "u8";
  }
  return "?";
}

constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64; }
constexpr bool is_integral(DType t) { return !is_floating(t); }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }

// The one conversion rule between element types (docs/reliability.md), free of undefined behaviour:
//  * floating -> integer truncates toward zero and saturates at the target's range; NaN -> 0
//    (so 1e30 -> INT64_MAX, -1 -> 0 for u8, 300.7 -> 255 for u8);
//  * integer -> integer wraps modulo 2^bits (C++20 and PyTorch agree);
//  * anything -> floating rounds to nearest (f64 -> f32 overflow gives +-inf).
template <typename D, typename S>
constexpr D convert(S v) {
  if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    constexpr double hi = double(std::numeric_limits<D>::max()) + 1.0;  // 2^bits exactly
    constexpr double lo = double(std::numeric_limits<D>::min());
    double x = double(v);
    if (!(x == x)) return D(0);
    if (x >= hi) return std::numeric_limits<D>::max();
    if (x <= lo - 1.0) return std::numeric_limits<D>::min();
    return static_cast<D>(x);
  } else {
    return static_cast<D>(v);
  }
}

// dispatch_all(dt, "op", [&]<typename T>() { ... }) calls the lambda with T = the C++ type of dt.
template <typename F>
decltype(auto) dispatch_all(DType t, std::string_view op, F&& f) {
  switch (t) {
    case DType::f32: return f.template operator()<float>();
    case DType::f64: return f.template operator()<double>();
    case DType::i32: return f.template operator()<int32_t>();
    case DType::i64: return f.template operator()<int64_t>();
    case DType::u8: return f.template operator()<uint8_t>();
  }
  EMBER_CHECK(false, "{}: unknown dtype", op);
  __builtin_unreachable();
}

// dispatch_float: f32 and f64 only; other dtypes throw naming the op.
template <typename F>
decltype(auto) dispatch_float(DType t, std::string_view op, F&& f) {
  if (t == DType::f32) return f.template operator()<float>();
  if (t == DType::f64) return f.template operator()<double>();
  EMBER_CHECK(false, "{}: expected a floating dtype (f32 or f64), got {}", op, dtype_name(t));
  __builtin_unreachable();
}

}  // namespace ember

template <>
struct fmt::formatter<ember::DType> : fmt::formatter<std::string_view> {
  auto format(ember::DType t, fmt::format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(ember::dtype_name(t), ctx);
  }
};
