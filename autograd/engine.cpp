// The backward engine. From the roots' grad_fns it collects the reachable graph, counts how many
// edges feed each node, then runs nodes whose inputs are complete (a max-heap on sequence_nr, so
// the most recently created ready node runs first, like PyTorch). Gradients for a node's outputs
// are summed in a buffer as they arrive. Iterative throughout: deep graphs do not grow the stack.
// Also the registry of gradient-ready hooks (grad_hooks.h), which AccumulateGrad fires.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "autograd/grad_hooks.h"
#include "autograd/grad_mode.h"
#include "autograd/function.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "tensor/backend.h"

namespace ember::autograd {

Tensor SavedTensor::unpack(const Node& owner) const {
  EMBER_CHECK(!released_,
              "backward: trying to backward through the graph a second time ({}'s saved tensors were freed); "
              "pass retain_graph=true to the first backward()",
              owner.name());
  if (t_.defined())
    EMBER_CHECK(t_.version() == version_,
                "backward: tensor {} saved by {} was modified in place (version {}, expected {})",
                shape_str(t_.shape()), owner.name(), t_.version(), version_);
  return t_;
}

// Dropping the last reference to a long chain would destroy node after node recursively (each
// ~Node releasing its edges). Instead the outermost ~Node on a thread collects the edges of every
// node that dies while it runs and releases them one at a time.
Node::~Node() {
  thread_local std::vector<std::shared_ptr<Node>>* pending = nullptr;
  if (pending) {
    for (Edge& e : next_edges)
      if (e.fn) pending->push_back(std::move(e.fn));
    return;
  }
  std::vector<std::shared_ptr<Node>> local;
  for (Edge& e : next_edges)
    if (e.fn) local.push_back(std::move(e.fn));
  pending = &local;
  while (!local.empty()) {
    std::shared_ptr<Node> n = std::move(local.back());
    local.pop_back();
    n.reset();  // may append the edges of nodes that die now
  }
  pending = nullptr;
}

namespace {

// Hooks by leaf. `count` lets a backward without any hook skip the lock.
struct HookRegistry {
  std::mutex mu;
  std::unordered_map<const TensorImpl*, std::vector<std::pair<uint64_t, GradReadyHook>>> by_leaf;
  std::unordered_map<uint64_t, const TensorImpl*> leaf_of;
  uint64_t next_id = 1;
  std::atomic<int64_t> count{0};
};

HookRegistry& hooks() {
  static HookRegistry* r = new HookRegistry;  // never destroyed: handles may outlive static destruction
  return *r;
}

void run_grad_ready_hooks(const std::shared_ptr<TensorImpl>& leaf) {
  HookRegistry& r = hooks();
  if (r.count.load(std::memory_order_acquire) == 0) return;
  std::vector<GradReadyHook> run;
  {
    std::lock_guard lock(r.mu);
    auto it = r.by_leaf.find(leaf.get());
    if (it == r.by_leaf.end()) return;
    for (auto& [id, h] : it->second) run.push_back(h);
  }
  const Tensor t(leaf);
  for (const GradReadyHook& h : run) h(t);  // outside the lock: a hook may register or remove hooks
}

}  // namespace

GradHookHandle register_grad_ready_hook(const Tensor& leaf, GradReadyHook hook) {
  EMBER_CHECK(leaf.defined() && leaf.requires_grad() && leaf.is_leaf(),
              "register_grad_ready_hook: the tensor must be a leaf that requires grad");
  EMBER_CHECK(static_cast<bool>(hook), "register_grad_ready_hook: the hook is empty");
  HookRegistry& r = hooks();
  std::lock_guard lock(r.mu);
  const uint64_t id = r.next_id++;
  r.by_leaf[leaf.impl()].emplace_back(id, std::move(hook));
  r.leaf_of[id] = leaf.impl();
  r.count.fetch_add(1, std::memory_order_release);
  return GradHookHandle(id);
}

void GradHookHandle::remove() {
  if (id_ == 0) return;
  HookRegistry& r = hooks();
  std::lock_guard lock(r.mu);
  auto it = r.leaf_of.find(id_);
  if (it != r.leaf_of.end()) {
    auto& list = r.by_leaf[it->second];
    std::erase_if(list, [&](const auto& e) { return e.first == id_; });
    if (list.empty()) r.by_leaf.erase(it->second);
    r.leaf_of.erase(it);
    r.count.fetch_sub(1, std::memory_order_release);
  }
  id_ = 0;
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  std::shared_ptr<TensorImpl> leaf = leaf_.lock();
  if (!leaf) return {};
  if (!grads[0].defined()) {
    run_grad_ready_hooks(leaf);
    return {};
  }
  Tensor g = grads[0];
  if (!leaf->grad) {
    // Own the buffer: the incoming gradient may alias another tensor (e.g. a view of grad_out).
    leaf->grad = clone(g).impl_ptr();
  } else {
    Tensor acc(leaf->grad);
    backend_of(acc).binary(BinaryOp::add, acc, g, acc);
    acc.bump_version();
  }
  run_grad_ready_hooks(leaf);  // the engine runs this node once per backward, after all inputs summed
  return {};
}

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NoGradGuard no_grad;
  // 1. Dependency counts over the reachable graph (iterative DFS).
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (const Tensor& r : roots) {
    Node* fn = r.grad_fn().get();
    if (!fn) fn = edge_for(r).fn.get();
    if (fn && !seen[fn]) {
      seen[fn] = true;
      stack.push_back(fn);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.fn) continue;
      deps[e.fn.get()]++;
      if (!seen[e.fn.get()]) {
        seen[e.fn.get()] = true;
        stack.push_back(e.fn.get());
      }
    }
  }

  // 2. Seed the buffers of the roots' nodes.
  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep;  // keeps nodes alive while queued
  auto accumulate = [&](const std::shared_ptr<Node>& fn, uint32_t slot, const Tensor& g) {
    auto& buf = buffers[fn.get()];
    if (buf.empty()) buf.resize(std::max<size_t>(fn->outputs.size(), 1));
    keep[fn.get()] = fn;
    if (!g.defined()) return;
    buf[slot] = buf[slot].defined() ? add(buf[slot], g) : g;
  };
  auto cmp = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  for (size_t i = 0; i < roots.size(); ++i) {
    Edge e = roots[i].grad_fn() ? Edge{roots[i].grad_fn(), roots[i].impl()->output_nr} : edge_for(roots[i]);
    accumulate(e.fn, e.input_nr, grads[i]);
  }
  for (auto& [node, _] : buffers)
    if (deps[node] == 0) ready.push(node);

  // 3. Run nodes in dependency order.
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    std::vector<Tensor> in = std::move(buffers[n]);
    buffers.erase(n);
    for (size_t i = 0; i < in.size(); ++i)  // outputs that received no gradient count as zero
      if (!in[i].defined() && i < n->outputs.size() && is_floating(n->outputs[i].dtype))
        in[i] = Tensor::zeros(n->outputs[i].shape, {.dtype = n->outputs[i].dtype, .device = n->outputs[i].device});
    std::vector<Tensor> out = n->apply(std::move(in));
    if (!retain_graph) n->release_saved();
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.fn) continue;
      accumulate(e.fn, e.input_nr, i < out.size() ? out[i] : Tensor());
      if (--deps[e.fn.get()] == 0) ready.push(e.fn.get());
    }
    keep.erase(n);
  }
}

}  // namespace ember::autograd

namespace ember {

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  EMBER_CHECK(defined(), "backward: tensor is undefined");
  EMBER_CHECK(requires_grad(),
              "backward: tensor {} does not require grad and has no grad_fn (did you call requires_grad_() on "
              "the inputs, or run under NoGradGuard?)",
              shape_str(shape()));
  Tensor seed = grad;
  if (!seed.defined()) {
    EMBER_CHECK(numel() == 1,
                "backward: grad can be implicitly created only for a single-element tensor, this one has shape {}",
                shape_str(shape()));
    seed = Tensor::ones(shape(), options());
  } else {
    EMBER_CHECK(seed.shape() == shape(), "backward: grad of shape {} does not match tensor of shape {}",
                shape_str(seed.shape()), shape_str(shape()));
    check_same_dtype(seed, *this, "backward");
  }
  autograd::run_backward({*this}, {seed}, retain_graph);
}

}  // namespace ember
