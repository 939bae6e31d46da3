// Matrix products. matmul follows NumPy/PyTorch: 1-D x 1-D is a dot product, a 1-D operand gets a
// unit dim added then removed, batch dims broadcast. Everything lowers onto one differentiable
// batched product bmm(a [Bt,M,K], b [Bt,K,N]) whose backward uses transposed views (no copies):
//   C = A B  =>  dA = dC B^T,  dB = A^T dC.
#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// Raw batched product through the backend: a [Bt,M,K], b [Bt,K,N] any strides -> [Bt,M,N].
Tensor bmm_raw(const Tensor& a, const Tensor& b) {
  Tensor out = Tensor::empty({a.size(0), a.size(1), b.size(2)}, a.options());
  backend_of(a).gemm(a, b, out, false);
  return out;
}

Tensor unsqueeze_raw(const Tensor& t) {  // [R, C] -> [1, R, C] view, no graph
  return t.as_strided({1, t.size(0), t.size(1)}, {t.numel(), t.stride(0), t.stride(1)}, t.offset());
}

Tensor transpose_raw(const Tensor& t) {  // swap the last two dims of a 3-D tensor
  return t.as_strided({t.size(0), t.size(2), t.size(1)}, {t.stride(0), t.stride(2), t.stride(1)}, t.offset());
}

class BmmBackward final : public Node {
 public:
  BmmBackward(const Tensor& a, const Tensor& b) : a_(a), b_(b) {}
  std::string name() const override { return "BmmBackward"; }
  void release_saved() override {
    a_.release();
    b_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor a = a_.unpack(*this), b = b_.unpack(*this);
    const Tensor& g = grads[0];
    Tensor ga, gb;
    if (needs_input_grad(0)) ga = bmm_raw(g, transpose_raw(b));  // [Bt,M,N] @ [Bt,N,K]
    if (needs_input_grad(1)) gb = bmm_raw(transpose_raw(a), g);  // [Bt,K,M] @ [Bt,M,N]
    return {ga, gb};
  }

 private:
  SavedTensor a_, b_;
};

Tensor bmm(const Tensor& a, const Tensor& b) {
  Tensor out = bmm_raw(a, b);
  record<BmmBackward>({a, b}, {out}, a, b);
  return out;
}

// y [R, N] = x [R, K] @ w[N, K]^T + bias, the bias added by the backend's GEMM epilogue.
//   dx = dy @ w,  dw = dy^T @ x,  dbias = column sums of dy.
class LinearBackward final : public Node {
 public:
  LinearBackward(const Tensor& x, const Tensor& w) : x_(x), w_(w) {}
  std::string name() const override { return "LinearBackward"; }
  void release_saved() override {
    x_.release();
    w_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), w = w_.unpack(*this);
    const Tensor g = unsqueeze_raw(grads[0]);  // [1, R, N]
    Tensor gx, gw, gb;
    if (needs_input_grad(0)) gx = bmm_raw(g, unsqueeze_raw(w)).view({x.size(0), x.size(1)});  // [R, K]
    if (needs_input_grad(1)) gw = bmm_raw(transpose_raw(g), unsqueeze_raw(x)).view({w.size(0), w.size(1)});
    if (needs_input_grad(2)) gb = sum(grads[0], {0});  // [N]
    return {gx, gw, gb};
  }

 private:
  SavedTensor x_, w_;
};

// x2 [R, K] (any strides), weight [N, K], bias [N]; an undefined result when the backend has no
// fused epilogue.
Tensor linear_fused(const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  Backend& be = backend_of(x2);
  if (!be.supports(Prim::gemm_epilogue)) return Tensor();
  Tensor out = Tensor::empty({x2.size(0), weight.size(0)}, x2.options());
  if (!be.gemm_epilogue(unsqueeze_raw(x2), transpose_raw(unsqueeze_raw(weight)),
                        bias.is_contiguous() ? bias : bias.contiguous(), UnaryOp::identity, Tensor(),
                        unsqueeze_raw(out)))
    return Tensor();
  record<LinearBackward>({x2, weight, bias}, {out}, x2, weight);
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_defined(a_in, "matmul", "a");
  check_defined(b_in, "matmul", "b");
  check_same_dtype(a_in, b_in, "matmul");
  check_floating(a_in, "matmul");
  EMBER_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both operands need at least 1 dim, got {} and {}",
              shape_str(a_in.shape()), shape_str(b_in.shape()));
  const bool a_vec = a_in.dim() == 1, b_vec = b_in.dim() == 1;
  Tensor a = a_vec ? unsqueeze(a_in, 0) : a_in;  // [K] -> [1,K]
  Tensor b = b_vec ? unsqueeze(b_in, 1) : b_in;  // [K] -> [K,1]
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  EMBER_CHECK(b.size(-2) == k, "matmul: shapes {} and {} are not aligned ({} != {})", shape_str(a_in.shape()),
              shape_str(b_in.shape()), k, b.size(-2));

  Tensor out;
  if (b.dim() == 2) {
    // [..., M, K] @ [K, N]: fold every batch dim of a into M (one big GEMM).
    Shape lead(a.shape().begin(), a.shape().end() - 2);
    Tensor a3 = reshape(a, {1, numel_of(lead) * m, k});
    Tensor r = bmm(a3, unsqueeze(b, 0));
    Shape out_shape = lead;
    out_shape.push_back(m);
    out_shape.push_back(n);
    out = reshape(r, out_shape);
  } else {
    Shape batch_a(a.shape().begin(), a.shape().end() - 2), batch_b(b.shape().begin(), b.shape().end() - 2);
    Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
    Shape ea = batch, eb = batch;
    ea.insert(ea.end(), {m, k});
    eb.insert(eb.end(), {k, n});
    int64_t bt = numel_of(batch);
    Tensor r = bmm(reshape(expand(a, ea), {bt, m, k}), reshape(expand(b, eb), {bt, k, n}));
    Shape out_shape = batch;
    out_shape.insert(out_shape.end(), {m, n});
    out = reshape(r, out_shape);
  }
  if (a_vec) out = squeeze(out, -2);
  if (b_vec) out = squeeze(out, -1);
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined(x, "linear", "input");
  check_defined(weight, "linear", "weight");
  EMBER_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out, in], got {}", shape_str(weight.shape()));
  EMBER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1),
              "linear: input {} has {} features, weight {} expects {}", shape_str(x.shape()),
              x.dim() >= 1 ? x.size(-1) : 0, shape_str(weight.shape()), weight.size(1));
  if (bias.defined()) {
    EMBER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias {} does not match weight {}",
                shape_str(bias.shape()), shape_str(weight.shape()));
    check_same_dtype(x, weight, "linear");
    check_same_dtype(x, bias, "linear");
    // One GEMM with the bias in its epilogue when x folds to 2-D and the backend fuses.
    if (x.dim() >= 2 && x.device() == weight.device() && x.device() == bias.device()) {
      Shape lead(x.shape().begin(), x.shape().end() - 1);
      Tensor y = linear_fused(reshape(x, {numel_of(lead), x.size(-1)}), weight, bias);
      if (y.defined()) {
        lead.push_back(weight.size(0));
        return reshape(y, lead);
      }
    }
  }
  Tensor y = matmul(x, transpose(weight, 0, 1));
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace ember
