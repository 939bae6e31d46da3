// The CPU im2col / col2im kernels (tensor/cpu/im2col.cpp) against the scalar references
// (tensor/cpu/ref/conv.cpp): strides, padding wider than the kernel, dilation, strided inputs.
// The Winograd lowering of the conv entry points (tensor/cpu/conv.cpp) against an f64 convolution.
#include <gtest/gtest.h>

#include <cstring>
#include <utility>
#include <vector>

#include "tensor/backend.h"
#include "tensor/cpu/layout.h"
#include "tensor/cpu/ref/conv.h"
#include "tensor/cpu/winograd.h"
#include "tests/common/expect_close.h"
#include "tests/common/sanitizer.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::all_close;

void check_geom(Conv2dGeom g, DType dt, bool transposed_input) {
  Generator gen(42);
  // x is either contiguous or a [N, C, H, W] view of a [N, C, W, H] buffer (W stride != 1).
  Tensor x = transposed_input ? Tensor::randn({g.n, g.c, g.w, g.h}, {.dtype = dt}, &gen).transpose(2, 3)
                              : Tensor::randn({g.n, g.c, g.h, g.w}, {.dtype = dt}, &gen);
  const Shape cs{g.n, g.c * g.kh * g.kw, g.oh() * g.ow()};
  Tensor col = Tensor::full(cs, 99, {.dtype = dt}), col_ref = Tensor::full(cs, 99, {.dtype = dt});
  backend_for(Device::cpu()).im2col(x, g, col);
  cpu::ref::im2col(x, g, col_ref);
  EXPECT_TRUE(all_close(col, col_ref, 0, 0));

  // col2im accumulates into x: start both from the same non-zero image
  Tensor c = Tensor::randn(cs, {.dtype = dt}, &gen);
  Tensor img = Tensor::full({g.n, g.c, g.h, g.w}, 0.5, {.dtype = dt});
  Tensor img_ref = img.clone();
  backend_for(Device::cpu()).col2im(c, g, img);
  cpu::ref::col2im(c, g, img_ref);
  const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
  EXPECT_TRUE(all_close(img, img_ref, tol, tol));
}

void reference_cases() {
  for (DType dt : {DType::f32, DType::f64})
    for (bool tr : {false, true}) {
      check_geom({.n = 2, .c = 3, .h = 5, .w = 7, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, dt, tr);
      check_geom({.n = 1, .c = 2, .h = 9, .w = 8, .kh = 3, .kw = 2, .sh = 2, .sw = 3, .ph = 1, .pw = 0}, dt, tr);
      check_geom({.n = 2, .c = 1, .h = 7, .w = 11, .kh = 2, .kw = 3, .ph = 0, .pw = 2, .dh = 3, .dw = 2}, dt, tr);
      // padding wider than the kernel: whole rows and columns of col are padding
      check_geom({.n = 1, .c = 2, .h = 3, .w = 2, .kh = 2, .kw = 2, .sh = 1, .sw = 2, .ph = 3, .pw = 4}, dt, tr);
      check_geom({.n = 3, .c = 2, .h = 1, .w = 13, .kh = 1, .kw = 5, .sw = 2, .pw = 2, .dw = 3}, dt, tr);
      check_geom({.n = 1, .c = 1, .h = 4, .w = 4, .kh = 1, .kw = 1}, dt, tr);
    }
  // stride 1, dilation 1 (the AVX-512 planes): W2/W3/W6 shapes, one-column and prime widths, row
  // tails of every kind (16k +- 1), pads from 0 to wider than the kernel
  for (bool tr : {false, true}) {
    check_geom({.n = 2, .c = 3, .h = 28, .w = 28, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
    check_geom({.n = 1, .c = 2, .h = 14, .w = 14, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
    check_geom({.n = 2, .c = 2, .h = 6, .w = 7, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
    check_geom({.n = 1, .c = 1, .h = 5, .w = 1, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
    check_geom({.n = 1, .c = 2, .h = 3, .w = 17, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
    check_geom({.n = 1, .c = 1, .h = 4, .w = 33, .kh = 5, .kw = 5, .ph = 2, .pw = 2}, DType::f32, tr);
    check_geom({.n = 1, .c = 1, .h = 7, .w = 31, .kh = 2, .kw = 3, .ph = 0, .pw = 0}, DType::f32, tr);
    check_geom({.n = 1, .c = 1, .h = 3, .w = 5, .kh = 2, .kw = 2, .ph = 3, .pw = 4}, DType::f32, tr);
    check_geom({.n = 1, .c = 1, .h = 64, .w = 64, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, tr);
  }
  // a plane above the padded-copy limit (2^16 padded elements) takes the per-row range path
  check_geom({.n = 1, .c = 1, .h = 257, .w = 256, .kh = 3, .kw = 3, .sh = 2, .ph = 1, .pw = 1}, DType::f32, true);
  check_geom({.n = 1, .c = 1, .h = 257, .w = 256, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, DType::f32, true);
}

TEST(CpuConv, Im2colCol2imMatchReference) {
  for (cpu::Isa isa : test::cpu_isas()) {
    SCOPED_TRACE(std::string(cpu::isa_name(isa)));
    test::IsaScope scope(isa);
    reference_cases();
  }
}

// The "wide" col layout used by the conv op on CPU: col as [K, N*L], seen as an [N, K, L] view
// with strides {L, N*L, 1}. im2col/col2im must give the reference values at those addresses and
// leave the guard cells around the buffer untouched.
void wide_cases() {
  for (Conv2dGeom g : {Conv2dGeom{.n = 3, .c = 2, .h = 6, .w = 7, .kh = 3, .kw = 3, .ph = 1, .pw = 1},
                       Conv2dGeom{.n = 2, .c = 1, .h = 257, .w = 256, .kh = 2, .kw = 2, .sh = 2, .sw = 2}}) {
    Generator gen(3);
    const int64_t K = g.c * g.kh * g.kw, L = g.oh() * g.ow(), guard = 16;
    Tensor x = Tensor::randn({g.n, g.c, g.h, g.w}, {}, &gen);
    Tensor buf = Tensor::full({K * g.n * L + 2 * guard}, 77.0);
    Tensor wide = buf.as_strided({g.n, K, L}, {L, g.n * L, 1}, guard);
    backend_for(Device::cpu()).im2col(x, g, wide);
    Tensor ref = Tensor::empty({g.n, K, L});
    cpu::ref::im2col(x, g, ref);
    EXPECT_TRUE(all_close(wide.contiguous(), ref, 0, 0));
    Tensor img = Tensor::zeros({g.n, g.c, g.h, g.w}), img_ref = Tensor::zeros({g.n, g.c, g.h, g.w});
    backend_for(Device::cpu()).col2im(wide, g, img);
    cpu::ref::col2im(ref, g, img_ref);
    EXPECT_TRUE(all_close(img, img_ref, 1e-6, 1e-6));
    const std::vector<float> v = buf.to_vector<float>();
    for (int64_t i = 0; i < guard; ++i) {
      ASSERT_EQ(v[size_t(i)], 77.0f) << "guard before col overwritten at " << i;
      ASSERT_EQ(v[v.size() - 1 - size_t(i)], 77.0f) << "guard after col overwritten at " << i;
    }
  }
}

TEST(CpuConv, WideColLayoutMatchesReference) {
  for (cpu::Isa isa : test::cpu_isas()) {
    SCOPED_TRACE(std::string(cpu::isa_name(isa)));
    test::IsaScope scope(isa);
    wide_cases();
  }
}

// The plane transpose of the NCHW <-> NHWC copies (layout.h) on every ISA path: = and +=, sizes
// with and without 8x8 blocks and edges on either side, leading dimensions wider than the plane,
// guard cells around the destination untouched.
TEST(CpuConv, PlaneTransposeMatchesPlainLoop) {
  for (cpu::Isa isa : test::cpu_isas()) {
    SCOPED_TRACE(std::string(cpu::isa_name(isa)));
    test::IsaScope scope(isa);
    for (const auto& [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
             {64, 42}, {42, 64}, {17, 9}, {8, 8}, {3, 20}, {33, 1}, {1, 1}, {16, 4096}}) {
      SCOPED_TRACE(testing::Message() << rows << "x" << cols);
      const int64_t lds = cols + 3, ldd = rows + 5, guard = 8, dn = cols * ldd + 2 * guard;
      std::vector<float> src(static_cast<size_t>(rows * lds));
      for (size_t i = 0; i < src.size(); ++i) src[i] = float(i % 1013) * 0.5f - 7.0f;
      for (const bool acc : {false, true}) {
        std::vector<float> dst(static_cast<size_t>(dn)), want(static_cast<size_t>(dn));
        for (size_t i = 0; i < dst.size(); ++i) dst[i] = want[i] = float(i % 7) - 3.0f;
        cpu::transpose_f32(src.data(), rows, cols, lds, dst.data() + guard, ldd, acc);
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) {
            float& w = want[size_t(guard + j * ldd + i)];
            w = acc ? w + src[size_t(i * lds + j)] : src[size_t(i * lds + j)];
          }
        ASSERT_EQ(std::memcmp(dst.data(), want.data(), dst.size() * sizeof(float)), 0) << (acc ? "+=" : "=");
      }
    }
  }
}

// Switches the Winograd lowering (and forces its tile size: 0 keeps the automatic rule) for the
// scope's lifetime.
class WinogradScope {
 public:
  explicit WinogradScope(bool on, int tile = 0) : prev_(cpu::conv_winograd_enabled()) {
    cpu::set_conv_winograd(on);
    cpu::set_conv_winograd_tile(tile);
  }
  ~WinogradScope() {
    cpu::set_conv_winograd(prev_);
    cpu::set_conv_winograd_tile(0);
  }
  WinogradScope(const WinogradScope&) = delete;
  WinogradScope& operator=(const WinogradScope&) = delete;

 private:
  bool prev_;
};

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  const std::vector<float> va = a.to_vector<float>(), vb = b.to_vector<float>();
  return va.size() == vb.size() && std::memcmp(va.data(), vb.data(), va.size() * sizeof(float)) == 0;
}

// conv2d_fwd (= and +=), conv2d_bwd_data (+=) and conv2d_bwd_weight (=) of a 3x3 stride-1 pad-1
// conv with the Winograd lowering on, its tile size forced to `tile` (F(2x2) or F(4x4)): f32
// results against the same calls in f64 (which take the GEMM lowering), bounded by 2e-6 * K for
// F(2x2) and 1e-5 * K for F(4x4) (K products of N(0,1) values: C*9, M*9, or N*H*W). With the
// lowering on, the AVX2+ paths must give results that differ from the GEMM lowering in some bits
// (so the Winograd path really ran); the scalar path keeps the GEMM lowering and must be
// bit-identical.
void winograd_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t m, bool transposed_input, cpu::Isa isa,
                   int tile) {
  SCOPED_TRACE(testing::Message() << "n " << n << " c " << c << " " << h << "x" << w << " m " << m
                                  << (transposed_input ? " (strided x)" : "") << " F(" << tile << "x" << tile << ")");
  const Conv2dGeom g{.n = n, .c = c, .h = h, .w = w, .kh = 3, .kw = 3, .ph = 1, .pw = 1};
  Generator gen(7);
  Tensor x = transposed_input ? Tensor::randn({n, c, w, h}, {}, &gen).transpose(2, 3)
                              : Tensor::randn({n, c, h, w}, {}, &gen);
  Tensor wt = Tensor::randn({m, c, 3, 3}, {}, &gen), gy = Tensor::randn({n, m, h, w}, {}, &gen);
  Tensor y0 = Tensor::randn({n, m, h, w}, {}, &gen), gx0 = Tensor::randn({n, c, h, w}, {}, &gen);
  Backend& be = backend_for(Device::cpu());
  struct Out {
    Tensor y, yacc, gx, gw;
  };
  auto run = [&](DType dt) {
    Out o{Tensor::full({n, m, h, w}, 99, {.dtype = dt}), y0.to(dt).clone(), gx0.to(dt).clone(),
          Tensor::full({m, c, 3, 3}, 99, {.dtype = dt})};
    be.conv2d_fwd(x.to(dt), wt.to(dt), g, o.y, false);
    be.conv2d_fwd(x.to(dt), wt.to(dt), g, o.yacc, true);
    be.conv2d_bwd_data(gy.to(dt), wt.to(dt), g, o.gx);
    be.conv2d_bwd_weight(gy.to(dt), x.to(dt), g, o.gw);
    return o;
  };
  const Out ref = run(DType::f64);
  Out wino, gemm;
  {
    test::IsaScope scope(isa);
    {
      WinogradScope on(true, tile);
      wino = run(DType::f32);
    }
    WinogradScope off(false);
    gemm = run(DType::f32);
  }
  const double per_term = tile == cpu::kWinograd6x4 ? 2e-5 : tile == 4 ? 1e-5 : 2e-6;
  EXPECT_TRUE(all_close(wino.y, ref.y, 1e-5, per_term * double(c * 9)));
  EXPECT_TRUE(all_close(wino.yacc, ref.yacc, 1e-5, per_term * double(c * 9)));
  EXPECT_TRUE(all_close(wino.gx, ref.gx, 1e-5, per_term * double(m * 9)));
  EXPECT_TRUE(all_close(wino.gw, ref.gw, 1e-5, per_term * double(n * h * w)));
  const bool winograd_ran = isa != cpu::Isa::scalar && c >= 16 && m >= 16 && h >= 4 && w >= 4;
  EXPECT_EQ(!bitwise_equal(wino.y, gemm.y), winograd_ran);
  EXPECT_EQ(!bitwise_equal(wino.gx, gemm.gx), winograd_ran);
  EXPECT_EQ(!bitwise_equal(wino.gw, gemm.gw), winograd_ran);
}

TEST(CpuConv, WinogradLoweringMatchesF64Convolution) {
  for (cpu::Isa isa : test::cpu_isas())
    for (int tile : {2, 4, cpu::kWinograd6x4}) {
      SCOPED_TRACE(std::string(cpu::isa_name(isa)));
      for (bool tr : {false, true}) {
        winograd_case(3, 16, 7, 9, 17, tr, isa, tile);   // odd planes (partial tiles), partial channel block
        winograd_case(2, 17, 5, 4, 16, tr, isa, tile);   // the narrowest planes it takes
        winograd_case(2, 17, 5, 3, 16, tr, isa, tile);   // too narrow: the GEMM lowering
        winograd_case(20, 32, 6, 7, 16, tr, isa, tile);  // W6 boards: several images per chunk, several chunks
        winograd_case(2, 24, 16, 16, 40, tr, isa, tile);
      }
      // W3's first level (one image per chunk; slow at -O0)
      if (!EMBER_ASAN) winograd_case(2, 16, 64, 64, 32, false, isa, tile);
      winograd_case(2, 8, 9, 9, 32, false, isa, tile);  // too few input channels: the GEMM lowering
    }
}

TEST(CpuConv, WinogradTileRuleAndOverride) {
  EXPECT_EQ(cpu::conv_winograd_tile(64, 64, 32, 32), 4);  // 1.78x fewer multiplies
  EXPECT_EQ(cpu::conv_winograd_tile(8, 8, 256, 256), 4);
  EXPECT_EQ(cpu::conv_winograd_tile(7, 7, 64, 64), 4);     // 4x4 tiles over 8x8 vs 2x2 tiles over 8x8
  EXPECT_EQ(cpu::conv_winograd_tile(14, 14, 32, 64), 2);   // 1.36x: the overhang and transforms eat the gain
  EXPECT_EQ(cpu::conv_winograd_tile(6, 7, 64, 64), cpu::kWinograd6x4);  // 2 tiles of 48 vs 4 of 36: 1.5x
  EXPECT_EQ(cpu::conv_winograd_tile(6, 16, 32, 32), cpu::kWinograd6x4);  // 4 tiles of 48 vs 8 of 36
  EXPECT_EQ(cpu::conv_winograd_tile(12, 9, 32, 64), 2);    // 12 rows: F(6x4) would save only 1.13x
  EXPECT_EQ(cpu::conv_winograd_tile(6, 7, 16, 64), 2);     // too few channels for F(6x4) or F(4x4)
  EXPECT_EQ(cpu::conv_winograd_tile(64, 64, 64, 64), 4);   // F(6x4) would save only 1.09x
  EXPECT_EQ(cpu::conv_winograd_tile(10, 10, 256, 256), 2);  // 1.23x
  EXPECT_EQ(cpu::conv_winograd_tile(5, 5, 64, 64), 2);     // no gain
  {
    WinogradScope on(true, 2);
    EXPECT_EQ(cpu::conv_winograd_tile(64, 64, 32, 32), 2);
  }
  {
    WinogradScope on(true, 4);
    EXPECT_EQ(cpu::conv_winograd_tile(5, 5, 64, 64), 4);
  }
  EXPECT_EQ(cpu::conv_winograd_tile(5, 5, 64, 64), 2);
  EXPECT_THROW(cpu::set_conv_winograd_tile(3), Error);
}

}  // namespace
}  // namespace ember
