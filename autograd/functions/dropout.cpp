// Dropout (inverted, PyTorch semantics): in training, each element is kept with probability 1-p
// and scaled by 1/(1-p); in eval (or p == 0) it is the identity.
//
// The mask comes from Tensor::rand(shape, dtype, gen) (Philox), so one generator seed gives one
// mask. It is composed from public ops: y = x * m with m = [u < 1-p] / (1-p), so mul's backward
// already reuses the same mask: grad_x = g * m.
#include "autograd/ops.h"

namespace ember {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_defined(x, "dropout", "x");
  check_floating(x, "dropout");
  EMBER_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got {} (input {})", p,
              shape_str(x.shape()));
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);  // everything dropped; the gradient is zero, not absent
  const double keep = 1.0 - p;
  Tensor u = Tensor::rand(x.shape(), x.options(), gen);      // U[0, 1)
  Tensor kept = lt(u, Tensor::scalar(keep, x.options()));    // u8, P(1) = 1 - p
  Tensor mask = mul(to_dtype(kept, x.dtype()), 1.0 / keep);  // 0 or 1/(1-p)
  return mul(x, mask);
}

}  // namespace ember
