// SyncBatchNorm2d (torch.nn.SyncBatchNorm): BatchNorm2d whose training-mode statistics are those
// of the global batch, every rank's share together, so W ranks with B/W samples each normalise
// exactly as one process with all B would (up to f32 summation order). Same parameter and buffer
// names as nn::BatchNorm2d, so checkpoints load into either.
//
// Training forward (two passes, as the single-process kernel): the per-channel sums and the
// sample count are all-reduced, then the sums of squared deviations from the global mean; the
// backward of each allreduce is an allreduce of the incoming gradients (all_reduce_sum). Eval mode
// uses the running statistics and no collective.
//
// Under DistributedDataParallel the collectives of backward must not race the buckets' allreduce:
// DDP hands every SyncBatchNorm2d of its module a `collective` that runs on DDP's communication
// thread, in order with the buckets (and restores the default when it is destroyed).
#pragma once

#include <functional>

#include "dist/communicator.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace ember::dist {

// Sum of `x` over the ranks (every rank gets the sum); differentiable: the gradient of each
// rank's input is the sum over the ranks of the output gradients. `reduce` all-reduces a
// contiguous tensor in place (sum).
Tensor all_reduce_sum(const Tensor& x, const std::function<void(Tensor&)>& reduce);

class SyncBatchNorm2d : public nn::Module {
 public:
  SyncBatchNorm2d(int64_t num_features, CommunicatorPtr comm, nn::BatchNormOptions opts = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SyncBatchNorm2d"; }
  std::string extra_repr() const override;

  Tensor weight, bias, running_mean, running_var;
  const int64_t num_features;
  const nn::BatchNormOptions opts;
  // Runs one in-place sum allreduce; the default calls the communicator directly.
  std::function<void(Tensor&)> collective;

 private:
  CommunicatorPtr comm_;
};

}  // namespace ember::dist
