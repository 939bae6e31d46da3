// Weight-only int8 and bf16 checkpoints (`ember quantize --int8 | --bf16`). Every projection
// weight (q/k/v/o, gate/up/down, lm_head when untied) becomes
//   int8: one f32 scale per output row (symmetric, scale = max|row| / 127), or
//   bf16: the f32 rounded to nearest even (no scale);
// embeddings and norms stay f32. The folder is a normal checkpoint folder:
//   config.json        the f32 model's keys + "quantization_config": {"quant_method": "ember_int8",
//                      "bits": 8, "granularity": "per_output_channel", "symmetric": true}
//                      or {"quant_method": "ember_bf16", "bits": 16}
//   model.safetensors  int8: "<name>.weight" as safetensors I8 [out, in], "<name>.weight_scale" F32
//                      [out]; bf16: "<name>.weight" as BF16 [out, in] (what any safetensors reader
//                      loads as a bf16 tensor); the f32 tensors under their usual names.
// Dequantized int8 weight = I8 value * weight_scale[row].
#pragma once

#include <map>
#include <string>

#include "zoo/lm/model.h"

namespace ember::zoo::lm {

// The weight format a config.json's "quantization_config" names (f32 without one).
WeightFormat weight_format_of_config(const std::string& config_json_text);
// Fills an LlamaLM built for `format` (int8 or bf16) from such a model.safetensors; returns the
// file's metadata. Checks every name, dtype and shape against the model before reading data.
std::map<std::string, std::string> load_quantized_weights(LlamaLM& model, WeightFormat format,
                                                          const std::string& path);

struct QuantizeReport {
  int64_t f32_bytes = 0, out_bytes = 0;  // model.safetensors sizes
  double max_rel_error = 0;              // max over rows of |w - deq(w)|_inf / max|row|
};
// Reads the f32 checkpoint folder `in_dir`, writes the int8 / bf16 folder `out_dir` (not in_dir).
QuantizeReport quantize_int8(const std::string& in_dir, const std::string& out_dir);
QuantizeReport quantize_bf16(const std::string& in_dir, const std::string& out_dir);

}  // namespace ember::zoo::lm
