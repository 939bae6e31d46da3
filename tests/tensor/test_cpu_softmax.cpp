// The f32 softmax / log_softmax / cross-entropy rows (AVX2, tensor/cpu/softmax_avx2.cpp) against
// the plain loops run in f64 on the same values (the reference), under every ISA the machine
// runs: awkward row lengths (1, 7, 8, 17, primes, 4097), rows with -inf, +inf and NaN, ignored
// targets and label smoothing, and sentinel guards around every output.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/backend.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::all_close;
using test::Guarded;
using test::IsaScope;

// Logits in [-8, 8) with special rows: row 0 starts with 95 (the rest of the row lands at
// e^-100, in exp's denormal range), row 1 holds a -inf, row 2 a NaN, row 3 is all -inf.
Tensor logits(int64_t n, int64_t c, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v = (Tensor::rand({n, c}, {}, &g) * 16.0 - 8.0).to_vector<float>();
  const float inf = std::numeric_limits<float>::infinity();
  v[0] = 95.0f;
  if (n > 1) v[size_t(c + c / 2)] = -inf;
  if (n > 2) v[size_t(2 * c)] = std::numeric_limits<float>::quiet_NaN();
  if (n > 3)
    for (int64_t j = 0; j < c; ++j) v[size_t(3 * c + j)] = -inf;
  return Tensor::from_vector(v, {n, c});
}

const int64_t kShapes[][2] = {{1, 1}, {2, 7}, {5, 8}, {4, 17}, {6, 31}, {3, 256}, {4, 1000}, {2, 4097}};

TEST(CpuSoftmax, RowsMatchF64Reference) {
  Backend& be = backend_for(Device::cpu());
  for (const auto& sh : kShapes) {
    const Tensor x = logits(sh[0], sh[1], 3);
    for (bool log : {false, true}) {
      Tensor ref = Tensor::empty({sh[0], sh[1]}, {.dtype = DType::f64});
      be.softmax(x.to(DType::f64), ref, log);
      for (cpu::Isa isa : test::cpu_isas()) {
        SCOPED_TRACE(shape_str(x.shape()) + (log ? " log_softmax " : " softmax ") + std::string(cpu::isa_name(isa)));
        IsaScope scope(isa);
        Guarded y(x.shape(), DType::f32, 55);
        be.softmax(x, y.view, log);
        EXPECT_TRUE(y.guards_intact(55));
        EXPECT_TRUE(all_close(y.view, ref, 2e-6, 1e-6));
      }
    }
  }
}

TEST(CpuCrossEntropy, ForwardBackwardMatchF64Reference) {
  Backend& be = backend_for(Device::cpu());
  for (const auto& sh : kShapes) {
    const int64_t n = sh[0], c = sh[1];
    const Tensor x = logits(n, c, 4);
    std::vector<int64_t> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) t[size_t(i)] = (i * 7 + 3) % c;
    if (n > 4) t[4] = -100;  // ignored
    const Tensor target = Tensor::from_vector(t, {n}, {.dtype = DType::i64});
    Generator g(5);
    const Tensor gl = Tensor::rand({n}, {}, &g) + 0.5;
    for (double eps : {0.0, 0.1}) {
      Tensor loss64 = Tensor::empty({n}, {.dtype = DType::f64}), lse64 = Tensor::empty({n}, {.dtype = DType::f64});
      Tensor dx64 = Tensor::empty({n, c}, {.dtype = DType::f64});
      const Tensor x64 = x.to(DType::f64);
      be.cross_entropy_fwd(x64, target, -100, eps, loss64, lse64);
      be.cross_entropy_bwd(x64, target, lse64, gl.to(DType::f64), -100, eps, dx64);
      for (cpu::Isa isa : test::cpu_isas()) {
        SCOPED_TRACE(shape_str(x.shape()) + " eps " + std::to_string(eps) + " " + std::string(cpu::isa_name(isa)));
        IsaScope scope(isa);
        Guarded loss({n}, DType::f32, 66), lse({n}, DType::f32, 66), dx({n, c}, DType::f32, 66);
        be.cross_entropy_fwd(x, target, -100, eps, loss.view, lse.view);
        be.cross_entropy_bwd(x, target, lse.view, gl, -100, eps, dx.view);
        EXPECT_TRUE(loss.guards_intact(66) && lse.guards_intact(66) && dx.guards_intact(66));
        EXPECT_TRUE(all_close(lse.view, lse64, 1e-6, 1e-6));
        EXPECT_TRUE(all_close(loss.view, loss64, 1e-5, 1e-5));
        EXPECT_TRUE(all_close(dx.view, dx64, 1e-5, 1e-7));
      }
    }
  }
}

}  // namespace
}  // namespace ember
