// Weight-only int8 checkpoints (`ember quantize --int8`). Every projection weight (q/k/v/o,
// gate/up/down, lm_head when untied) becomes int8 with one f32 scale per output row (symmetric,
// scale = max|row| / 127); embeddings and norms stay f32. The folder is a normal checkpoint folder:
//   config.json        the f32 model's keys + "quantization_config": {"quant_method": "ember_int8",
//                      "bits": 8, "granularity": "per_output_channel", "symmetric": true}
//   model.safetensors  "<name>.weight" as safetensors I8 [out, in], "<name>.weight_scale" F32 [out],
//                      the f32 tensors under their usual names.
// Dequantized weight = I8 value * weight_scale[row].
#pragma once

#include <map>
#include <string>

#include "zoo/lm/model.h"

namespace ember::zoo::lm {

bool is_int8_config(const std::string& config_json_text);
// Fills an int8-built LlamaLM from an int8 model.safetensors; returns the file's metadata. Checks
// every name, dtype and shape against the model before reading data.
std::map<std::string, std::string> load_int8_weights(LlamaLM& model, const std::string& path);

struct QuantizeReport {
  int64_t f32_bytes = 0, int8_bytes = 0;  // model.safetensors sizes
  double max_rel_error = 0;               // max over rows of |w - deq(w)|_inf / max|row|
};
// Reads the f32 checkpoint folder `in_dir`, writes the int8 folder `out_dir` (may not be in_dir).
QuantizeReport quantize_int8(const std::string& in_dir, const std::string& out_dir);

}  // namespace ember::zoo::lm
