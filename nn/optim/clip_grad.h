// Gradient clipping by global norm, with PyTorch's semantics (torch.nn.utils.clip_grad_norm_).
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace ember::nn {

// The norm_type-norm of all gradients of `params` taken together (as if concatenated into one
// vector); parameters without a gradient are skipped. norm_type may be INFINITY (max |g|). When
// total > max_norm every gradient is scaled in place by max_norm / (total + 1e-6). Returns the
// total norm before clipping (0 when no parameter has a gradient). A NaN/inf total propagates into
// the gradients as in PyTorch, or throws when error_if_nonfinite. Throws on max_norm < 0 or
// norm_type <= 0.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

}  // namespace ember::nn
