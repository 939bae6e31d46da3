// LmConfig presets, validation and the Hugging Face config.json mapping.
#include "zoo/lm/config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tensor/error.h"

namespace ember::zoo::lm {

using json = nlohmann::json;

void LmConfig::validate(const std::string& op) const {
  EMBER_CHECK(vocab_size >= 1 && hidden_size >= 1 && intermediate_size >= 1 && num_hidden_layers >= 1,
              "{}: sizes must be positive (vocab_size {}, hidden_size {}, intermediate_size {}, layers {})", op,
              vocab_size, hidden_size, intermediate_size, num_hidden_layers);
  EMBER_CHECK(num_attention_heads >= 1 && hidden_size % num_attention_heads == 0,
              "{}: hidden_size {} is not a multiple of num_attention_heads {}", op, hidden_size, num_attention_heads);
  EMBER_CHECK(num_key_value_heads >= 1 && num_attention_heads % num_key_value_heads == 0,
              "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", op, num_attention_heads,
              num_key_value_heads);
  EMBER_CHECK(head_dim() % 2 == 0, "{}: head_dim {} (hidden_size / num_attention_heads) must be even for RoPE", op,
              head_dim());
  EMBER_CHECK(max_position_embeddings >= 2, "{}: max_position_embeddings must be >= 2, got {}", op,
              max_position_embeddings);
  EMBER_CHECK(rms_norm_eps > 0 && rope_theta > 1, "{}: rms_norm_eps must be > 0 and rope_theta > 1 (got {}, {})", op,
              rms_norm_eps, rope_theta);
}

int64_t LmConfig::num_parameters() const {
  const int64_t d = hidden_size, kv = num_key_value_heads * head_dim();
  const int64_t per_layer = d * d * 2 + d * kv * 2 + 3 * d * intermediate_size + 2 * d;
  return vocab_size * d * (tie_word_embeddings ? 1 : 2) + num_hidden_layers * per_layer + d;
}

LmConfig preset(const std::string& name) {
  auto make = [](int64_t d, int64_t layers, int64_t heads, int64_t kv, int64_t hidden) {
    return LmConfig{.hidden_size = d, .intermediate_size = hidden, .num_hidden_layers = layers,
                    .num_attention_heads = heads, .num_key_value_heads = kv};
  };
  if (name == "tiny") return make(64, 2, 4, 2, 176);
  if (name == "mini") return make(128, 4, 4, 2, 344);
  if (name == "small") return make(256, 4, 8, 2, 688);
  if (name == "medium") return make(384, 6, 6, 2, 1024);
  if (name == "large") return make(512, 8, 8, 2, 1376);
  EMBER_CHECK(false, "lm: unknown preset '{}' (expected tiny, mini, small, medium or large)", name);
  return {};
}

std::vector<std::string> preset_names() { return {"tiny", "mini", "small", "medium", "large"}; }

std::string config_to_json(const LmConfig& c) {
  json j = {{"architectures", {"LlamaForCausalLM"}},
            {"model_type", "llama"},
            {"vocab_size", c.vocab_size},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"num_hidden_layers", c.num_hidden_layers},
            {"num_attention_heads", c.num_attention_heads},
            {"num_key_value_heads", c.num_key_value_heads},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rms_norm_eps", c.rms_norm_eps},
            {"rope_theta", c.rope_theta},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"hidden_act", "silu"},
            {"attention_bias", false},
            {"mlp_bias", false},
            {"head_dim", c.head_dim()},
            {"torch_dtype", "float32"}};
  return j.dump(2) + "\n";
}

LmConfig config_from_json(const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  EMBER_CHECK(!j.is_discarded() && j.is_object(), "lm: {} is not a JSON object", source);
  LmConfig c;
  auto get_int = [&](const char* key, int64_t& out) {
    EMBER_CHECK(j.contains(key), "lm: {} has no \"{}\"", source, key);
    EMBER_CHECK(j[key].is_number_integer(), "lm: {}: \"{}\" must be an integer, got {}", source, key, j[key].dump());
    out = j[key].get<int64_t>();
  };
  auto get_num = [&](const char* key, double& out) {
    EMBER_CHECK(j.contains(key), "lm: {} has no \"{}\"", source, key);
    EMBER_CHECK(j[key].is_number(), "lm: {}: \"{}\" must be a number, got {}", source, key, j[key].dump());
    out = j[key].get<double>();
  };
  get_int("vocab_size", c.vocab_size);
  get_int("hidden_size", c.hidden_size);
  get_int("intermediate_size", c.intermediate_size);
  get_int("num_hidden_layers", c.num_hidden_layers);
  get_int("num_attention_heads", c.num_attention_heads);
  get_int("num_key_value_heads", c.num_key_value_heads);
  get_int("max_position_embeddings", c.max_position_embeddings);
  get_num("rms_norm_eps", c.rms_norm_eps);
  get_num("rope_theta", c.rope_theta);
  if (j.contains("tie_word_embeddings")) {
    EMBER_CHECK(j["tie_word_embeddings"].is_boolean(), "lm: {}: \"tie_word_embeddings\" must be true or false",
                source);
    c.tie_word_embeddings = j["tie_word_embeddings"].get<bool>();
  }
  if (j.contains("hidden_act"))
    EMBER_CHECK(j["hidden_act"] == "silu", "lm: {}: hidden_act {} is not supported (only silu)", source,
                j["hidden_act"].dump());
  c.validate("lm: " + source);
  if (j.contains("head_dim") && !j["head_dim"].is_null())
    EMBER_CHECK(j["head_dim"] == c.head_dim(), "lm: {}: head_dim {} != hidden_size / num_attention_heads = {}",
                source, j["head_dim"].dump(), c.head_dim());
  return c;
}

}  // namespace ember::zoo::lm
