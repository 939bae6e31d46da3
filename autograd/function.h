// Helpers for writing differentiable ops: deciding whether to record, wiring a node's edges to its
// inputs, and attaching it to the outputs. Every file in autograd/functions/ uses these.
#pragma once

#include <initializer_list>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "tensor/backend.h"

namespace ember::autograd {

// True when grad mode is on and any defined input requires grad.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// The edge that a gradient for `t` must flow into (its grad_fn, its AccumulateGrad, or none).
Edge edge_for(const Tensor& t);

// Wires `node`'s next edges to `inputs` (in order), assigns a sequence number, records the
// outputs' metadata and marks each output as produced by the node (output_nr = position).
void set_history(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
                 const std::vector<Tensor>& outputs);

// Convenience: records `Fn` (constructed from args) when needed and returns `out`.
template <typename Fn, typename... Args>
std::shared_ptr<Fn> record(std::initializer_list<Tensor> inputs, const std::vector<Tensor>& outputs,
                           Args&&... args) {
  if (!any_requires_grad(inputs)) return nullptr;
  auto node = std::make_shared<Fn>(std::forward<Args>(args)...);
  set_history(node, std::vector<Tensor>(inputs), outputs);
  return node;
}

// Reduces a broadcast gradient back to `shape` (sums over broadcast dims).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace ember::autograd
