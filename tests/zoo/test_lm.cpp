// zoo/lm: the model against a plain f64 reference of the same math (embedding, RMSNorm, RoPE
// rotate-half, GQA attention, SwiGLU, head; tied and untied), KV-cached generation against full
// recomputation, sampling masks and seeded reproducibility, the 90/5/5 split, evaluation,
// checkpoint folders (round trip and bad input), int8 folders and a resume that is bit for bit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "nn/safetensors.h"
#include "tensor/cpu/qgemm.h"
#include "tests/common/expect_close.h"
#include "zoo/lm/lm.h"
#include "zoo/lm/quant.h"

namespace fs = std::filesystem;
using namespace ember;
using namespace ember::zoo::lm;
using ember::test::throws_with;

namespace {

LmConfig test_config(bool tied = false) {
  return {.vocab_size = 256, .hidden_size = 32, .intermediate_size = 48, .num_hidden_layers = 2,
          .num_attention_heads = 4, .num_key_value_heads = 2, .max_position_embeddings = 12, .rms_norm_eps = 1e-5,
          .rope_theta = 500.0, .tie_word_embeddings = tied};
}

// A model with weights large enough that attention and the logits are far from uniform.
std::shared_ptr<LlamaLM> random_model(const LmConfig& c, uint64_t seed) {
  manual_seed(seed);
  auto m = make_model(c);
  NoGradGuard g;
  Generator gen(seed + 1);
  for (auto& [name, p] : m->named_parameters()) {
    const bool norm = name.find("norm") != std::string::npos;
    Tensor r = Tensor::randn(p.shape(), {}, &gen);
    p.copy_(norm ? r * 0.2 + 1.0 : r * 0.3);
  }
  return m;
}

std::vector<double> weights(const LlamaLM& m, const std::string& name) {
  for (auto& [n, t] : m.state_dict())
    if (n == name) {
      auto f = t.contiguous().to_vector<float>();
      return {f.begin(), f.end()};
    }
  ADD_FAILURE() << "no tensor " << name;
  return {};
}

// y[t][o] = sum_i x[t][i] * w[o][i]
std::vector<std::vector<double>> mm(const std::vector<std::vector<double>>& x, const std::vector<double>& w, int64_t out) {
  const size_t in = x[0].size();
  std::vector<std::vector<double>> y(x.size(), std::vector<double>(static_cast<size_t>(out)));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < static_cast<size_t>(out); ++o)
      for (size_t i = 0; i < in; ++i) y[t][o] += x[t][i] * w[o * in + i];
  return y;
}

std::vector<std::vector<double>> rmsnorm(const std::vector<std::vector<double>>& x, const std::vector<double>& w,
                                         double eps) {
  auto y = x;
  for (auto& row : y) {
    double ms = 0;
    for (double v : row) ms += v * v;
    const double r = 1 / std::sqrt(ms / static_cast<double>(row.size()) + eps);
    for (size_t i = 0; i < row.size(); ++i) row[i] *= r * w[i];
  }
  return y;
}

// The whole forward in double with plain loops: logits [T][V] of tokens at positions 0..T-1.
std::vector<std::vector<double>> reference_logits(const LlamaLM& m, const std::vector<int64_t>& tok) {
  const LmConfig& c = m.config();
  const int64_t C = c.hidden_size, H = c.num_attention_heads, Hkv = c.num_key_value_heads, D = c.head_dim();
  const size_t T = tok.size();
  const auto emb = weights(m, "model.embed_tokens.weight");
  std::vector<std::vector<double>> x(T, std::vector<double>(static_cast<size_t>(C)));
  for (size_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < C; ++i) x[t][size_t(i)] = emb[size_t(tok[t] * C + i)];
  auto rope = [&](std::vector<std::vector<double>>& v, int64_t heads) {
    for (size_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < D / 2; ++i) {
          const double th = static_cast<double>(t) * std::pow(c.rope_theta, -2.0 * static_cast<double>(i) / double(D));
          double& a = v[t][size_t(h * D + i)];
          double& b = v[t][size_t(h * D + i + D / 2)];
          const double a0 = a, b0 = b;
          a = a0 * std::cos(th) - b0 * std::sin(th);
          b = b0 * std::cos(th) + a0 * std::sin(th);
        }
  };
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    auto h = rmsnorm(x, weights(m, p + "input_layernorm.weight"), c.rms_norm_eps);
    auto q = mm(h, weights(m, p + "self_attn.q_proj.weight"), H * D);
    auto k = mm(h, weights(m, p + "self_attn.k_proj.weight"), Hkv * D);
    auto v = mm(h, weights(m, p + "self_attn.v_proj.weight"), Hkv * D);
    rope(q, H);
    rope(k, Hkv);
    std::vector<std::vector<double>> att(T, std::vector<double>(static_cast<size_t>(H * D)));
    for (int64_t hh = 0; hh < H; ++hh) {
      const int64_t g = hh / (H / Hkv);
      for (size_t t = 0; t < T; ++t) {
        std::vector<double> s(t + 1);
        double mx = -1e300, z = 0;
        for (size_t u = 0; u <= t; ++u) {
          for (int64_t i = 0; i < D; ++i) s[u] += q[t][size_t(hh * D + i)] * k[u][size_t(g * D + i)];
          s[u] /= std::sqrt(static_cast<double>(D));
          mx = std::max(mx, s[u]);
        }
        for (double& e : s) z += e = std::exp(e - mx);
        for (size_t u = 0; u <= t; ++u)
          for (int64_t i = 0; i < D; ++i) att[t][size_t(hh * D + i)] += s[u] / z * v[u][size_t(g * D + i)];
      }
    }
    auto o = mm(att, weights(m, p + "self_attn.o_proj.weight"), C);
    for (size_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < C; ++i) x[t][size_t(i)] += o[t][size_t(i)];
    h = rmsnorm(x, weights(m, p + "post_attention_layernorm.weight"), c.rms_norm_eps);
    auto gt = mm(h, weights(m, p + "mlp.gate_proj.weight"), c.intermediate_size);
    auto up = mm(h, weights(m, p + "mlp.up_proj.weight"), c.intermediate_size);
    for (size_t t = 0; t < T; ++t)
      for (size_t i = 0; i < gt[t].size(); ++i) gt[t][i] = gt[t][i] / (1 + std::exp(-gt[t][i])) * up[t][i];
    auto dn = mm(gt, weights(m, p + "mlp.down_proj.weight"), C);
    for (size_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < C; ++i) x[t][size_t(i)] += dn[t][size_t(i)];
  }
  x = rmsnorm(x, weights(m, "model.norm.weight"), c.rms_norm_eps);
  return mm(x, c.tie_word_embeddings ? emb : weights(m, "lm_head.weight"), c.vocab_size);
}

Tensor tokens(const std::vector<int64_t>& v) {
  return Tensor::from_vector(v, {1, static_cast<int64_t>(v.size())}, {.dtype = DType::i64});
}

void expect_logits_near(const Tensor& got, const std::vector<std::vector<double>>& want, double tol) {
  const auto g = got.contiguous().to_vector<float>();
  const size_t V = want[0].size();
  double worst = 0;
  for (size_t t = 0; t < want.size(); ++t)
    for (size_t v = 0; v < V; ++v) worst = std::max(worst, std::abs(g[t * V + v] - want[t][v]) / (1 + std::abs(want[t][v])));
  EXPECT_LT(worst, tol);
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) : path(fs::temp_directory_path() / fmt::format("ember_lm_{}_{}", tag, getpid())) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(LmModel, ForwardMatchesF64Reference) {
  for (bool tied : {false, true}) {
    auto m = random_model(test_config(tied), 3);
    const std::vector<int64_t> tok = {72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100};
    NoGradGuard g;
    expect_logits_near(m->forward(tokens(tok)), reference_logits(*m, tok), 2e-4);
  }
}

TEST(LmModel, ParameterCountsOfPresets) {
  EXPECT_EQ(preset("small").num_parameters(), 2902272);  // WORKLOADS.md W4
  EXPECT_EQ(LlamaLM(preset("small")).num_parameters(), 2902272);
  EXPECT_EQ(LlamaLM(preset("tiny")).num_parameters(), preset("tiny").num_parameters());
  EXPECT_TRUE(throws_with([] { preset("huge"); }, {"unknown preset 'huge'"}));
  LmConfig bad = test_config();
  bad.num_key_value_heads = 3;
  EXPECT_TRUE(throws_with([&] { LlamaLM m(bad); }, {"num_key_value_heads 3"}));
}

TEST(LmModel, CachedForwardEqualsFullRecompute) {
  auto m = random_model(test_config(), 5);
  const std::vector<int64_t> tok = {10, 200, 33, 47, 99, 1, 250, 7, 64, 128};
  NoGradGuard g;
  const auto full = m->forward(tokens(tok)).to_vector<float>();
  KvCache cache = m->make_cache();
  // Prefill 4 tokens, then one at a time: every position's logits match the full forward.
  std::vector<float> got = m->forward_cached(tokens({tok.begin(), tok.begin() + 4}), cache).to_vector<float>();
  for (size_t t = 4; t < tok.size(); ++t) {
    auto step = m->forward_cached(tokens({tok[t]}), cache).to_vector<float>();
    got.insert(got.end(), step.begin(), step.end());
  }
  ASSERT_EQ(got.size(), full.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], full[i], 1e-4 * (1 + std::abs(full[i]))) << i;
  EXPECT_EQ(cache.len, 10);
  EXPECT_TRUE(throws_with([&] { m->forward_cached(tokens({1, 2, 3}), cache); }, {"exceed the context of 12"}));
}

TEST(LmGenerate, GreedyWithCacheEqualsRecomputation) {
  auto m = random_model(test_config(), 7);
  const Tokens prompt = {'I', 'n', ' '};
  GenerateOptions opt{.tokens = 9, .sample = {.greedy = true}};
  auto cached = generate(*m, prompt, opt);
  opt.use_cache = false;
  auto full = generate(*m, prompt, opt);
  EXPECT_EQ(cached.tokens, full.tokens);
  EXPECT_EQ(cached.slides, 0);
  // Past the context (12) the window slides; generation goes on.
  opt = {.tokens = 30, .sample = {.seed = 1}};
  auto longer = generate(*m, prompt, opt);
  EXPECT_EQ(longer.tokens.size(), 30u);
  EXPECT_GT(longer.slides, 0);
  EXPECT_TRUE(throws_with([&] { generate(*m, Tokens(13, 'a'), opt); },
                          {"prompt has 13 tokens", "context is 12"}));
}

TEST(LmSample, TopKTopPMasksAndTemperature) {
  // probabilities .5 .3 .15 .05 at temperature 1
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  auto p = sampling_probs(logits.data(), 4, {.temperature = 1.0});
  EXPECT_NEAR(p[0], 0.5, 1e-6);
  EXPECT_NEAR(p[3], 0.05, 1e-6);
  p = sampling_probs(logits.data(), 4, {.temperature = 1.0, .top_k = 2});
  EXPECT_NEAR(p[0], 0.625, 1e-6);
  EXPECT_NEAR(p[1], 0.375, 1e-6);
  EXPECT_EQ(p[2], 0.0);
  EXPECT_EQ(p[3], 0.0);
  p = sampling_probs(logits.data(), 4, {.temperature = 1.0, .top_p = 0.9});  // .5+.3+.15 >= .9
  EXPECT_NEAR(p[2], 0.15 / 0.95, 1e-6);
  EXPECT_EQ(p[3], 0.0);
  p = sampling_probs(logits.data(), 4, {.temperature = 1.0, .top_p = 0.4});  // the top token alone
  EXPECT_EQ(p[0], 1.0);
  p = sampling_probs(logits.data(), 4, {.temperature = 0.5});  // squares, renormalised
  EXPECT_NEAR(p[0], 0.25 / (0.25 + 0.09 + 0.0225 + 0.0025), 1e-6);
  EXPECT_TRUE(throws_with([&] { sampling_probs(logits.data(), 4, {.temperature = 0}); }, {"temperature"}));
  // Ties go to the lower token; top_k at or past the vocabulary cuts nothing.
  const std::vector<float> tied = {1.0f, 2.0f, 2.0f, 0.0f};
  p = sampling_probs(tied.data(), 4, {.temperature = 1.0, .top_k = 1});
  EXPECT_EQ(p[1], 1.0);
  EXPECT_EQ(p[2], 0.0);
  p = sampling_probs(tied.data(), 4, {.temperature = 1.0, .top_k = 2});
  EXPECT_NEAR(p[1], 0.5, 1e-12);
  EXPECT_NEAR(p[2], 0.5, 1e-12);
  EXPECT_EQ(p[0], 0.0);
  const auto all = sampling_probs(tied.data(), 4, {.temperature = 1.0});
  EXPECT_EQ(sampling_probs(tied.data(), 4, {.temperature = 1.0, .top_k = 4}), all);
  EXPECT_EQ(sampling_probs(tied.data(), 4, {.temperature = 1.0, .top_k = 9}), all);
  EXPECT_GT(all[3], 0.0);
}

TEST(LmSample, SeededDrawsAreReproducibleAndFollowTheDistribution) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
  std::vector<int> counts(4);
  std::vector<int64_t> a, b, c;
  for (uint64_t s = 0; s < 4000; ++s) {
    a.push_back(sample_token(logits.data(), 4, {.temperature = 1.0, .seed = 9}, s));
    b.push_back(sample_token(logits.data(), 4, {.temperature = 1.0, .seed = 9}, s));
    c.push_back(sample_token(logits.data(), 4, {.temperature = 1.0, .seed = 10}, s));
    ++counts[size_t(a.back())];
  }
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  const auto p = sampling_probs(logits.data(), 4, {.temperature = 1.0});
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(counts[i] / 4000.0, p[i], 0.03) << i;
  EXPECT_EQ(sample_token(logits.data(), 4, {.greedy = true}, 0), 2);
  for (uint64_t s = 0; s < 200; ++s) {  // top-k 2 keeps tokens 2 and 1 only
    const int64_t t = sample_token(logits.data(), 4, {.temperature = 1.0, .top_k = 2, .seed = 3}, s);
    EXPECT_TRUE(t == 1 || t == 2) << t;
  }
}

TEST(LmData, SplitsNinetyFiveFiveAtLineBoundaries) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += fmt::format("line {} {}\n", i, std::string(size_t(i % 7), 'x'));
  Corpus c = split_text({text.begin(), text.end()}, "synthetic");
  EXPECT_EQ(c.train.size() + c.val.size() + c.test.size(), text.size());
  for (const auto* part : {&c.train, &c.val, &c.test}) EXPECT_EQ(part->back(), '\n');
  EXPECT_NEAR(double(c.train.size()) / double(text.size()), 0.90, 0.01);
  EXPECT_NEAR(double(c.val.size()) / double(text.size()), 0.05, 0.01);
  EXPECT_TRUE(throws_with([] { split_text({'a', 'b'}, "tiny.txt"); }, {"tiny.txt", "too short"}));
  EXPECT_TRUE(throws_with([] { load_corpus("/nonexistent/x.txt"); }, {"/nonexistent/x.txt", "does not exist"}));
}

TEST(LmEval, OneWindowEqualsCrossEntropyAndSlidingCoversEveryByte) {
  auto m = random_model(test_config(), 11);
  const std::vector<uint8_t> text = {'a', 'b', 'c', 'a', 'b', 'd', 'x', 'y'};  // 7 predictions < ctx 12
  std::vector<int64_t> in(text.begin(), text.end() - 1), tgt(text.begin() + 1, text.end());
  NoGradGuard g;
  const double nats = cross_entropy(m->forward(tokens(in)).reshape({7, 256}),
                                    Tensor::from_vector(tgt, {7}, {.dtype = DType::i64}))
                          .item();
  EvalResult r = evaluate(*m, text);
  EXPECT_EQ(r.bytes, 7);
  EXPECT_NEAR(r.bpc, nats / std::log(2.0), 1e-5);
  EXPECT_NEAR(r.perplexity, std::exp(nats), 1e-3);
  std::vector<uint8_t> longer(100);
  for (size_t i = 0; i < longer.size(); ++i) longer[i] = uint8_t('a' + i % 5);
  r = evaluate(*m, longer, 0, 3);
  EXPECT_EQ(r.bytes, 99);
  EXPECT_TRUE(std::isfinite(r.bpc) && r.bpc > 0);
}

// The window stride: stride 1 scores every token after the first window with the whole context
// (checked against one forward per token), stride = context gives disjoint windows, the default is
// half the context, and a stride above the context is an error.
TEST(LmEval, StrideSetsTheContextOfEachPrediction) {
  auto m = random_model(test_config(), 23);
  const int64_t T = 12;
  std::vector<uint8_t> text(40);
  for (size_t i = 0; i < text.size(); ++i) text[i] = uint8_t('a' + (i * 7 + i / 3) % 11);
  const auto n = static_cast<int64_t>(text.size());
  NoGradGuard g;
  // Nats of predicting text[j] from text[j - ctx .. j - 1] (the last position of one forward).
  auto last_nats = [&](int64_t j, int64_t ctx) {
    std::vector<int64_t> in(text.begin() + (j - ctx), text.begin() + j);
    const auto logits = m->forward(tokens(in)).reshape({ctx, 256});
    return double(cross_entropy(logits.slice(0, ctx - 1, ctx), Tensor::from_vector(std::vector<int64_t>{text[size_t(j)]}, {1},
                                                                                    {.dtype = DType::i64}))
                      .item());
  };
  double first = 0;  // the first window predicts tokens 1..T
  for (int64_t j = 1; j <= T; ++j) first += last_nats(j, j);
  double full = first, disjoint = 0;
  for (int64_t j = T + 1; j < n; ++j) full += last_nats(j, T);
  // Disjoint windows start at 0, 12, 24 and the last at n - 1 - T = 27 (scoring 37..39 with 10+ tokens before).
  for (int64_t j = 1; j < n; ++j) {
    const int64_t start = j <= 36 ? (j - 1) / T * T : n - 1 - T;
    disjoint += last_nats(j, j - start);
  }
  const double ln2 = std::log(2.0), bytes = double(n - 1);
  EXPECT_NEAR(evaluate(*m, text, 0, 16, 1).bpc, full / bytes / ln2, 1e-4);
  EXPECT_NEAR(evaluate(*m, text, 0, 3, T).bpc, disjoint / bytes / ln2, 1e-4);
  EXPECT_EQ(evaluate(*m, text, 0, 16, T / 2).bpc, evaluate(*m, text).bpc);
  EXPECT_EQ(evaluate(*m, text).stride, T / 2);  // the step used is reported
  EXPECT_EQ(evaluate(*m, text, 0, 16, 1).stride, 1);
  EXPECT_NEAR(evaluate_dynamic(*m, Tokenizer(), text, {.stride = 1}).bpc, full / bytes / ln2, 1e-4);
  EXPECT_TRUE(throws_with([&] { evaluate(*m, text, 0, 16, T + 1); }, {"stride", "between 1 and the context (12)"}));
}

TEST(LmCheckpoint, RoundTripAndBadFolders) {
  TempDir dir("ckpt");
  auto m = random_model(test_config(), 13);
  save_pretrained(*m, dir.path.string());
  Loaded l = load_pretrained(dir.path.string());
  EXPECT_EQ(l.format, WeightFormat::f32);
  EXPECT_EQ(l.model->config(), m->config());
  NoGradGuard g;
  const std::vector<int64_t> tok = {5, 6, 7};
  EXPECT_EQ(l.model->forward(tokens(tok)).to_vector<float>(), m->forward(tokens(tok)).to_vector<float>());

  EXPECT_TRUE(throws_with([] { load_pretrained("/nonexistent/lm"); }, {"/nonexistent/lm", "does not exist"}));
  const fs::path cfg = dir.path / "config.json";
  std::string text;
  {
    std::ifstream f(cfg);
    text.assign(std::istreambuf_iterator<char>(f), {});
  }
  auto write_cfg = [&](const std::string& s) { std::ofstream(cfg) << s; };
  write_cfg("{\"hidden_size\": 32");
  EXPECT_TRUE(throws_with([&] { load_pretrained(dir.path.string()); }, {"config.json", "not a JSON object"}));
  std::string wrong = text;
  wrong.replace(wrong.find("\"intermediate_size\": 48"), 23, "\"intermediate_size\": 64");
  write_cfg(wrong);
  EXPECT_TRUE(throws_with([&] { load_pretrained(dir.path.string()); }, {"model.safetensors", "shape"}));
  fs::remove(cfg);
  EXPECT_TRUE(throws_with([&] { load_pretrained(dir.path.string()); }, {"config.json is missing"}));
}

TEST(LmQuantize, Int8FolderLoadsAndStaysCloseToF32) {
  TempDir dir("int8");
  auto m = random_model(test_config(), 17);
  save_pretrained(*m, (dir.path / "f32").string());
  QuantizeReport r = quantize_int8((dir.path / "f32").string(), (dir.path / "i8").string());
  EXPECT_LT(r.out_bytes * 2, r.f32_bytes);
  EXPECT_LE(r.max_rel_error, 0.5 / 127 + 1e-6);  // rounding: half a step of max|row| / 127
  Loaded q = load_pretrained((dir.path / "i8").string());
  ASSERT_EQ(q.format, WeightFormat::int8);
  NoGradGuard g;
  const std::vector<int64_t> tok = {40, 41, 42, 43, 44};
  const auto a = m->forward(tokens(tok)).to_vector<float>(), b = q.model->forward(tokens(tok)).to_vector<float>();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += a[i] * a[i];
  EXPECT_LT(std::sqrt(num / den), 0.05);  // relative L2 error of the logits
  auto gen = generate(*q.model, {'a'}, {.tokens = 5, .sample = {.greedy = true}});
  EXPECT_EQ(gen.tokens.size(), 5u);
  // W8A8 (activations quantized per row): logits near the weight-only ones; the per-row rule makes
  // the cached decode (few rows, one token at a time) score what the full forward scores.
  q.model->set_int8_activations(true);
  const auto d = q.model->forward(tokens(tok)).to_vector<float>();
  num = den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (d[i] - b[i]) * (d[i] - b[i]), den += b[i] * b[i];
  EXPECT_GT(num, 0);  // the activations were rounded
  EXPECT_LT(std::sqrt(num / den), 0.05);
  const GenerateOptions greedy{.tokens = 6, .sample = {.greedy = true}};
  GenerateOptions uncached = greedy;
  uncached.use_cache = false;
  EXPECT_EQ(generate(*q.model, {'a'}, greedy).tokens, generate(*q.model, {'a'}, uncached).tokens);
  EXPECT_TRUE(throws_with([&] { m->set_int8_activations(true); }, {"int8 activations need an int8 checkpoint"}));
  EXPECT_TRUE(throws_with([&] { quantize_int8((dir.path / "i8").string(), (dir.path / "i8b").string()); },
                          {"already quantized (int8)"}));
}

// bf16 folder: half the f32 bytes for the projections, each weight within 2^-8 of itself (round
// to nearest even of an 8-bit significand), logits close to f32; the greedy tokens of the loaded model
// equal those of an in-memory copy whose f32 weights hold the same rounded values (the bf16 row
// product is exact up to f32 summation order).
TEST(LmQuantize, Bf16FolderLoadsAndMatchesRoundedF32Weights) {
  TempDir dir("bf16");
  auto m = random_model(test_config(), 19);
  save_pretrained(*m, (dir.path / "f32").string());
  QuantizeReport r = quantize_bf16((dir.path / "f32").string(), (dir.path / "b16").string());
  EXPECT_LT(r.out_bytes, r.f32_bytes * 3 / 4);
  EXPECT_LE(r.max_rel_error, std::ldexp(1.0, -8) + 1e-9);  // half a bf16 step: 2^-8 of |w| <= max|row|
  Loaded q = load_pretrained((dir.path / "b16").string());
  ASSERT_EQ(q.format, WeightFormat::bf16);
  // The same model with the rounded weights in f32.
  auto rounded = random_model(test_config(), 19);
  {
    NoGradGuard g;
    for (auto& [name, lin] : rounded->projections()) lin->weight.copy_(cpu::bf16_rows_to_f32(cpu::to_bf16_rows(lin->weight)));
  }
  NoGradGuard g;
  const std::vector<int64_t> tok = {40, 41, 42, 43, 44};
  const auto a = rounded->forward(tokens(tok)).to_vector<float>(), b = q.model->forward(tokens(tok)).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << i;
  const auto c = m->forward(tokens(tok)).to_vector<float>();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) num += (c[i] - b[i]) * (c[i] - b[i]), den += c[i] * c[i];
  EXPECT_LT(std::sqrt(num / den), 0.02);  // relative L2 error of the logits against f32
  const GenerateOptions opt{.tokens = 6, .sample = {.greedy = true}};
  EXPECT_EQ(generate(*q.model, {'a'}, opt).tokens, generate(*rounded, {'a'}, opt).tokens);
  EXPECT_TRUE(throws_with([&] { quantize_int8((dir.path / "b16").string(), (dir.path / "x").string()); },
                          {"already quantized (bf16)"}));
  // A config.json naming a method ember does not read is refused by name.
  std::string text;
  {
    std::ifstream f(dir.path / "b16" / "config.json");
    text.assign(std::istreambuf_iterator<char>(f), {});
  }
  text.replace(text.find("ember_bf16"), 10, "gptq");
  std::ofstream(dir.path / "b16" / "config.json") << text;
  EXPECT_TRUE(throws_with([&] { load_pretrained((dir.path / "b16").string()); }, {"quant_method 'gptq'"}));
}

namespace {

// A small verse-like training text in dir/text.txt.
fs::path write_verses(const TempDir& dir) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += fmt::format("And the {} said unto {}, behold.\n", i % 13, i % 7);
  const fs::path data = dir.path / "text.txt";
  std::ofstream(data) << text;
  return data;
}

// Trains c into `out` in two runs: stop after `first` steps, then --resume to the end.
TrainResult train_in_two_runs(TrainConfig c, const fs::path& out, int64_t first) {
  c.out = out.string();
  c.stop_after = first;
  train(c);
  c.stop_after = 0;
  c.resume = true;
  return train(c);
}

}  // namespace

TEST(LmTrain, ResumeIsBitForBit) {
  TempDir dir("train");
  const fs::path data = write_verses(dir);
  TrainConfig c{.preset = "tiny", .steps = 6, .batch = 2, .ctx = 16, .lr = 3e-3, .warmup = 1,
                .data_file = data.string(), .out = (dir.path / "a").string(), .threads = 1, .eval_every = 3,
                .eval_bytes = 64, .sample_tokens = 4, .final_test = false, .progress = false, .plots = false};
  TrainResult straight = train(c);
  TrainResult resumed = train_in_two_runs(c, dir.path / "b", 3);
  c.out = (dir.path / "b").string();
  c.resume = true;
  ASSERT_EQ(resumed.history.size(), 2u);
  EXPECT_EQ(resumed.history.back().val_bpc, straight.history.back().val_bpc);
  EXPECT_EQ(resumed.history.back().train_loss, straight.history.back().train_loss);
  Loaded a = load_pretrained((dir.path / "a").string()), b = load_pretrained((dir.path / "b").string());
  auto sa = a.model->state_dict(), sb = b.model->state_dict();
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_EQ(sa[i].second.to_vector<float>(), sb[i].second.to_vector<float>()) << sa[i].first;
  EXPECT_LT(straight.history.back().train_bpc, 8.0);
  c.lr = 1e-3;  // a different run
  EXPECT_TRUE(throws_with([&] { train(c); }, {"--resume", "was written by a run with"}));
}

// A BPE run with dropout: the tokenizer is learned from the training split and saved with the
// checkpoint (a quantized copy keeps it), dropout changes the trajectory, and --resume replays the
// dropout masks bit for bit.
TEST(LmTrain, BpeWithDropoutResumesBitForBit) {
  TempDir dir("bpe");
  const fs::path data = write_verses(dir);
  TrainConfig c{.preset = "tiny", .tokenizer = "bpe", .vocab = 280, .dropout = 0.2, .steps = 6, .batch = 2,
                .ctx = 16, .lr = 3e-3, .warmup = 1, .data_file = data.string(), .out = (dir.path / "a").string(),
                .threads = 1, .eval_every = 3, .eval_bytes = 256, .sample_tokens = 4, .final_test = true,
                .progress = false, .plots = false};
  TrainResult straight = train(c);
  Loaded a = load_pretrained((dir.path / "a").string());
  EXPECT_EQ(a.tokenizer.vocab_size(), 280);
  EXPECT_EQ(a.model->config().vocab_size, 280);
  ASSERT_TRUE(straight.test_bpc.has_value());
  Corpus corpus = load_corpus(data.string());
  EXPECT_NEAR(evaluate(*a.model, a.tokenizer, corpus.test).bpc, *straight.test_bpc, 1e-9);
  quantize_int8((dir.path / "a").string(), (dir.path / "q").string());
  EXPECT_EQ(load_pretrained((dir.path / "q").string()).tokenizer.merges(), a.tokenizer.merges());

  TrainResult resumed = train_in_two_runs(c, dir.path / "b", 3);
  ASSERT_EQ(resumed.history.size(), 2u);
  EXPECT_EQ(resumed.history.back().train_loss, straight.history.back().train_loss);
  EXPECT_EQ(resumed.history.back().val_bpc, straight.history.back().val_bpc);

  c.out = (dir.path / "c").string();
  c.resume = false;
  c.dropout = 0;
  TrainResult plain = train(c);
  EXPECT_NE(plain.history.back().train_loss, straight.history.back().train_loss);
  c.dropout = 0.2;
  c.resume = true;  // the saved run had no dropout: a different run
  EXPECT_TRUE(throws_with([&] { train(c); }, {"--resume", "was written by a run with"}));
  c.tokenizer = "words";
  EXPECT_TRUE(throws_with([&] { train(c); }, {"--tokenizer must be bytes or bpe", "'words'"}));
}

// --ema: the checkpoint holds min(ema, (1+t)/(10+t))-weighted averages of the weights after each
// step (checked against plain runs stopped after 1..4 steps and the initial weights), the trained
// weights are those of a run without it (beside the average in train_weights.safetensors), and
// --resume continues both bit for bit.
TEST(LmTrain, EmaAveragesTheWeightsAndResumesBitForBit) {
  TempDir dir("ema");
  const fs::path data = write_verses(dir);
  TrainConfig c{.preset = "tiny", .steps = 4, .batch = 2, .ctx = 16, .lr = 3e-3, .warmup = 1,
                .data_file = data.string(), .threads = 1, .eval_every = 1, .eval_bytes = 256, .sample_tokens = 0,
                .final_test = false, .progress = false, .plots = false};
  auto weights = [](const std::string& folder) {
    std::vector<std::vector<float>> w;
    for (auto& [name, t] : load_pretrained(folder).model->state_dict()) w.push_back(t.to_vector<float>());
    return w;
  };
  // The initial weights, made as train() makes them.
  LmConfig mc = preset("tiny");
  mc.max_position_embeddings = 16;
  manual_seed(c.seed);
  std::vector<std::vector<float>> w0;
  for (auto& [name, t] : make_model(mc)->state_dict()) w0.push_back(t.to_vector<float>());
  std::vector<std::vector<double>> avg(w0.size());
  for (size_t i = 0; i < w0.size(); ++i) avg[i].assign(w0[i].begin(), w0[i].end());
  TrainResult plain;
  for (int64_t k = 1; k <= 4; ++k) {
    c.out = (dir.path / fmt::format("plain{}", k)).string();
    c.stop_after = k < 4 ? k : 0;
    plain = train(c);
    const auto wk = weights(c.out);
    const double d = std::min(0.9, (1.0 + double(k)) / (10.0 + double(k)));
    for (size_t i = 0; i < wk.size(); ++i)
      for (size_t j = 0; j < wk[i].size(); ++j) avg[i][j] = d * avg[i][j] + (1 - d) * wk[i][j];
  }
  c.stop_after = 0;
  c.ema = 0.9;
  c.out = (dir.path / "ema").string();
  TrainResult straight = train(c);
  const auto e = weights(c.out);
  ASSERT_EQ(e.size(), avg.size());
  double max_err = 0, max_gap = 0;
  const auto last = weights((dir.path / "plain4").string());
  for (size_t i = 0; i < e.size(); ++i)
    for (size_t j = 0; j < e[i].size(); ++j) {
      max_err = std::max(max_err, std::abs(double(e[i][j]) - avg[i][j]));
      max_gap = std::max(max_gap, std::abs(double(e[i][j]) - double(last[i][j])));
    }
  EXPECT_LT(max_err, 1e-6);
  EXPECT_GT(max_gap, 1e-4);  // the average is not the last weights
  nn::TensorDict raw = nn::load_safetensors((dir.path / "ema" / "train_weights.safetensors").string());
  const auto sd = load_pretrained(c.out).model->state_dict();
  std::map<std::string, std::vector<float>> raw_by_name;
  for (auto& [name, t] : raw.tensors) raw_by_name[name] = t.to_vector<float>();
  ASSERT_EQ(raw_by_name.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) EXPECT_EQ(raw_by_name[sd[i].first], last[i]) << sd[i].first;
  ASSERT_EQ(straight.history.size(), 4u);
  ASSERT_TRUE(straight.history.back().raw_val_bpc.has_value());
  EXPECT_EQ(*straight.history.back().raw_val_bpc, plain.history.back().val_bpc);
  EXPECT_NE(straight.history.back().val_bpc, plain.history.back().val_bpc);

  TrainResult resumed = train_in_two_runs(c, dir.path / "ema2", 2);
  EXPECT_EQ(weights((dir.path / "ema2").string()), e);
  EXPECT_EQ(resumed.history.back().val_bpc, straight.history.back().val_bpc);
  {  // --resume of the finished run scores the average, as the run itself did
    TrainConfig again = c;
    again.out = (dir.path / "ema2").string();
    again.resume = true;
    again.final_test = true;
    const TrainResult r = train(again);
    ASSERT_TRUE(r.test_bpc.has_value());
    Loaded avg_model = load_pretrained(again.out);
    EXPECT_EQ(*r.test_bpc, evaluate(*avg_model.model, load_corpus(data.string()).test).bpc);
  }
  fs::remove(dir.path / "ema2" / "train_weights.safetensors");
  c.out = (dir.path / "ema2").string();
  c.resume = true;
  EXPECT_TRUE(throws_with([&] { train(c); }, {"train lm --resume", "train_weights.safetensors is missing"}));
  c.out = (dir.path / "ema3").string();
  c.ema = 1.0;
  EXPECT_TRUE(throws_with([&] { train(c); }, {"--ema must be in [0, 1)", "got 1"}));
}

// --token-noise: the share of replaced tokens is p, the replacements follow the unigram
// distribution, the draws depend only on (seed, key + position); a run with noise differs from one
// without and resumes bit for bit.
TEST(LmTrain, TokenNoiseDrawsUnigramsAndResumesBitForBit) {
  Tokens text;
  for (int i = 0; i < 400; ++i) text.push_back(i % 4 == 0 ? 9 : 5);  // 75% token 5, 25% token 9
  const auto cdf = unigram_cdf(text, 16);
  ASSERT_EQ(cdf.size(), 16u);
  EXPECT_DOUBLE_EQ(cdf[5], 0.75);
  EXPECT_DOUBLE_EQ(cdf[15], 1.0);
  std::vector<int64_t> tokens(40000, 1);
  apply_token_noise(tokens, cdf, 0.3, 7, 100);
  const double changed = double(std::count_if(tokens.begin(), tokens.end(), [](int64_t t) { return t != 1; }));
  const double fives = double(std::count(tokens.begin(), tokens.end(), 5));
  EXPECT_NEAR(changed / 40000, 0.3, 0.01);
  EXPECT_NEAR(fives / changed, 0.75, 0.02);
  EXPECT_EQ(changed, fives + double(std::count(tokens.begin(), tokens.end(), 9)));
  // The same positions in two pieces draw the same.
  std::vector<int64_t> a(10000, 1), b(4000, 1), c(6000, 1);
  apply_token_noise(a, cdf, 0.3, 7, 500);
  apply_token_noise(b, cdf, 0.3, 7, 500);
  apply_token_noise(c, cdf, 0.3, 7, 4500);
  b.insert(b.end(), c.begin(), c.end());
  EXPECT_EQ(a, b);
  std::vector<int64_t> none(100, 1);
  apply_token_noise(none, cdf, 0.0, 7, 0);
  EXPECT_EQ(none, std::vector<int64_t>(100, 1));
  EXPECT_TRUE(throws_with([] { unigram_cdf({3, 20}, 16); }, {"token 20", "vocabulary of 16"}));

  TempDir dir("noise");
  const fs::path data = write_verses(dir);
  TrainConfig cfg{.preset = "tiny", .token_noise = 0.2, .steps = 6, .batch = 2, .ctx = 16, .lr = 3e-3, .warmup = 1,
                  .data_file = data.string(), .out = (dir.path / "a").string(), .threads = 1, .eval_every = 3,
                  .eval_bytes = 256, .sample_tokens = 0, .final_test = false, .progress = false, .plots = false};
  TrainResult straight = train(cfg);
  TrainResult resumed = train_in_two_runs(cfg, dir.path / "b", 3);
  EXPECT_EQ(resumed.history.back().train_loss, straight.history.back().train_loss);
  EXPECT_EQ(resumed.history.back().val_bpc, straight.history.back().val_bpc);
  cfg.token_noise = 0;
  cfg.out = (dir.path / "c").string();
  EXPECT_NE(train(cfg).history.back().train_loss, straight.history.back().train_loss);
  cfg.token_noise = 1.0;
  EXPECT_TRUE(throws_with([&] { train(cfg); }, {"--token-noise must be in [0, 1)", "got 1"}));
}

// The Hugging Face layout read by an independent NumPy forward (tests/zoo/check_lm_hf.py), for an
// f32 folder (tied and untied), an int8 and a bf16 folder; skipped without python3 + NumPy.
TEST(LmCheckpoint, PythonNumpyForwardMatchesLogits) {
  std::string python;
  for (const char* p : {"/usr/bin/python3", "python3"})
    if (std::system(fmt::format("{} -c 'import numpy' > /dev/null 2>&1", p).c_str()) == 0) {
      python = p;
      break;
    }
  if (python.empty()) GTEST_SKIP() << "python3 with NumPy not found";
  TempDir dir("hf");
  const std::vector<int64_t> tok = {84, 104, 101, 32, 76, 79, 82, 68, 10, 97, 110};
  for (int variant = 0; variant < 4; ++variant) {
    auto m = random_model(test_config(variant == 1), 19);
    fs::path folder = dir.path / fmt::format("v{}", variant);
    save_pretrained(*m, folder.string());
    if (variant >= 2) {
      const fs::path q = dir.path / (variant == 2 ? "q8" : "q16");
      if (variant == 2) quantize_int8(folder.string(), q.string());
      else quantize_bf16(folder.string(), q.string());
      folder = q;
      m = load_pretrained(folder.string()).model;
    }
    NoGradGuard g;
    const auto logits = m->forward(tokens(tok)).to_vector<float>();
    std::ofstream(folder / "check_tokens.i64", std::ios::binary)
        .write(reinterpret_cast<const char*>(tok.data()), std::streamsize(tok.size() * 8));
    std::ofstream(folder / "check_logits.f32", std::ios::binary)
        .write(reinterpret_cast<const char*>(logits.data()), std::streamsize(logits.size() * 4));
    const std::string cmd = fmt::format("{} '{}' '{}' 2e-4", python, EMBER_LM_HF_SCRIPT, folder.string());
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
}
