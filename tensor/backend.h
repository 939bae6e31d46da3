// The primitive-op interface every device backend implements (CPU: tensor/cpu/, CUDA: cuda/).
// Composite ops are written once above this, in autograd/functions/. The list of primitives is
// tensor/op_list.h; their contracts are below.
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

#include "tensor/conv_geometry.h"
#include "tensor/numerics.h"
#include "tensor/op_list.h"
#include "tensor/tensor.h"

namespace ember {

// The contract of every primitive in tensor/op_list.h, by family. Shapes and dtypes are
// checked by the op layer; `=` overwrites, `+=` accumulates.
//
// memory
//   copy(src, dst): dst = src elementwise with dtype conversion. Same shape (src may be an
//     expanded view with zero strides); dst may be any non-overlapping strided view.
//   fill(dst, value): dst any strides.
// elementwise (inputs any strides, already broadcast to out's shape; formulas in tensor/numerics.h)
//   unary(op, x, out, p); unary_backward(op, x, grad_out, grad_in, p): grad_in = grad_out * f'(x)
//     (`=`) for the differentiable unary ops; binary(op, a, b, out) (comparisons write u8);
//   where(cond, a, b, out): out = cond ? a : b, cond u8.
// reductions
//   reduce(op, x, dims, out): out has x's shape with every dim in dims (sorted, unique) set to 1.
//   arg_reduce(op, x, dim, values, indices): max/min along one dim, values (x.dtype) and indices
//     (i64) in keepdim shape; first index on ties.
// matrix multiply
//   gemm(a, b, out, accumulate): a [Bt, M, K], b [Bt, K, N] any strides (a zero batch stride
//     broadcasts); out [Bt, M, N] contiguous; out = a@b, or += when accumulate. f32 products follow
//     matmul_precision() (tensor/matmul_precision.h) on every backend.
//   gemm_epilogue(a, b, bias, act, residual, out) [opt]: gemm plus out = act(a@b + bias) + residual
//     in one pass (`=`); bias [N] contiguous or undefined; act identity, relu, gelu_tanh, gelu_erf
//     or silu; residual contiguous like out, or undefined.
// softmax family (over the last dim; x contiguous, viewed as [rows, D])
//   softmax(x, out, log); softmax_backward(y, grad_y, grad_x, log): y is the forward output,
//     grad_x = J^T grad_y.
//   cross_entropy_fwd(logits [N, C], target [N] i64, ignore_index, label_smoothing, loss [N]
//     (0 where ignored), lse [N] = logsumexp of each row); cross_entropy_bwd(..., grad_logits):
//     grad_logits [N, C] = d(sum_i grad_loss[i] * loss[i]) / d logits.
// convolution (geometry in tensor/conv_geometry.h; x [N, C, H, W], w [M, C/G, kh, kw] contiguous)
//   conv2d_fwd(x, w, g, y, accumulate): x any strides; y [N, M, OH, OW] contiguous, = or +=.
//   conv2d_bwd_data(grad_y, w, g, grad_x): grad_y contiguous; grad_x contiguous, += conv^T(grad_y).
//   conv2d_bwd_weight(grad_y, x, g, grad_w): grad_w = sum_n grad_y[n] (x) im2col(x[n]) (`=`).
//   im2col(x, g, col): x any strides -> col [N, C*kh*kw, OH*OW] (zeros where padded); col2im is
//     its adjoint, x contiguous += scatter of col.
// pooling and resampling (x [N, C, H, W] contiguous)
//   max_pool2d_fwd(x, g, out, indices): indices (i64) hold the flat h*W+w of each max in its plane;
//   max_pool2d_bwd, avg_pool2d_*, adaptive_avg_pool2d_*, upsample2d_* backward write grad_in `=`.
// norms over the last dim (x contiguous [N, D]; weight/bias [D] or undefined; statistics in f64
//   on every backend)
//   layer_norm_fwd(x, weight, bias, eps, y, mean, rstd); layer_norm_bwd(..., grad_x, grad_weight,
//   grad_bias): grad_weight / grad_bias may be undefined; all `=`. rms_norm_* likewise.
//   batch_norm_fwd(x, weight, bias, eps, y, mean, var) [opt]: training-mode batch norm of x
//     contiguous [N, C, S] over N and S per channel: mean, var [C] the (biased) batch statistics,
//     y = (x - mean) / sqrt(var + eps) * weight + bias (weight/bias [C] or undefined); all `=`.
//     batch_norm_bwd(x, weight, mean, var, eps, grad_y, grad_x, grad_weight, grad_bias) [opt]: the
//     gradients of that forward (grad_weight / grad_bias may be undefined); all `=`.
// indexing (index tensors i64, bounds-checked by the op layer)
//   index_select(x, dim, index, out); index_add(out, dim, index, src): out contiguous +=, repeated
//   indices add up; gather(x, dim, index, out): out[i][j] = x[index[i][j]][j] (dim 0 shown);
//   scatter_add(out, dim, index, src): out[index[i][j]][j] += src[i][j].
// random (counter-based Philox: element i depends only on seed, offset and i)
//   random_uniform / random_normal / random_int(out, ..., seed, offset).
// fused kernels [opt]
//   adam_update(param, grad, exp_avg, exp_avg_sq, s): one Adam/AdamW step in place (AdamStep
//     below); param, grad, moments share shape and f32/f64 dtype and are contiguous.
//   sdpa_fwd(q, k, v, causal, scale, out, lse): flash-style attention. q [B, Hq, T, D],
//     k [B, Hkv, S, D], v [B, Hkv, S, Dv], contiguous, Hq % Hkv == 0; causal keeps key s for
//     query t when s <= t + (S - T); out [B, Hq, T, Dv]; lse [B, Hq, T]. sdpa_bwd writes
//     grad_q/k/v (`=`) from the forward's out and lse.
class Backend {
 public:
  // Adam/AdamW step: with g = grad (+ weight_decay * param unless decoupled), t = step (1-based):
  //   decoupled: param *= 1 - lr * weight_decay
  //   exp_avg    = beta1 * exp_avg    + (1 - beta1) * g
  //   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
  //   param     -= lr / (1 - beta1^t) * exp_avg / (sqrt(exp_avg_sq / (1 - beta2^t)) + eps)
  struct AdamStep {
    double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
    bool decoupled = false;  // true: AdamW
    int64_t step = 1;
  };

  virtual ~Backend() = default;
  virtual Device device() const = 0;
  // Whether this backend implements primitive p (its column in op_list.h).
  virtual bool supports(Prim p) const = 0;

  // The primitives, generated from op_list.h: a req primitive a backend lacks throws
  // "<name>: not supported on <device>"; an opt one returns false.
#define EMBER_PRIM_DEFAULT_req(name) { unsupported(Prim::name); }
#define EMBER_PRIM_DEFAULT_opt(name) { return false; }
#define EMBER_X(name, ret, params, kind, cpu, cuda) virtual ret name params EMBER_PRIM_DEFAULT_##kind(name)
  EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
#undef EMBER_PRIM_DEFAULT_req
#undef EMBER_PRIM_DEFAULT_opt

 protected:
  [[noreturn]] void unsupported(Prim p) const;
};

// The backend for a device; throws when that device is not built in or not present.
Backend& backend_for(Device d);
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }
void register_backend(DeviceType type, Backend* backend);

}  // namespace ember
