// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): 70000 grayscale 28x28 images of clothing in 10
// classes, 60000 train + 10000 test, shipped as four gzip IDX files. Debian packages them as
// dataset-fashion-mnist in /usr/share/datasets/fashion-mnist.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "data/dataset.h"

namespace ember::data {

enum class Split { train, test };

// The dataset held in memory: inputs() = images f32 [N,1,28,28] in [0,1] (pixel / 255),
// targets() = labels i64 [N] in 0..9. N = 60000 (train) or 10000 (test).
class FashionMnist : public TensorDataset {
 public:
  static constexpr std::string_view kDefaultRoot = "/usr/share/datasets/fashion-mnist";
  static constexpr std::array<std::string_view, 10> kClassNames = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

  // root: the folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. Empty means
  // $EMBER_FMNIST_DIR if set, else kDefaultRoot. A missing file throws ember::Error:
  // "Fashion-MNIST not found in <dir> (missing <file>); install it with: sudo apt-get install
  // dataset-fashion-mnist (or set EMBER_FMNIST_DIR)". Corrupt files throw the idx: errors.
  explicit FashionMnist(Split split, const std::string& root = "");

  const Tensor& images() const { return inputs(); }  // f32 [N,1,28,28]
  const Tensor& labels() const { return targets(); }  // i64 [N]
  const std::string& root() const { return root_; }
  Split split() const { return split_; }

  // The folder a FashionMnist(split, "") would read: $EMBER_FMNIST_DIR or kDefaultRoot.
  static std::string default_root();
  // Whether both files of `split` exist under `root` ("" = default_root()).
  static bool available(Split split, const std::string& root = "");

 private:
  struct Loaded {
    std::string root;
    Tensor images, labels;
  };
  static Loaded load(Split split, const std::string& root);
  FashionMnist(Split split, Loaded loaded);
  std::string root_;
  Split split_;
};

// u8 [N,H,W] pixels -> f32 [N,1,H,W] in [0,1] (x / 255).
Tensor bytes_to_unit_float(const Tensor& images_u8);

}  // namespace ember::data
