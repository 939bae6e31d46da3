// Evaluation in bits per byte (sliding window over tokens), sampling (temperature, top-k, top-p, seeded) and
// generation with the KV cache or full recomputation.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

#include "autograd/grad_mode.h"
#include "nn/optim/clip_grad.h"
#include "zoo/lm/lm.h"

namespace ember::zoo::lm {

namespace {

uint64_t splitmix64(uint64_t s, uint64_t k) {
  uint64_t z = s + (k + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Tensor tokens_of(const Tokens& v, size_t begin, size_t end) {
  std::vector<int64_t> t(v.begin() + static_cast<int64_t>(begin), v.begin() + static_cast<int64_t>(end));
  return Tensor::from_vector(t, {1, static_cast<int64_t>(t.size())}, {.dtype = DType::i64});
}

// The step of windows of T tokens for a requested `stride` (0: T/2); `ctx` is the model's context
// (T is smaller only for a text shorter than it).
int64_t window_stride(int64_t T, int64_t ctx, int64_t stride) {
  EMBER_CHECK(stride >= 0 && stride <= ctx, "eval lm: the stride must be between 1 and the context ({}), got {}", ctx,
              stride);
  return stride == 0 ? std::max<int64_t>(1, T / 2) : std::min(stride, T);
}

// Windows (start, first scored offset) of T tokens over n: window s predicts tokens s+1..s+T; each
// advances by `stride` (from window_stride) and scores only what the previous one did not.
std::vector<std::pair<int64_t, int64_t>> eval_windows(int64_t n, int64_t T, int64_t stride) {
  std::vector<std::pair<int64_t, int64_t>> windows;
  int64_t scored = 0;  // tokens 1..scored are predicted
  for (int64_t s = 0; scored < n - 1; s += stride) {
    s = std::min(s, n - 1 - T);
    windows.emplace_back(s, scored - s);  // offsets < scored - s were predicted before
    scored = s + T;
  }
  return windows;
}

Tokens encode_checked(LlamaLM& model, const Tokenizer& tok, const std::vector<uint8_t>& text_bytes, int64_t limit,
                      int64_t& nb) {
  nb = limit > 0 ? std::min<int64_t>(limit, static_cast<int64_t>(text_bytes.size()))
                 : static_cast<int64_t>(text_bytes.size());
  Tokens text = tok.encode(as_text(text_bytes, nb));
  EMBER_CHECK(text.size() >= 2, "eval lm: the text has {} tokens ({} bytes); at least 2 are needed", text.size(), nb);
  EMBER_CHECK(model.config().vocab_size >= tok.vocab_size(),
              "eval lm: the {} tokenizer has {} tokens but the model's vocab_size is {}", tok.name(),
              tok.vocab_size(), model.config().vocab_size);
  return text;
}

EvalResult eval_result(const Tokenizer& tok, const Tokens& text, int64_t nb, double nats, int64_t stride) {
  EvalResult r;
  r.stride = stride;
  r.tokens = static_cast<int64_t>(text.size()) - 1;
  r.bytes = nb - static_cast<int64_t>(tok.piece(text[0]).size());
  r.bpc = nats / static_cast<double>(r.bytes) / std::log(2.0);
  r.perplexity = std::exp(nats / static_cast<double>(r.tokens));
  return r;
}

}  // namespace

EvalResult evaluate(LlamaLM& model, const std::vector<uint8_t>& text, int64_t limit, int64_t batch, int64_t stride) {
  return evaluate(model, Tokenizer(), text, limit, batch, stride);
}

EvalResult evaluate(LlamaLM& model, const Tokenizer& tok, const std::vector<uint8_t>& text_bytes, int64_t limit,
                    int64_t batch, int64_t stride) {
  int64_t nb = 0;
  const Tokens text = encode_checked(model, tok, text_bytes, limit, nb);
  const auto n = static_cast<int64_t>(text.size());
  const int64_t T = std::min(model.config().max_position_embeddings, n - 1);
  const int64_t step = window_stride(T, model.config().max_position_embeddings, stride);
  const auto windows = eval_windows(n, T, step);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  double nats = 0;
  for (size_t w0 = 0; w0 < windows.size(); w0 += static_cast<size_t>(batch)) {
    const size_t w1 = std::min(windows.size(), w0 + static_cast<size_t>(batch));
    const int64_t B = static_cast<int64_t>(w1 - w0);
    std::vector<int64_t> in(static_cast<size_t>(B * T)), tgt(static_cast<size_t>(B * T));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t s = windows[w0 + static_cast<size_t>(b)].first;
        in[static_cast<size_t>(b * T + t)] = text[static_cast<size_t>(s + t)];
        tgt[static_cast<size_t>(b * T + t)] = text[static_cast<size_t>(s + t + 1)];
      }
    Tensor logits = model.forward(Tensor::from_vector(in, {B, T}, {.dtype = DType::i64}));
    const auto loss = cross_entropy(logits.reshape({B * T, logits.size(-1)}), Tensor::from_vector(tgt, {B * T}, {.dtype = DType::i64}),
                                    {.reduction = Reduction::none})
                          .to_vector<float>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = windows[w0 + static_cast<size_t>(b)].second; t < T; ++t)
        nats += loss[static_cast<size_t>(b * T + t)];
  }
  model.train(was_training);
  return eval_result(tok, text, nb, nats, step);
}

EvalResult evaluate_dynamic(LlamaLM& model, const Tokenizer& tok, const std::vector<uint8_t>& text_bytes,
                            const DynamicEvalOptions& opt) {
  EMBER_CHECK(opt.lr >= 0 && std::isfinite(opt.lr), "eval lm: the dynamic learning rate must be >= 0, got {}", opt.lr);
  EMBER_CHECK(opt.grad_clip >= 0 && opt.decay >= 0 && opt.decay <= 1,
              "eval lm: dynamic grad_clip must be >= 0 and decay in [0, 1] (got {}, {})", opt.grad_clip, opt.decay);
  for (const auto& [name, lin] : model.projections())
    EMBER_CHECK(!lin->is_int8() && !lin->is_bf16(), "eval lm: dynamic evaluation needs f32 weights ({} is {})",
                name, lin->is_int8() ? "int8" : "bf16");
  int64_t nb = 0;
  const Tokens text = encode_checked(model, tok, text_bytes, opt.limit, nb);
  const auto n = static_cast<int64_t>(text.size());
  const int64_t T = std::min(model.config().max_position_embeddings, n - 1);
  const int64_t stride = window_stride(T, model.config().max_position_embeddings, opt.stride);
  const auto windows = eval_windows(n, T, stride);
  const bool was_training = model.is_training();
  model.eval();  // no dropout; gradients stay on
  std::vector<Tensor> params;
  std::vector<Tensor> trained;  // copies of the weights, restored at the end
  for (auto& [name, p] : model.named_parameters()) {
    params.push_back(p);
    trained.push_back(p.detach().clone());
    p.zero_grad();  // each step sees only its own window's gradient
  }
  const bool step = opt.lr > 0;
  std::optional<NoGradGuard> no_grad;  // lr 0: scoring only
  if (!step) no_grad.emplace();
  double nats = 0;
  std::vector<int64_t> in(static_cast<size_t>(T)), tgt(static_cast<size_t>(T));
  for (const auto& [s, first] : windows) {
    for (int64_t t = 0; t < T; ++t) {
      in[static_cast<size_t>(t)] = text[static_cast<size_t>(s + t)];
      tgt[static_cast<size_t>(t)] = text[static_cast<size_t>(s + t + 1)];
    }
    Tensor logits = model.forward(Tensor::from_vector(in, {1, T}, {.dtype = DType::i64}));
    Tensor loss = cross_entropy(logits.reshape({T, logits.size(-1)}), Tensor::from_vector(tgt, {T}, {.dtype = DType::i64}),
                                {.reduction = Reduction::none});
    const auto values = loss.detach().to_vector<float>();
    for (int64_t t = first; t < T; ++t) nats += values[static_cast<size_t>(t)];
    if (!step) continue;
    loss.narrow(0, first, T - first).mean().backward();
    if (opt.grad_clip > 0) nn::clip_grad_norm_(params, opt.grad_clip);
    NoGradGuard g;
    for (size_t i = 0; i < params.size(); ++i) {
      if (!params[i].grad().defined()) continue;
      params[i].add_(params[i].grad(), -opt.lr);
      if (opt.decay > 0) params[i].add_(trained[i] - params[i], opt.decay);
      params[i].zero_grad();
    }
  }
  {
    NoGradGuard g;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(trained[i]);
  }
  model.train(was_training);
  return eval_result(tok, text, nb, nats, stride);
}

std::vector<double> sampling_probs(const float* logits, int64_t vocab, const SampleOptions& opt) {
  EMBER_CHECK(opt.temperature > 0, "sample: temperature must be > 0, got {}", opt.temperature);
  EMBER_CHECK(opt.top_k >= 0, "sample: top_k must be >= 0, got {}", opt.top_k);
  EMBER_CHECK(opt.top_p > 0 && opt.top_p <= 1, "sample: top_p must be in (0, 1], got {}", opt.top_p);
  std::vector<double> p(static_cast<size_t>(vocab));
  const double mx = *std::max_element(logits, logits + vocab);
  double z = 0;
  for (int64_t i = 0; i < vocab; ++i) z += p[static_cast<size_t>(i)] = std::exp((logits[i] - mx) / opt.temperature);
  for (double& v : p) v /= z;
  const bool cut_k = opt.top_k > 0 && opt.top_k < vocab;
  if (!cut_k && opt.top_p >= 1) return p;  // nothing to cut (the default): no ordering needed
  // Tokens by decreasing probability (ties: lower token first), then keep a prefix of that order;
  // only the first top_k need ordering (a partial sort: a full sort per token was 9% of decode).
  std::vector<int64_t> order(static_cast<size_t>(vocab));
  std::iota(order.begin(), order.end(), 0);
  size_t keep = cut_k ? static_cast<size_t>(opt.top_k) : order.size();
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(keep), order.end(),
                    [&](int64_t a, int64_t b) {
                      const double pa = p[size_t(a)], pb = p[size_t(b)];
                      return pa > pb || (pa == pb && a < b);
                    });
  if (opt.top_p < 1) {
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) {
      mass += p[static_cast<size_t>(order[i])];
      if (mass >= opt.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i) kept += p[static_cast<size_t>(order[i])];
  for (size_t i = keep; i < order.size(); ++i) p[static_cast<size_t>(order[i])] = 0;
  for (double& v : p) v /= kept;
  return p;
}

int64_t sample_token(const float* logits, int64_t vocab, const SampleOptions& opt, uint64_t step) {
  if (opt.greedy) return std::max_element(logits, logits + vocab) - logits;
  const std::vector<double> p = sampling_probs(logits, vocab, opt);
  const double u = static_cast<double>(splitmix64(opt.seed, step) >> 11) * 0x1.0p-53;
  double c = 0;
  int64_t last = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    if (p[static_cast<size_t>(i)] <= 0) continue;
    last = i;
    c += p[static_cast<size_t>(i)];
    if (u < c) return i;
  }
  return last;  // rounding: u just below 1
}

GenerateResult generate(LlamaLM& model, const Tokens& prompt, const GenerateOptions& opt,
                        const std::function<void(Token)>& on_token) {
  const int64_t ctx = model.config().max_position_embeddings, V = model.config().vocab_size;
  EMBER_CHECK(!prompt.empty(), "generate: the prompt is empty");
  EMBER_CHECK(static_cast<int64_t>(prompt.size()) <= ctx,
              "generate: the prompt has {} tokens but the model's context is {}", prompt.size(), ctx);
  for (Token t : prompt)
    EMBER_CHECK(t >= 0 && t < V, "generate: prompt token {} is outside the model's vocabulary of {}", t, V);
  EMBER_CHECK(opt.tokens >= 0, "generate: --tokens must be >= 0, got {}", opt.tokens);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  GenerateResult r;
  Tokens seq = prompt;
  KvCache cache;
  if (opt.use_cache) cache = model.make_cache();
  const auto t0 = std::chrono::steady_clock::now();
  Tensor logits;  // [1, T, V] of the last forward
  for (int64_t i = 0; i < opt.tokens; ++i) {
    if (opt.use_cache) {
      if (i == 0) {
        logits = model.forward_cached(tokens_of(seq, 0, seq.size()), cache);
      } else if (cache.len == ctx) {  // full: restart from the last half context
        ++r.slides;
        cache.len = 0;
        logits = model.forward_cached(tokens_of(seq, seq.size() - static_cast<size_t>(ctx / 2), seq.size()), cache);
      } else {
        logits = model.forward_cached(tokens_of(seq, seq.size() - 1, seq.size()), cache);
      }
    } else {
      const size_t start = seq.size() > static_cast<size_t>(ctx) ? seq.size() - static_cast<size_t>(ctx) : 0;
      if (start > 0) ++r.slides;
      logits = model.forward(tokens_of(seq, start, seq.size()));
    }
    const Tensor last = logits.select(1, logits.size(1) - 1).contiguous();
    const auto tok = static_cast<Token>(sample_token(last.data<float>(), V, opt.sample, static_cast<uint64_t>(i)));
    seq.push_back(tok);
    r.tokens.push_back(tok);
    if (on_token) on_token(tok);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  model.train(was_training);
  return r;
}

}  // namespace ember::zoo::lm
