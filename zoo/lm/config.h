// The Llama-style language model's size parameters (Hugging Face LlamaConfig key names) and the
// named presets. config.json in a checkpoint folder holds exactly these keys (plus "architectures",
// "model_type" and, for int8 checkpoints, "quantization_config"), so the folder opens with
// transformers' LlamaForCausalLM.
//
// Presets (vocab 256, byte tokens; parameters with untied embeddings):
//   tiny    d 64,  2 layers, 4 q / 2 kv heads, hidden 176              ~0.1M  (tests, smoke runs)
//   mini    d 128, 4 layers, 4 q / 2 kv heads, hidden 344              ~0.8M
//   small   d 256, 4 layers, 8 q / 2 kv heads, hidden 688  (W4)         2.90M (the default)
//   medium  d 384, 6 layers, 6 q / 2 kv heads, hidden 1024             ~9.6M
//   large   d 512, 8 layers, 8 q / 2 kv heads, hidden 1376             ~22M
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::zoo::lm {

struct LmConfig {
  int64_t vocab_size = 256;
  int64_t hidden_size = 256;
  int64_t intermediate_size = 688;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 2;
  int64_t max_position_embeddings = 128;  // the context length the model trains and generates with
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Throws "<op>: ..." naming the first inconsistent field (heads not dividing, odd head_dim...).
  void validate(const std::string& op) const;
  int64_t num_parameters() const;
  bool operator==(const LmConfig&) const = default;
};

// The preset called `name`; throws "lm: unknown preset '<name>' (expected tiny, mini, ...)".
LmConfig preset(const std::string& name);
std::vector<std::string> preset_names();

// config.json text (pretty, with "architectures": ["LlamaForCausalLM"], "model_type": "llama").
std::string config_to_json(const LmConfig& c);
// Parses config.json text; `source` names the file in errors. Missing keys, wrong types or an
// invalid configuration throw one line naming the file and the key.
LmConfig config_from_json(const std::string& text, const std::string& source);

}  // namespace ember::zoo::lm
