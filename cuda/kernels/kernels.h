// Launchers of the hand-written kernels (kernels/*.cu). Plain pointers, sizes and POD descriptors
// only, so this header compiles in both the C++17 kernel files and the C++20 backend files.
// Every launcher runs on current_stream(), returns without synchronising, and ends with
// EMBER_CUDA_LAUNCHED. Element types: the launcher's DType; float kernels take f32 or f64.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/common.cuh"
#include "tensor/conv_geometry.h"

namespace ember::cuda {

// ---- elementwise (elementwise.cu): formulas from tensor/numerics.h ----
void launch_copy(const void* src, DType st, void* dst, DType dt, const Iter<2>& it);
void launch_fill(void* dst, DType dt, double value, const Iter<1>& it);
void launch_unary(UnaryOp op, double alpha, double beta, const void* x, void* out, DType dt, const Iter<2>& it);
void launch_unary_backward(UnaryOp op, double alpha, double beta, const void* x, const void* gout, void* gin,
                           DType dt, const Iter<3>& it);
void launch_binary(BinaryOp op, const void* a, const void* b, void* out, DType dt, const Iter<3>& it);
void launch_where(const uint8_t* cond, const void* a, const void* b, void* out, DType dt, const Iter<4>& it);

// ---- reductions (reduce.cu) ----
// Output k (K of them, row-major over the kept dims) reduces R inputs. Offsets come from two
// descriptors: kept dims (strides in x and in out) and reduced dims (strides in x).
struct ReduceDesc {
  Iter<2> kept;  // operand 0: x, operand 1: out
  Iter<1> red;   // x
};
void launch_reduce(ReduceOp op, const void* x, void* out, DType dt, const ReduceDesc& d);
// max/min along one dim of length n (stride xs in x): kept descriptor strides x, values, indices.
void launch_arg_reduce(ReduceOp op, const void* x, int64_t n, int64_t xs, void* values, int64_t* indices, DType dt,
                       const Iter<3>& kept);

// ---- softmax family (softmax.cu), rows x D contiguous ----
void launch_softmax(const void* x, void* y, int64_t rows, int64_t d, bool log, DType dt);
void launch_softmax_backward(const void* y, const void* gy, void* gx, int64_t rows, int64_t d, bool log, DType dt);
void launch_cross_entropy_fwd(const void* logits, const int64_t* target, int64_t n, int64_t c, int64_t ignore,
                              double eps, void* loss, void* lse, DType dt);
void launch_cross_entropy_bwd(const void* logits, const int64_t* target, const void* lse, const void* gloss,
                              int64_t n, int64_t c, int64_t ignore, double eps, void* gx, DType dt);

// ---- norms (norm.cu), x [N, D] contiguous; weight/bias/outputs may be null ----
void launch_layer_norm_fwd(const void* x, const void* w, const void* b, double eps, void* y, void* mean, void* rstd,
                           int64_t n, int64_t d, DType dt);
void launch_layer_norm_bwd(const void* x, const void* w, const void* mean, const void* rstd, const void* gy, void* gx,
                           void* gw, void* gb, int64_t n, int64_t d, DType dt);
void launch_rms_norm_fwd(const void* x, const void* w, double eps, void* y, void* rstd, int64_t n, int64_t d,
                         DType dt);
void launch_rms_norm_bwd(const void* x, const void* w, const void* rstd, const void* gy, void* gx, void* gw,
                         int64_t n, int64_t d, DType dt);

// ---- convolution lowering and pooling (conv_pool.cu); geometry as in tensor/backend.h ----
void launch_im2col(const void* x, const int64_t (&xs)[4], const Conv2dGeom& g, void* col, DType dt);
void launch_col2im(const void* col, const Conv2dGeom& g, void* x, DType dt);  // x contiguous, +=
void launch_max_pool_fwd(const void* x, const Pool2dGeom& g, void* out, int64_t* idx, DType dt);
void launch_max_pool_bwd(const void* gout, const int64_t* idx, const Pool2dGeom& g, void* gin, DType dt);
void launch_avg_pool_fwd(const void* x, const Pool2dGeom& g, void* out, DType dt);
void launch_avg_pool_bwd(const void* gout, const Pool2dGeom& g, void* gin, DType dt);
void launch_adaptive_fwd(const void* x, const Pool2dGeom& g, void* out, DType dt);
void launch_adaptive_bwd(const void* gout, const Pool2dGeom& g, void* gin, DType dt);
void launch_upsample_fwd(const void* x, const Pool2dGeom& g, bool bilinear, bool align, void* out, DType dt);
void launch_upsample_bwd(const void* gout, const Pool2dGeom& g, bool bilinear, bool align, void* gin, DType dt);

// ---- indexing (index.cu); index tensors are i64 and already bounds-checked ----
// index_select(x, dim, index) -> out: `it` runs over out's shape; operand 0 has x's strides with 0
// on `dim`, operand 1 out's. index_add(out, dim, index, src): atomic path runs over src's shape
// (operand 0 src, operand 1 out with 0 on `dim`); deterministic path over out's shape (operand 0 src
// with 0 on `dim`, operand 1 out) and sums the src rows j with index[j] == r in order.
// In every case j (or r) = (linear / inner) % len, len = m (iterating src/out-of-select) or n.
struct IndexDesc {
  Iter<2> it;
  int64_t inner;   // product of the dims after `dim`
  int64_t m;       // index length
  int64_t n;       // size of `dim` on the indexed side (x for select, out for add)
  int64_t stride;  // select: x's stride on dim; add atomic: out's; add deterministic: src's
  int64_t si;      // index stride
};
void launch_index_select(const void* x, const int64_t* index, void* out, const IndexDesc& d, DType dt);
void launch_index_add(void* out, const int64_t* index, const void* src, const IndexDesc& d, bool deterministic,
                      DType dt);
// gather(x, dim, index) -> out over index's shape: operands x (0 on dim), index, out; x offset gets
// index * dim_stride. scatter_add(out, dim, index, src), atomic: over index's shape, operands out
// (0 on dim), index, src. Deterministic: over index's shape with dim resized to n (out's dim size),
// operands index (0 on dim), src (0 on dim), out; sums src[j] over j < m with index[j] == r.
struct GatherDesc {
  Iter<3> it;
  int64_t dim_stride;  // x's (gather) or out's (scatter) stride on dim
  int64_t inner;       // product of index's dims after dim
  int64_t n;           // out's size on dim (deterministic scatter)
  int64_t m;           // index's size on dim
  int64_t si, ss;      // index's and src's strides on dim (deterministic scatter)
};
void launch_gather(const void* x, const int64_t* index, void* out, const GatherDesc& d, DType dt);
void launch_scatter_add(void* out, const int64_t* index, const void* src, const GatherDesc& d, bool deterministic,
                        DType dt);

// ---- random (random.cu): Philox4x32-10, the same streams as tensor/cpu/random.cpp ----
void launch_random_uniform(void* out, int64_t n, double lo, double hi, uint64_t seed, uint64_t offset, DType dt);
void launch_random_normal(void* out, int64_t n, double mean, double std, uint64_t seed, uint64_t offset, DType dt);
void launch_random_int(void* out, int64_t n, int64_t lo, int64_t hi, uint64_t seed, uint64_t offset, DType dt);

// ---- fused optimizer (adam.cu) ----
struct AdamCoef {
  double lr, beta1, beta2, eps, weight_decay, bias1, bias2;  // bias_i = 1 - beta_i^t
  bool decoupled;
};
void launch_adam(void* param, const void* grad, void* m, void* v, int64_t n, const AdamCoef& c, DType dt);

// ---- attention (attention.cu): f32, contiguous [B, H, T, D]; D, Dv <= 128 ----
struct SdpaDims {
  int64_t b, hq, hkv, t, s, d, dv;
  bool causal;
  float scale;
};
bool sdpa_supported(const SdpaDims& a);
void launch_sdpa_fwd(const float* q, const float* k, const float* v, float* out, float* lse, const SdpaDims& a);
// delta = rowsum(grad_out * out) is computed into `scratch` ([B, Hq, T] floats).
void launch_sdpa_bwd(const float* q, const float* k, const float* v, const float* out, const float* lse,
                     const float* gout, float* gq, float* gk, float* gv, float* scratch, const SdpaDims& a);

}  // namespace ember::cuda
