// Datasets: the interface the DataLoader draws batches from, and TensorDataset over in-memory
// tensors. A dataset hands out whole batches (not single samples), so a batch is one gather of
// contiguous rows instead of N small copies and a stack.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace ember::data {

struct Batch {
  Tensor input;   // e.g. f32 [B, C, H, W]
  Tensor target;  // e.g. i64 [B]
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Rows `indices` (each in [0, size())) in that order. Must be safe to call from several threads
  // at once: the DataLoader calls it from its prefetch thread.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

// Samples are rows along dim 0 of `inputs` and `targets`, which must have the same leading size.
// get_batch gathers those rows into new contiguous tensors (index_select); it throws
// "TensorDataset: index 70000 is out of range for 60000 samples" on a bad index.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets);
  int64_t size() const override { return inputs_.size(0); }
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

}  // namespace ember::data
