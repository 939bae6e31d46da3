// Fashion-MNIST loader (see fashion_mnist.h): finds the two IDX files of a split, decodes them
// with the IDX reader and converts the pixels to f32 in [0,1] once, up front.
#include "data/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>

#include "data/idx.h"
#include "tensor/parallel.h"

namespace ember::data {
namespace {

namespace fs = std::filesystem;

std::string resolve_root(const std::string& root) { return root.empty() ? FashionMnist::default_root() : root; }

// The file for `stem` under root: "<stem>.gz" if present, else the uncompressed "<stem>";
// empty when neither exists.
std::string find_file(const std::string& root, const std::string& stem) {
  std::error_code ec;
  for (const std::string& name : {stem + ".gz", stem}) {
    fs::path p = fs::path(root) / name;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return {};
}

std::string prefix_of(Split split) { return split == Split::train ? "train" : "t10k"; }

}  // namespace

std::string FashionMnist::default_root() {
  const char* env = std::getenv("EMBER_FMNIST_DIR");
  return env && *env ? std::string(env) : std::string(kDefaultRoot);
}

bool FashionMnist::available(Split split, const std::string& root) {
  const std::string dir = resolve_root(root);
  return !find_file(dir, prefix_of(split) + "-images-idx3-ubyte").empty() &&
         !find_file(dir, prefix_of(split) + "-labels-idx1-ubyte").empty();
}

FashionMnist::Loaded FashionMnist::load(Split split, const std::string& root) {
  Loaded out;
  out.root = resolve_root(root);
  std::string paths[2];
  const std::string stems[2] = {prefix_of(split) + "-images-idx3-ubyte", prefix_of(split) + "-labels-idx1-ubyte"};
  for (int k = 0; k < 2; ++k) {
    paths[k] = find_file(out.root, stems[k]);
    EMBER_CHECK(!paths[k].empty(),
                "Fashion-MNIST not found in {} (missing {}.gz); install it with: sudo apt-get install "
                "dataset-fashion-mnist (or set EMBER_FMNIST_DIR)",
                out.root, stems[k]);
  }
  Tensor pixels = read_idx_images(paths[0]);
  out.labels = read_idx_labels(paths[1]);
  EMBER_CHECK(pixels.size(1) == 28 && pixels.size(2) == 28, "FashionMnist: {}: images are {}x{}, expected 28x28",
              paths[0], pixels.size(1), pixels.size(2));
  EMBER_CHECK(pixels.size(0) == out.labels.size(0), "FashionMnist: {} holds {} images but {} holds {} labels",
              paths[0], pixels.size(0), paths[1], out.labels.size(0));
  const int64_t* lab = out.labels.data<int64_t>();
  for (int64_t i = 0; i < out.labels.numel(); ++i)
    EMBER_CHECK(lab[i] >= 0 && lab[i] <= 9, "FashionMnist: {}: label {} at index {} is not a class in 0..9",
                paths[1], lab[i], i);
  out.images = bytes_to_unit_float(pixels);
  return out;
}

FashionMnist::FashionMnist(Split split, const std::string& root) : FashionMnist(split, load(split, root)) {}

FashionMnist::FashionMnist(Split split, Loaded loaded)
    : TensorDataset(std::move(loaded.images), std::move(loaded.labels)), root_(std::move(loaded.root)),
      split_(split) {}

Tensor bytes_to_unit_float(const Tensor& images_u8) {
  EMBER_CHECK(images_u8.dtype() == DType::u8 && images_u8.dim() == 3,
              "bytes_to_unit_float: expected u8 [N,H,W], got {} {}", images_u8.dtype(), shape_str(images_u8.shape()));
  Tensor src = images_u8.contiguous();
  const int64_t n = src.size(0), hw = src.size(1) * src.size(2);
  Tensor out = Tensor::empty({n, 1, src.size(1), src.size(2)});
  const uint8_t* s = src.data<uint8_t>();
  float* d = out.data<float>();
  // Division (not * 1/255) so values equal torchvision's ToTensor bit for bit; it vectorizes.
  parallel_for(n, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b * hw; i < e * hw; ++i) d[i] = float(s[i]) / 255.0f;
  });
  return out;
}

}  // namespace ember::data
