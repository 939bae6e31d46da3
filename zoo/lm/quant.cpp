// Int8 and bf16 checkpoint folders: quantization of an f32 folder and the safetensors I8 / BF16
// reader and writer (nn/safetensors has neither dtype in memory: ember keeps the int8 bits in u8
// [out, in] tensors and the bf16 bits in u8 [out, 2 * in], so this file reads and writes those
// entries itself, with the same header validation rules).
#include "zoo/lm/quant.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "data/image.h"
#include "tensor/cpu/qgemm.h"

namespace ember::zoo::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Entry {
  std::string name, dtype;  // "F32", "I8" or "BF16"
  Tensor t;                 // f32, or u8 holding int8 bits, or u8 [out, 2 * in] holding bf16 bits
};

size_t element_bytes(const std::string& dtype) { return dtype == "F32" ? 4 : dtype == "BF16" ? 2 : 1; }

// The shape the file declares: a BF16 entry's u8 [out, 2 * in] is [out, in] of 2-byte elements.
Shape file_shape(const Entry& e) {
  if (e.dtype != "BF16") return e.t.shape();
  return {e.t.size(0), e.t.size(1) / 2};
}

void write_file(const std::string& path, const std::vector<Entry>& entries,
                const std::map<std::string, std::string>& meta) {
  json header = json::object();
  size_t offset = 0;
  for (const auto& e : entries) {
    const size_t bytes = static_cast<size_t>(e.t.numel()) * e.t.element_size();  // I8/BF16 are held as u8 bytes
    header[e.name] = {{"dtype", e.dtype}, {"shape", file_shape(e)}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!meta.empty()) header["__metadata__"] = meta;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8 + h.size() + offset);
  const uint64_t n = h.size();
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, h.data(), h.size());
  uint8_t* dst = out.data() + 8 + h.size();
  for (const auto& e : entries) {
    const Tensor c = e.t.contiguous();
    const size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
    std::memcpy(dst, c.raw_data(), bytes);
    dst += bytes;
  }
  data::write_file_atomic(path, out);
}

struct Parsed {
  json header;
  std::vector<char> bytes;
  size_t data_start = 0;
};

Parsed read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EMBER_CHECK(f.good(), "lm: cannot read {}", path);
  Parsed p;
  p.bytes.assign(std::istreambuf_iterator<char>(f), {});
  EMBER_CHECK(p.bytes.size() >= 8, "lm: {} is shorter than 8 bytes", path);
  uint64_t n = 0;
  std::memcpy(&n, p.bytes.data(), 8);
  EMBER_CHECK(n <= p.bytes.size() - 8, "lm: {}: header length {} runs past the file ({} bytes)", path, n,
              p.bytes.size());
  p.header = json::parse(p.bytes.begin() + 8, p.bytes.begin() + 8 + static_cast<int64_t>(n), nullptr, false);
  EMBER_CHECK(!p.header.is_discarded() && p.header.is_object(), "lm: {}: header is not a JSON object", path);
  p.data_start = 8 + n;
  return p;
}

// The tensor `name` with the expected dtype and shape, copied out of the file.
Tensor take(const Parsed& p, const std::string& path, const std::string& name, const std::string& dtype,
            const Shape& shape) {
  EMBER_CHECK(p.header.contains(name), "lm: {} has no tensor '{}'", path, name);
  const json& e = p.header[name];
  EMBER_CHECK(e.contains("dtype") && e["dtype"] == dtype, "lm: {}: '{}' has dtype {}, expected {}", path, name,
              e.value("dtype", std::string("?")), dtype);
  EMBER_CHECK(e.contains("shape") && e["shape"].get<Shape>() == shape, "lm: {}: '{}' has shape {}, expected {}",
              path, name, e.contains("shape") ? e["shape"].dump() : "?", shape_str(shape));
  const auto off = e.at("data_offsets").get<std::vector<size_t>>();
  int64_t numel = 1;
  for (int64_t s : shape) numel *= s;
  const size_t bytes = static_cast<size_t>(numel) * element_bytes(dtype);
  EMBER_CHECK(off.size() == 2 && off[1] >= off[0] && off[1] - off[0] == bytes &&
                  p.data_start + off[1] <= p.bytes.size(),
              "lm: {}: '{}' has bad data_offsets {}", path, name, e["data_offsets"].dump());
  Shape mem_shape = shape;  // BF16 [out, in] is held as u8 [out, 2 * in]
  if (dtype == "BF16") mem_shape.back() *= 2;
  Tensor t = Tensor::empty(mem_shape, {.dtype = dtype == "F32" ? DType::f32 : DType::u8});
  std::memcpy(dtype == "F32" ? static_cast<void*>(t.data<float>()) : t.data<uint8_t>(),
              p.bytes.data() + p.data_start + off[0], bytes);
  return t;
}

}  // namespace

WeightFormat weight_format_of_config(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("quantization_config")) return WeightFormat::f32;
  const std::string method = j["quantization_config"].value("quant_method", "");
  EMBER_CHECK(method == "ember_int8" || method == "ember_bf16",
              "lm: config.json: quantization_config.quant_method '{}' is not one ember reads (ember_int8, ember_bf16)",
              method);
  return method == "ember_int8" ? WeightFormat::int8 : WeightFormat::bf16;
}

std::map<std::string, std::string> load_quantized_weights(LlamaLM& model, WeightFormat format,
                                                          const std::string& path) {
  EMBER_CHECK(format != WeightFormat::f32, "load_quantized_weights: {} is an f32 format", path);
  const Parsed p = read_file(path);
  std::set<std::string> expected;
  NoGradGuard no_grad;
  for (auto& [name, t] : model.state_dict()) {
    t.copy_(take(p, path, name, "F32", t.shape()));
    expected.insert(name);
  }
  for (auto& [name, lin] : model.projections()) {
    if (format == WeightFormat::int8) {
      lin->set_int8(take(p, path, name + ".weight", "I8", {lin->out, lin->in}),
                    take(p, path, name + ".weight_scale", "F32", {lin->out}));
      expected.insert(name + ".weight_scale");
    } else {
      lin->set_bf16(take(p, path, name + ".weight", "BF16", {lin->out, lin->in}));
    }
    expected.insert(name + ".weight");
  }
  std::map<std::string, std::string> meta;
  for (auto& [key, val] : p.header.items()) {
    if (key == "__metadata__") {
      for (auto& [mk, mv] : val.items())
        if (mv.is_string()) meta[mk] = mv.get<std::string>();
      continue;
    }
    EMBER_CHECK(expected.count(key), "lm: {}: unexpected tensor '{}' for this config.json", path, key);
  }
  return meta;
}

namespace {

QuantizeReport quantize(const std::string& in_dir, const std::string& out_dir, WeightFormat format) {
  EMBER_CHECK(fs::weakly_canonical(in_dir) != fs::weakly_canonical(out_dir),
              "quantize: the output folder must differ from the checkpoint folder ({})", in_dir);
  Loaded src = load_pretrained(in_dir);
  EMBER_CHECK(src.format == WeightFormat::f32, "quantize: {} is already quantized ({}); quantize its f32 folder",
              in_dir, weight_format_name(src.format));
  QuantizeReport r;
  std::vector<Entry> entries;
  std::set<std::string> quantized;
  for (auto& [name, lin] : src.model->projections()) {
    Tensor deq;  // what the stored weight reads back as
    if (format == WeightFormat::int8) {
      auto [q, s] = cpu::quantize_rows_int8(lin->weight);
      entries.push_back({name + ".weight", "I8", q});
      entries.push_back({name + ".weight_scale", "F32", s});
      deq = cpu::dequantize_rows_int8(q, s);
    } else {
      Tensor bits = cpu::to_bf16_rows(lin->weight);
      entries.push_back({name + ".weight", "BF16", bits});
      deq = cpu::bf16_rows_to_f32(bits);
    }
    // Round-trip error of the worst row, relative to the row's largest weight.
    const auto w = lin->weight.contiguous().to_vector<float>(), d = deq.to_vector<float>();
    for (int64_t row = 0; row < lin->out; ++row) {
      double err = 0, amax = 0;
      for (int64_t c = 0; c < lin->in; ++c) {
        const size_t i = static_cast<size_t>(row * lin->in + c);
        err = std::max(err, std::abs(static_cast<double>(w[i]) - d[i]));
        amax = std::max(amax, std::abs(static_cast<double>(w[i])));
      }
      if (amax > 0) r.max_rel_error = std::max(r.max_rel_error, err / amax);
    }
    quantized.insert(name + ".weight");
  }
  for (auto& [name, t] : src.model->state_dict())
    if (!quantized.count(name)) entries.push_back({name, "F32", t});
  fs::create_directories(out_dir);
  json cfg = json::parse(config_to_json(src.model->config()));
  if (format == WeightFormat::int8)
    cfg["quantization_config"] = {{"quant_method", "ember_int8"}, {"bits", 8},
                                  {"granularity", "per_output_channel"}, {"symmetric", true}};
  else
    cfg["quantization_config"] = {{"quant_method", "ember_bf16"}, {"bits", 16}};
  const std::string text = cfg.dump(2) + "\n";
  data::write_file_atomic((fs::path(out_dir) / "config.json").string(), {text.begin(), text.end()});
  src.tokenizer.save(out_dir);  // a BPE folder's tokenizer travels with it
  auto meta = src.metadata;
  meta["format"] = "pt";
  meta["ember.quantization"] = format == WeightFormat::int8 ? "int8 per-output-channel" : "bf16";
  const std::string out_path = (fs::path(out_dir) / "model.safetensors").string();
  write_file(out_path, entries, meta);
  r.f32_bytes = static_cast<int64_t>(fs::file_size(fs::path(in_dir) / "model.safetensors"));
  r.out_bytes = static_cast<int64_t>(fs::file_size(out_path));
  return r;
}

}  // namespace

QuantizeReport quantize_int8(const std::string& in_dir, const std::string& out_dir) {
  return quantize(in_dir, out_dir, WeightFormat::int8);
}

QuantizeReport quantize_bf16(const std::string& in_dir, const std::string& out_dir) {
  return quantize(in_dir, out_dir, WeightFormat::bf16);
}

}  // namespace ember::zoo::lm
