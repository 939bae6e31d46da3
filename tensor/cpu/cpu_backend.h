// The CPU backend. Its primitives are split by family, one file each:
//   copy.cpp (copy, fill), elementwise.cpp (unary, unary_backward, binary, where),
//   reduce.cpp (reduce, arg_reduce), gemm.cpp + gemm_avx512.cpp/gemm_avx2.cpp (gemm),
//   softmax.cpp (softmax, cross-entropy), conv.cpp (conv2d_fwd/bwd_*, im2col, col2im), pool.cpp (pooling,
//   upsampling), norm.cpp (layer/rms norm), index.cpp (index_select/add, gather, scatter_add),
//   random.cpp (Philox fills), optim.cpp + optim_avx2.cpp (fused Adam/AdamW),
//   attention.cpp + attention_avx2.cpp (fused causal/GQA attention).
#pragma once

#include "tensor/backend.h"

namespace ember::cpu {

class CpuBackend final : public Backend {
 public:
  Device device() const override { return Device::cpu(); }

  EMBER_BACKEND_SUPPORTS(cpu)
  EMBER_BACKEND_OVERRIDES(cpu)  // every primitive of tensor/op_list.h with a 1 in its cpu column
};

}  // namespace ember::cpu
