// Losses: cross-entropy (class indices, fused with log_softmax; and probability targets), MSE,
// L1, smooth L1 and binary cross-entropy with logits. Semantics follow PyTorch.
//
// Legend: N batch, C classes, d... extra (spatial) dims of a [N, C, d...] input.
// cross_entropy moves C last and flattens to [N*d..., C] with differentiable view ops, then runs
// the fused backend primitive (per-row logsumexp forward, softmax - smoothed one-hot backward).
// The elementwise losses are composites of public ops; bce_with_logits has its own node so the
// gradient is the smooth sigmoid(x) - t everywhere (a composite through |x| has a kink at 0).
// Reductions: none keeps the elementwise shape, sum adds, mean divides by the element count
// (cross_entropy: by the number of non-ignored targets; all ignored gives NaN, as PyTorch).
#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return mean(loss);
  }
  EMBER_ASSERT(false, "unknown reduction");
  return {};
}

void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  check_defined(input, op, "input");
  check_defined(target, op, "target");
  check_floating(input, op);
  check_same_dtype(input, target, op);
  check_same_device(input, target, op);
  // PyTorch broadcasts here with a warning; a [N,1] vs [N] slip silently becomes [N,N], so we refuse.
  EMBER_CHECK(input.shape() == target.shape(), "{}: input {} and target {} must have the same shape", op,
              shape_str(input.shape()), shape_str(target.shape()));
}

// ---- cross_entropy (class indices) ----
// Row i with target t, eps = label_smoothing, p = softmax(x_i), lse_i = logsumexp(x_i):
//   loss_i = (1 - eps) (lse_i - x_it) + eps (lse_i - mean_c x_ic)     (0 for ignored rows)
//   d loss_i / d x_ic = p_c - (1 - eps) [c == t] - eps / C            (0 for ignored rows)
// grad_logits = grad_loss[i] * that, computed by the backend's cross_entropy_bwd.
class CrossEntropyBackward final : public Node {
 public:
  CrossEntropyBackward(const Tensor& logits, const Tensor& target, const Tensor& lse, int64_t ignore_index,
                       double eps)
      : logits_(logits), target_(target), lse_(lse), ignore_index_(ignore_index), eps_(eps) {}
  std::string name() const override { return "CrossEntropyBackward"; }
  void release_saved() override {
    logits_.release();
    target_.release();
    lse_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = logits_.unpack(*this), t = target_.unpack(*this), lse = lse_.unpack(*this);
    Tensor g = grads[0].contiguous();
    Tensor gx = Tensor::empty(x.shape(), x.options());
    backend_of(x).cross_entropy_bwd(x, t, lse, g, ignore_index_, eps_, gx);
    return {gx};
  }

 private:
  SavedTensor logits_, target_, lse_;
  int64_t ignore_index_;
  double eps_;
};

// Per-row loss of contiguous logits [N, C] and validated targets [N]; records the node.
Tensor cross_entropy_rows(const Tensor& logits, const Tensor& target, int64_t ignore_index, double eps) {
  const int64_t n = logits.size(0);
  Tensor loss = Tensor::empty({n}, logits.options());
  Tensor lse = Tensor::empty({n}, logits.options());
  backend_of(logits).cross_entropy_fwd(logits.detach(), target, ignore_index, eps, loss, lse);
  record<CrossEntropyBackward>({logits}, {loss}, logits.detach(), target, lse, ignore_index, eps);
  return loss;
}

void check_label_smoothing(double eps, const char* op) {
  EMBER_CHECK(eps >= 0.0 && eps <= 1.0, "{}: label_smoothing must be in [0,1], got {}", op, eps);
}

// The class dim of logits: 1, or 0 for unbatched [C] logits.
int64_t class_dim(const Tensor& logits) { return logits.dim() == 1 ? 0 : 1; }

// [N, C, d...] -> [N*d..., C] (differentiable views/copies); [C] -> [1, C].
Tensor logits_as_rows(const Tensor& logits) {
  const int64_t c = logits.size(class_dim(logits));
  if (logits.dim() <= 2) return logits.reshape({-1, c}).contiguous();
  std::vector<int64_t> perm{0};
  for (int64_t i = 2; i < logits.dim(); ++i) perm.push_back(i);
  perm.push_back(1);
  return logits.permute(perm).contiguous().reshape({-1, c});
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, CrossEntropyOptions opts) {
  const char* op = "cross_entropy";
  check_defined(logits, op, "logits");
  check_defined(target, op, "target");
  check_floating(logits, op);
  check_same_device(logits, target, op);
  check_label_smoothing(opts.label_smoothing, op);
  EMBER_CHECK(target.dtype() == DType::i64, "{}: target must hold i64 class indices, got dtype {} (target {})", op,
              target.dtype(), shape_str(target.shape()));
  EMBER_CHECK(logits.dim() >= 1, "{}: logits must be [C], [N, C] or [N, C, d...], got {}", op,
              shape_str(logits.shape()));
  const int64_t cd = class_dim(logits), c = logits.size(cd);
  Shape expect = logits.shape();
  expect.erase(expect.begin() + cd);
  EMBER_CHECK(target.shape() == expect, "{}: target {} does not match logits {} (expected target {})", op,
              shape_str(target.shape()), shape_str(logits.shape()), shape_str(expect));
  EMBER_CHECK(c > 0, "{}: logits {} have no classes", op, shape_str(logits.shape()));

  // Validate every class index before any kernel reads logits with it.
  Tensor t = target.contiguous().reshape({-1});
  int64_t count = 0;  // non-ignored targets, the mean's denominator
  {
    const std::vector<int64_t> tv = t.to_vector<int64_t>();
    for (size_t i = 0; i < tv.size(); ++i) {
      count += tv[i] != opts.ignore_index;
      EMBER_CHECK(tv[i] == opts.ignore_index || (tv[i] >= 0 && tv[i] < c),
                  "{}: target value {} at flat index {} is out of range for {} classes (expected [0,{}) or "
                  "ignore_index {}; logits {})",
                  op, tv[i], i, c, c, opts.ignore_index, shape_str(logits.shape()));
    }
  }

  Tensor loss = cross_entropy_rows(logits_as_rows(logits), t, opts.ignore_index, opts.label_smoothing);
  switch (opts.reduction) {
    case Reduction::none: return loss.reshape(target.shape());
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return sum(loss) / static_cast<double>(count);  // count 0: 0/0 = NaN, as PyTorch
  }
  EMBER_ASSERT(false, "unknown reduction");
  return {};
}

// -sum_c t'_c log_softmax(x)_c per row, t' = (1 - eps) t + eps / C (PyTorch smooths prob targets
// the same way). Composite: the gradient flows through log_softmax (and into target_probs).
Tensor cross_entropy_probs(const Tensor& logits, const Tensor& target_probs, CrossEntropyOptions opts) {
  const char* op = "cross_entropy_probs";
  check_pair(logits, target_probs, op);
  check_label_smoothing(opts.label_smoothing, op);
  EMBER_CHECK(opts.ignore_index < 0, "{}: ignore_index {} is not supported with probability targets", op,
              opts.ignore_index);
  EMBER_CHECK(logits.dim() >= 1, "{}: logits must be [C], [N, C] or [N, C, d...], got {}", op,
              shape_str(logits.shape()));
  const int64_t cd = class_dim(logits), c = logits.size(cd);
  Tensor t = target_probs;
  const double eps = opts.label_smoothing;
  if (eps > 0) t = t * (1.0 - eps) + eps / static_cast<double>(c);
  Tensor loss = -sum(log_softmax(logits, cd) * t, {cd});
  return reduce_loss(loss, opts.reduction);
}

// (x - t)^2
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair(input, target, "mse_loss");
  return reduce_loss(square(input - target), reduction);
}

// |x - t|; the gradient at x == t is 0 (abs's subgradient sign(0) = 0, as PyTorch).
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair(input, target, "l1_loss");
  return reduce_loss(abs(input - target), reduction);
}

// With d = x - t: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta = 0 is L1.
// Gradient d/beta inside, sign(d) outside (continuous at |d| = beta).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  const char* op = "smooth_l1_loss";
  check_pair(input, target, op);
  EMBER_CHECK(beta >= 0, "{}: beta must be >= 0, got {}", op, beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  Tensor d = input - target;
  Tensor ad = abs(d);
  Tensor inside = lt(ad.detach(), Tensor::scalar(beta, ad.options()));
  Tensor loss = where(inside, square(d) * (0.5 / beta), ad - 0.5 * beta);
  return reduce_loss(loss, reduction);
}

namespace {

// Elementwise BCE with logits x, targets t and optional pos_weight pw (broadcast over t):
//   L = 1 + (pw - 1) t,   sp = softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)   (stable)
//   loss = (1 - t) x + L sp          (pw undefined: L = 1, loss = max(x,0) - x t + log1p(exp(-|x|)))
// Since d sp/dx = -sigmoid(-x) = sigmoid(x) - 1:
//   grad_x  = g ((1 - t) + L (sigmoid(x) - 1))
//   grad_t  = g (-x + (pw - 1) sp)
//   grad_pw = sum_to(g t sp, pw.shape)
Tensor softplus_neg(const Tensor& x) { return relu(-x) + log(exp(-abs(x)) + 1.0); }

class BceWithLogitsBackward final : public Node {
 public:
  BceWithLogitsBackward(const Tensor& x, const Tensor& t, const Tensor& pw) : x_(x), t_(t), pw_(pw) {}
  std::string name() const override { return "BceWithLogitsBackward"; }
  void release_saved() override {
    x_.release();
    t_.release();
    pw_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), t = t_.unpack(*this);
    Tensor pw = pw_.defined() ? pw_.unpack(*this) : Tensor();
    const Tensor& g = grads[0];
    Tensor sp = softplus_neg(x);
    Tensor gx, gt, gpw;
    if (needs_input_grad(0)) {
      Tensor lw = pw.defined() ? (pw - 1.0) * t + 1.0 : Tensor::ones(x.shape(), x.options());
      gx = g * ((1.0 - t) + lw * (sigmoid(x) - 1.0));
    }
    if (needs_input_grad(1)) gt = pw.defined() ? g * ((pw - 1.0) * sp - x) : g * -x;
    if (needs_input_grad(2)) gpw = sum_to(g * t * sp, pw.shape());
    return {gx, gt, gpw};
  }

 private:
  SavedTensor x_, t_, pw_;
};

}  // namespace

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction,
                                        const Tensor& pos_weight) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(logits, target, op);
  if (pos_weight.defined()) {
    check_same_dtype(logits, pos_weight, op);
    check_same_device(logits, pos_weight, op);
    EMBER_CHECK(broadcast_shapes(pos_weight.shape(), target.shape(), op) == target.shape(),
                "{}: pos_weight {} does not broadcast to target {}", op, shape_str(pos_weight.shape()),
                shape_str(target.shape()));
  }
  Tensor loss;
  {
    NoGradGuard no_grad;
    Tensor x = logits.detach(), t = target.detach();
    Tensor sp = softplus_neg(x);
    loss = pos_weight.defined() ? (1.0 - t) * x + ((pos_weight.detach() - 1.0) * t + 1.0) * sp : (1.0 - t) * x + sp;
    loss = loss.contiguous();
  }
  if (pos_weight.defined())
    record<BceWithLogitsBackward>({logits, target, pos_weight}, {loss}, logits.detach(), target.detach(),
                                  pos_weight.detach());
  else
    record<BceWithLogitsBackward>({logits, target}, {loss}, logits.detach(), target.detach(), Tensor());
  return reduce_loss(loss, reduction);
}

}  // namespace ember
