// TensorImpl: what a Tensor handle points to. Storage (shared between views), the layout
// (shape, strides in elements, offset in elements), dtype, and the autograd slots.
#pragma once

#include <memory>

#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace ember {

namespace autograd {
class Node;
}

struct TensorImpl {
  StoragePtr storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::f32;

  // Autograd slots. A leaf that requires grad accumulates into `grad` through one shared
  // AccumulateGrad node (weakly cached so every use of the leaf feeds the same node).
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::Node> grad_accumulator;
};

}  // namespace ember
