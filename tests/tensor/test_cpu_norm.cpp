// The f32 layer norm / RMS norm rows (AVX2, tensor/cpu/norm_avx2.cpp) against the plain loops run
// in f64 on the same values (the reference), under every ISA the machine runs: row lengths 1, 7,
// 8, 17, primes, 4097 (vector tails), with and without weight/bias, sentinel guards around every
// output, and a row holding a NaN and one holding an inf (they must stay in their own rows).
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

const int64_t kShapes[][2] = {{1, 1}, {3, 7}, {2, 8}, {5, 17}, {4, 31}, {3, 256}, {2, 1000}, {2, 4097}};

Tensor rows_with_specials(int64_t n, int64_t d, uint64_t seed) {
  Generator g(seed);
  std::vector<float> v = (Tensor::randn({n, d}, {}, &g) * 3.0 + 1.5).to_vector<float>();
  if (n > 2) v[size_t(2 * d)] = std::numeric_limits<float>::quiet_NaN();
  if (n > 3) v[size_t(3 * d + d / 2)] = std::numeric_limits<float>::infinity();
  return Tensor::from_vector(v, {n, d});
}

struct NormOut {
  Tensor y, mean, rstd, gx, gw, gb;
};

// Runs forward and backward of layer norm (rms = false) or RMS norm in x's dtype, outputs guarded.
NormOut run(bool rms, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& gy) {
  Backend& be = backend_for(Device::cpu());
  const DType dt = x.dtype();
  const int64_t n = x.size(0), d = x.size(1);
  Guarded y(x.shape(), dt, 44), mean({n}, dt, 44), rstd({n}, dt, 44), gx(x.shape(), dt, 44);
  Guarded gw({d}, dt, 44), gb({d}, dt, 44);
  const Tensor wv = w.defined() ? w.to(dt) : Tensor(), bv = b.defined() ? b.to(dt) : Tensor();
  if (rms) {
    be.rms_norm_fwd(x, wv, 1e-5, y.view, rstd.view);
    be.rms_norm_bwd(x, wv, rstd.view, gy.to(dt), gx.view, w.defined() ? gw.view : Tensor());
  } else {
    be.layer_norm_fwd(x, wv, bv, 1e-5, y.view, mean.view, rstd.view);
    be.layer_norm_bwd(x, wv, mean.view, rstd.view, gy.to(dt), gx.view, w.defined() ? gw.view : Tensor(),
                      b.defined() ? gb.view : Tensor());
  }
  for (const Guarded* t : {&y, &mean, &rstd, &gx, &gw, &gb}) EXPECT_TRUE(t->guards_intact(44));
  return {y.view, mean.view, rstd.view, gx.view, gw.view, gb.view};
}

TEST(CpuNorm, RowsMatchF64Reference) {
  for (bool rms : {false, true})
    for (bool affine : {false, true})
      for (const auto& sh : kShapes) {
        const int64_t n = sh[0], d = sh[1];
        Generator g(11);
        const Tensor x = rows_with_specials(n, d, 12);
        const Tensor w = affine ? Tensor::randn({d}, {}, &g) : Tensor();
        const Tensor b = affine && !rms ? Tensor::randn({d}, {}, &g) : Tensor();
        const Tensor gy = Tensor::randn({n, d}, {}, &g);
        const NormOut ref = run(rms, x.to(DType::f64), w, b, gy);
        for (cpu::Isa isa : test::cpu_isas()) {
          SCOPED_TRACE(std::string(rms ? "rms_norm " : "layer_norm ") + shape_str(x.shape()) +
                       (affine ? " affine " : " ") + std::string(cpu::isa_name(isa)));
          IsaScope scope(isa);
          const NormOut got = run(rms, x, w, b, gy);
          EXPECT_TRUE(all_close(got.y, ref.y, 1e-5, 1e-5));
          EXPECT_TRUE(all_close(got.rstd, ref.rstd, 1e-6, 1e-7));
          EXPECT_TRUE(rms || all_close(got.mean, ref.mean, 1e-6, 1e-6));
          EXPECT_TRUE(all_close(got.gx, ref.gx, 1e-4, 1e-5));
          EXPECT_TRUE(!affine || all_close(got.gw, ref.gw, 1e-4, 1e-4));
          EXPECT_TRUE(!affine || rms || all_close(got.gb, ref.gb, 1e-5, 1e-5));
        }
      }
}

}  // namespace
}  // namespace ember
