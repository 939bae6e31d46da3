// Errors: ember::Error for user mistakes (EMBER_CHECK) and internal invariants (EMBER_ASSERT).
// Messages read `op: what is wrong (details)`, with shapes written [2,3]. The library never
// calls exit or abort; both macros throw and stay on in release builds.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace ember {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] inline void throw_error(std::string msg) { throw Error(std::move(msg)); }
[[noreturn]] inline void throw_internal(const char* cond, const char* file, int line, std::string msg) {
  throw Error(fmt::format("internal error: {} ({} failed at {}:{})", msg, cond, file, line));
}
}  // namespace detail

}  // namespace ember

// User-facing check: EMBER_CHECK(a.dim() == 2, "matmul: expected 2-D, got {}", shape_str(a.shape()));
#define EMBER_CHECK(cond, ...)                                          \
  do {                                                                  \
    if (!(cond)) [[unlikely]]                                           \
      ::ember::detail::throw_error(::fmt::format(__VA_ARGS__));         \
  } while (0)

// Internal invariant: a failure is a bug in ember, not in the caller's input.
#define EMBER_ASSERT(cond, ...)                                                            \
  do {                                                                                     \
    if (!(cond)) [[unlikely]]                                                              \
      ::ember::detail::throw_internal(#cond, __FILE__, __LINE__, ::fmt::format(__VA_ARGS__)); \
  } while (0)
