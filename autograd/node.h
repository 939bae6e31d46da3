// Graph nodes (PyTorch's Node/Edge model). Each differentiable op records a Node subclass that
// saves what its backward needs; edges point at the nodes that produced its inputs (or at a
// leaf's AccumulateGrad). The engine (engine.cpp) walks them in dependency order.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace ember::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> fn;  // null: that input needs no gradient
  uint32_t input_nr = 0;     // which of fn's outputs this edge feeds
};

// A tensor saved for backward, with the storage version at save time. unpack() throws when the
// tensor was modified in place since, or when the graph was freed by an earlier backward.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t) : t_(t), version_(t.defined() ? t.version() : 0) {}
  Tensor unpack(const Node& owner) const;
  bool defined() const { return t_.defined(); }
  void release() { t_ = Tensor(); released_ = true; }

 private:
  Tensor t_;
  uint32_t version_ = 0;
  bool released_ = false;
};

struct OutputMeta {
  Shape shape;
  DType dtype = DType::f32;
  Device device;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  // Releases the upstream graph iteratively (a chain of 10^5 nodes must not recurse per node).
  virtual ~Node();
  // grads[i] is d(loss)/d(output i), always defined (the engine fills zeros for unused outputs).
  // Returns one gradient per next edge; an entry may be undefined when that edge needs none.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  virtual std::string name() const = 0;
  // Frees saved tensors after a backward without retain_graph. Subclasses holding SavedTensors
  // override it (call release() on each).
  virtual void release_saved() {}

  bool needs_input_grad(size_t i) const { return i < next_edges.size() && next_edges[i].fn != nullptr; }

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;  // metadata of each forward output, for zero-filling
  uint64_t sequence_nr = 0;         // creation order: later nodes run first among ready ones
};

// Sink for a leaf: adds the incoming gradient into the leaf's .grad, then runs the leaf's
// gradient-ready hooks (grad_hooks.h). The highest sequence number makes it run as soon as its
// gradient is complete (as in PyTorch), so hooks fire while backward goes on with earlier layers.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) { sequence_nr = UINT64_MAX; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  std::string name() const override { return "AccumulateGrad"; }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// Runs backward from roots with the given seed gradients (engine.cpp).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph);

}  // namespace ember::autograd
