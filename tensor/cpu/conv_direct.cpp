// Direct small-plane convolution: weight packing, the scalar path, the dispatch and the work split
// (conv_direct.h). The AVX2 tile kernel is in conv_direct_avx2.cpp.
#include "tensor/cpu/conv_direct.h"

#include <algorithm>

#include "tensor/cpu/cpu_features.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

namespace ember::cpu {

int64_t packed_conv_weights_size(int64_t cout, int64_t cin, int64_t k) {
  return (cout + kDirectConvBlock - 1) / kDirectConvBlock * k * k * cin * kDirectConvBlock;
}

void pack_conv_weights(const float* w, int64_t cout, int64_t cin, int64_t k, float* packed) {
  const int64_t blocks = (cout + kDirectConvBlock - 1) / kDirectConvBlock;
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j)
        for (int64_t c = 0; c < cin; ++c) {
          float* dst = packed + (((b * k + i) * k + j) * cin + c) * kDirectConvBlock;
          for (int64_t l = 0; l < kDirectConvBlock; ++l) {
            const int64_t o = b * kDirectConvBlock + l;
            dst[l] = o < cout ? w[((o * cin + c) * k + i) * k + j] : 0.0f;
          }
        }
}

// Position m (batch folded in: m = (img*h + oh)*w + ow) -> its output pixel and the input pixel of
// kernel tap (0, 0).
void conv_direct_rows_scalar(const DirectConv& a, int64_t m0, int64_t m1) {
  const int64_t xw = a.w + 2 * a.x_pad, xh = a.h + 2 * a.x_pad, yw = a.w + 2 * a.y_pad, yh = a.h + 2 * a.y_pad;
  const int64_t shift = a.x_pad - a.k / 2, blocks = (a.cout + kDirectConvBlock - 1) / kDirectConvBlock;
  for (int64_t m = m0; m < m1; ++m) {
    const int64_t img = m / (a.h * a.w), oh = m / a.w % a.h, ow = m % a.w;
    const float* x0 = a.x + ((img * xh + oh + shift) * xw + ow + shift) * a.cin;
    const int64_t yo = ((img * yh + oh + a.y_pad) * yw + ow + a.y_pad) * a.cout;
    for (int64_t b = 0; b < blocks; ++b) {
      float acc[kDirectConvBlock] = {};
      const float* wb = a.packed_w + b * a.k * a.k * a.cin * kDirectConvBlock;
      for (int64_t i = 0; i < a.k; ++i)
        for (int64_t j = 0; j < a.k; ++j) {
          const float* xp = x0 + (i * xw + j) * a.cin;
          const float* wp = wb + (i * a.k + j) * a.cin * kDirectConvBlock;
          for (int64_t c = 0; c < a.cin; ++c)
            for (int64_t l = 0; l < kDirectConvBlock; ++l) acc[l] += xp[c] * wp[c * kDirectConvBlock + l];
        }
      const int64_t o0 = b * kDirectConvBlock, cnt = std::min(kDirectConvBlock, a.cout - o0);
      for (int64_t l = 0; l < cnt; ++l) {
        float v = acc[l];
        if (a.bias) v += a.bias[o0 + l];
        if (a.residual) v += a.residual[yo + o0 + l];
        if (a.relu) v = std::max(v, 0.0f);
        a.y[yo + o0 + l] = v;
      }
    }
  }
}

void conv_direct(const DirectConv& a) {
  EMBER_CHECK(a.n >= 1 && a.h >= 1 && a.w >= 1 && a.cin >= 1 && a.cout >= 1,
              "conv_direct: sizes must be >= 1 (n {}, h {}, w {}, cin {}, cout {})", a.n, a.h, a.w, a.cin, a.cout);
  EMBER_CHECK(a.k >= 1 && a.k % 2 == 1 && a.x_pad >= a.k / 2 && a.y_pad >= 0,
              "conv_direct: need an odd kernel and x_pad >= k/2 (k {}, x_pad {}, y_pad {})", a.k, a.x_pad, a.y_pad);
  EMBER_CHECK(a.x && a.packed_w && a.y, "conv_direct: x, packed weights and y must be given");
  const int64_t m = a.n * a.h * a.w;
  const double flops = 2.0 * double(m) * double(a.cout) * double(a.k * a.k * a.cin);
  auto rows = active_isa() == Isa::scalar ? conv_direct_rows_scalar : conv_direct_rows_avx2;
  // Below ~8 MFLOP (W6 batch 1: 3 MFLOP per 3x3 layer) waking a second thread costs more than
  // it saves; above, tiles of 48 positions go to whichever thread is free.
  const int threads = get_num_threads();
  if (threads == 1 || flops < 8e6 || in_parallel_region()) return rows(a, 0, m);
  const int64_t tile = 48, tiles = (m + tile - 1) / tile;
  parallel_tasks(tiles, [&](int64_t t) { rows(a, t * tile, std::min(m, (t + 1) * tile)); });
}

}  // namespace ember::cpu
