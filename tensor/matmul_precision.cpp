#include "tensor/matmul_precision.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace ember {
namespace {

MatmulPrecision from_env() {
  const char* env = std::getenv("EMBER_MATMUL_PRECISION");
  if (!env || !*env) return MatmulPrecision::highest;
  std::string_view v = env;
  EMBER_CHECK(v == "highest" || v == "tf32" || v == "bf16",
              "EMBER_MATMUL_PRECISION: expected highest, tf32 or bf16, got '{}'", v);
  return parse_matmul_precision(v);
}

// Initialised on first use (a throw here is retried, so a bad variable keeps failing loudly).
std::atomic<MatmulPrecision>& current() {
  static std::atomic<MatmulPrecision> p{from_env()};
  return p;
}

}  // namespace

void set_matmul_precision(MatmulPrecision p) { current().store(p, std::memory_order_relaxed); }

MatmulPrecision matmul_precision() { return current().load(std::memory_order_relaxed); }

std::string_view matmul_precision_name(MatmulPrecision p) {
  switch (p) {
    case MatmulPrecision::highest: return "highest";
    case MatmulPrecision::tf32: return "tf32";
    case MatmulPrecision::bf16: return "bf16";
  }
  return "?";
}

MatmulPrecision parse_matmul_precision(std::string_view name) {
  if (name == "highest") return MatmulPrecision::highest;
  if (name == "tf32") return MatmulPrecision::tf32;
  if (name == "bf16") return MatmulPrecision::bf16;
  detail::throw_error(fmt::format("matmul precision: expected highest, tf32 or bf16, got '{}'", name));
}

}  // namespace ember
