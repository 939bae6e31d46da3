// Adam/AdamW step (formulas in nn/optim/adam.h): the backend's fused adam_update when it has one,
// otherwise the same math composed from in-place tensor ops, written in PyTorch's order of
// operations (denominator sqrt(v) / sqrt(bc2) + eps, step size lr / bc1).
#include "nn/optim/adam.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember::nn {
namespace {

AdamOptions to_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
          .amsgrad = o.amsgrad, .fused = o.fused};
}

}  // namespace

Adam::Adam(std::vector<Tensor> params, AdamOptions opts)
    : Adam(std::vector<ParamGroup>{{.params = std::move(params)}}, opts, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts) : Adam(std::move(groups), opts, false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled)
    : Optimizer(ParamGroup{.lr = opts.lr, .weight_decay = opts.weight_decay, .beta1 = opts.beta1,
                           .beta2 = opts.beta2, .eps = opts.eps}),
      opts_(opts),
      decoupled_(decoupled) {
  init_groups(std::move(groups));
}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions opts)
    : Adam(std::vector<ParamGroup>{{.params = std::move(params)}}, to_adam(opts), true) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : Adam(std::move(groups), to_adam(opts), true) {}

std::vector<std::string> Adam::buffer_names() const {
  if (opts_.amsgrad) return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"exp_avg", "exp_avg_sq"};
}

void Adam::check_group(const ParamGroup& g) const {
  const std::string op = name();
  check_option(op, "lr", *g.lr, 0, INFINITY);
  check_option(op, "beta1", *g.beta1, 0, 1, /*hi_open=*/true);
  check_option(op, "beta2", *g.beta2, 0, 1, /*hi_open=*/true);
  check_option(op, "eps", *g.eps, 0, INFINITY);
  check_option(op, "weight_decay", *g.weight_decay, 0, INFINITY);
}

void Adam::step() {
  NoGradGuard no_grad;
  size_t index = 0;
  for (const ParamGroup& group : groups_) {
    const double lr = *group.lr, beta1 = *group.beta1, beta2 = *group.beta2, eps = *group.eps;
    const double wd = *group.weight_decay;
    for (const Tensor& param : group.params) {
      ParamState& st = state_[index++];
      Tensor grad = param.grad();
      if (!grad.defined()) continue;
      Tensor p = param;  // a handle: in-place ops below write the parameter's storage
      for (const std::string& b : buffer_names())  // zeros before the first step
        if (!st.buffers.count(b)) st.buffers[b] = Tensor::zeros(p.shape(), p.options());
      Tensor& m = st.buffers["exp_avg"];
      Tensor& v = st.buffers["exp_avg_sq"];
      const int64_t t = ++st.step;

      if (opts_.fused && !opts_.amsgrad && p.is_contiguous()) {
        Backend::AdamStep s{.lr = lr, .beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = wd,
                            .decoupled = decoupled_, .step = t};
        if (backend_of(p).adam_update(p, grad.contiguous(), m, v, s)) {
          p.bump_version();  // the kernel wrote the parameter behind autograd's back
          ++fused_updates_;
          continue;
        }
      }

      Tensor g = grad;
      if (decoupled_) {
        if (wd != 0) p.mul_(1 - lr * wd);
      } else if (wd != 0) {
        g = grad + p * wd;
      }
      m.mul_(beta1).add_(g, 1 - beta1);
      v.mul_(beta2).add_(g * g, 1 - beta2);
      const double bias_correction1 = 1 - std::pow(beta1, double(t));
      const double bias_correction2 = 1 - std::pow(beta2, double(t));
      Tensor v_used = v;
      if (opts_.amsgrad) {
        Tensor& v_max = st.buffers["max_exp_avg_sq"];
        v_max.copy_(maximum(v_max, v));
        v_used = v_max;
      }
      Tensor denom = sqrt(v_used) / std::sqrt(bias_correction2) + eps;
      p.add_(m / denom, -lr / bias_correction1);
    }
  }
}

}  // namespace ember::nn
