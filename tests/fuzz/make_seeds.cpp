// Writes the fuzzers' seed corpora at build time, from ember's own writers and hand-written
// inputs (no third-party files): valid safetensors files, IDX files plain and gzipped, images in
// the formats stb decodes, study-storage rows and command lines. Usage: fuzz_make_seeds OUT_DIR
// (creates OUT_DIR/<target>/seed_<n>).
#include <stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image.h"
#include "nn/safetensors.h"

namespace fs = std::filesystem;
using namespace ember;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path g_out;

void put(const std::string& target, int n, const Bytes& bytes) {
  fs::create_directories(g_out / target);
  std::ofstream f(g_out / target / ("seed_" + std::to_string(n)), std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
void put(const std::string& target, int n, const std::string& s) { put(target, n, Bytes(s.begin(), s.end())); }

Bytes read(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(f), {});
}

Bytes idx(uint32_t magic, const std::vector<uint32_t>& dims) {
  Bytes b;
  auto be = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
  };
  be(magic);
  size_t n = 1;
  for (uint32_t d : dims) be(d), n *= d;
  for (size_t i = 0; i < n; ++i) b.push_back(uint8_t(i * 37));
  return b;
}

Bytes gzip(const Bytes& in) {
  const fs::path tmp = g_out / "tmp.gz";
  gzFile f = gzopen(tmp.c_str(), "wb");
  gzwrite(f, in.data(), unsigned(in.size()));
  gzclose(f);
  Bytes out = read(tmp);
  fs::remove(tmp);
  return out;
}

void append(void* ctx, void* data, int size) {
  auto* out = static_cast<Bytes*>(ctx);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds OUT_DIR\n");
    return 2;
  }
  g_out = argv[1];
  fs::create_directories(g_out);

  // safetensors: every dtype ember writes, metadata, an empty tensor, a scalar.
  const fs::path st = g_out / "tmp.safetensors";
  nn::save_safetensors(st.string(), {{"w", Tensor::ones({2, 3})}, {"b", Tensor::zeros({3}, {.dtype = DType::f64})}},
                       {{"ember.model", "fmnist-mlp"}, {"fmnist.epoch", "3"}});
  put("safetensors", 0, read(st));
  nn::save_safetensors(st.string(), {{"i", Tensor::arange(0, 4, 1, {.dtype = DType::i64})},
                                     {"u", Tensor::ones({2, 2}, {.dtype = DType::u8})},
                                     {"k", Tensor::ones({1}, {.dtype = DType::i32})},
                                     {"e", Tensor::zeros({0, 4})},
                                     {"s", Tensor::scalar(2.5)}});
  put("safetensors", 1, read(st));
  fs::remove(st);
  const std::string half = R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"g":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})";
  Bytes h(8);
  h[0] = uint8_t(half.size());
  h.insert(h.end(), half.begin(), half.end());
  for (int i = 0; i < 8; ++i) h.push_back(uint8_t(0x3c * (i % 2)));
  put("safetensors", 2, h);

  // IDX: images, labels, 2-D and 4-D, empty; plain and gzip.
  int n = 0;
  for (const Bytes& b : {idx(0x803, {2, 4, 4}), idx(0x801, {5}), idx(0x802, {3, 2}), idx(0x804, {1, 2, 2, 2}),
                         idx(0x803, {0, 28, 28})}) {
    put("idx", n++, b);
    put("idx", n++, gzip(b));
  }

  // Images: PNG (1 and 3 channels), BMP, TGA, JPEG via stb_image_write; a hand-written 1x1 GIF and PGM.
  const fs::path png = g_out / "tmp.png";
  data::save_png(png.string(), Tensor::rand({3, 5, 7}));
  put("image", 0, read(png));
  data::save_png(png.string(), Tensor::rand({1, 4, 4}));
  put("image", 1, read(png));
  fs::remove(png);
  std::vector<uint8_t> px(6 * 5 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t(i * 11);
  Bytes bmp, tga, jpg;
  stbi_write_bmp_to_func(append, &bmp, 6, 5, 3, px.data());
  stbi_write_tga_to_func(append, &tga, 6, 5, 3, px.data());
  stbi_write_jpg_to_func(append, &jpg, 6, 5, 3, px.data(), 90);
  put("image", 2, bmp);
  put("image", 3, tga);
  put("image", 4, jpg);
  put("image", 5, Bytes{'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x2c, 0, 0, 0, 0,
                        1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3b});
  put("image", 6, std::string("P5\n3 2\n255\n") + std::string("\x01\x02\x03\x04\x05\x06", 6));

  // Study-storage rows: state, enqueued parameters, distribution, value.
  put("study_storage", 0, "complete\n{}\n{\"kind\":\"float\",\"low\":0,\"high\":1,\"log\":false,\"step\":0}\n0.5");
  put("study_storage", 1, "running\n{\"x\":{\"f\":0.25}}\n{\"kind\":\"float\",\"low\":1e-5,\"high\":1,\"log\":true,\"step\":0}\n0.01");
  put("study_storage", 2, "complete\n{\"n\":{\"i\":3}}\n{\"kind\":\"int\",\"low\":0,\"high\":10,\"log\":false,\"step\":2}\n4");
  put("study_storage", 3, "failed\n{\"o\":{\"s\":\"adam\"}}\n{\"kind\":\"categorical\",\"choices\":[\"adam\",\"sgd\"]}\n1");
  put("study_storage", 4, "waiting\n\n{\"kind\":\"float\",\"low\":0,\"high\":1,\"log\":false,\"step\":0.25}\n0.75");

  // Command lines (one argument per line).
  const std::vector<std::string> cli = {
      "tune\n--objective\nbranin\n--trials\n10\n--sampler\ntpe",
      "tune\n--objective\nmixed\n--sampler\ngrid\n--trials\n4294967297\n--jobs\n2",
      "study\nlist\n--storage\nmemory",
      "study\nexport\n--format\ncsv\n--storage\nsqlite:/nonexistent/x.db\n--study\nm",
      "train\nfmnist\n--model\nmlp\n--epochs\n3\n--batch\n64\n--lr\n1e-3\n--augment\nflip+crop",
      "train\nfmnist\n--epochs\n4611686018427387904\n--batch\n1e20",
      "eval\nfmnist\n--checkpoint\nmodel.safetensors\n--threads\n2",
      "--help"};
  for (size_t i = 0; i < cli.size(); ++i) put("cli", int(i), cli[i]);
  return 0;
}
