// Adam and AdamW with PyTorch's semantics (torch.optim.Adam / AdamW, bias-corrected). Per
// parameter p with gradient g and step t (1-based, counted per parameter):
//   Adam:   g = g + weight_decay * p                      (L2 penalty folded into the gradient)
//   AdamW:  p = p * (1 - lr * weight_decay)               (decoupled decay)
//   m = beta1 * m + (1 - beta1) * g                        "exp_avg"
//   v = beta2 * v + (1 - beta2) * g^2                      "exp_avg_sq"
//   amsgrad: v_max = max(v_max, v), used for v below       "max_exp_avg_sq"
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// With fused (the default) and no amsgrad, a step calls the backend's adam_update kernel and falls
// back to the composite of tensor ops above when the backend has none (returns false).
#pragma once

#include "nn/optim/optimizer.h"

namespace ember::nn {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool fused = true;  // false forces the composite path (tests compare the two)
};

// AdamW's options differ from Adam's only in the default weight decay (PyTorch's 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool fused = true;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions opts = {});
  Adam(std::vector<ParamGroup> groups, AdamOptions opts = {});  // groups may override lr, beta1,
                                                                 // beta2, eps, weight_decay
  void step() override;
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return opts_; }
  // How many parameter updates went through the backend's fused kernel (the rest were composed).
  int64_t fused_updates() const { return fused_updates_; }

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled);
  std::vector<std::string> buffer_names() const override;  // max_exp_avg_sq only with amsgrad
  void check_group(const ParamGroup& g) const override;
  std::optional<double> ParamGroup::*momentum_field() const override { return &ParamGroup::beta1; }

 private:
  AdamOptions opts_;
  bool decoupled_;
  int64_t fused_updates_ = 0;
};

class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamWOptions opts = {});
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts = {});
};

}  // namespace ember::nn
