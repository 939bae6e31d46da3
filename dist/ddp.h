// Data-parallel training on a Communicator.
//
// DistributedDataParallel wraps a module: at construction it broadcasts rank 0's parameters and
// buffers so every rank starts from the same weights; after each loss.backward(),
// sync_gradients() leaves every parameter's gradient equal to its average over the ranks.
// Gradients travel in buckets of about `bucket_bytes` (parameters in reverse registration order,
// the order backward produces them; the first bucket smaller), one allreduce per bucket.
//
// Overlap (CPU parameters, DdpOptions::overlap): a gradient-ready hook on each parameter
// (autograd/grad_hooks.h) marks it ready when backward has finished accumulating it. When every
// parameter of a bucket is ready, the bucket is copied into its flat buffer and handed to DDP's
// communication thread, which all-reduces it while backward goes on with earlier layers. Buckets
// start strictly in bucket order (as PyTorch's reducer does), so every rank issues the same
// collectives in the same order even when a parameter is used on one rank and not another.
// sync_gradients() marks the parameters that backward never reached as ready (their gradient, or
// zeros when they have none; PyTorch's find_unused_parameters rule), runs the buckets the thread
// has not picked up yet itself, waits for the rest and copies the averages back. Overlap on and off
// give bit-identical results. EMBER_DDP_OVERLAP=0 turns overlap off (for comparisons).
//
// Rules: call sync_gradients() exactly once after the backward of each step, on every rank;
// between the first backward of a step and sync_gradients() DDP's thread owns the communicator (call
// no other collective on it then). For gradient accumulation, run all micro-batches but the last
// inside `auto g = ddp.no_sync();` (their hooks do nothing), the last one outside, then sync once.
// A parameter that gets a gradient from two backward passes outside no_sync() in one step makes
// sync_gradients() throw (its bucket already left with the first gradient). SyncBatchNorm2d layers
// of the module run their collectives through DDP's thread, in order with the buckets.
//
// DistributedSampler shards each epoch's permutation the way torch.utils.data.DistributedSampler
// does: rank r takes order[r], order[r+W], ... With a local batch of B/W, step k of all ranks
// together covers exactly order[kB, (k+1)B), the global batch a single process would take, and each
// sample keeps its transform key sample_key(seed, epoch, index); so W processes with B/W each follow
// the single-process trajectory up to f32 summation order.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "autograd/grad_hooks.h"
#include "data/loader.h"
#include "dist/communicator.h"
#include "nn/module.h"

namespace ember::dist {

struct DdpOptions {
  int64_t bucket_bytes = int64_t(25) << 20;  // PyTorch's default bucket_cap_mb
  // The first bucket (the last layers, ready first) is capped lower so that communication starts
  // early in backward (PyTorch's 1 MB first bucket).
  int64_t first_bucket_bytes = int64_t(1) << 20;
  bool broadcast_buffers = true;             // also copy rank 0's buffers at construction
  bool overlap = true;  // all-reduce buckets during backward (CPU parameters; else after it, in sync_gradients)
};

class SyncBatchNorm2d;

class DistributedDataParallel {
 public:
  DistributedDataParallel(nn::ModulePtr module, CommunicatorPtr comm, DdpOptions options = {});
  ~DistributedDataParallel();  // waits for a bucket still in flight (at most the communicator's timeout)
  DistributedDataParallel(const DistributedDataParallel&) = delete;  // the hooks hold `this`
  DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

  Tensor forward(const Tensor& x) { return module_->forward(x); }
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Averages the gradients of every parameter over the ranks (a parameter without a gradient on
  // this rank counts as zeros). Call on every rank after backward and before the optimizer step.
  void sync_gradients();

  // While the returned guard lives, backward only accumulates gradients locally (PyTorch's no_sync).
  class NoSync {
   public:
    explicit NoSync(DistributedDataParallel& d) : d_(&d), was_(std::exchange(d.sync_enabled_, false)) {}
    NoSync(NoSync&& o) noexcept : d_(std::exchange(o.d_, nullptr)), was_(o.was_) {}
    NoSync(const NoSync&) = delete;
    ~NoSync() {
      if (d_) d_->sync_enabled_ = was_;
    }

   private:
    DistributedDataParallel* d_;
    bool was_;
  };
  [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

  nn::Module& module() { return *module_; }
  const nn::ModulePtr& module_ptr() const { return module_; }
  Communicator& comm() { return *comm_; }
  bool is_main() const { return comm_->rank() == 0; }  // the rank that logs and checkpoints
  int64_t num_buckets() const { return int64_t(buckets_.size()); }
  bool overlapping() const { return worker_.joinable(); }
  // Buckets handed to the communication thread during backward in the last synced step (tests).
  int64_t buckets_started_in_backward() const { return started_in_backward_; }

 private:
  struct Bucket {
    std::vector<int64_t> params;  // indices into params_
    Tensor flat;                  // the gradients, packed
    int64_t pending = 0;          // parameters not yet ready this step
  };
  void mark_ready(int64_t param);  // backward's hook (or sync_gradients for unreached parameters)
  void launch(int64_t bucket);     // pack the bucket, then all-reduce it (on the thread, or here)
  void run_in_order(const std::function<void()>& collective);  // SyncBatchNorm2d's, after queued buckets
  void work();                     // the communication thread

  nn::ModulePtr module_;
  CommunicatorPtr comm_;
  std::vector<std::string> names_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::vector<int64_t> bucket_of_;  // param index -> bucket index
  // Per-step state, touched by the thread that runs backward and sync_gradients.
  std::vector<char> ready_;
  int64_t next_launch_ = 0;  // buckets start in order: the first one not started yet
  int64_t twice_ = -1;       // a parameter that was made ready twice this step
  int64_t started_in_backward_ = 0;
  bool sync_enabled_ = true;
  std::vector<autograd::GradHookHandle> hooks_;
  std::vector<std::shared_ptr<SyncBatchNorm2d>> sync_bns_;
  // The communication thread and its queue.
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  int64_t done_ = 0;  // buckets reduced this step
  std::exception_ptr error_;
  bool stop_ = false;
  bool busy_ = false;  // a task is running (on the thread, or on the caller of sync_gradients)
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
