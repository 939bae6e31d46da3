// SGD step (formulas in nn/optim/sgd.h), composed from in-place tensor ops.
#include "nn/optim/sgd.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember::nn {

SGD::SGD(std::vector<Tensor> params, SGDOptions opts) : SGD(std::vector<ParamGroup>{{.params = std::move(params)}}, opts) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts)
    : Optimizer(ParamGroup{.lr = opts.lr, .weight_decay = opts.weight_decay, .momentum = opts.momentum,
                           .dampening = opts.dampening}),
      opts_(opts) {
  init_groups(std::move(groups));
}

void SGD::check_group(const ParamGroup& g) const {
  check_option("SGD", "lr", *g.lr, 0, INFINITY);
  check_option("SGD", "momentum", *g.momentum, 0, INFINITY);
  check_option("SGD", "dampening", *g.dampening, -INFINITY, INFINITY);
  check_option("SGD", "weight_decay", *g.weight_decay, 0, INFINITY);
  EMBER_CHECK(!opts_.nesterov || (*g.momentum > 0 && *g.dampening == 0),
              "SGD: nesterov needs momentum > 0 and dampening == 0 (got momentum {}, dampening {})", *g.momentum,
              *g.dampening);
}

void SGD::step() {
  NoGradGuard no_grad;
  size_t index = 0;
  for (const ParamGroup& group : groups_) {
    const double lr = *group.lr, momentum = *group.momentum, dampening = *group.dampening, wd = *group.weight_decay;
    for (const Tensor& param : group.params) {
      ParamState& st = state_[index++];
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      Tensor p = param;  // a handle: in-place ops below write the parameter's storage
      Tensor d = wd != 0 ? grad + p * wd : grad;
      if (momentum != 0) {
        auto it = st.buffers.find("momentum_buffer");
        if (it == st.buffers.end()) {
          it = st.buffers.emplace("momentum_buffer", d.clone()).first;  // first step: buf = d
        } else {
          it->second.mul_(momentum).add_(d, 1 - dampening);
        }
        d = opts_.nesterov ? d + it->second * momentum : it->second;
      }
      p.add_(d, -lr);
      ++st.step;
    }
  }
}

}  // namespace ember::nn
