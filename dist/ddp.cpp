// DistributedDataParallel (with its communication thread) and DistributedSampler (ddp.h).
#include "dist/ddp.h"

#include <cstdlib>
#include <set>

#include "autograd/grad_mode.h"
#include "dist/sync_batchnorm.h"
#include "tensor/shape.h"

namespace ember::dist {

DistributedDataParallel::DistributedDataParallel(nn::ModulePtr module, CommunicatorPtr comm, DdpOptions options)
    : module_(std::move(module)), comm_(std::move(comm)) {
  EMBER_CHECK(module_ && comm_, "DistributedDataParallel: module and communicator must be set");
  EMBER_CHECK(options.bucket_bytes > 0 && options.first_bucket_bytes > 0,
              "DistributedDataParallel: bucket_bytes must be > 0, got {} (first bucket {})", options.bucket_bytes,
              options.first_bucket_bytes);
  NoGradGuard no_grad;
  std::set<const TensorImpl*> seen;  // a tied weight is one parameter
  bool all_cpu = true;
  for (auto& [name, p] : module_->named_parameters()) {
    if (!seen.insert(p.impl()).second) continue;
    EMBER_CHECK(p.is_contiguous() && (p.dtype() == DType::f32 || p.dtype() == DType::f64),
                "DistributedDataParallel: parameter {} {} must be contiguous f32/f64", name, shape_str(p.shape()));
    comm_->broadcast(p, 0);
    params_.push_back(p);
    names_.push_back(name);
    all_cpu = all_cpu && p.device().is_cpu();
  }
  if (options.broadcast_buffers)
    for (auto& [name, b] : module_->named_buffers()) {
      Tensor c = b.contiguous();
      comm_->broadcast(c, 0);
      if (c.raw_data() != b.raw_data()) b.copy_(c);
    }
  // Buckets in reverse registration order (the last layer's gradients are ready first), one dtype each.
  int64_t bytes = 0;
  bucket_of_.resize(params_.size());
  for (int64_t i = int64_t(params_.size()) - 1; i >= 0; --i) {
    const int64_t nb = params_[i].numel() * int64_t(dtype_size(params_[i].dtype()));
    const int64_t cap = buckets_.size() == 1 ? std::min(options.bucket_bytes, options.first_bucket_bytes)
                                             : options.bucket_bytes;
    const bool new_bucket = buckets_.empty() || bytes + nb > cap ||
                            params_[buckets_.back().params.front()].dtype() != params_[i].dtype();
    if (new_bucket) {
      buckets_.emplace_back();
      bytes = 0;
    }
    buckets_.back().params.push_back(i);
    bucket_of_[size_t(i)] = int64_t(buckets_.size()) - 1;
    bytes += nb;
  }
  for (Bucket& b : buckets_) {
    int64_t n = 0;
    for (int64_t i : b.params) n += params_[size_t(i)].numel();
    const Tensor& p0 = params_[size_t(b.params.front())];
    b.flat = Tensor::empty({n}, {.dtype = p0.dtype(), .device = p0.device()});
    b.pending = int64_t(b.params.size());
  }
  ready_.assign(params_.size(), 0);
  // The thread only calls the communicator on host buffers; device buckets (NCCL) go in sync_gradients.
  // EMBER_DDP_OVERLAP=0 turns overlap off in programs that do not expose the option (comparisons).
  if (const char* env = std::getenv("EMBER_DDP_OVERLAP"); env && std::string(env) == "0") options.overlap = false;
  if (!options.overlap || !all_cpu || params_.empty()) return;
  worker_ = std::thread([this] { work(); });
  for (auto& [name, m] : module_->named_modules())
    if (auto bn = std::dynamic_pointer_cast<SyncBatchNorm2d>(m)) {
      bn->collective = [this](Tensor& t) { run_in_order([&] { comm_->allreduce(t, ReduceOp::sum); }); };
      sync_bns_.push_back(bn);
    }
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(autograd::register_grad_ready_hook(params_[i], [this, i](const Tensor&) {
      if (sync_enabled_) mark_ready(int64_t(i));
    }));
}

DistributedDataParallel::~DistributedDataParallel() {
  hooks_.clear();
  for (auto& bn : sync_bns_) bn->collective = [c = comm_.get()](Tensor& t) { c->allreduce(t, ReduceOp::sum); };
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  worker_.join();
}

void DistributedDataParallel::mark_ready(int64_t param) {
  if (ready_[size_t(param)]) {
    twice_ = param;
    return;
  }
  ready_[size_t(param)] = 1;
  if (--buckets_[size_t(bucket_of_[size_t(param)])].pending > 0) return;
  // Start every bucket that is complete and has no earlier bucket still waiting.
  while (next_launch_ < num_buckets() && buckets_[size_t(next_launch_)].pending == 0) launch(next_launch_++);
}

void DistributedDataParallel::launch(int64_t bucket) {
  NoGradGuard no_grad;
  Bucket& b = buckets_[size_t(bucket)];
  int64_t off = 0;
  for (int64_t i : b.params) {
    const Tensor& p = params_[size_t(i)];
    Tensor dst = b.flat.narrow(0, off, p.numel());
    Tensor g = p.grad();
    if (g.defined()) dst.copy_(g.reshape({-1}));
    else dst.zero_();  // a parameter without a gradient on this rank counts as zeros
    off += p.numel();
  }
  if (!overlapping()) {
    comm_->allreduce(b.flat, ReduceOp::avg);
    return;
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back([this, bucket] {
      bool skip;
      {
        std::lock_guard l(mu_);
        skip = error_ != nullptr;  // after a failed collective the others would only wait for the timeout
      }
      std::exception_ptr err;
      if (!skip) try {
          Tensor& f = buckets_[size_t(bucket)].flat;
          comm_->allreduce(f.raw_data(), f.numel(), f.dtype(), ReduceOp::avg);
        } catch (...) {
          err = std::current_exception();
        }
      std::lock_guard l(mu_);
      if (err && !error_) error_ = err;
      ++done_;
    });
  }
  cv_.notify_all();
}

void DistributedDataParallel::run_in_order(const std::function<void()>& collective) {
  // The outcome lives on this stack; the thread marks it done under the lock as its last access,
  // so it stays valid until this call returns.
  struct Outcome {
    bool done = false;
    std::exception_ptr error;
  } outcome;
  std::unique_lock lock(mu_);
  queue_.push_back([&] {
    std::exception_ptr err;
    try {
      collective();
    } catch (...) {
      err = std::current_exception();
    }
    std::lock_guard l(mu_);
    outcome.error = err;
    outcome.done = true;
  });
  cv_.notify_all();
  cv_.wait(lock, [&] { return outcome.done; });
  if (outcome.error) std::rethrow_exception(outcome.error);  // on the caller's thread
}

void DistributedDataParallel::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || (!queue_.empty() && !busy_); });
      if (stop_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    task();  // bucket tasks count themselves done; run_in_order's tasks mark their outcome
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    cv_.notify_all();
  }
}

void DistributedDataParallel::sync_gradients() {
  EMBER_CHECK(sync_enabled_, "sync_gradients: called inside no_sync(); sync after the last micro-batch's backward, "
                             "outside the guard");
  NoGradGuard no_grad;
  const int64_t started_before = next_launch_;
  for (size_t i = 0; i < params_.size(); ++i)  // parameters that backward did not reach
    if (!ready_[i]) mark_ready(int64_t(i));
  std::exception_ptr err;
  if (overlapping()) {
    std::unique_lock lock(mu_);
    // Buckets the thread has not picked up yet run here (in order, one task at a time): on a busy
    // machine, waking the thread for the last bucket can cost more than the bucket itself.
    for (;;) {
      cv_.wait(lock, [&] { return !busy_; });
      if (queue_.empty()) break;
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      task();
      lock.lock();
      busy_ = false;
      cv_.notify_all();
    }
    cv_.wait(lock, [&] { return done_ == num_buckets(); });
    done_ = 0;
    err = std::exchange(error_, nullptr);
  }
  // A new step begins.
  started_in_backward_ = started_before;
  next_launch_ = 0;
  const int64_t twice = std::exchange(twice_, -1);
  std::fill(ready_.begin(), ready_.end(), 0);
  for (Bucket& b : buckets_) b.pending = int64_t(b.params.size());
  if (err) std::rethrow_exception(err);
  EMBER_CHECK(twice < 0,
              "sync_gradients: parameter {} received gradients from two backward passes in one step, but its bucket "
              "was all-reduced after the first; run all but the last micro-batch inside no_sync()",
              names_[size_t(twice < 0 ? 0 : twice)]);
  for (Bucket& b : buckets_) {
    int64_t off = 0;
    for (int64_t i : b.params) {
      const Tensor& p = params_[size_t(i)];
      Tensor avg = b.flat.narrow(0, off, p.numel()).reshape(p.shape());
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
