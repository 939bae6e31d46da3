// Data-parallel training on a Communicator.
//
// DistributedDataParallel wraps a module: at construction it broadcasts rank 0's parameters and
// buffers so every rank starts from the same weights; after each loss.backward(),
// sync_gradients() replaces every parameter's gradient with its average over the ranks. Gradients
// travel in buckets of about `bucket_bytes` (parameters in reverse registration order, the order
// backward produces them), one allreduce per bucket. ember's autograd engine has no per-gradient
// hook yet, so buckets are reduced after backward has finished, not overlapped with it.
//
// DistributedSampler shards each epoch's permutation the way torch.utils.data.DistributedSampler
// does: rank r takes order[r], order[r+W], ... With a local batch of B/W, step k of all ranks
// together covers exactly order[kB, (k+1)B), the global batch a single process would take, and each
// sample keeps its transform key sample_key(seed, epoch, index); so W processes with B/W each follow
// the single-process trajectory up to f32 summation order.
#pragma once

#include "data/loader.h"
#include "dist/communicator.h"
#include "nn/module.h"

namespace ember::dist {

struct DdpOptions {
  int64_t bucket_bytes = int64_t(25) << 20;  // PyTorch's default bucket_cap_mb
  bool broadcast_buffers = true;             // also copy rank 0's buffers at construction
};

class DistributedDataParallel {
 public:
  DistributedDataParallel(nn::ModulePtr module, CommunicatorPtr comm, DdpOptions options = {});

  Tensor forward(const Tensor& x) { return module_->forward(x); }
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Averages the gradients of every parameter over the ranks (a parameter without a gradient on
  // this rank counts as zeros). Call on every rank after backward and before the optimizer step.
  void sync_gradients();

  nn::Module& module() { return *module_; }
  const nn::ModulePtr& module_ptr() const { return module_; }
  Communicator& comm() { return *comm_; }
  bool is_main() const { return comm_->rank() == 0; }  // the rank that logs and checkpoints
  int64_t num_buckets() const { return int64_t(buckets_.size()); }

 private:
  nn::ModulePtr module_;
  CommunicatorPtr comm_;
  std::vector<Tensor> params_;
  std::vector<std::vector<int64_t>> buckets_;  // indices into params_
};

class DistributedSampler {
 public:
  // Shards a data set of `size` samples over `world_size` ranks with a global batch of
  // `global_batch` (must be a multiple of world_size). The last size % world_size samples of each
  // epoch's order are dropped so that every rank takes the same number of steps.
  DistributedSampler(int64_t size, int rank, int world_size, int64_t global_batch);

  int64_t local_batch() const { return global_batch_ / world_; }
  int64_t num_samples() const { return size_ / world_; }  // per rank per epoch
  int64_t steps_per_epoch() const { return (num_samples() + local_batch() - 1) / local_batch(); }

  // This rank's share of an epoch's permutation (order.size() == size).
  std::vector<int64_t> shard(const std::vector<int64_t>& order) const;

  // This rank's batch `step` of `epoch` from `loader` (its epoch_order, dataset, seed and transform),
  // built on the calling thread. The epoch's shard is computed once and kept for the next steps
  // (so one sampler serves one thread).
  data::Batch batch(const data::DataLoader& loader, int64_t epoch, int64_t step);

 private:
  int64_t size_;
  int rank_, world_;
  int64_t global_batch_;
  const data::DataLoader* cached_loader_ = nullptr;
  int64_t cached_epoch_ = -1;
  std::vector<int64_t> cached_shard_;
};

}  // namespace ember::dist
