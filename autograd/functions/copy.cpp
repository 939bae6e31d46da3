// Copies and casts: contiguous, clone, to(dtype), to(device). Each backward routes the gradient
// back unchanged (cast back to the input's dtype / device).
#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// y = x with another dtype/device/layout: grad_x = grad_y converted back to x's dtype and device.
class CopyBackward final : public Node {
 public:
  CopyBackward(DType dtype, Device device) : dtype_(dtype), device_(device) {}
  std::string name() const override { return "CopyBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor g = grads[0];
    if (g.device() != device_) g = to_device(g, device_);
    if (g.dtype() != dtype_) g = to_dtype(g, dtype_);
    return {g};
  }

 private:
  DType dtype_;
  Device device_;
};

Tensor copy_to(const Tensor& x, DType dtype, Device device, std::string_view op) {
  check_defined(x, op, "input");
  Tensor out = Tensor::empty(x.shape(), {.dtype = dtype, .device = device});
  // Cross-device copies go through the non-CPU side's backend, which knows both memories.
  Backend& be = device.is_cpu() ? backend_of(x) : backend_for(device);
  be.copy(x, out);
  if (is_floating(x.dtype()) && is_floating(dtype)) record<CopyBackward>({x}, {out}, x.dtype(), x.device());
  return out;
}

}  // namespace

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous", "input");
  return x.is_contiguous() ? x : copy_to(x, x.dtype(), x.device(), "contiguous");
}

Tensor clone(const Tensor& x) { return copy_to(x, x.dtype(), x.device(), "clone"); }

Tensor to_dtype(const Tensor& x, DType dtype) {
  check_defined(x, "to", "input");
  return x.dtype() == dtype ? x : copy_to(x, dtype, x.device(), "to");
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to", "input");
  return x.device() == device ? x : copy_to(x, x.dtype(), device, "to");
}

}  // namespace ember
