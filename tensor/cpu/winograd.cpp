// Winograd F(2x2,3x3) convolution (winograd.h): the weight transform, the scalar path, and the
// three-phase driver (input transform over tiles, 16 products, output transform over tiles).
#include "tensor/cpu/winograd.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

#define WINOGRAD_NS scalar
#include "tensor/cpu/winograd_impl.h"

namespace ember::cpu {

namespace {
// F(2x2,3x3)'s weight transform G (4x3): U = G g G^T forward, dW = G^T M G for the weight gradient.
constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

std::atomic<bool>& winograd_switch() {
  static std::atomic<bool> on{[] {
    const char* env = std::getenv("EMBER_CONV_WINOGRAD");
    return !env || std::string_view(env) != "0";
  }()};
  return on;
}
}  // namespace

bool conv_winograd_enabled() { return winograd_switch().load(std::memory_order_relaxed); }
void set_conv_winograd(bool on) { winograd_switch().store(on, std::memory_order_relaxed); }

int64_t winograd_weights_size(int64_t cout, int64_t cin) {
  return 16 * (cout + kDirectConvBlock - 1) / kDirectConvBlock * kDirectConvBlock * cin;
}

void winograd_transform_weights(const float* w, int64_t cout, int64_t cin, float* u) {
  const int64_t blocks = (cout + kDirectConvBlock - 1) / kDirectConvBlock;
  std::fill(u, u + winograd_weights_size(cout, cin), 0.0f);
  // Output channels split across threads (each writes its own entries).
  parallel_for(cout, std::max<int64_t>(1, 4096 / std::max<int64_t>(cin, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < cin; ++c) {
        const float* g = w + (o * cin + c) * 9;
        double gg[4][3];  // G g
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 3; ++j)
            gg[i][j] = G[i][0] * g[0 * 3 + j] + G[i][1] * g[1 * 3 + j] + G[i][2] * g[2 * 3 + j];
        for (int i = 0; i < 4; ++i)
          for (int j = 0; j < 4; ++j) {  // (G g) G^T
            const double val = gg[i][0] * G[j][0] + gg[i][1] * G[j][1] + gg[i][2] * G[j][2];
            const int64_t e = i * 4 + j, kb = o / kDirectConvBlock, l = o % kDirectConvBlock;
            u[((e * blocks + kb) * cin + c) * kDirectConvBlock + l] = static_cast<float>(val);
          }
      }
  });
}

void winograd_input_scalar(const WinogradPlan& p, int64_t t0, int64_t t1) { scalar::input_transform(p, t0, t1); }
void winograd_output_scalar(const WinogradPlan& p, int64_t t0, int64_t t1) { scalar::output_transform(p, t0, t1); }

void winograd_input(const WinogradPlan& p, int64_t t0, int64_t t1) {
  if (active_isa() != Isa::scalar) return winograd_input_avx2(p, t0, t1);
  scalar::input_transform(p, t0, t1);
}

void winograd_grad_output(const WinogradPlan& p, const float* dy, int64_t t0, int64_t t1) {
  if (active_isa() != Isa::scalar) return winograd_grad_output_avx2(p, dy, t0, t1);
  scalar::grad_output_transform(p, dy, t0, t1);
}

void winograd_weight_product(const float* w, const float* v, int64_t tiles, int64_t cout, int64_t cin, float* m,
                             bool accumulate) {
  if (active_isa() != Isa::scalar) return winograd_weight_product_avx2(w, v, tiles, cout, cin, m, accumulate);
  for (int64_t e = 0; e < 16; ++e)
    for (int64_t k = 0; k < cout; ++k)
      for (int64_t c = 0; c < cin; ++c) {
        float acc = 0.0f;
        for (int64_t t = 0; t < tiles; ++t) acc += w[(e * tiles + t) * cout + k] * v[(e * tiles + t) * cin + c];
        float& dst = m[(e * cout + k) * cin + c];
        dst = accumulate ? dst + acc : acc;
      }
}

void winograd_weight_grad_finish(const float* m, int64_t cout, int64_t cin, float* gw) {
  const int64_t es = cout * cin;
  parallel_for(cout, std::max<int64_t>(1, 4096 / std::max<int64_t>(cin, 1)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o)
      for (int64_t c = 0; c < cin; ++c) {
        const float* mm = m + o * cin + c;
        double gm[3][4];  // G^T M
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 4; ++j)
            gm[i][j] = G[0][i] * mm[(0 * 4 + j) * es] + G[1][i] * mm[(1 * 4 + j) * es] +
                       G[2][i] * mm[(2 * 4 + j) * es] + G[3][i] * mm[(3 * 4 + j) * es];
        float* g = gw + (o * cin + c) * 9;
        for (int i = 0; i < 3; ++i)
          for (int j = 0; j < 3; ++j)  // (G^T M) G
            g[i * 3 + j] =
                static_cast<float>(gm[i][0] * G[0][j] + gm[i][1] * G[1][j] + gm[i][2] * G[2][j] + gm[i][3] * G[3][j]);
      }
  });
}

void winograd_product_scalar(const WinogradPlan& p, int64_t e0, int64_t e1) {
  const int64_t C = p.a->cin, T = p.tiles, blocks = p.coutp / kDirectConvBlock;
  for (int64_t e = e0; e < e1; ++e)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t kb = 0; kb < blocks; ++kb) {
        float acc[kDirectConvBlock] = {};
        const float* v = p.v + (e * T + t) * C;
        const float* u = p.a->packed_w + (e * blocks + kb) * C * kDirectConvBlock;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t l = 0; l < kDirectConvBlock; ++l) acc[l] += v[c] * u[c * kDirectConvBlock + l];
        std::copy(acc, acc + kDirectConvBlock, p.m + (e * T + t) * p.coutp + kb * kDirectConvBlock);
      }
}

void conv_winograd(const DirectConv& a) {
  EMBER_CHECK(a.k == 3, "conv_winograd: only 3x3 kernels (got k {})", a.k);
  EMBER_CHECK(a.n >= 1 && a.h >= 1 && a.w >= 1 && a.cin >= 1 && a.cout >= 1 && a.x_pad >= 0 && a.y_pad >= 0,
              "conv_winograd: bad sizes (n {}, h {}, w {}, cin {}, cout {}, x_pad {}, y_pad {})", a.n, a.h, a.w,
              a.cin, a.cout, a.x_pad, a.y_pad);
  EMBER_CHECK(a.x && a.packed_w && a.y, "conv_winograd: x, transformed weights and y must be given");
  const int64_t th = (a.h + 1) / 2, tw = (a.w + 1) / 2, tiles = a.n * th * tw;
  const int64_t coutp = (a.cout + kDirectConvBlock - 1) / kDirectConvBlock * kDirectConvBlock;
  const bool avx2 = active_isa() != Isa::scalar;
  auto in = avx2 ? winograd_input_avx2 : winograd_input_scalar;
  auto prod = avx2 ? winograd_product_avx2 : winograd_product_scalar;
  auto out = avx2 ? winograd_output_avx2 : winograd_output_scalar;
  // Tiles go in blocks whose transformed input and products (16 x block x (cin + coutp) floats)
  // stay within ~384 KiB of cache, but at least 48 tiles, so each block's products use every
  // weight 48 times per read. A block is one task: its three phases run on one thread.
  const int64_t block =
      std::min(tiles, std::max<int64_t>(48, (int64_t{96} << 10) / (16 * (a.cin + coutp)) / 6 * 6));
  const int64_t blocks = (tiles + block - 1) / block;
  auto run_block = [&](int64_t b) {
    const int64_t t0 = b * block, n = std::min(block, tiles - t0);
    thread_local std::vector<float> v, m, zeros;  // this thread's scratch, reused
    if (zeros.size() < size_t(a.cin)) zeros.assign(size_t(a.cin), 0.0f);
    if (v.size() < size_t(16 * n * a.cin)) v.resize(size_t(16 * n * a.cin));
    if (m.size() < size_t(16 * n * coutp)) m.resize(size_t(16 * n * coutp));
    const WinogradPlan p{&a, th, tw, t0, n, coutp, v.data(), m.data(), zeros.data()};
    in(p, t0, t0 + n);
    prod(p, 0, 16);
    out(p, t0, t0 + n);
  };
  // Threads only for large convolutions (as conv_direct).
  const double flops = 2.0 * 16 * double(tiles) * double(a.cin) * double(coutp);
  if (blocks == 1 || get_num_threads() == 1 || flops < 8e6 || in_parallel_region()) {
    for (int64_t b = 0; b < blocks; ++b) run_block(b);
    return;
  }
  parallel_tasks(blocks, run_block);
}

}  // namespace ember::cpu
