// DistributedDataParallel and DistributedSampler (ddp.h).
#include "dist/ddp.h"

#include "autograd/grad_mode.h"
#include "tensor/shape.h"

namespace ember::dist {

DistributedDataParallel::DistributedDataParallel(nn::ModulePtr module, CommunicatorPtr comm, DdpOptions options)
    : module_(std::move(module)), comm_(std::move(comm)) {
  EMBER_CHECK(module_ && comm_, "DistributedDataParallel: module and communicator must be set");
  EMBER_CHECK(options.bucket_bytes > 0, "DistributedDataParallel: bucket_bytes must be > 0, got {}",
              options.bucket_bytes);
  NoGradGuard no_grad;
  for (auto& [name, p] : module_->named_parameters()) {
    EMBER_CHECK(p.is_contiguous() && (p.dtype() == DType::f32 || p.dtype() == DType::f64),
                "DistributedDataParallel: parameter {} {} must be contiguous f32/f64", name, shape_str(p.shape()));
    comm_->broadcast(p, 0);
    params_.push_back(p);
  }
  if (options.broadcast_buffers)
    for (auto& [name, b] : module_->named_buffers()) {
      Tensor c = b.contiguous();
      comm_->broadcast(c, 0);
      if (c.raw_data() != b.raw_data()) b.copy_(c);
    }
  // Buckets in reverse registration order (the last layer's gradients are ready first), one dtype each.
  int64_t bytes = 0;
  for (int64_t i = int64_t(params_.size()) - 1; i >= 0; --i) {
    const int64_t nb = params_[i].numel() * int64_t(dtype_size(params_[i].dtype()));
    const bool new_bucket = buckets_.empty() || bytes + nb > options.bucket_bytes ||
                            params_[buckets_.back().front()].dtype() != params_[i].dtype();
    if (new_bucket) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().push_back(i);
    bytes += nb;
  }
}

void DistributedDataParallel::sync_gradients() {
  NoGradGuard no_grad;
  for (const auto& bucket : buckets_) {
    std::vector<Tensor> flat;
    for (int64_t i : bucket) {
      const Tensor& p = params_[i];
      Tensor g = p.grad();
      flat.push_back(g.defined() ? g.reshape({-1}) : Tensor::zeros({p.numel()}, p.options()));
    }
    Tensor buf = flat.size() == 1 ? flat[0].contiguous().clone() : cat(flat, 0);
    comm_->allreduce(buf, ReduceOp::avg);
    int64_t off = 0;
    for (int64_t i : bucket) {
      const Tensor& p = params_[i];
      Tensor avg = buf.narrow(0, off, p.numel()).reshape(p.shape());
      Tensor g = p.grad();
      if (g.defined()) g.copy_(avg);
      else p.set_grad(avg.clone());
      off += p.numel();
    }
  }
}

DistributedSampler::DistributedSampler(int64_t size, int rank, int world_size, int64_t global_batch)
    : size_(size), rank_(rank), world_(world_size), global_batch_(global_batch) {
  EMBER_CHECK(world_size >= 1 && rank >= 0 && rank < world_size,
              "DistributedSampler: rank {} is not in a world of {}", rank, world_size);
  EMBER_CHECK(global_batch >= world_size && global_batch % world_size == 0,
              "DistributedSampler: global batch {} must be a positive multiple of the world size {}", global_batch,
              world_size);
  EMBER_CHECK(size >= world_size, "DistributedSampler: {} samples cannot be shared by {} ranks", size, world_size);
}

std::vector<int64_t> DistributedSampler::shard(const std::vector<int64_t>& order) const {
  EMBER_CHECK(int64_t(order.size()) == size_, "DistributedSampler: order has {} indices, expected {}", order.size(),
              size_);
  std::vector<int64_t> mine;
  mine.reserve(size_t(num_samples()));
  for (int64_t i = rank_; i < num_samples() * world_; i += world_) mine.push_back(order[size_t(i)]);
  return mine;
}

data::Batch DistributedSampler::batch(const data::DataLoader& loader, int64_t epoch, int64_t step) {
  EMBER_CHECK(step >= 0 && step < steps_per_epoch(), "DistributedSampler: step {} is out of range ({} per epoch)",
              step, steps_per_epoch());
  if (cached_loader_ != &loader || cached_epoch_ != epoch) {
    cached_shard_ = shard(loader.epoch_order(epoch));
    cached_loader_ = &loader;
    cached_epoch_ = epoch;
  }
  const std::vector<int64_t>& mine = cached_shard_;
  const int64_t begin = step * local_batch(), end = std::min(num_samples(), begin + local_batch());
  const std::vector<int64_t> indices(mine.begin() + begin, mine.begin() + end);
  NoGradGuard no_grad;
  data::Batch b = loader.dataset().get_batch(indices);
  const auto& opts = loader.options();
  if (opts.transform) {  // the same keys a single-process DataLoader would give these samples
    std::vector<uint64_t> keys(indices.size());
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = data::sample_key(opts.seed, epoch, indices[i]);
    b.input = opts.transform(b.input, keys);
  }
  return b;
}

}  // namespace ember::dist
