// Philox4x32-10 counter-based generator (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11). The key is the seed; the counter is (offset + element index / 4). So element i of
// a fill depends only on (seed, offset, i): fills are identical across machines, thread counts and
// devices. A Generator hands out disjoint counter ranges to successive fills.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace ember {

// Four 32-bit outputs for one 128-bit counter block (ctr_hi:ctr_lo) under a 64-bit key.
inline std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t ctr_lo, uint64_t ctr_hi = 0) {
  uint32_t c0 = uint32_t(ctr_lo), c1 = uint32_t(ctr_lo >> 32), c2 = uint32_t(ctr_hi), c3 = uint32_t(ctr_hi >> 32);
  uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u, kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = uint64_t(kM0) * c0, p1 = uint64_t(kM1) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += kW0;
    k1 += kW1;
  }
  return {c0, c1, c2, c3};
}

// u32 -> [0,1) float with 24 random bits; two u32 -> [0,1) double with 53 bits.
inline float uint_to_unit_float(uint32_t x) { return float(x >> 8) * (1.0f / 16777216.0f); }
inline double uints_to_unit_double(uint32_t hi, uint32_t lo) {
  uint64_t v = (uint64_t(hi) << 21) ^ (uint64_t(lo) >> 11);
  return double(v & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  void manual_seed(uint64_t seed) {
    std::lock_guard lock(mu_);
    seed_ = seed;
    offset_ = 0;
  }
  uint64_t seed() const { return seed_; }
  // Reserves `blocks` counter blocks and returns the first one.
  uint64_t take(uint64_t blocks) {
    std::lock_guard lock(mu_);
    uint64_t start = offset_;
    offset_ += blocks;
    return start;
  }
  uint64_t offset() const { return offset_; }
  void set_offset(uint64_t offset) { offset_ = offset; }

 private:
  std::mutex mu_;
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The default generator: the process-wide one, or this thread's GeneratorScope while one is open.
Generator& default_generator();
// Seeds the default generator (like torch.manual_seed).
void manual_seed(uint64_t seed);

// Makes `gen` the calling thread's default generator until the scope closes (scopes nest), so
// jobs running side by side in one process (parallel HPO trials) each draw their initial weights,
// dropout masks and other random fills from their own stream instead of interleaving on the
// process-wide one. Other threads are unaffected; `gen` must outlive the scope.
class GeneratorScope {
 public:
  explicit GeneratorScope(Generator& gen);
  ~GeneratorScope();
  GeneratorScope(const GeneratorScope&) = delete;
  GeneratorScope& operator=(const GeneratorScope&) = delete;

 private:
  Generator* previous_;
};

}  // namespace ember
