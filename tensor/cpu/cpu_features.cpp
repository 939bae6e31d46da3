#include "tensor/cpu/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace ember::cpu {
namespace {

Isa detect() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("fma"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
  return Isa::scalar;
}

Isa initial() {
  Isa best = detect();
  if (const char* env = std::getenv("EMBER_CPU_ISA")) {
    std::string v = env;
    Isa want = v == "avx512" ? Isa::avx512 : v == "avx2" ? Isa::avx2 : Isa::scalar;
    if (static_cast<int>(want) <= static_cast<int>(best)) return want;
  }
  return best;
}

std::atomic<Isa>& active() {
  static std::atomic<Isa> isa{initial()};
  return isa;
}

}  // namespace

Isa best_isa() {
  static const Isa best = detect();
  return best;
}

Isa active_isa() { return active().load(std::memory_order_relaxed); }

void set_isa(Isa isa) {
  EMBER_CHECK(static_cast<int>(isa) <= static_cast<int>(best_isa()), "set_isa: this CPU does not support {} (best: {})",
              isa_name(isa), isa_name(best_isa()));
  active().store(isa);
}

bool has_avx512_bf16() {
  static const bool flag = best_isa() == Isa::avx512 && __builtin_cpu_supports("avx512bf16");
  return flag && active_isa() == Isa::avx512;
}

bool has_avx512_vnni() {
  static const bool flag = best_isa() == Isa::avx512 && __builtin_cpu_supports("avx512vnni");
  return flag && active_isa() == Isa::avx512;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

}  // namespace ember::cpu
