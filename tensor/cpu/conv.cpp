// CPU convolution: conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight. The three entry points at the
// end of this file are where the CPU picks a lowering per call; a new CPU conv kernel (Winograd,
// direct) plugs in there, ahead of the two lowerings below (depthwise convs go to depthwise.cpp):
//  * winograd (f32 3x3, stride 1, pad 1, groups 1, >= 16 channels each side, planes of 4x4 or more
//    (a 3-wide plane would waste 7 of every 16 outputs of the 2x2 tiles), AVX2+; forward and
//    the input gradient, which is the same convolution with the weights flipped and transposed):
//    a chunk of images is moved to NHWC, run through winograd.h's F(4x4,3x3) (4x fewer multiplies
//    than the GEMM where its 4x4 tiles fit the plane; conv_winograd_tile's measured rule),
//    F(6x4,3x3) (planes 6 rows high: the 6x7 boards) or F(2x2,3x3) (2.25x) and moved back.
//    The weight gradient uses the same transforms read backwards (36, 48 or 16 products over the
//    tiles, no im2col). set_conv_winograd(false) /
//    EMBER_CONV_WINOGRAD=0 keep these convolutions on the wide lowering.
//  * wide (groups == 1, not a large 1x1): a chunk of nb images is one GEMM whose N is nb*L, with
//    col in a "wide" layout [K, nb*L] (im2col.cpp accepts this strided view of [nb, K, L]) and the
//    [M, nb*L] result moved to [nb, M, L] with one copy (grad_y the other way round). The per-image
//    products are skinny (W6: [64 x 42] outputs per image; W2: [64 x 196]); one product over a
//    chunk beats hundreds of tiny ones. Chunks are spread over the threads (each chunk's im2col,
//    GEMM and copies run on one thread: no fork/join per kernel).
//  * per image (grouped convs; 1x1 convs on images of 256+ pixels, which per image already are a
//    GEMM with a long N on the image itself): tensor/conv_lowering.cpp.
// Legend: N batch, C input channels, M output channels, L = OH*OW, K = C*kh*kw.
#include <algorithm>
#include <vector>

#include "tensor/conv_lowering.h"
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/depthwise.h"
#include "tensor/cpu/layout.h"
#include "tensor/cpu/winograd.h"
#include "tensor/parallel.h"

namespace ember::cpu {
namespace {
using conv_lowering::batch_view;
using conv_lowering::image_chunk;

bool use_wide(const Conv2dGeom& g) { return g.groups == 1 && !(g.pointwise() && g.oh() * g.ow() >= 256); }

// Images per wide chunk: col stays within ~1 MiB (L2-sized; a whole-batch col of W6 would be
// 25 MB and stream from memory) while N = nb*L still spans many register tiles, and the batch
// gives at least 8 chunks (chunks are what threads share). Independent of the thread count, so
// results are too.
constexpr int64_t kWideColBudget = int64_t{1} << 18;
int64_t wide_chunk(const Conv2dGeom& g) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  return std::clamp<int64_t>(kWideColBudget / std::max<int64_t>(1, rows * L), 1, std::max<int64_t>((g.n + 7) / 8, 1));
}

// Runs f(n0, nb) for every chunk of the batch, chunks spread over the threads.
template <typename F>
void for_each_wide_chunk(const Conv2dGeom& g, F&& f) {
  const int64_t chunk = wide_chunk(g), chunks = (g.n + chunk - 1) / chunk;
  parallel_tasks(chunks, [&](int64_t c) { f(c * chunk, std::min(chunk, g.n - c * chunk)); });
}

// [1, R, C] view of a contiguous [R, C] buffer (a GEMM operand).
Tensor as_batch1(const Tensor& t, int64_t r, int64_t c) { return t.as_strided({1, r, c}, {r * c, c, 1}, t.offset()); }

// [nb, R, L] view of a wide [R, nb*L] buffer.
Tensor wide_as_batch(const Tensor& wide, int64_t nb, int64_t r, int64_t L) {
  return wide.as_strided({nb, r, L}, {L, nb * L, 1}, wide.offset());
}

// col [K, nb*L] = im2col of images n0 .. n0+nb of img.
Tensor wide_col(Backend& be, const Tensor& img, const Conv2dGeom& g, int64_t n0, int64_t nb) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  Tensor col = Tensor::empty({rows, nb * L}, img.options());
  Conv2dGeom gc = g;
  gc.n = nb;
  be.im2col(image_chunk(img, g, n0, nb), gc, wide_as_batch(col, nb, rows, L));
  return col;
}

// out [N, M, L] images n0.. as a wide [M, nb*L] copy.
Tensor wide_of(Backend& be, const Tensor& out, int64_t n0, int64_t nb, int64_t M, int64_t L) {
  Tensor w = Tensor::empty({M, nb * L}, out.options());
  be.copy(batch_view(out, n0, nb, M, L), wide_as_batch(w, nb, M, L));
  return w;
}

void forward_wide(Backend& be, const Tensor& img, const Tensor& w, const Conv2dGeom& g, const Tensor& out,
                  bool accumulate) {
  const int64_t M = w.size(0), K = w.numel() / M, L = g.oh() * g.ow();
  const Tensor a = w.as_strided({1, M, K}, {0, K, 1}, w.offset());
  for_each_wide_chunk(g, [&](int64_t n0, int64_t nb) {
    const Tensor col = wide_col(be, img, g, n0, nb);
    Tensor res = Tensor::empty({1, M, nb * L}, out.options());
    be.gemm(a, as_batch1(col, K, nb * L), res, false);
    const Tensor src = wide_as_batch(res, nb, M, L), dst = batch_view(out, n0, nb, M, L);
    if (accumulate) be.binary(BinaryOp::add, dst, src, dst);
    else be.copy(src, dst);
  });
}

void backward_data_wide(Backend& be, const Tensor& out, const Tensor& w, const Conv2dGeom& g, const Tensor& img) {
  const int64_t M = w.size(0), K = w.numel() / M, L = g.oh() * g.ow();
  const Tensor at = w.as_strided({1, K, M}, {0, 1, K}, w.offset());  // W^T
  for_each_wide_chunk(g, [&](int64_t n0, int64_t nb) {
    const Tensor src = wide_of(be, out, n0, nb, M, L);
    Tensor col = Tensor::empty({1, K, nb * L}, img.options());
    be.gemm(at, as_batch1(src, M, nb * L), col, false);
    Conv2dGeom gc = g;
    gc.n = nb;
    be.col2im(wide_as_batch(col, nb, K, L), gc, image_chunk(img, g, n0, nb));
  });
}

// Chunks are summed in kWeightGradParts fixed groups (a partial gW each, added in order at the
// end), so threads can share the batch and the sum order does not depend on the thread count.
constexpr int64_t kWeightGradParts = 4;
void backward_weight_wide(Backend& be, const Tensor& out, const Tensor& img, const Conv2dGeom& g, const Tensor& gw) {
  const int64_t M = gw.size(0), K = gw.numel() / M, L = g.oh() * g.ow(), chunk = wide_chunk(g);
  if (g.n == 0) return be.fill(gw, 0);
  const int64_t chunks = (g.n + chunk - 1) / chunk, parts = std::min(chunks, kWeightGradParts);
  std::vector<Tensor> partial(static_cast<size_t>(parts));
  partial[0] = gw.as_strided({1, M, K}, {M * K, K, 1}, gw.offset());
  for (int64_t p = 1; p < parts; ++p) partial[size_t(p)] = Tensor::empty({1, M, K}, gw.options());
  parallel_tasks(parts, [&](int64_t p) {
    for (int64_t c = chunks * p / parts; c < chunks * (p + 1) / parts; ++c) {
      const int64_t n0 = c * chunk, nb = std::min(chunk, g.n - n0);
      const Tensor a = wide_of(be, out, n0, nb, M, L), col = wide_col(be, img, g, n0, nb);
      // gW [M, K] (=|+=) gy [M, nb*L] @ col^T [nb*L, K] (col^T as a strided view: an NT product)
      be.gemm(as_batch1(a, M, nb * L), col.as_strided({1, nb * L, K}, {0, 1, nb * L}, col.offset()),
              partial[size_t(p)], c > chunks * p / parts);
    }
  });
  for (int64_t p = 1; p < parts; ++p) be.binary(BinaryOp::add, partial[0], partial[size_t(p)], partial[0]);
}

// ---- Winograd (3x3, stride 1, pad 1) ----
bool use_winograd(const Tensor& x, const Conv2dGeom& g, int64_t m) {
  return conv_winograd_enabled() && x.dtype() == DType::f32 && active_isa() != Isa::scalar && g.groups == 1 &&
         g.kh == 3 && g.kw == 3 && g.sh == 1 && g.sw == 1 && g.ph == 1 && g.pw == 1 && g.dh == 1 && g.dw == 1 &&
         g.c >= 16 && m >= 16 && g.h >= 4 && g.w >= 4;
}

// Images per Winograd chunk: the chunk's transformed input ((tile + 2)^2 floats per tile and
// channel) stays within ~1 MiB, at least one image, and the batch gives at least 8 chunks.
int64_t winograd_chunk(const Conv2dGeom& g, int64_t m, int tile) {
  const WinogradGrid grid = winograd_grid(tile, g.h, g.w);
  const int64_t per_image = winograd_positions(tile) * grid.th * grid.tw * std::max(g.c, m);
  return std::clamp<int64_t>(kWideColBudget / std::max<int64_t>(1, per_image), 1, std::max<int64_t>((g.n + 7) / 8, 1));
}

// dst [nb][h][w][c] <- src images (image stride ns, channel stride cs, row stride s2, pixel stride
// s3). Dense planes are one transpose per image (layout.h); other strides go a row of 16 channels
// at a time so the written block stays in L1.
void to_nhwc(const float* src, int64_t nb, int64_t c, int64_t h, int64_t w, int64_t ns, int64_t cs, int64_t s2,
             int64_t s3, float* dst) {
  if (s3 == 1 && s2 == w) {
    for (int64_t n = 0; n < nb; ++n) transpose_f32(src + n * ns, c, h * w, cs, dst + n * h * w * c, c, false);
    return;
  }
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t y = 0; y < h; ++y) {
      float* out = dst + (n * h + y) * w * c;
      for (int64_t c0 = 0; c0 < c; c0 += 16)
        for (int64_t ch = c0; ch < std::min(c, c0 + 16); ++ch) {
          const float* row = src + n * ns + ch * cs + y * s2;
          if (s3 == 1)
            for (int64_t x = 0; x < w; ++x) out[x * c + ch] = row[x];
          else
            for (int64_t x = 0; x < w; ++x) out[x * c + ch] = row[x * s3];
        }
    }
}

// dst images [nb][c][hw] (=|+=) src [nb][hw][c]: one transpose per image.
void from_nhwc(const float* src, int64_t nb, int64_t c, int64_t hw, float* dst, bool accumulate) {
  for (int64_t n = 0; n < nb; ++n) transpose_f32(src + n * hw * c, hw, c, c, dst + n * c * hw, hw, accumulate);
}

// out [N, m, H, W] (=|+=) conv3x3(in [N, cin, H, W] with any strides) for weights already in
// Winograd form (u, from winograd_transform_weights for cout m, cin and this tile size).
void winograd_images(const Tensor& in, int64_t cin, const float* u, int64_t m, int tile, const Conv2dGeom& g,
                     const Tensor& out, bool accumulate) {
  const int64_t hw = g.h * g.w, chunk = winograd_chunk(g, m, tile), chunks = (g.n + chunk - 1) / chunk;
  const float* src = in.data<float>();
  float* dst = out.data<float>();
  parallel_tasks(chunks, [&](int64_t ci) {
    const int64_t n0 = ci * chunk, nb = std::min(chunk, g.n - n0);
    thread_local std::vector<float> xh, yh;  // this thread's NHWC buffers, reused
    if (xh.size() < size_t(nb * hw * cin)) xh.resize(size_t(nb * hw * cin));
    if (yh.size() < size_t(nb * hw * m)) yh.resize(size_t(nb * hw * m));
    to_nhwc(src + n0 * in.stride(0), nb, cin, g.h, g.w, in.stride(0), in.stride(1), in.stride(2), in.stride(3),
            xh.data());
    conv_winograd({.n = nb, .h = g.h, .w = g.w, .cin = cin, .cout = m, .k = 3, .x = xh.data(), .x_pad = 0,
                   .packed_w = u, .y = yh.data(), .y_pad = 0},
                  tile);
    from_nhwc(yh.data(), nb, m, hw, dst + n0 * m * hw, accumulate);
  });
}

void forward_winograd(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate) {
  const int64_t m = w.size(0);
  const int tile = conv_winograd_tile(g.h, g.w, g.c, m);
  Tensor u = Tensor::empty({winograd_weights_size(m, g.c, tile)}, w.options());
  winograd_transform_weights(w.data<float>(), m, g.c, tile, u.data<float>());
  winograd_images(x, g.c, u.data<float>(), m, tile, g, y, accumulate);
}

// grad_x += conv3x3(grad_y, w') with w'[c][o][i][j] = w[o][c][2-i][2-j] (pad 1 keeps the size).
void backward_data_winograd(const Tensor& gy, const Tensor& w, const Conv2dGeom& g, const Tensor& gx) {
  const int64_t m = w.size(0), c = g.c;
  Tensor wf = Tensor::empty({c, m, 3, 3}, w.options());
  const float* ws = w.data<float>();
  float* wd = wf.data<float>();
  for (int64_t o = 0; o < m; ++o)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < 9; ++k) wd[(ch * m + o) * 9 + k] = ws[(o * c + ch) * 9 + (8 - k)];
  const int tile = conv_winograd_tile(g.h, g.w, m, c);
  Tensor u = Tensor::empty({winograd_weights_size(c, m, tile)}, w.options());
  winograd_transform_weights(wd, c, m, tile, u.data<float>());
  Conv2dGeom gt = g;
  gt.c = m;
  winograd_images(gy, m, u.data<float>(), c, tile, gt, gx, true);
}


// gw [m][c][3][3] = the weight gradient by Winograd (winograd.h: F(3x3,4x4) or F(3x3,2x2)). Each
// chunk of images goes to NHWC (x and grad_y), through the two transforms, and into the 36 (16)
// products M[e] [m, c] += W[e]^T [m, tiles] @ V[e] [tiles, c] (winograd_weight_product). Chunks are summed
// in kWeightGradParts fixed groups as in backward_weight_wide, so the result does not depend on
// the thread count; then gw = G^T M G.
void backward_weight_winograd(Backend& be, const Tensor& gy, const Tensor& x, const Conv2dGeom& g, const Tensor& gw) {
  const int64_t m = gw.size(0), c = g.c, hw = g.h * g.w;
  if (g.n == 0) return be.fill(gw, 0);
  const int tile = conv_winograd_tile(g.h, g.w, c, m);
  const int64_t positions = winograd_positions(tile);
  const WinogradGrid grid = winograd_grid(tile, g.h, g.w);
  const int64_t th = grid.th, tw = grid.tw;
  // The products reduce over a chunk's tiles and read-modify-write M (positions x m x c floats)
  // once per chunk, so a chunk gets at least 96 tiles where the batch has them (small planes have
  // few tiles per image: 4 on an 8x8 plane with F(4x4), where 8-tile chunks made M's traffic cost
  // more than the arithmetic).
  int64_t chunk = std::min(g.n, std::max(winograd_chunk(g, m, tile), (96 + th * tw - 1) / (th * tw)));
  // More chunks than parts: round their count up to a multiple of the parts, so the parts (one
  // task each) hold equal numbers of chunks (W6: 10 chunks gave parts of 2, 3, 2 and 3).
  if (const int64_t c0 = (g.n + chunk - 1) / chunk; c0 > kWeightGradParts) {
    const int64_t want = (c0 + kWeightGradParts - 1) / kWeightGradParts * kWeightGradParts;
    chunk = (g.n + want - 1) / want;
  }
  const int64_t chunks = (g.n + chunk - 1) / chunk, parts = std::min(chunks, kWeightGradParts);
  const int64_t part_size = positions * m * c;  // one partial M
  Tensor acc = Tensor::empty({parts, part_size}, gw.options());
  const float* xs = x.data<float>();
  const float* gs = gy.data<float>();
  parallel_tasks(parts, [&](int64_t part) {
    // this thread's NHWC copies and transforms, reused
    thread_local std::vector<float> xh, gh, v, wt, zeros;
    if (zeros.size() < size_t(std::max(c, m))) zeros.assign(size_t(std::max(c, m)), 0.0f);
    for (int64_t ci = chunks * part / parts; ci < chunks * (part + 1) / parts; ++ci) {
      const int64_t n0 = ci * chunk, nb = std::min(chunk, g.n - n0), tiles = nb * th * tw;
      if (xh.size() < size_t(nb * hw * c)) xh.resize(size_t(nb * hw * c));
      if (gh.size() < size_t(nb * hw * m)) gh.resize(size_t(nb * hw * m));
      if (v.size() < size_t(positions * tiles * c)) v.resize(size_t(positions * tiles * c));
      if (wt.size() < size_t(positions * tiles * m)) wt.resize(size_t(positions * tiles * m));
      to_nhwc(xs + n0 * x.stride(0), nb, c, g.h, g.w, x.stride(0), x.stride(1), x.stride(2), x.stride(3), xh.data());
      to_nhwc(gs + n0 * gy.stride(0), nb, m, g.h, g.w, gy.stride(0), gy.stride(1), gy.stride(2), gy.stride(3),
              gh.data());
      const DirectConv a{.n = nb, .h = g.h, .w = g.w, .cin = c, .cout = m, .k = 3, .x = xh.data(), .x_pad = 0};
      const WinogradPlan p{&a, tile, th, tw, 0, tiles, m, v.data(), wt.data(), zeros.data()};
      winograd_input(p, 0, tiles);
      winograd_grad_output(p, gh.data(), 0, tiles);
      winograd_weight_product(wt.data(), v.data(), positions, tiles, m, c, acc.data<float>() + part * part_size,
                              ci > chunks * part / parts);
    }
  });
  auto partial = [&](int64_t p) { return acc.as_strided({part_size}, {1}, acc.offset() + p * part_size); };
  const Tensor m0 = partial(0);
  for (int64_t p = 1; p < parts; ++p) be.binary(BinaryOp::add, m0, partial(p), m0);
  Tensor out = gw.is_contiguous() ? gw : Tensor::empty(gw.shape(), gw.options());
  winograd_weight_grad_finish(m0.data<float>(), m, c, tile, out.data<float>());
  if (!out.is_same(gw)) be.copy(out, gw);
}

}  // namespace

// ---- the CPU's conv entry points: pick a lowering per call ----
void CpuBackend::conv2d_fwd(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate) {
  if (depthwise_applies(y, g, g.groups, w.size(0))) return depthwise_forward(x, w, g, y, accumulate);
  if (use_winograd(x, g, w.size(0))) return forward_winograd(x, w, g, y, accumulate);
  if (use_wide(g)) return forward_wide(*this, x, w, g, y, accumulate);
  conv_lowering::forward(*this, x, w, g, y, accumulate);
}

void CpuBackend::conv2d_bwd_data(const Tensor& grad_y, const Tensor& w, const Conv2dGeom& g, const Tensor& grad_x) {
  if (depthwise_applies(grad_x, g, g.groups, w.size(0))) return depthwise_backward_input(grad_y, w, g, grad_x);
  if (use_winograd(grad_y, g, w.size(0))) return backward_data_winograd(grad_y, w, g, grad_x);
  if (use_wide(g)) return backward_data_wide(*this, grad_y, w, g, grad_x);
  conv_lowering::backward_data(*this, grad_y, w, g, grad_x);
}

void CpuBackend::conv2d_bwd_weight(const Tensor& grad_y, const Tensor& x, const Conv2dGeom& g, const Tensor& grad_w) {
  if (depthwise_applies(grad_w, g, g.groups, grad_w.size(0))) return depthwise_backward_weight(grad_y, x, g, grad_w);
  if (use_winograd(x, g, grad_w.size(0))) return backward_weight_winograd(*this, grad_y, x, g, grad_w);
  if (use_wide(g)) return backward_weight_wide(*this, grad_y, x, g, grad_w);
  conv_lowering::backward_weight(*this, grad_y, x, g, grad_w);
}

}  // namespace ember::cpu
