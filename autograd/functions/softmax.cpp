// softmax and log_softmax over any dim, forward and backward side by side.
//
// Legend: R rows (every dim but `dim`, flattened), D = x.size(dim).
// The backend primitive works over the last dim of a contiguous tensor, so a middle dim is swapped
// with the last one, made contiguous, computed, and swapped back (the result is contiguous in x's
// own layout, as in PyTorch). The node saves the primitive's output in the moved layout, not the
// returned tensor, so no reference cycle forms and the backward needs no second transpose of y.
// logsumexp lives in reduce.cpp.
#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// Swaps `dim` and the last dim (its own inverse); identity when dim is already last.
Tensor move_last(const Tensor& t, int64_t dim) {
  const int64_t last = t.dim() - 1;
  return dim == last ? t : t.transpose(dim, last);
}

// y = softmax(x) (or log_softmax), along the last dim of the moved layout.
//   softmax:     grad_x = y * (grad_y - sum(grad_y * y))
//   log_softmax: grad_x = grad_y - exp(y) * sum(grad_y)
// (both in the backend's softmax_backward, over the moved last dim).
class SoftmaxBackward final : public Node {
 public:
  SoftmaxBackward(const Tensor& y_moved, int64_t dim, bool log) : y_(y_moved), dim_(dim), log_(log) {}
  std::string name() const override { return log_ ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  void release_saved() override { y_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor y = y_.unpack(*this);
    Tensor g = grads[0].dim() == 0 ? grads[0].reshape({1}) : grads[0];  // 0-d input ran as [1]
    Tensor gy = move_last(g, dim_).contiguous();
    Tensor gx = Tensor::empty(y.shape(), y.options());
    backend_of(y).softmax_backward(y, gy, gx, log_);
    return {move_last(gx, dim_).contiguous().reshape(outputs[0].shape)};
  }

 private:
  SavedTensor y_;
  int64_t dim_;
  bool log_;
};

Tensor softmax_impl(const Tensor& x, int64_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  check_defined(x, op, "x");
  check_floating(x, op);
  // A 0-d tensor is one row of length 1 (PyTorch: softmax -> 1, log_softmax -> 0).
  const Tensor xs = x.dim() == 0 ? x.detach().reshape({1}) : x.detach();
  const int64_t d = wrap_dim(dim, xs.dim(), op);
  Tensor moved = move_last(xs, d).contiguous();
  Tensor y = Tensor::empty(moved.shape(), moved.options());
  backend_of(x).softmax(moved, y, log);
  Tensor out = move_last(y, d).contiguous().reshape(x.shape());
  // Save a fresh handle to y's storage: when out aliases y, in-place edits of out are caught.
  record<SoftmaxBackward>({x}, {out}, y.detach(), d, log);
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true); }

}  // namespace ember
