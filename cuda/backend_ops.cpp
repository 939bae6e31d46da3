// CUDA backend: reductions, softmax family, norms, convolution lowering, pooling, indexing and
// random fills. Each method asserts the layout its kernel needs (the op layer guarantees it),
// makes the device current and calls one launcher of kernels/.
#include <limits>

#include "cuda/backend.h"
#include "cuda/cuda.h"
#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

const void* ptr_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
void* mut_or_null(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

double identity_value(ReduceOp op, DType dt) {
  return dispatch_all(dt, "reduce", [&]<typename T>() -> double {
    switch (op) {
      case ReduceOp::sum: return 0.0;
      case ReduceOp::prod: return 1.0;
      case ReduceOp::max:
        return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                    : double(std::numeric_limits<T>::lowest());
      case ReduceOp::min:
        return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                    : double(std::numeric_limits<T>::max());
    }
    return 0.0;
  });
}

int64_t prod(const Shape& s, int64_t lo, int64_t hi) {
  int64_t p = 1;
  for (int64_t d = lo; d < hi; ++d) p *= s[size_t(d)];
  return p;
}

Strides zero_at(Strides s, int64_t dim) {
  s[size_t(dim)] = 0;
  return s;
}

int64_t rows_of(const Tensor& x) {
  const int64_t d = x.dim() == 0 ? 1 : x.size(-1);
  return d == 0 ? 0 : x.numel() / d;
}

// in [N, C, H, W], out [N, C, OH, OW], both contiguous.
Pool2dGeom pool_geom(const Tensor& in, const Tensor& out, const Pool2dGeom* g, const char* op) {
  EMBER_ASSERT(in.dim() == 4 && out.dim() == 4 && in.is_contiguous() && out.is_contiguous() &&
                   in.size(0) == out.size(0) && in.size(1) == out.size(1),
               "{}: expected contiguous [N,C,H,W] and [N,C,OH,OW], got {} and {}", op, shape_str(in.shape()),
               shape_str(out.shape()));
  const Pool2dGeom window = g ? *g : Pool2dGeom{.kh = 1, .kw = 1, .sh = 1, .sw = 1};
  return window.with_planes(in.size(0) * in.size(1), in.size(2), in.size(3), out.size(2), out.size(3));
}

}  // namespace

// ---------------------------------------------------------------- reductions
void CudaBackend::reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) {
  EMBER_ASSERT(out.dim() == x.dim(), "reduce: out {} must keep the dims of x {}", shape_str(out.shape()),
               shape_str(x.shape()));
  if (out.numel() == 0) return;
  use_device(out);
  Shape kept, red;
  Strides kx, ko, rx;
  size_t j = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (j < dims.size() && dims[j] == d) {
      red.push_back(x.size(d)), rx.push_back(x.stride(d)), ++j;
    } else {
      kept.push_back(x.size(d)), kx.push_back(x.stride(d)), ko.push_back(out.stride(d));
    }
  }
  if (x.numel() == 0) return fill(out, identity_value(op, x.dtype()));
  if (red.empty()) return copy(x, out);
  ReduceDesc d{make_iter<2>(kept, {kx, ko}), make_iter<1>(red, {rx})};
  launch_reduce(op, x.raw_data(), out.raw_data(), x.dtype(), d);
}

void CudaBackend::arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) {
  EMBER_ASSERT(op == ReduceOp::max || op == ReduceOp::min, "arg_reduce: only max/min");
  if (values.numel() == 0) return;
  use_device(values);
  Shape kept;
  Strides kx, kv, ki;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d == dim) continue;
    kept.push_back(x.size(d)), kx.push_back(x.stride(d)), kv.push_back(values.stride(d)), ki.push_back(indices.stride(d));
  }
  launch_arg_reduce(op, x.raw_data(), x.size(dim), x.stride(dim), values.raw_data(),
                    static_cast<int64_t*>(indices.raw_data()), x.dtype(), make_iter<3>(kept, {kx, kv, ki}));
}

// ---------------------------------------------------------------- softmax family
void CudaBackend::softmax(const Tensor& x, const Tensor& out, bool log) {
  if (x.numel() == 0) return;
  EMBER_ASSERT(x.is_contiguous() && out.is_contiguous() && x.shape() == out.shape(), "softmax: bad layout");
  use_device(x);
  launch_softmax(x.raw_data(), out.raw_data(), rows_of(x), x.dim() == 0 ? 1 : x.size(-1), log, x.dtype());
}

void CudaBackend::softmax_backward(const Tensor& y, const Tensor& grad_y, const Tensor& grad_x, bool log) {
  if (y.numel() == 0) return;
  EMBER_ASSERT(y.is_contiguous() && grad_y.is_contiguous() && grad_x.is_contiguous(), "softmax_backward: bad layout");
  use_device(y);
  launch_softmax_backward(y.raw_data(), grad_y.raw_data(), grad_x.raw_data(), rows_of(y),
                          y.dim() == 0 ? 1 : y.size(-1), log, y.dtype());
}

void CudaBackend::cross_entropy_fwd(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                    double label_smoothing, const Tensor& loss, const Tensor& lse) {
  if (logits.numel() == 0) return;
  EMBER_ASSERT(logits.dim() == 2 && logits.is_contiguous() && target.is_contiguous() && loss.is_contiguous() &&
                   lse.is_contiguous() && target.numel() == logits.size(0),
               "cross_entropy_fwd: bad layout");
  use_device(logits);
  launch_cross_entropy_fwd(logits.raw_data(), static_cast<const int64_t*>(target.raw_data()), logits.size(0),
                           logits.size(1), ignore_index, label_smoothing, loss.raw_data(), lse.raw_data(),
                           logits.dtype());
}

void CudaBackend::cross_entropy_bwd(const Tensor& logits, const Tensor& target, const Tensor& lse,
                                    const Tensor& grad_loss, int64_t ignore_index, double label_smoothing,
                                    const Tensor& grad_logits) {
  if (logits.numel() == 0) return;
  EMBER_ASSERT(logits.dim() == 2 && logits.is_contiguous() && target.is_contiguous() && lse.is_contiguous() &&
                   grad_loss.is_contiguous() && grad_logits.is_contiguous(),
               "cross_entropy_bwd: bad layout");
  use_device(logits);
  launch_cross_entropy_bwd(logits.raw_data(), static_cast<const int64_t*>(target.raw_data()), lse.raw_data(),
                           grad_loss.raw_data(), logits.size(0), logits.size(1), ignore_index, label_smoothing,
                           grad_logits.raw_data(), logits.dtype());
}

// ---------------------------------------------------------------- convolution lowering
void CudaBackend::im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  EMBER_ASSERT(col.is_contiguous() && col.shape() == Shape({g.n, g.c * g.kh * g.kw, g.oh() * g.ow()}),
               "im2col: col {} is not a contiguous [N, C*kh*kw, OH*OW]", shape_str(col.shape()));
  if (col.numel() == 0) return;
  use_device(x);
  const int64_t xs[4] = {x.stride(0), x.stride(1), x.stride(2), x.stride(3)};
  launch_im2col(x.raw_data(), xs, g, col.raw_data(), x.dtype());
}

void CudaBackend::col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) {
  EMBER_ASSERT(x.is_contiguous() && col.is_contiguous(), "col2im: x and col must be contiguous");
  if (x.numel() == 0) return;
  use_device(x);
  launch_col2im(col.raw_data(), g, x.raw_data(), x.dtype());
}

// ---------------------------------------------------------------- pooling and resampling
void CudaBackend::max_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices) {
  const Pool2dGeom p = pool_geom(x, out, &g, "max_pool2d_fwd");
  use_device(x);
  launch_max_pool_fwd(x.raw_data(), p, out.raw_data(), static_cast<int64_t*>(indices.raw_data()), x.dtype());
}
void CudaBackend::max_pool2d_bwd(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in) {
  const Pool2dGeom p = pool_geom(grad_in, grad_out, nullptr, "max_pool2d_bwd");
  use_device(grad_in);
  launch_max_pool_bwd(grad_out.raw_data(), static_cast<const int64_t*>(indices.raw_data()), p, grad_in.raw_data(),
                      grad_in.dtype());
}
void CudaBackend::avg_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out) {
  const Pool2dGeom p = pool_geom(x, out, &g, "avg_pool2d_fwd");
  use_device(x);
  launch_avg_pool_fwd(x.raw_data(), p, out.raw_data(), x.dtype());
}
void CudaBackend::avg_pool2d_bwd(const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in) {
  const Pool2dGeom p = pool_geom(grad_in, grad_out, &g, "avg_pool2d_bwd");
  use_device(grad_in);
  launch_avg_pool_bwd(grad_out.raw_data(), p, grad_in.raw_data(), grad_in.dtype());
}
void CudaBackend::adaptive_avg_pool2d_fwd(const Tensor& x, const Tensor& out) {
  const Pool2dGeom p = pool_geom(x, out, nullptr, "adaptive_avg_pool2d_fwd");
  use_device(x);
  launch_adaptive_fwd(x.raw_data(), p, out.raw_data(), x.dtype());
}
void CudaBackend::adaptive_avg_pool2d_bwd(const Tensor& grad_out, const Tensor& grad_in) {
  const Pool2dGeom p = pool_geom(grad_in, grad_out, nullptr, "adaptive_avg_pool2d_bwd");
  use_device(grad_in);
  launch_adaptive_bwd(grad_out.raw_data(), p, grad_in.raw_data(), grad_in.dtype());
}
void CudaBackend::upsample2d_fwd(const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out) {
  const Pool2dGeom p = pool_geom(x, out, nullptr, "upsample2d_fwd");
  use_device(x);
  launch_upsample_fwd(x.raw_data(), p, mode == UpsampleMode::bilinear, align_corners, out.raw_data(),
                      x.dtype());
}
void CudaBackend::upsample2d_bwd(const Tensor& grad_out, UpsampleMode mode, bool align_corners,
                                 const Tensor& grad_in) {
  const Pool2dGeom p = pool_geom(grad_in, grad_out, nullptr, "upsample2d_bwd");
  use_device(grad_in);
  launch_upsample_bwd(grad_out.raw_data(), p, mode == UpsampleMode::bilinear, align_corners, grad_in.raw_data(),
                      grad_in.dtype());
}

// ---------------------------------------------------------------- norms
void CudaBackend::layer_norm_fwd(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                 const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  if (x.numel() == 0) return;
  EMBER_ASSERT(x.dim() == 2 && x.is_contiguous() && y.is_contiguous(), "layer_norm_fwd: bad layout");
  use_device(x);
  launch_layer_norm_fwd(x.raw_data(), ptr_or_null(weight), ptr_or_null(bias), eps, y.raw_data(), mean.raw_data(),
                        rstd.raw_data(), x.size(0), x.size(1), x.dtype());
}
void CudaBackend::layer_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                                 const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight,
                                 const Tensor& grad_bias) {
  if (x.numel() == 0) return;
  EMBER_ASSERT(x.dim() == 2 && x.is_contiguous() && grad_y.is_contiguous(), "layer_norm_bwd: bad layout");
  use_device(x);
  launch_layer_norm_bwd(x.raw_data(), ptr_or_null(weight), mean.raw_data(), rstd.raw_data(), grad_y.raw_data(),
                        mut_or_null(grad_x), mut_or_null(grad_weight), mut_or_null(grad_bias), x.size(0), x.size(1),
                        x.dtype());
}
void CudaBackend::rms_norm_fwd(const Tensor& x, const Tensor& weight, double eps, const Tensor& y,
                               const Tensor& rstd) {
  if (x.numel() == 0) return;
  EMBER_ASSERT(x.dim() == 2 && x.is_contiguous() && y.is_contiguous(), "rms_norm_fwd: bad layout");
  use_device(x);
  launch_rms_norm_fwd(x.raw_data(), ptr_or_null(weight), eps, y.raw_data(), rstd.raw_data(), x.size(0), x.size(1),
                      x.dtype());
}
void CudaBackend::rms_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& rstd, const Tensor& grad_y,
                               const Tensor& grad_x, const Tensor& grad_weight) {
  if (x.numel() == 0) return;
  EMBER_ASSERT(x.dim() == 2 && x.is_contiguous() && grad_y.is_contiguous(), "rms_norm_bwd: bad layout");
  use_device(x);
  launch_rms_norm_bwd(x.raw_data(), ptr_or_null(weight), rstd.raw_data(), grad_y.raw_data(), mut_or_null(grad_x),
                      mut_or_null(grad_weight), x.size(0), x.size(1), x.dtype());
}

// ---------------------------------------------------------------- indexing
void CudaBackend::index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.dim() <= 1, "index_select: bad call");
  if (out.numel() == 0) return;
  use_device(out);
  IndexDesc d{make_iter<2>(out.shape(), {zero_at(x.strides(), dim), out.strides()}),
              prod(out.shape(), dim + 1, out.dim()), index.numel(), x.size(dim), x.stride(dim),
              index.dim() == 1 ? index.stride(0) : 0};
  launch_index_select(x.raw_data(), static_cast<const int64_t*>(index.raw_data()), out.raw_data(), d,
                      x.dtype());
}

void CudaBackend::index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.dim() <= 1, "index_add: bad call");
  if (src.numel() == 0 || out.numel() == 0) return;
  use_device(out);
  const bool det = deterministic() || out.dtype() == DType::u8;
  const int64_t si = index.dim() == 1 ? index.stride(0) : 0;
  IndexDesc d = det ? IndexDesc{make_iter<2>(out.shape(), {zero_at(src.strides(), dim), out.strides()}),
                                prod(out.shape(), dim + 1, out.dim()), index.numel(), out.size(dim), src.stride(dim), si}
                    : IndexDesc{make_iter<2>(src.shape(), {src.strides(), zero_at(out.strides(), dim)}),
                                prod(src.shape(), dim + 1, src.dim()), index.numel(), out.size(dim), out.stride(dim), si};
  launch_index_add(out.raw_data(), static_cast<const int64_t*>(index.raw_data()), src.raw_data(), d, det,
                   out.dtype());
}

void CudaBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64 && index.shape() == out.shape(), "gather: bad call");
  if (out.numel() == 0) return;
  use_device(out);
  GatherDesc d{make_iter<3>(index.shape(), {zero_at(x.strides(), dim), index.strides(), out.strides()}),
               x.stride(dim), 0, 0, 0, 0, 0};
  launch_gather(x.raw_data(), static_cast<const int64_t*>(index.raw_data()), out.raw_data(), d, x.dtype());
}

void CudaBackend::scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) {
  EMBER_ASSERT(out.is_contiguous() && index.dtype() == DType::i64, "scatter_add: bad call");
  if (index.numel() == 0) return;
  use_device(out);
  const bool det = deterministic() || out.dtype() == DType::u8;
  GatherDesc d{};
  if (det) {
    Shape s = index.shape();
    s[size_t(dim)] = out.size(dim);
    d = GatherDesc{make_iter<3>(s, {zero_at(index.strides(), dim), zero_at(src.strides(), dim), out.strides()}),
                   out.stride(dim), prod(index.shape(), dim + 1, index.dim()), out.size(dim), index.size(dim),
                   index.stride(dim), src.stride(dim)};
  } else {
    d = GatherDesc{make_iter<3>(index.shape(), {zero_at(out.strides(), dim), index.strides(), src.strides()}),
                   out.stride(dim), 0, 0, 0, 0, 0};
  }
  launch_scatter_add(out.raw_data(), static_cast<const int64_t*>(index.raw_data()), src.raw_data(), d, det,
                     out.dtype());
}

// ---------------------------------------------------------------- random
void CudaBackend::random_uniform(const Tensor& out, double lo, double hi, uint64_t seed, uint64_t offset) {
  EMBER_ASSERT(out.is_contiguous(), "random: output {} must be contiguous", shape_str(out.shape()));
  EMBER_CHECK(is_floating(out.dtype()), "random_uniform: expected f32 or f64, got {}", out.dtype());
  if (out.numel() == 0) return;
  use_device(out);
  launch_random_uniform(out.raw_data(), out.numel(), lo, hi, seed, offset, out.dtype());
}
void CudaBackend::random_normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) {
  EMBER_ASSERT(out.is_contiguous(), "random: output {} must be contiguous", shape_str(out.shape()));
  EMBER_CHECK(is_floating(out.dtype()), "random_normal: expected f32 or f64, got {}", out.dtype());
  if (out.numel() == 0) return;
  use_device(out);
  launch_random_normal(out.raw_data(), out.numel(), mean, std, seed, offset, out.dtype());
}
void CudaBackend::random_int(const Tensor& out, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset) {
  EMBER_ASSERT(out.is_contiguous(), "random: output {} must be contiguous", shape_str(out.shape()));
  if (out.numel() == 0) return;
  use_device(out);
  launch_random_int(out.raw_data(), out.numel(), lo, hi, seed, offset, out.dtype());
}

}  // namespace ember::cuda
