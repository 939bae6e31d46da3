// CPU convolution: conv2d_fwd / conv2d_bwd_data / conv2d_bwd_weight. The three entry points at the
// end of this file are where the CPU picks a lowering per call; a new CPU conv kernel (Winograd,
// direct) plugs in there, ahead of the two lowerings below (depthwise convs go to depthwise.cpp):
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
#include "tensor/cpu/depthwise.h"
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

}  // namespace

// ---- the CPU's conv entry points: pick a lowering per call ----
void CpuBackend::conv2d_fwd(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate) {
  if (depthwise_applies(y, g, g.groups, w.size(0))) return depthwise_forward(x, w, g, y, accumulate);
  if (use_wide(g)) return forward_wide(*this, x, w, g, y, accumulate);
  conv_lowering::forward(*this, x, w, g, y, accumulate);
}

void CpuBackend::conv2d_bwd_data(const Tensor& grad_y, const Tensor& w, const Conv2dGeom& g, const Tensor& grad_x) {
  if (depthwise_applies(grad_x, g, g.groups, w.size(0))) return depthwise_backward_input(grad_y, w, g, grad_x);
  if (use_wide(g)) return backward_data_wide(*this, grad_y, w, g, grad_x);
  conv_lowering::backward_data(*this, grad_y, w, g, grad_x);
}

void CpuBackend::conv2d_bwd_weight(const Tensor& grad_y, const Tensor& x, const Conv2dGeom& g, const Tensor& grad_w) {
  if (depthwise_applies(grad_w, g, g.groups, grad_w.size(0))) return depthwise_backward_weight(grad_y, x, g, grad_w);
  if (use_wide(g)) return backward_weight_wide(*this, grad_y, x, g, grad_w);
  conv_lowering::backward_weight(*this, grad_y, x, g, grad_w);
}

}  // namespace ember::cpu
