// Communicator: the collectives data-parallel training needs (allreduce sum/avg, broadcast,
// allgather, barrier), one object per rank. Implementations: ThreadGroup (ranks are threads of one
// process; unit tests), Gloo over TCP (CPU, processes on one or many hosts), NCCL (GPUs; built with
// EMBER_CUDA). Every collective must be called by every rank in the same order; each one gives up
// after the communicator's timeout and throws ember::Error naming the collective and this rank
// ("allreduce: rank 1 of 2 failed (...)"), so a dead peer never hangs the others.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tensor/tensor.h"

namespace ember::dist {

enum class ReduceOp { sum, avg };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend() const = 0;  // "threads", "gloo", "nccl"
  virtual std::chrono::milliseconds timeout() const = 0;

  // ---- raw buffers (host memory; device memory for NCCL) ----
  // In place over n elements of dtype f32 or f64; avg divides the sum by world_size().
  virtual void allreduce(void* data, int64_t n, DType dtype, ReduceOp op) = 0;
  // Copies `bytes` bytes from root's buffer into every other rank's.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  // out[r*bytes .. (r+1)*bytes) = rank r's `in`; out holds world_size()*bytes bytes.
  virtual void allgather(const void* in, void* out, int64_t bytes) = 0;
  virtual void barrier() = 0;

  // ---- tensors: contiguous, on this communicator's device; checked with clear errors ----
  void allreduce(Tensor& t, ReduceOp op = ReduceOp::sum);  // f32 or f64
  void broadcast(Tensor& t, int root = 0);                 // any dtype
  Tensor allgather(const Tensor& t);                       // [world, ...t.shape]
  // One number (a loss, a count) from host memory on every backend.
  virtual double allreduce(double value, ReduceOp op = ReduceOp::sum);
};

using CommunicatorPtr = std::shared_ptr<Communicator>;

}  // namespace ember::dist
