// LlamaLM: the blocks, the KV-cached inference path and the Hugging Face checkpoint folder.
// Legend: B batch, T tokens, S cached + new positions, C hidden, H/Hkv heads, D head_dim, V vocab.
#include "zoo/lm/model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "data/image.h"
#include "nn/init.h"
#include "nn/safetensors.h"
#include "tensor/cpu/qgemm.h"
#include "tensor/matmul_precision.h"
#include "zoo/lm/quant.h"

namespace ember::zoo::lm {
namespace fs = std::filesystem;

std::string_view weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::f32: return "f32";
    case WeightFormat::int8: return "int8";
    case WeightFormat::bf16: return "bf16";
  }
  return "?";
}

LmLinear::LmLinear(int64_t in_, int64_t out_, WeightFormat format) : in(in_), out(out_) {
  if (format != WeightFormat::f32) return;  // set_int8 / set_bf16 fill the weight
  weight = register_parameter("weight", Tensor::empty({out, in}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  nn::init::uniform_(weight, -bound, bound);
}

Tensor LmLinear::forward(const Tensor& x) {
  // Inference on a few rows (decode, short prompts): row-by-row dot products over W [out, in] as
  // stored; the general GEMM would pack all of W for every token. Many rows (evaluation, long
  // prompts) run the GEMM, int8 / bf16 weights widened to f32 once per call.
  const bool few = x.numel() <= kFewRows * in;
  if (is_int8() && int8_activations) return cpu::linear_int8_dynamic(x, qweight, scale);
  if (is_int8()) return few ? cpu::linear_int8(x, qweight, scale) : linear(x, cpu::dequantize_rows_int8(qweight, scale));
  if (is_bf16()) return few ? cpu::linear_bf16(x, wbits) : linear(x, cpu::bf16_rows_to_f32(wbits));
  // (Under matmul precision bf16 the GEMM, which rounds the operands, serves every f32 product.)
  if (!GradMode::is_enabled() && few && matmul_precision() != MatmulPrecision::bf16)
    return cpu::linear_rows_f32(x, weight);
  return linear(x, weight);
}

void LmLinear::set_int8(Tensor q, Tensor s) {
  EMBER_CHECK(q.dtype() == DType::u8 && q.dim() == 2 && q.size(0) == out && q.size(1) == in && s.dtype() == DType::f32 &&
                  s.dim() == 1 && s.size(0) == out,
              "LmLinear::set_int8: expected u8 [{},{}] and f32 [{}], got {} {} and {} {}", out, in, out,
              dtype_name(q.dtype()), shape_str(q.shape()), dtype_name(s.dtype()), shape_str(s.shape()));
  EMBER_CHECK(!weight.defined(), "LmLinear::set_int8: the layer was built with f32 weights");
  qweight = std::move(q);
  scale = std::move(s);
}

void LmLinear::set_bf16(Tensor bits) {
  EMBER_CHECK(bits.dtype() == DType::u8 && bits.dim() == 2 && bits.size(0) == out && bits.size(1) == 2 * in,
              "LmLinear::set_bf16: expected u8 [{},{}] (bf16 bits), got {} {}", out, 2 * in, dtype_name(bits.dtype()),
              shape_str(bits.shape()));
  EMBER_CHECK(!weight.defined() && !qweight.defined(), "LmLinear::set_bf16: the layer was built for another format");
  wbits = std::move(bits);
}

namespace {

// A named group of submodules (HF's self_attn, mlp, model): only there for the dotted names.
class Group : public nn::Module {
 public:
  explicit Group(std::string type) : type_(std::move(type)) {}
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
  std::string type_name() const override { return type_; }

 private:
  std::string type_;
};

}  // namespace

struct LlamaLM::Layer : nn::Module {
  std::shared_ptr<LmLinear> q, k, v, o, gate, up, down;
  std::shared_ptr<nn::RMSNorm> n1, n2;
  int64_t h, hkv, d;

  Layer(const LmConfig& c, WeightFormat format) : h(c.num_attention_heads), hkv(c.num_key_value_heads), d(c.head_dim()) {
    const int64_t C = c.hidden_size, F = c.intermediate_size;
    auto attn = register_module("self_attn", std::make_shared<Group>("LlamaAttention"));
    q = attn->add("q_proj", std::make_shared<LmLinear>(C, h * d, format));
    k = attn->add("k_proj", std::make_shared<LmLinear>(C, hkv * d, format));
    v = attn->add("v_proj", std::make_shared<LmLinear>(C, hkv * d, format));
    o = attn->add("o_proj", std::make_shared<LmLinear>(h * d, C, format));
    auto mlp = register_module("mlp", std::make_shared<Group>("LlamaMLP"));
    gate = mlp->add("gate_proj", std::make_shared<LmLinear>(C, F, format));
    up = mlp->add("up_proj", std::make_shared<LmLinear>(C, F, format));
    down = mlp->add("down_proj", std::make_shared<LmLinear>(F, C, format));
    n1 = register_module("input_layernorm", std::make_shared<nn::RMSNorm>(C, c.rms_norm_eps));
    n2 = register_module("post_attention_layernorm", std::make_shared<nn::RMSNorm>(C, c.rms_norm_eps));
  }
  std::string type_name() const override { return "LlamaDecoderLayer"; }

  // x [B, T, C] at positions given by cos/sin [T, D]. With a cache, K/V [1, Hkv, T, D] are written
  // at cache.len.. and attention reads the cached 0..len+T-1 (causal with offset S - T).
  Tensor forward3(const Tensor& x, const Tensor& cos, const Tensor& sin, KvCache* cache, size_t layer, double p) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
    Tensor hn = rms_norm(x, n1->weight, n1->eps);
    Tensor qh = rotary_embedding((*q)(hn).reshape({B, T, h, d}).transpose(1, 2), cos, sin);
    Tensor kh = rotary_embedding((*k)(hn).reshape({B, T, hkv, d}).transpose(1, 2), cos, sin);
    Tensor vh = (*v)(hn).reshape({B, T, hkv, d}).transpose(1, 2);
    if (cache) {
      const int64_t start = cache->len;
      cache->k[layer].narrow(2, start, T).copy_(kh);
      cache->v[layer].narrow(2, start, T).copy_(vh);
      kh = cache->k[layer].narrow(2, 0, start + T);
      vh = cache->v[layer].narrow(2, 0, start + T);
    }
    Tensor a = scaled_dot_product_attention(qh, kh, vh, /*causal=*/true);
    Tensor y = x + ember::dropout((*o)(a.transpose(1, 2).reshape({B, T, C})), p, p > 0);
    hn = rms_norm(y, n2->weight, n2->eps);
    return y + ember::dropout((*down)(silu((*gate)(hn)) * (*up)(hn)), p, p > 0);
  }
};

LlamaLM::LlamaLM(const LmConfig& cfg, WeightFormat format) : cfg_(cfg) {
  cfg_.validate("lm");
  auto body = register_module("model", std::make_shared<Group>("LlamaModel"));
  embed_ = body->add("embed_tokens", std::make_shared<nn::Embedding>(cfg.vocab_size, cfg.hidden_size));
  auto list = body->add("layers", std::make_shared<nn::ModuleList>());
  for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    layers_.push_back(std::make_shared<Layer>(cfg, format));
    list->push_back(layers_.back());
  }
  norm_ = body->add("norm", std::make_shared<nn::RMSNorm>(cfg.hidden_size, cfg.rms_norm_eps));
  if (!cfg.tie_word_embeddings) head_ = register_module("lm_head", std::make_shared<LmLinear>(cfg.hidden_size, cfg.vocab_size, format));
  std::tie(cos_, sin_) = rope_tables(0, cfg.max_position_embeddings, cfg.head_dim(), cfg.rope_theta);
}

Tensor LlamaLM::embed_weight() const { return embed_->weight; }


std::vector<std::pair<std::string, std::shared_ptr<LmLinear>>> LlamaLM::projections() const {
  std::vector<std::pair<std::string, std::shared_ptr<LmLinear>>> out;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const auto& L = *layers_[l];
    const std::string a = fmt::format("model.layers.{}.self_attn.", l), m = fmt::format("model.layers.{}.mlp.", l);
    out.insert(out.end(), {{a + "q_proj", L.q}, {a + "k_proj", L.k}, {a + "v_proj", L.v}, {a + "o_proj", L.o},
                           {m + "gate_proj", L.gate}, {m + "up_proj", L.up}, {m + "down_proj", L.down}});
  }
  if (head_) out.emplace_back("lm_head", head_);
  return out;
}

Tensor LlamaLM::run(const Tensor& tokens, const Tensor& cos, const Tensor& sin, KvCache* cache) {
  const double p = is_training() && GradMode::is_enabled() ? dropout_ : 0.0;
  Tensor x = ember::dropout(embedding(embed_->weight, tokens), p, p > 0);
  for (size_t l = 0; l < layers_.size(); ++l) x = layers_[l]->forward3(x, cos, sin, cache, l, p);
  x = rms_norm(x, norm_->weight, norm_->eps);
  if (head_) return (*head_)(x);
  if (!GradMode::is_enabled() && x.numel() <= LmLinear::kFewRows * cfg_.hidden_size)
    return cpu::linear_rows_f32(x, embed_->weight);
  return linear(x, embed_->weight);
}

void LlamaLM::set_dropout(double p) {
  EMBER_CHECK(p >= 0 && p < 1, "lm: dropout must be in [0, 1), got {}", p);
  dropout_ = p;
}

void LlamaLM::set_int8_activations(bool on) {
  const auto projs = projections();
  for (const auto& [name, proj] : projs)
    EMBER_CHECK(proj->is_int8(), "lm: int8 activations need an int8 checkpoint (ember quantize --int8); {} is {}",
                name, proj->is_bf16() ? "bf16" : "f32");
  for (const auto& [name, proj] : projs) proj->int8_activations = on;
}

Tensor LlamaLM::forward(const Tensor& tokens) {
  EMBER_CHECK(tokens.dim() == 2 && tokens.dtype() == DType::i64,
              "lm forward: tokens must be i64 [B, T], got {} {}", dtype_name(tokens.dtype()), shape_str(tokens.shape()));
  const int64_t T = tokens.size(1);
  EMBER_CHECK(T >= 1 && T <= cfg_.max_position_embeddings,
              "lm forward: {} tokens do not fit the context of {} (max_position_embeddings)", T,
              cfg_.max_position_embeddings);
  return run(tokens, cos_.narrow(0, 0, T), sin_.narrow(0, 0, T), nullptr);
}

KvCache LlamaLM::make_cache() const {
  KvCache c;
  c.capacity = cfg_.max_position_embeddings;
  for (int64_t l = 0; l < cfg_.num_hidden_layers; ++l) {
    c.k.push_back(Tensor::zeros({1, cfg_.num_key_value_heads, c.capacity, cfg_.head_dim()}));
    c.v.push_back(Tensor::zeros({1, cfg_.num_key_value_heads, c.capacity, cfg_.head_dim()}));
  }
  c.cos = cos_;
  c.sin = sin_;
  return c;
}

Tensor LlamaLM::forward_cached(const Tensor& tokens, KvCache& cache) {
  EMBER_CHECK(tokens.dim() == 2 && tokens.size(0) == 1 && tokens.dtype() == DType::i64,
              "lm forward_cached: tokens must be i64 [1, T], got {} {}", dtype_name(tokens.dtype()),
              shape_str(tokens.shape()));
  const int64_t T = tokens.size(1);
  EMBER_CHECK(T >= 1 && cache.len + T <= cache.capacity,
              "lm forward_cached: {} cached + {} new positions exceed the context of {}", cache.len, T, cache.capacity);
  Tensor out = run(tokens, cache.cos.narrow(0, cache.len, T), cache.sin.narrow(0, cache.len, T), &cache);
  cache.len += T;
  return out;
}

std::shared_ptr<LlamaLM> make_model(const LmConfig& cfg) {
  auto m = std::make_shared<LlamaLM>(cfg);
  NoGradGuard no_grad;
  const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(cfg.num_hidden_layers));
  Tensor embed = m->embed_weight();
  nn::init::normal_(embed, 0, 0.02);
  for (auto& [name, lin] : m->projections()) {
    const bool out_proj = name.ends_with("o_proj") || name.ends_with("down_proj");
    nn::init::normal_(lin->weight, 0, out_proj ? proj_std : 0.02);
  }
  return m;
}

// ---- checkpoint folders ----

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  EMBER_CHECK(f.good(), "lm: cannot read {}", p.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

void save_pretrained(const LlamaLM& model, const std::string& dir, const std::map<std::string, std::string>& meta) {
  fs::create_directories(dir);
  const std::string cfg = config_to_json(model.config());
  data::write_file_atomic((fs::path(dir) / "config.json").string(), {cfg.begin(), cfg.end()});
  std::map<std::string, std::string> m = meta;
  m["format"] = "pt";
  nn::save_safetensors((fs::path(dir) / "model.safetensors").string(), model.state_dict(), m);
}

Loaded load_pretrained(const std::string& dir) {
  const fs::path d(dir);
  EMBER_CHECK(fs::is_directory(d), "lm: checkpoint folder '{}' does not exist", dir);
  const fs::path cfg_path = d / "config.json", w_path = d / "model.safetensors";
  EMBER_CHECK(fs::exists(cfg_path), "lm: {} is missing (not a checkpoint folder)", cfg_path.string());
  EMBER_CHECK(fs::exists(w_path), "lm: {} is missing", w_path.string());
  const std::string text = read_text(cfg_path);
  const LmConfig cfg = config_from_json(text, cfg_path.string());
  Loaded out;
  out.tokenizer = Tokenizer::load(dir);
  EMBER_CHECK(out.tokenizer.is_bytes() || out.tokenizer.vocab_size() == cfg.vocab_size,
              "lm: {} has {} tokens but config.json's vocab_size is {}", (d / Tokenizer::kFile).string(),
              out.tokenizer.vocab_size(), cfg.vocab_size);
  out.format = weight_format_of_config(text);
  out.model = std::make_shared<LlamaLM>(cfg, out.format);
  if (out.format != WeightFormat::f32) {
    out.metadata = load_quantized_weights(*out.model, out.format, w_path.string());
    return out;
  }
  nn::TensorDict dict = nn::load_safetensors(w_path.string());
  const nn::NamedTensors own = out.model->state_dict();
  for (const auto& [name, t] : own) {
    const Tensor* f = dict.find(name);
    EMBER_CHECK(f != nullptr, "lm: {} has no tensor '{}' (config.json describes another model?)", w_path.string(),
                name);
    EMBER_CHECK(f->shape() == t.shape(), "lm: {}: '{}' has shape {} but config.json implies {}", w_path.string(),
                name, shape_str(f->shape()), shape_str(t.shape()));
  }
  std::set<std::string> own_names;
  for (const auto& [name, t] : own) own_names.insert(name);
  for (const auto& [name, t] : dict.tensors)
    EMBER_CHECK(own_names.count(name), "lm: {}: unexpected tensor '{}' for this config.json", w_path.string(), name);
  out.model->load_state_dict(dict.tensors);
  out.metadata = dict.metadata;
  return out;
}

}  // namespace ember::zoo::lm
