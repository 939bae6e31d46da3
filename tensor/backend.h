// The primitive-op interface every device backend implements (CPU: tensor/cpu/, CUDA: cuda/).
// Composite ops are written once above this, in autograd/functions/.
//
// Conventions for every primitive:
//  * inputs are Tensors carrying their layout (shape, strides, offset); a primitive states when it
//    needs an input contiguous. The op layer (autograd/functions) validates user input once;
//    primitives only EMBER_ASSERT their preconditions.
//  * outputs are allocated by the caller with the documented shape, contiguous unless stated, and
//    are overwritten (`=`) unless the comment says accumulate (`+=`).
//  * all tensors of one call live on the backend's device; dtypes match unless stated.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/op_list.h"
#include "tensor/tensor.h"

namespace ember {

enum class UnaryOp : uint8_t {
  identity, neg, exp, log, sqrt, rsqrt, abs, sign, tanh, sigmoid, relu, leaky_relu,
  gelu_tanh, gelu_erf, silu, square, reciprocal, sin, cos,
  clamp,      // min(max(x, p.alpha), p.beta)
  pow_scalar, // x ** p.alpha
  add_scalar, // x + p.alpha
  mul_scalar, // x * p.alpha
};
// alpha: leaky_relu slope, clamp low, pow exponent, scalar operand; beta: clamp high.
struct UnaryParams {
  double alpha = 0;
  double beta = 0;
};

// Arithmetic ops keep the input dtype; comparisons write u8 (0/1) into `out`.
enum class BinaryOp : uint8_t { add, sub, mul, div, pow, maximum, minimum, eq, ne, lt, le, gt, ge };
constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }

enum class ReduceOp : uint8_t { sum, max, min, prod };

// 2-D convolution geometry shared by im2col/col2im. x is [N, C, H, W]; the kernel is kh x kw.
struct Conv2dGeom {
  int64_t n = 0, c = 0, h = 0, w = 0;      // input
  int64_t kh = 1, kw = 1;                  // kernel
  int64_t sh = 1, sw = 1;                  // stride
  int64_t ph = 0, pw = 0;                  // zero padding
  int64_t dh = 1, dw = 1;                  // dilation
  int64_t oh() const { return (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1; }
  int64_t ow() const { return (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1; }
};

// Pooling geometry: x is [N, C, H, W], out [N, C, OH, OW] (ceil_mode false).
struct Pool2dGeom {
  int64_t kh = 2, kw = 2, sh = 2, sw = 2, ph = 0, pw = 0;
  bool count_include_pad = true;  // avg pool only
  int64_t oh(int64_t h) const { return (h + 2 * ph - kh) / sh + 1; }
  int64_t ow(int64_t w) const { return (w + 2 * pw - kw) / sw + 1; }
};

enum class UpsampleMode : uint8_t { nearest, bilinear };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  virtual bool supports(Prim p) const { return true; }

  // ---- memory ----
  // dst = src elementwise with dtype conversion. Same shape (src may be an expanded view with
  // zero strides); dst may be any non-overlapping strided view.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, double value) = 0;  // dst any strides

  // ---- elementwise ---- (inputs any strides, already broadcast to out's shape)
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) = 0;
  // grad_in = grad_out * f'(x)  (`=`), for the differentiable unary ops.
  virtual void unary_backward(UnaryOp op, const Tensor& x, const Tensor& grad_out, const Tensor& grad_in,
                              UnaryParams p) = 0;
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = cond ? a : b; cond is u8.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // ---- reductions ----
  // out has x's shape with every dim in `dims` (sorted, unique) set to 1 (keepdim layout).
  virtual void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) = 0;
  // max/min along one dim: values (x.dtype) and indices (i64), both keepdim shape; first index on ties.
  virtual void arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values,
                          const Tensor& indices) = 0;

  // ---- matrix multiply ----
  // a [Bt, M, K], b [Bt, K, N] with any strides (a zero batch stride broadcasts); out [Bt, M, N]
  // contiguous. out = a@b, or out += a@b when accumulate.
  virtual void gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) = 0;
  // Fused epilogue, as gemm plus out = act(a@b + bias) + residual in the same pass over out
  // (written `=`). bias [N] contiguous or undefined; act identity, relu, gelu_tanh, gelu_erf or
  // silu; residual contiguous like out, or undefined. Returns false where not fused (the caller
  // composes gemm + add + unary).
  virtual bool gemm_epilogue(const Tensor& a, const Tensor& b, const Tensor& bias, UnaryOp act,
                             const Tensor& residual, const Tensor& out) {
    return false;
  }

  // ---- softmax family (over the last dim; x contiguous, viewed as [rows, D]) ----
  virtual void softmax(const Tensor& x, const Tensor& out, bool log) = 0;
  // y is the forward output (softmax or log_softmax). grad_x = J^T grad_y.
  virtual void softmax_backward(const Tensor& y, const Tensor& grad_y, const Tensor& grad_x, bool log) = 0;
  // logits [N, C] contiguous, target [N] i64. loss [N] (0 where target == ignore_index),
  // lse [N] = logsumexp of each row (saved for backward).
  virtual void cross_entropy_fwd(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                 double label_smoothing, const Tensor& loss, const Tensor& lse) = 0;
  // grad_logits [N, C] = d(sum_i grad_loss[i] * loss[i]) / d logits.
  virtual void cross_entropy_bwd(const Tensor& logits, const Tensor& target, const Tensor& lse,
                                 const Tensor& grad_loss, int64_t ignore_index, double label_smoothing,
                                 const Tensor& grad_logits) = 0;

  // ---- convolution lowering ----
  // x [N, C, H, W] any strides -> col [N, C*kh*kw, OH*OW] contiguous (zeros where padded).
  virtual void im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) = 0;
  // The adjoint: x [N, C, H, W] contiguous += scatter of col.
  virtual void col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) = 0;

  // ---- pooling and resampling (x [N, C, H, W] contiguous) ----
  // indices (i64) hold the flat h*W+w position of each max inside its input plane.
  virtual void max_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices) = 0;
  virtual void max_pool2d_bwd(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in) = 0;  // `=`
  virtual void avg_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out) = 0;
  virtual void avg_pool2d_bwd(const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in) = 0;  // `=`
  virtual void adaptive_avg_pool2d_fwd(const Tensor& x, const Tensor& out) = 0;
  virtual void adaptive_avg_pool2d_bwd(const Tensor& grad_out, const Tensor& grad_in) = 0;  // `=`
  virtual void upsample2d_fwd(const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out) = 0;
  virtual void upsample2d_bwd(const Tensor& grad_out, UpsampleMode mode, bool align_corners,
                              const Tensor& grad_in) = 0;  // `=`

  // ---- norms over the last dim (x contiguous [N, D]; weight/bias [D] or undefined) ----
  virtual void layer_norm_fwd(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                              const Tensor& y, const Tensor& mean, const Tensor& rstd) = 0;
  // grad_weight / grad_bias may be undefined (not needed); all outputs `=`.
  virtual void layer_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                              const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight,
                              const Tensor& grad_bias) = 0;
  virtual void rms_norm_fwd(const Tensor& x, const Tensor& weight, double eps, const Tensor& y,
                            const Tensor& rstd) = 0;
  virtual void rms_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& rstd, const Tensor& grad_y,
                            const Tensor& grad_x, const Tensor& grad_weight) = 0;

  // ---- indexing (index tensors are i64 and already bounds-checked by the op layer) ----
  // out = x.index_select(dim, index); x any strides, out contiguous.
  virtual void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out.index_select(dim, index) += src (out contiguous, accumulates; repeated indices add up).
  virtual void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) = 0;
  // out[i][j][k] = x[index[i][j][k]][j][k] (dim 0 shown); index and out share a shape.
  virtual void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // out[index[i][j][k]][j][k] += src[i][j][k] (dim 0 shown); out contiguous, accumulates.
  virtual void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) = 0;

  // ---- random (counter-based Philox: element i depends only on seed, offset and i) ----
  virtual void random_uniform(const Tensor& out, double lo, double hi, uint64_t seed, uint64_t offset) = 0;
  virtual void random_normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) = 0;
  virtual void random_int(const Tensor& out, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset) = 0;

  // ---- optional fused kernels ----
  // Each returns false when this backend has no fused kernel for the arguments; the caller then
  // composes the same result from the primitives above. A backend overrides what pays for it.

  // One Adam/AdamW step over a parameter tensor, in place. param, grad, exp_avg, exp_avg_sq share
  // shape, dtype (f32/f64) and are contiguous. With g = grad (+ weight_decay * param unless
  // decoupled) and t = step (1-based):
  //   decoupled: param *= 1 - lr * weight_decay
  //   exp_avg    = beta1 * exp_avg    + (1 - beta1) * g
  //   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
  //   param     -= lr / (1 - beta1^t) * exp_avg / (sqrt(exp_avg_sq / (1 - beta2^t)) + eps)
  struct AdamStep {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool decoupled = false;  // true: AdamW
    int64_t step = 1;
  };
  virtual bool adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                           const Tensor& exp_avg_sq, const AdamStep& s) {
    return false;
  }

  // Fused scaled-dot-product attention (flash style, online softmax). q [B, Hq, T, D],
  // k [B, Hkv, S, D], v [B, Hkv, S, Dv], all contiguous, Hq % Hkv == 0 (query head h reads kv head
  // h / (Hq / Hkv); K/V are never repeated). scores = scale * q k^T; causal keeps key s for query t
  // when s <= t + (S - T) (aligned to the end, as when decoding with a KV cache).
  // out [B, Hq, T, Dv]; lse [B, Hq, T] (same dtype) = log-sum-exp of each query's kept scores.
  virtual bool sdpa_fwd(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale,
                        const Tensor& out, const Tensor& lse) {
    return false;
  }
  // Gradients of sum(grad_out * out) given the forward's out and lse; grad_q/k/v have the shapes
  // of q/k/v, contiguous, written (`=`).
  virtual bool sdpa_bwd(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                        const Tensor& grad_out, bool causal, double scale, const Tensor& grad_q,
                        const Tensor& grad_k, const Tensor& grad_v) {
    return false;
  }
};

// The backend for a device; throws when that device is not built in or not present.
Backend& backend_for(Device d);
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }
void register_backend(DeviceType type, Backend* backend);

}  // namespace ember
