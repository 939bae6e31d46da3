// clip_grad_norm_: one reduction per gradient, summed on the host in double, then one in-place
// scale per gradient when the total exceeds the limit.
#include "nn/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember::nn {
namespace {

double host_scalar(const Tensor& t) { return t.to(Device::cpu()).item(); }

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  EMBER_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm must be >= 0, got {}", max_norm);
  EMBER_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 (or inf), got {}", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    EMBER_CHECK(params[i].defined(), "clip_grad_norm_: parameter {} is undefined", i);
    Tensor g = params[i].grad();
    if (g.defined() && g.numel() > 0) grads.push_back(g);
  }
  if (grads.empty()) return 0.0;

  // ||g||_p over the concatenation = (sum_i sum |g_i|^p)^(1/p); the inf-norm is max_i max |g_i|.
  double total = 0;
  const bool inf_norm = std::isinf(norm_type);
  for (const Tensor& g : grads) {
    if (inf_norm) {
      total = std::max(total, host_scalar(amax(abs(g))));
    } else if (norm_type == 2) {
      total += host_scalar(sum(g * g));
    } else if (norm_type == 1) {
      total += host_scalar(sum(abs(g)));
    } else {
      total += host_scalar(sum(pow(abs(g), norm_type)));
    }
  }
  if (!inf_norm) total = norm_type == 2 ? std::sqrt(total) : norm_type == 1 ? total : std::pow(total, 1 / norm_type);
  EMBER_CHECK(!error_if_nonfinite || std::isfinite(total),
              "clip_grad_norm_: the total norm of order {} over {} gradients is {}; set error_if_nonfinite=false "
              "to clip anyway",
              norm_type, grads.size(), total);

  // PyTorch clamps the coefficient at 1 and propagates NaN; scaling by exactly 1 is skipped.
  double coef = std::min(max_norm / (total + 1e-6), 1.0);
  if (!(coef >= 1.0))
    for (Tensor& g : grads) g.mul_(coef);
  return total;
}

}  // namespace ember::nn
