// The Llama-architecture language model: token embedding, num_hidden_layers pre-norm blocks
//   x = x + o_proj(attn(rope(q_proj(n1(x))), rope(k_proj(n1(x))), v_proj(n1(x))))
//   x = x + down_proj(silu(gate_proj(n2(x))) * up_proj(n2(x)))
// then logits = lm_head(norm(x)) (lm_head is embed_tokens when tie_word_embeddings). RMSNorm
// everywhere, no biases, RoPE rotate-half with base rope_theta, grouped-query attention: query head
// h reads kv head h / (H / Hkv), and K/V stay [B, Hkv, T, D] (never repeated to H heads).
//
// Legend: B batch, T tokens, C hidden_size, H query heads, Hkv kv heads, D head_dim, V vocab.
// Parameter names are the Hugging Face LlamaForCausalLM names ("model.layers.0.self_attn.q_proj.weight"),
// so state_dict() is the safetensors file. q_proj/k_proj rows are head-major ([H*D, C]: rows
// h*D..h*D+D-1 are head h) and within a head RoPE pairs dims i and i + D/2 (rotate-half), which is
// the layout of transformers' Llama (no permutation on export or import).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "nn/container.h"
#include "nn/layers.h"
#include "zoo/lm/config.h"
#include "zoo/lm/tokenizer.h"

namespace ember::zoo::lm {

// How the projection weights of a checkpoint are stored: f32 (trainable), or for inference int8
// with one f32 scale per output row (weight ~= qweight * scale[row]) or bf16 (the f32 rounded to
// nearest even, widened exactly in the product). Embeddings and norms are always f32.
enum class WeightFormat : uint8_t { f32, int8, bf16 };
std::string_view weight_format_name(WeightFormat f);

// A bias-free linear layer; with int8 or bf16 weights forward runs the row products of
// tensor/cpu/qgemm.h (few rows) or the f32 GEMM on the widened weight (many rows).
class LmLinear : public nn::Module {
 public:
  // int8 / bf16: no f32 weight is registered; set_int8 / set_bf16 must be called before forward.
  LmLinear(int64_t in, int64_t out, WeightFormat format = WeightFormat::f32);
  Tensor forward(const Tensor& x) override;  // x [..., in] -> [..., out]
  std::string type_name() const override { return "LmLinear"; }
  // Sets the int8 weight: qweight u8 [out, in] holding int8 bit patterns, scale f32 [out].
  void set_int8(Tensor qweight, Tensor scale);
  // Sets the bf16 weight: wbits u8 [out, 2 * in], the little-endian bf16 bit patterns.
  void set_bf16(Tensor wbits);
  bool is_int8() const { return qweight.defined(); }
  bool is_bf16() const { return wbits.defined(); }
  // int8 weights only: quantize the activations per row too (W8A8, cpu::linear_int8_dynamic) for
  // every forward, few rows or many, so evaluation scores what generation computes.
  bool int8_activations = false;
  // No-grad forwards of at most this many rows use cpu::linear_rows_f32 (decode).
  static constexpr int64_t kFewRows = 16;
  int64_t in, out;
  Tensor weight, qweight, scale, wbits;
};

// Per-layer K/V buffers for generation, preallocated at the model's context: k/v [1, Hkv, cap, D]
// (post-RoPE keys). len positions are filled.
struct KvCache {
  std::vector<Tensor> k, v;
  Tensor cos, sin;  // RoPE tables [cap, D] for positions 0..cap-1
  int64_t len = 0, capacity = 0;
};

class LlamaLM : public nn::Module {
 public:
  // int8 / bf16: projections hold those weights (filled by load_quantized_weights); state_dict()
  // then holds only the f32 embeddings and norms.
  explicit LlamaLM(const LmConfig& cfg, WeightFormat format = WeightFormat::f32);
  // tokens i64 [B, T] (T <= max_position_embeddings) at positions 0..T-1 -> logits [B, T, V].
  Tensor forward(const Tensor& tokens) override;
  // Inference (call under NoGradGuard): tokens i64 [1, T] at positions cache.len .. cache.len+T-1;
  // writes their K/V into the cache and returns logits [1, T, V]. Throws when the cache would overflow.
  Tensor forward_cached(const Tensor& tokens, KvCache& cache);
  KvCache make_cache() const;  // capacity max_position_embeddings
  std::string type_name() const override { return "LlamaLM"; }
  const LmConfig& config() const { return cfg_; }
  // Every projection (q/k/v/o, gate/up/down, and lm_head when untied), with its HF name prefix.
  std::vector<std::pair<std::string, std::shared_ptr<LmLinear>>> projections() const;
  Tensor embed_weight() const;
  // Training-time dropout with probability p on the embeddings and on each residual branch (the
  // attention and MLP outputs before they are added); off in eval mode. Draws from the default
  // generator. Not part of the checkpoint (a training option, like HF's hidden dropout).
  void set_dropout(double p);
  double dropout() const { return dropout_; }
  // int8 models: on = every projection quantizes its activations per row (LmLinear::int8_activations);
  // throws for f32 / bf16 weights.
  void set_int8_activations(bool on);

 private:
  struct Layer;
  Tensor run(const Tensor& tokens, const Tensor& cos, const Tensor& sin, KvCache* cache);
  LmConfig cfg_;
  std::shared_ptr<nn::Embedding> embed_;
  std::vector<std::shared_ptr<Layer>> layers_;
  std::shared_ptr<nn::RMSNorm> norm_;
  std::shared_ptr<LmLinear> head_;  // null when tied
  Tensor cos_, sin_;                 // RoPE tables [max_position_embeddings, D]
  double dropout_ = 0;
};

// Llama initialisation: every matrix ~ N(0, 0.02), o_proj/down_proj ~ N(0, 0.02 / sqrt(2 L)),
// norms 1; drawn from the global generator (seed it with manual_seed first).
std::shared_ptr<LlamaLM> make_model(const LmConfig& cfg);

// ---- checkpoint folders (config.json + model.safetensors) ----
// Writes dir/config.json and dir/model.safetensors (f32, HF names; no lm_head.weight when tied)
// through temp files and renames.
void save_pretrained(const LlamaLM& model, const std::string& dir, const std::map<std::string, std::string>& meta = {});
struct Loaded {
  std::shared_ptr<LlamaLM> model;
  Tokenizer tokenizer;  // ember_tokenizer.json when the folder has one, else bytes
  std::map<std::string, std::string> metadata;  // model.safetensors "__metadata__"
  WeightFormat format = WeightFormat::f32;
};
// Reads a folder written by save_pretrained or quantize (int8 or bf16). Clear errors for a missing folder,
// missing or malformed config.json, or weights whose names/shapes disagree with the config.
Loaded load_pretrained(const std::string& dir);

}  // namespace ember::zoo::lm
