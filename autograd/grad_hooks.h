// Gradient-ready hooks (PyTorch's register_post_accumulate_grad_hook): a callback that runs when a
// leaf's .grad holds every contribution of the current backward pass. Data-parallel training
// (dist/ddp.cpp) uses it to start a bucket's allreduce while backward is still working on earlier
// layers.
//
// The rule: the engine runs a leaf's AccumulateGrad node once per backward, after every gradient
// flowing into that leaf has been summed; the hooks run right after it, on the thread that runs
// backward, in registration order. A leaf that the backward does not reach gets no call. A leaf
// reached by a branch whose gradient is undefined still gets its call (then .grad is unchanged).
// Hooks must not start another backward. Registering and removing are thread-safe; a hook stays
// until its handle is destroyed or remove()d, and holds no reference to its leaf (keep the leaf alive
// while the hook is registered).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "tensor/tensor.h"

namespace ember::autograd {

using GradReadyHook = std::function<void(const Tensor& leaf)>;

class GradHookHandle {  // move-only; removes its hook when destroyed
 public:
  GradHookHandle() = default;
  explicit GradHookHandle(uint64_t id) : id_(id) {}
  GradHookHandle(GradHookHandle&& o) noexcept : id_(std::exchange(o.id_, 0)) {}
  GradHookHandle& operator=(GradHookHandle&& o) noexcept {
    if (this != &o) {
      remove();
      id_ = std::exchange(o.id_, 0);
    }
    return *this;
  }
  GradHookHandle(const GradHookHandle&) = delete;
  GradHookHandle& operator=(const GradHookHandle&) = delete;
  ~GradHookHandle() { remove(); }
  void remove();

 private:
  uint64_t id_ = 0;
};

// `leaf` must be a leaf tensor that requires grad. The hook sees the leaf (read leaf.grad()).
[[nodiscard]] GradHookHandle register_grad_ready_hook(const Tensor& leaf, GradReadyHook hook);

}  // namespace ember::autograd
