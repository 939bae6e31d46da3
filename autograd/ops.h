// The public differentiable ops. Each is defined in autograd/functions/<family>.cpp next to its
// Backward node. All take f32 or f64 (same dtype and device for every tensor argument unless
// stated) and throw ember::Error naming the op and the shapes on bad input.
#pragma once

#include <optional>
#include <vector>

#include "tensor/backend.h"
#include "autograd/grad_mode.h"
#include "tensor/generator.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace ember {

// ---- elementwise (functions/elementwise.cpp); binary ops broadcast like NumPy ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // not differentiable (zero gradient)
Tensor square(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
enum class GeluApprox { none, tanh };
Tensor gelu(const Tensor& x, GeluApprox approx = GeluApprox::none);
Tensor silu(const Tensor& x);
Tensor hardswish(const Tensor& x);  // x * relu6(x + 3) / 6
// Comparisons return u8 masks (0/1), never differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// cond (u8) ? a : b, all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- copies and casts (functions/copy.cpp) ----
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);  // differentiable between floating dtypes
Tensor to_device(const Tensor& x, Device device);

// ---- views (functions/view.cpp): all share storage with their input ----
Tensor reshape(const Tensor& x, const Shape& shape);  // one dim may be -1
Tensor view(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor squeeze(const Tensor& x, std::optional<int64_t> dim = std::nullopt);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);

// ---- reductions (functions/reduce.cpp); empty dims = all dims ----
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// correction 1 = unbiased (Bessel), 0 = population variance.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64
};
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// ---- linear algebra (functions/matmul.cpp) ----
// NumPy/PyTorch matmul: 1-D x 1-D dot, 2-D mm, batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., in] @ weight[out, in]^T + bias[out]
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- softmax and losses (functions/softmax.cpp, functions/loss.cpp) ----
Tensor softmax(const Tensor& x, int64_t dim = -1);
Tensor log_softmax(const Tensor& x, int64_t dim = -1);
enum class Reduction { none, mean, sum };
struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::mean;
};
// logits [N, C] (or [N, C, d...]), target i64 class indices [N] (or [N, d...]); fused with
// log_softmax. mean divides by the number of non-ignored targets.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions opts = {});
// Against probability targets of logits' shape: mean over rows of -sum(target * log_softmax).
Tensor cross_entropy_probs(const Tensor& logits, const Tensor& target_probs, CrossEntropyOptions opts = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean,
                      double beta = 1.0);
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::mean, const Tensor& pos_weight = {});

// ---- convolution, pooling, resampling (functions/conv.cpp, functions/pool.cpp) ----
struct Conv2dOptions {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1, groups = 1;
};
// x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Conv2dOptions opts = {});
struct ConvTranspose2dOptions {
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, output_pad_h = 0, output_pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1, groups = 1;
};
// x [N, Cin, H, W], weight [Cin, Cout/groups, kh, kw] (PyTorch layout), bias [Cout] or undefined.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                        ConvTranspose2dOptions opts = {});
struct Pool2dOptions {
  int64_t kernel_h = 2, kernel_w = 2;
  int64_t stride_h = 0, stride_w = 0;  // 0 = kernel size
  int64_t pad_h = 0, pad_w = 0;
  bool count_include_pad = true;  // avg_pool2d only
};
ValuesIndices max_pool2d_with_indices(const Tensor& x, Pool2dOptions opts = {});
Tensor max_pool2d(const Tensor& x, Pool2dOptions opts = {});
Tensor avg_pool2d(const Tensor& x, Pool2dOptions opts = {});
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);
// Output size out_h x out_w (use scale by passing H*s, W*s). align_corners applies to bilinear.
Tensor upsample(const Tensor& x, int64_t out_h, int64_t out_w, UpsampleMode mode = UpsampleMode::nearest,
                bool align_corners = false);

// ---- normalisation (functions/norm.cpp) ----
// x [N, C, ...]; weight/bias [C] or undefined; running stats [C] or undefined, updated in place in
// training mode (unbiased variance, PyTorch's convention).
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
// running = (1 - momentum) * running + momentum * batch, for the mean and the unbiased variance, in
// place and outside the graph (batch_norm's training step; SyncBatchNorm2d uses it too).
void update_running_stats(const Tensor& running_mean, const Tensor& running_var, const Tensor& batch_mean,
                          const Tensor& batch_var_unbiased, double momentum);
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// Normalises over the trailing dims given by normalized_shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
Tensor rms_norm(const Tensor& x, const Tensor& weight = {}, double eps = 1e-5);

// ---- indexing and joining (functions/index.cpp, functions/join.cpp) ----
Tensor embedding(const Tensor& weight, const Tensor& indices);  // weight [V, D], indices i64 any shape
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ---- regularisation and attention (functions/dropout.cpp, functions/attention.cpp) ----
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// x [B, H, T, D]; cos/sin [T, D] (rotate-half convention, see WORKLOADS.md W4).
Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin);
// Tables for rotary_embedding: positions start..start+T-1, theta base, head_dim D (even).
std::pair<Tensor, Tensor> rope_tables(int64_t start, int64_t t, int64_t head_dim, double base = 10000.0,
                                      TensorOptions opts = {});
// q [B, H, T, D], k/v [B, Hkv, S, D] with H % Hkv == 0 (grouped-query: query head h uses kv head
// h / (H/Hkv)). Optional mask [T, S] u8 (1 = keep) or causal (key pos > query pos + (S - T) masked).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false,
                                    const Tensor& mask = {}, std::optional<double> scale = std::nullopt);

}  // namespace ember
