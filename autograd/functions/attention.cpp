// Rotary position embedding (RoPE) and scaled dot-product attention with grouped-query heads.
//
// Legend: B batch, H query heads, Hkv key/value heads, G = H / Hkv query heads per kv head,
// T query positions, S key positions, D head dim (Dv for v).
// RoPE, and attention with an explicit mask, are composed from public differentiable ops (narrow,
// cat, neg, mul, add, matmul, where, softmax, reshape), so their gradients come from those ops'
// backward nodes. Attention without a mask (causal or full) first asks the backend for its fused
// kernel (Backend::sdpa_fwd/bwd: blocked, online softmax, no repeated K/V) and records
// SdpaBackward; a backend without one falls back to the composite, which stays the reference.
// RoPE follows the rotate-half convention of WORKLOADS.md W4.
#include <cmath>
#include <limits>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// out = softmax(scale q k^T, causal) v through the backend's fused kernel, which also returns
// lse [B, H, T]. Backward (in the kernel, with P = exp(scale q k^T - lse), Di = dO_i . O_i):
//   dV = P^T dO,  dS = P * (dO V^T - Di),  dQ = scale dS K,  dK = scale dS^T Q  (G heads summed
//   into their kv head). Saves the contiguous q, k, v, the output and lse.
class SdpaBackward final : public Node {
 public:
  SdpaBackward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse, bool causal,
               double scale)
      : q_(q), k_(k), v_(v), out_(out), lse_(lse), causal_(causal), scale_(scale) {}
  std::string name() const override { return "ScaledDotProductAttentionBackward"; }
  void release_saved() override {
    q_.release();
    k_.release();
    v_.release();
    out_.release();
    lse_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor q = q_.unpack(*this), k = k_.unpack(*this), v = v_.unpack(*this);
    Tensor gq = Tensor::empty(q.shape(), q.options()), gk = Tensor::empty(k.shape(), k.options()),
           gv = Tensor::empty(v.shape(), v.options());
    const bool ok = backend_of(q).sdpa_bwd(q, k, v, out_.unpack(*this), lse_.unpack(*this), grads[0].contiguous(),
                                           causal_, scale_, gq, gk, gv);
    EMBER_ASSERT(ok, "scaled_dot_product_attention: backend ran the fused forward but not its backward");
    return {gq, gk, gv};
  }

 private:
  SavedTensor q_, k_, v_, out_, lse_;
  bool causal_;
  double scale_;
};

// rotate_half(x) = cat(-x[..., D/2:], x[..., :D/2]) along the last dim.
Tensor rotate_half(const Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return cat({neg(narrow(x, -1, half, half)), narrow(x, -1, 0, half)}, -1);
}

// The keep mask [T, S] (u8, 1 = attend) combining causality and an optional user mask.
// Causal keeps key s for query t when s <= t + (S - T): aligned to the end, as in decoding with
// a cache where the T queries are the last T of the S positions.
Tensor keep_mask(int64_t t, int64_t s, bool causal, const Tensor& mask) {
  std::vector<uint8_t> keep(static_cast<size_t>(t * s), 1);
  if (mask.defined()) {
    Tensor host = mask.device().is_cpu() ? mask : to_device(mask, Device::cpu());
    keep = host.to_vector<uint8_t>();
  }
  if (causal)
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = i + (s - t) + 1; j < s; ++j)
        if (j >= 0) keep[i * s + j] = 0;
  return Tensor::from_vector(keep, {t, s}, {.dtype = DType::u8});
}

}  // namespace

std::pair<Tensor, Tensor> rope_tables(int64_t start, int64_t t, int64_t head_dim, double base, TensorOptions opts) {
  EMBER_CHECK(head_dim > 0 && head_dim % 2 == 0, "rope_tables: head_dim must be positive and even, got {}", head_dim);
  EMBER_CHECK(t >= 0 && start >= 0, "rope_tables: start and length must be non-negative, got start {} length {}", start,
              t);
  EMBER_CHECK(base > 0, "rope_tables: base must be positive, got {}", base);
  EMBER_CHECK(is_floating(opts.dtype), "rope_tables: tables must be floating, got dtype {}", opts.dtype);
  // cos/sin[p, i] = cos/sin(pos * base^(-2i/D)) for i < D/2, repeated for the second half; f64.
  const int64_t half = head_dim / 2;
  std::vector<double> c(static_cast<size_t>(t * head_dim)), s(c.size());
  for (int64_t p = 0; p < t; ++p) {
    for (int64_t i = 0; i < half; ++i) {
      const double inv_freq = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
      const double angle = static_cast<double>(start + p) * inv_freq;
      c[p * head_dim + i] = c[p * head_dim + half + i] = std::cos(angle);
      s[p * head_dim + i] = s[p * head_dim + half + i] = std::sin(angle);
    }
  }
  auto finish = [&](const std::vector<double>& v) {
    Tensor out = Tensor::from_vector(v, {t, head_dim}, {.dtype = DType::f64});
    if (opts.dtype != DType::f64) out = to_dtype(out, opts.dtype);
    if (!(opts.device == Device::cpu())) out = to_device(out, opts.device);
    return out;
  };
  return {finish(c), finish(s)};
}

// y = x * cos + rotate_half(x) * sin, cos/sin broadcast over [B, H].
// backward (from the composed ops): grad_x = g * cos - rotate_half(g * sin).
Tensor rotary_embedding(const Tensor& x, const Tensor& cos, const Tensor& sin) {
  check_defined(x, "rotary_embedding", "x");
  check_defined(cos, "rotary_embedding", "cos");
  check_defined(sin, "rotary_embedding", "sin");
  check_floating(x, "rotary_embedding");
  check_same_dtype(x, cos, "rotary_embedding");
  check_same_dtype(x, sin, "rotary_embedding");
  check_same_device(x, cos, "rotary_embedding");
  check_same_device(x, sin, "rotary_embedding");
  EMBER_CHECK(x.dim() == 4, "rotary_embedding: x must be [B, H, T, D], got {}", shape_str(x.shape()));
  const int64_t t = x.size(2), d = x.size(3);
  EMBER_CHECK(d % 2 == 0, "rotary_embedding: head dim must be even, got {} (x {})", d, shape_str(x.shape()));
  const Shape want{t, d};
  EMBER_CHECK(cos.shape() == want && sin.shape() == want,
              "rotary_embedding: cos and sin must be [T, D] = {} (x {}, cos {}, sin {})", shape_str(want),
              shape_str(x.shape()), shape_str(cos.shape()), shape_str(sin.shape()));
  return add(mul(x, cos), mul(rotate_half(x), sin));
}

// softmax(q k^T * scale, masked) v, with query heads grouped onto their kv head: q [B, H, T, D]
// is viewed as [B, Hkv, G*T, D] (head h = kv * G + g, so a group's G heads are adjacent) and
// multiplied against k [B, Hkv, S, D] directly; K/V are never repeated in memory.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, const Tensor& mask,
                                    std::optional<double> scale) {
  constexpr std::string_view op = "scaled_dot_product_attention";
  check_defined(q, op, "q");
  check_defined(k, op, "k");
  check_defined(v, op, "v");
  check_floating(q, op);
  check_same_dtype(q, k, op);
  check_same_dtype(q, v, op);
  check_same_device(q, k, op);
  check_same_device(q, v, op);
  const std::string shapes =
      fmt::format("q {}, k {}, v {}", shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape()));
  EMBER_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "{}: q, k and v must be 4-D [B, heads, seq, D] ({})", op,
              shapes);
  const int64_t b = q.size(0), h = q.size(1), t = q.size(2), d = q.size(3);
  const int64_t hkv = k.size(1), s = k.size(2), dv = v.size(3);
  EMBER_CHECK(k.size(0) == b && v.size(0) == b, "{}: batch sizes differ ({})", op, shapes);
  EMBER_CHECK(k.size(3) == d, "{}: q and k head dims differ ({} vs {}) ({})", op, d, k.size(3), shapes);
  EMBER_CHECK(v.size(1) == hkv && v.size(2) == s, "{}: k and v must agree in heads and length ({})", op, shapes);
  EMBER_CHECK(hkv > 0 && h % hkv == 0, "{}: {} query heads are not divisible by {} key/value heads ({})", op, h, hkv,
              shapes);
  if (mask.defined()) {
    EMBER_CHECK(mask.dtype() == DType::u8, "{}: mask must be u8 (1 = keep), got {} (mask {})", op, mask.dtype(),
                shape_str(mask.shape()));
    EMBER_CHECK(mask.shape() == Shape({t, s}), "{}: mask must be [T, S] = [{},{}], got {} ({})", op, t, s,
                shape_str(mask.shape()), shapes);
    check_same_device(q, mask, op);
  }
  const int64_t g = h / hkv;
  const double sc = scale.value_or(1.0 / std::sqrt(static_cast<double>(d)));

  if (!mask.defined() && s > 0 && backend_of(q).supports(Prim::sdpa_fwd)) {
    const Tensor qc = q.detach().contiguous(), kc = k.detach().contiguous(), vc = v.detach().contiguous();
    Tensor out = Tensor::empty({b, h, t, dv}, q.options()), lse = Tensor::empty({b, h, t}, q.options());
    if (backend_of(q).sdpa_fwd(qc, kc, vc, causal, sc, out, lse)) {
      record<SdpaBackward>({q, k, v}, {out}, qc, kc, vc, out.detach(), lse, causal, sc);
      return out;
    }
  }

  // scores [B, Hkv, G*T, S] = q' k^T * scale
  Tensor qg = reshape(q, {b, hkv, g * t, d});
  Tensor scores = mul(matmul(qg, transpose(k, -2, -1)), sc);
  if (causal || mask.defined()) {
    // [B, Hkv, G, T, S]: the [T, S] keep mask broadcasts over every head of every group.
    Tensor keep = keep_mask(t, s, causal, mask);
    if (!(q.device() == Device::cpu())) keep = to_device(keep, q.device());
    Tensor neg_inf = Tensor::scalar(-std::numeric_limits<double>::infinity(), q.options());
    scores = reshape(where(keep, reshape(scores, {b, hkv, g, t, s}), neg_inf), {b, hkv, g * t, s});
  }
  Tensor attn = softmax(scores, -1);  // a fully masked row gives NaN, as in PyTorch
  return reshape(matmul(attn, v), {b, h, t, dv});
}

}  // namespace ember
