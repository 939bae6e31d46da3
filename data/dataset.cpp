// TensorDataset (see dataset.h): batches are gathered with index_select on dim 0, which copies
// whole contiguous rows (one memcpy-sized run per sample for a contiguous input).
#include "data/dataset.h"

#include "autograd/ops.h"

namespace ember::data {

TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  EMBER_CHECK(inputs_.defined() && targets_.defined(), "TensorDataset: inputs and targets must be defined");
  EMBER_CHECK(inputs_.dim() >= 1 && targets_.dim() >= 1 && inputs_.size(0) == targets_.size(0),
              "TensorDataset: inputs {} and targets {} must have the same leading size", shape_str(inputs_.shape()),
              shape_str(targets_.shape()));
  // Detached and contiguous once here, so every gather is a plain row copy without a graph.
  inputs_ = inputs_.detach().contiguous();
  targets_ = targets_.detach().contiguous();
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  const int64_t n = size();
  for (int64_t i : indices)
    EMBER_CHECK(i >= 0 && i < n, "TensorDataset: index {} is out of range for {} samples", i, n);
  NoGradGuard no_grad;
  Tensor index = Tensor::from_vector(indices, {int64_t(indices.size())}, {.dtype = DType::i64});
  return {index_select(inputs_, 0, index), index_select(targets_, 0, index)};
}

}  // namespace ember::data
