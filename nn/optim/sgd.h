// Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay, with
// PyTorch's semantics (torch.optim.SGD). Per parameter p with gradient g, at each step:
//   d = g + weight_decay * p
//   momentum != 0:  buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d
//                   d = nesterov ? d + momentum * buf : buf
//   p -= lr * d
// State buffer: "momentum_buffer" (only when momentum != 0).
#pragma once

#include "nn/optim/optimizer.h"

namespace ember::nn {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0 (in every group)
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, SGDOptions opts = {});
  SGD(std::vector<ParamGroup> groups, SGDOptions opts = {});  // groups may override lr, momentum,
                                                               // dampening, weight_decay
  void step() override;
  std::string name() const override { return "SGD"; }
  const SGDOptions& options() const { return opts_; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  void check_group(const ParamGroup& g) const override;
  std::optional<double> ParamGroup::*momentum_field() const override { return &ParamGroup::momentum; }

 private:
  SGDOptions opts_;
};

}  // namespace ember::nn
