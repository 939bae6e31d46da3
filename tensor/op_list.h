// The ONE list of backend primitives. Everything else is generated from it: the Prim enum and
// names, the virtual declarations of Backend (tensor/backend.h) with their defaults, each
// backend's override declarations (tensor/cpu/cpu_backend.h, cuda/backend.h) and each backend's
// supports() answer. The contract of each primitive (shapes, `=` or `+=`) is documented in
// tensor/backend.h.
//
// Columns: X(name, return type, (parameters), kind, cpu, cuda)
//   kind  req: a backend without it throws "<name>: not supported on <device>";
//         opt: a fused kernel; a backend without it returns false and the caller composes the
//              same result from req primitives (a backend may also return false per call).
//   cpu, cuda: 1 where that backend implements the primitive (declares the override), else 0.
// Adding a primitive: one line here, the contract in backend.h, the kernels, one harness case
// (tests/tensor/test_backend_ops.cpp fails until the case exists).
#pragma once

#include <cstddef>
#include <string_view>

#define EMBER_PRIMITIVES(X)                                                                                     \
  X(copy, void, (const Tensor& src, const Tensor& dst), req, 1, 1)                                              \
  X(fill, void, (const Tensor& dst, double value), req, 1, 1)                                                   \
  X(unary, void, (UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p), req, 1, 1)                    \
  X(unary_backward, void,                                                                                       \
    (UnaryOp op, const Tensor& x, const Tensor& grad_out, const Tensor& grad_in, UnaryParams p), req, 1, 1)     \
  X(binary, void, (BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out), req, 1, 1)                \
  X(where, void, (const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out), req, 1, 1)          \
  X(reduce, void, (ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out), req, 1,  \
    1)                                                                                                          \
  X(arg_reduce, void,                                                                                           \
    (ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices), req, 1, 1)         \
  X(gemm, void, (const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate), req, 1, 1)              \
  X(gemm_epilogue, bool,                                                                                        \
    (const Tensor& a, const Tensor& b, const Tensor& bias, UnaryOp act, const Tensor& residual,                 \
     const Tensor& out),                                                                                        \
    opt, 1, 0)                                                                                                  \
  X(softmax, void, (const Tensor& x, const Tensor& out, bool log), req, 1, 1)                                   \
  X(softmax_backward, void, (const Tensor& y, const Tensor& grad_y, const Tensor& grad_x, bool log), req, 1,    \
    1)                                                                                                          \
  X(cross_entropy_fwd, void,                                                                                    \
    (const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,                  \
     const Tensor& loss, const Tensor& lse),                                                                    \
    req, 1, 1)                                                                                                  \
  X(cross_entropy_bwd, void,                                                                                    \
    (const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,                    \
     int64_t ignore_index, double label_smoothing, const Tensor& grad_logits),                                  \
    req, 1, 1)                                                                                                  \
  X(conv2d_fwd, void, (const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& y, bool accumulate), \
    req, 1, 1)                                                                                                  \
  X(conv2d_bwd_data, void, (const Tensor& grad_y, const Tensor& w, const Conv2dGeom& g, const Tensor& grad_x), \
    req, 1, 1)                                                                                                  \
  X(conv2d_bwd_weight, void,                                                                                    \
    (const Tensor& grad_y, const Tensor& x, const Conv2dGeom& g, const Tensor& grad_w), req, 1, 1)              \
  X(im2col, void, (const Tensor& x, const Conv2dGeom& g, const Tensor& col), req, 1, 1)                         \
  X(col2im, void, (const Tensor& col, const Conv2dGeom& g, const Tensor& x), req, 1, 1)                         \
  X(max_pool2d_fwd, void, (const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices),     \
    req, 1, 1)                                                                                                  \
  X(max_pool2d_bwd, void, (const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in), req, 1, 1)    \
  X(avg_pool2d_fwd, void, (const Tensor& x, const Pool2dGeom& g, const Tensor& out), req, 1, 1)                 \
  X(avg_pool2d_bwd, void, (const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in), req, 1, 1)      \
  X(adaptive_avg_pool2d_fwd, void, (const Tensor& x, const Tensor& out), req, 1, 1)                             \
  X(adaptive_avg_pool2d_bwd, void, (const Tensor& grad_out, const Tensor& grad_in), req, 1, 1)                  \
  X(upsample2d_fwd, void, (const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out), req, 1, \
    1)                                                                                                          \
  X(upsample2d_bwd, void,                                                                                       \
    (const Tensor& grad_out, UpsampleMode mode, bool align_corners, const Tensor& grad_in), req, 1, 1)          \
  X(layer_norm_fwd, void,                                                                                       \
    (const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y,                    \
     const Tensor& mean, const Tensor& rstd),                                                                   \
    req, 1, 1)                                                                                                  \
  X(layer_norm_bwd, void,                                                                                       \
    (const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd, const Tensor& grad_y,       \
     const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias),                                 \
    req, 1, 1)                                                                                                  \
  X(rms_norm_fwd, void,                                                                                         \
    (const Tensor& x, const Tensor& weight, double eps, const Tensor& y, const Tensor& rstd), req, 1, 1)         \
  X(rms_norm_bwd, void,                                                                                         \
    (const Tensor& x, const Tensor& weight, const Tensor& rstd, const Tensor& grad_y, const Tensor& grad_x,     \
     const Tensor& grad_weight),                                                                                \
    req, 1, 1)                                                                                                  \
  X(batch_norm_fwd, bool,                                                                                       \
    (const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y, const Tensor& mean, \
     const Tensor& var),                                                                                        \
    opt, 1, 0)                                                                                                  \
  X(batch_norm_bwd, bool,                                                                                       \
    (const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& var, double eps,                  \
     const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias),           \
    opt, 1, 0)                                                                                                  \
  X(index_select, void, (const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out), req, 1, 1)      \
  X(index_add, void, (const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src), req, 1, 1)       \
  X(gather, void, (const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out), req, 1, 1)            \
  X(scatter_add, void, (const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src), req, 1, 1)     \
  X(random_uniform, void, (const Tensor& out, double lo, double hi, uint64_t seed, uint64_t offset), req, 1, 1) \
  X(random_normal, void, (const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset), req, 1, \
    1)                                                                                                          \
  X(random_int, void, (const Tensor& out, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset), req, 1, 1)  \
  X(adam_update, bool,                                                                                          \
    (const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,                  \
     const AdamStep& s),                                                                                        \
    opt, 1, 1)                                                                                                  \
  X(sdpa_fwd, bool,                                                                                             \
    (const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale, const Tensor& out,           \
     const Tensor& lse),                                                                                        \
    opt, 1, 1)                                                                                                  \
  X(sdpa_bwd, bool,                                                                                             \
    (const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,                   \
     const Tensor& grad_out, bool causal, double scale, const Tensor& grad_q, const Tensor& grad_k,             \
     const Tensor& grad_v),                                                                                     \
    opt, 1, 1)

// A backend header declares its overrides with EMBER_BACKEND_OVERRIDES(col) and its supports()
// with EMBER_BACKEND_SUPPORTS(col), where col is its column (cpu or cuda).
#define EMBER_PRIM_IF_0(...)
#define EMBER_PRIM_IF_1(...) __VA_ARGS__

#define EMBER_PRIM_OVERRIDE_cpu(name, ret, params, kind, cpu, cuda) EMBER_PRIM_IF_##cpu(ret name params override;)
#define EMBER_PRIM_OVERRIDE_cuda(name, ret, params, kind, cpu, cuda) EMBER_PRIM_IF_##cuda(ret name params override;)
#define EMBER_PRIM_FLAG_cpu(name, ret, params, kind, cpu, cuda) bool(cpu),
#define EMBER_PRIM_FLAG_cuda(name, ret, params, kind, cpu, cuda) bool(cuda),
#define EMBER_BACKEND_OVERRIDES(col) EMBER_PRIMITIVES(EMBER_PRIM_OVERRIDE_##col)
#define EMBER_BACKEND_SUPPORTS(col)                                                       \
  bool supports(Prim p) const override {                                                  \
    static constexpr bool kHas[] = {EMBER_PRIMITIVES(EMBER_PRIM_FLAG_##col)};             \
    return static_cast<size_t>(p) < kPrimCount && kHas[static_cast<size_t>(p)];           \
  }

namespace ember {

enum class Prim : int {
#define EMBER_X(name, ...) name,
  EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
};

inline constexpr std::string_view kPrimNames[] = {
#define EMBER_X(name, ...) #name,
    EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
};

inline constexpr size_t kPrimCount = sizeof(kPrimNames) / sizeof(kPrimNames[0]);

constexpr std::string_view prim_name(Prim p) { return kPrimNames[static_cast<int>(p)]; }

// Whether a primitive is a fused one (kind opt) whose absence the caller composes around.
inline constexpr bool kPrimOptional[] = {
#define EMBER_X(name, ret, params, kind, ...) std::string_view(#kind) == "opt",
    EMBER_PRIMITIVES(EMBER_X)
#undef EMBER_X
};

}  // namespace ember
