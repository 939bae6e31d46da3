// SyncBatchNorm2d and the differentiable all_reduce_sum (sync_batchnorm.h).
#include "dist/sync_batchnorm.h"

#include <fmt/format.h>

#include "autograd/function.h"
#include "autograd/ops.h"
#include "tensor/shape.h"

namespace ember::dist {

namespace {

// out = sum over ranks of x. Backward: d(loss_r)/d(x_r) = sum over ranks s of d(loss_s)/d(out_s)
// when every rank's loss depends on the common sum. Each rank back-propagates its own loss only,
// so the allreduce of the gradients gives W times the gradient of the mean loss; DDP's average of
// the parameter gradients divides it out again (the rule torch's SyncBatchNorm relies on too).
class AllReduceSumBackward final : public autograd::Node {
 public:
  explicit AllReduceSumBackward(std::function<void(Tensor&)> reduce) : reduce_(std::move(reduce)) {}
  std::string name() const override { return "AllReduceSumBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = grads[0].contiguous().clone();
    reduce_(g);
    return {g};
  }

 private:
  std::function<void(Tensor&)> reduce_;
};

}  // namespace

Tensor all_reduce_sum(const Tensor& x, const std::function<void(Tensor&)>& reduce) {
  check_defined(x, "all_reduce_sum", "x");
  Tensor out = x.detach().contiguous().clone();
  reduce(out);
  autograd::record<AllReduceSumBackward>({x}, {out}, reduce);
  return out;
}

SyncBatchNorm2d::SyncBatchNorm2d(int64_t c, CommunicatorPtr comm, nn::BatchNormOptions o)
    : num_features(c), opts(o), comm_(std::move(comm)) {
  EMBER_CHECK(c > 0, "SyncBatchNorm2d: num_features must be > 0, got {}", c);
  EMBER_CHECK(comm_ != nullptr, "SyncBatchNorm2d: the communicator is null");
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({c}));
    bias = register_parameter("bias", Tensor::zeros({c}));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", Tensor::zeros({c}));
    running_var = register_buffer("running_var", Tensor::ones({c}));
  }
  collective = [c = comm_.get()](Tensor& t) { c->allreduce(t, ReduceOp::sum); };
}

Tensor SyncBatchNorm2d::forward(const Tensor& x) {
  EMBER_CHECK(x.dim() == 4 && x.size(1) == num_features, "SyncBatchNorm2d({}): input must be [N, {}, H, W], got {}",
              extra_repr(), num_features, shape_str(x.shape()));
  const bool batch_stats = is_training() || !opts.track_running_stats;
  if (!batch_stats)
    return batch_norm(x, running_mean, running_var, weight, bias, false, opts.momentum, opts.eps);
  const int64_t c = num_features, m = x.numel() / c;
  const Shape channel{1, c, 1, 1};
  // Pass 1: the global mean (the count rides along, as the last entry).
  Tensor sums = all_reduce_sum(cat({x.sum({0, 2, 3}), Tensor::full({1}, double(m), {.dtype = x.dtype()})}, 0),
                               collective);
  const double count = sums.narrow(0, c, 1).detach().item();
  EMBER_CHECK(count > 1, "SyncBatchNorm2d({}): expected more than 1 value per channel over all ranks, got {}",
              extra_repr(), count);
  Tensor mean = sums.narrow(0, 0, c) / count;
  // Pass 2: the biased variance around it.
  Tensor xc = x - mean.reshape(channel);
  Tensor var = all_reduce_sum((xc * xc).sum({0, 2, 3}), collective) / count;
  Tensor y = xc * rsqrt(var + opts.eps).reshape(channel);
  if (running_mean.defined())
    update_running_stats(running_mean, running_var, mean, var.detach() * (count / (count - 1)), opts.momentum);
  if (weight.defined()) y = y * weight.reshape(channel) + bias.reshape(channel);
  return y;
}

std::string SyncBatchNorm2d::extra_repr() const {
  return fmt::format("{}, eps={}, momentum={}", num_features, opts.eps, opts.momentum);
}

}  // namespace ember::dist
