// The CPU backend. Its primitives are split by family, one file each:
//   copy.cpp (copy, fill), elementwise.cpp (unary, unary_backward, binary, where),
//   reduce.cpp (reduce, arg_reduce), gemm.cpp + gemm_avx512.cpp/gemm_avx2.cpp (gemm),
//   softmax.cpp (softmax, cross-entropy), conv.cpp (im2col, col2im), pool.cpp (pooling,
//   upsampling), norm.cpp (layer/rms norm), index.cpp (index_select/add, gather, scatter_add),
//   random.cpp (Philox fills), optim.cpp + optim_avx2.cpp (fused Adam/AdamW),
//   attention.cpp + attention_avx2.cpp (fused causal/GQA attention).
#pragma once

#include "tensor/backend.h"

namespace ember::cpu {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }

  void copy(const Tensor& src, const Tensor& dst) override;
  void fill(const Tensor& dst, double value) override;

  void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) override;
  void unary_backward(UnaryOp op, const Tensor& x, const Tensor& grad_out, const Tensor& grad_in,
                      UnaryParams p) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) override;
  void arg_reduce(ReduceOp op, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) override;

  void gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) override;
  bool gemm_epilogue(const Tensor& a, const Tensor& b, const Tensor& bias, UnaryOp act, const Tensor& residual,
                     const Tensor& out) override;

  void softmax(const Tensor& x, const Tensor& out, bool log) override;
  void softmax_backward(const Tensor& y, const Tensor& grad_y, const Tensor& grad_x, bool log) override;
  void cross_entropy_fwd(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,
                         const Tensor& loss, const Tensor& lse) override;
  void cross_entropy_bwd(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& grad_loss,
                         int64_t ignore_index, double label_smoothing, const Tensor& grad_logits) override;

  void im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) override;
  void col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) override;

  void max_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out, const Tensor& indices) override;
  void max_pool2d_bwd(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_in) override;
  void avg_pool2d_fwd(const Tensor& x, const Pool2dGeom& g, const Tensor& out) override;
  void avg_pool2d_bwd(const Tensor& grad_out, const Pool2dGeom& g, const Tensor& grad_in) override;
  void adaptive_avg_pool2d_fwd(const Tensor& x, const Tensor& out) override;
  void adaptive_avg_pool2d_bwd(const Tensor& grad_out, const Tensor& grad_in) override;
  void upsample2d_fwd(const Tensor& x, UpsampleMode mode, bool align_corners, const Tensor& out) override;
  void upsample2d_bwd(const Tensor& grad_out, UpsampleMode mode, bool align_corners, const Tensor& grad_in) override;

  void layer_norm_fwd(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y,
                      const Tensor& mean, const Tensor& rstd) override;
  void layer_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                      const Tensor& grad_y, const Tensor& grad_x, const Tensor& grad_weight,
                      const Tensor& grad_bias) override;
  void rms_norm_fwd(const Tensor& x, const Tensor& weight, double eps, const Tensor& y, const Tensor& rstd) override;
  void rms_norm_bwd(const Tensor& x, const Tensor& weight, const Tensor& rstd, const Tensor& grad_y,
                    const Tensor& grad_x, const Tensor& grad_weight) override;

  void index_select(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void index_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int64_t dim, const Tensor& index, const Tensor& src) override;

  void random_uniform(const Tensor& out, double lo, double hi, uint64_t seed, uint64_t offset) override;
  void random_normal(const Tensor& out, double mean, double std, uint64_t seed, uint64_t offset) override;
  void random_int(const Tensor& out, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset) override;

  // Fused kernels (optim.cpp, attention.cpp).
  bool adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                   const AdamStep& s) override;
  bool sdpa_fwd(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale, const Tensor& out,
                const Tensor& lse) override;
  bool sdpa_bwd(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                const Tensor& grad_out, bool causal, double scale, const Tensor& grad_q, const Tensor& grad_k,
                const Tensor& grad_v) override;
};

}  // namespace ember::cpu
