// Convolution through im2col / col2im + batched GEMM on any backend (see conv_lowering.h).
#include "tensor/conv_lowering.h"

#include <algorithm>

namespace ember::conv_lowering {
namespace {

// The weight [M, C/G, kh, kw] (contiguous) as per-group GEMM operands.
Tensor weight_groups(const Tensor& w, int64_t groups) {  // [G, M/G, K]
  const int64_t mg = w.size(0) / groups, k = w.numel() / w.size(0);
  return w.as_strided({groups, mg, k}, {mg * k, k, 1}, w.offset());
}
Tensor weight_groups_t(const Tensor& w, int64_t groups) {  // [G, K, M/G], transposed view
  const int64_t mg = w.size(0) / groups, k = w.numel() / w.size(0);
  return w.as_strided({groups, k, mg}, {mg * k, 1, k}, w.offset());
}

// out[n, g] (=|+=) A_g @ B[n, g].  A [G, R, K] any strides, shared by the batch;
// B [nb, G*K, L] and out [nb, G*R, L] contiguous. G == 1 is one batched GEMM (A's batch stride 0).
void group_gemm(Backend& be, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  const int64_t G = a.size(0), R = a.size(1), K = a.size(2), nb = b.size(0), L = b.size(2);
  if (G == 1) {
    be.gemm(a.as_strided({nb, R, K}, {0, a.stride(1), a.stride(2)}, a.offset()), b, out, accumulate);
    return;
  }
  for (int64_t n = 0; n < nb; ++n)
    be.gemm(a, batch_view(b, n * G, G, K, L), batch_view(out, n * G, G, R, L), accumulate);
}

int64_t col_chunk(const Conv2dGeom& g) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  return std::clamp<int64_t>(kColBudget / std::max<int64_t>(1, rows * L), 1, std::max<int64_t>(g.n, 1));
}

// Per batch chunk of img [N, C, H, W] (any strides): col = im2col(chunk) as [nb, C*kk, L], or the
// chunk itself on the 1x1 fast path. f(n0, nb, col) is called for each chunk in order.
template <typename F>
void for_each_col_chunk(Backend& be, const Tensor& img, const Conv2dGeom& g, F&& f) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow(), chunk = col_chunk(g);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0);
    const Tensor part = image_chunk(img, g, n0, nb);
    if (g.pointwise() && part.is_contiguous()) {
      f(n0, nb, part.as_strided({nb, rows, L}, {rows * L, L, 1}, part.offset()));
      continue;
    }
    Conv2dGeom gc = g;
    gc.n = nb;
    Tensor col = Tensor::empty({nb, rows, L}, img.options());
    be.im2col(part, gc, col);
    f(n0, nb, col);
  }
}

}  // namespace

void forward(Backend& be, const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate) {
  const int64_t M = w.size(0), L = g.oh() * g.ow();
  const Tensor a = weight_groups(w, g.groups);
  for_each_col_chunk(be, x, g, [&](int64_t n0, int64_t nb, const Tensor& col) {
    group_gemm(be, a, col, batch_view(y, n0, nb, M, L), accumulate);
  });
}

void backward_data(Backend& be, const Tensor& gy, const Tensor& w, const Conv2dGeom& g, const Tensor& gx) {
  const int64_t M = w.size(0), L = g.oh() * g.ow(), rows = g.c * g.kh * g.kw, chunk = col_chunk(g);
  const Tensor at = weight_groups_t(w, g.groups);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0);
    const Tensor src = batch_view(gy, n0, nb, M, L);
    if (g.pointwise()) {  // col2im is the identity: accumulate straight into gx
      group_gemm(be, at, src, batch_view(gx, n0, nb, rows, L), true);
      continue;
    }
    Tensor col = Tensor::empty({nb, rows, L}, gy.options());
    group_gemm(be, at, src, col, false);
    Conv2dGeom gc = g;
    gc.n = nb;
    be.col2im(col, gc, image_chunk(gx, g, n0, nb));
  }
}

void backward_weight(Backend& be, const Tensor& gy, const Tensor& x, const Conv2dGeom& g, const Tensor& gw) {
  const int64_t M = gw.size(0), G = g.groups, R = M / G, K = gw.numel() / M, L = g.oh() * g.ow();
  const Tensor dst = weight_groups(gw, G);  // [G, R, K], contiguous
  bool first = true;
  for_each_col_chunk(be, x, g, [&](int64_t n0, int64_t nb, const Tensor& col) {
    for (int64_t n = 0; n < nb; ++n) {
      const Tensor a = batch_view(gy, (n0 + n) * G, G, R, L);
      const Tensor bt = col.as_strided({G, L, K}, {K * L, 1, L}, col.offset() + n * G * K * L);
      be.gemm(a, bt, dst, !first);
      first = false;
    }
  });
  if (first) be.fill(gw, 0);  // empty batch
}

}  // namespace ember::conv_lowering
