// Communicator's tensor forms: validate the tensor once here, then call the raw-buffer collective.
#include "dist/communicator.h"

#include "tensor/shape.h"

namespace ember::dist {

namespace {

void check_tensor(const Communicator& c, const Tensor& t, const char* op) {
  EMBER_CHECK(t.defined(), "{}: tensor is undefined", op);
  EMBER_CHECK(t.is_contiguous(), "{}: tensor {} must be contiguous", op, shape_str(t.shape()));
  const bool want_cuda = c.backend() == "nccl";
  EMBER_CHECK(t.device().is_cuda() == want_cuda, "{}: tensor {} is on {} but the {} communicator works on {}", op,
              shape_str(t.shape()), t.device().str(), c.backend(), want_cuda ? "cuda" : "cpu");
}

}  // namespace

void Communicator::allreduce(Tensor& t, ReduceOp op) {
  check_tensor(*this, t, "allreduce");
  EMBER_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "allreduce: dtype {} of tensor {} is not f32 or f64",
              t.dtype(), shape_str(t.shape()));
  allreduce(t.raw_data(), t.numel(), t.dtype(), op);
}

void Communicator::broadcast(Tensor& t, int root) {
  check_tensor(*this, t, "broadcast");
  EMBER_CHECK(root >= 0 && root < world_size(), "broadcast: root {} is not a rank of a world of {}", root,
              world_size());
  broadcast(t.raw_data(), t.numel() * static_cast<int64_t>(dtype_size(t.dtype())), root);
}

Tensor Communicator::allgather(const Tensor& t) {
  check_tensor(*this, t, "allgather");
  Shape shape = t.shape();
  shape.insert(shape.begin(), world_size());
  Tensor out = Tensor::empty(shape, t.options());
  allgather(t.raw_data(), out.raw_data(), t.numel() * static_cast<int64_t>(dtype_size(t.dtype())));
  return out;
}

double Communicator::allreduce(double value, ReduceOp op) {
  allreduce(&value, 1, DType::f64, op);  // NCCL overrides this: it needs device memory
  return value;
}

}  // namespace ember::dist
