// Line-art colorization (PaintsChainer-style) on OpenMoji: a U-Net that maps a black line drawing
// plus optional colour hints to an RGB picture.
//
// Data (data.cpp): OpenMoji 17.0.0 (CC BY-SA 4.0) rasterised by scripts/build_openmoji.sh, deduped
// by line raster and packed as IDX under $EMBER_DATA_DIR/openmoji/<size> (default
// ~/.cache/ember/openmoji/<size>): line-images-idx3-ubyte u8 [N, S, S], color-images-idx4-ubyte
// u8 [N, S, S, 3], names.txt (one hexcode a line), LICENSE.txt and CREDIT.txt.
// Split: FNV-1a 64 of the hexcode mod 10: 0-7 train, 8 val, 9 test.
//
// Model (model.cpp): the W3 U-Net of WORKLOADS.md with depth and width as parameters. Input
// [N, 1 + 4h, H, W]: the line (1 = paper, 0 = ink) and, with hints, the RGB of hint dots and
// their mask. Output [N, 3, H, W] in (0, 1) (sigmoid). H and W must be multiples of 2^depth.
//
// A run folder (--out) holds model.safetensors, train_state.safetensors (optimizer, schedule,
// history: --resume continues bit for bit), metrics.jsonl, curves.png and samples-epochNNN.png.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "nn/module.h"

namespace ember::zoo::colorize {

// Text as bytes, for data::write_file_atomic (names, credit line, metrics.jsonl).
inline std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// ---- data ----

struct OpenMoji {
  Tensor line;    // u8 [N, S, S] (255 paper, 0 ink)
  Tensor color;   // u8 [N, S, S, 3]
  std::vector<std::string> names;  // hexcodes, e.g. "1F600"
};
enum class Split { train, val, test };
Split parse_split(const std::string& name);  // "train" | "val" | "test"
int split_bucket(const std::string& hexcode);  // FNV-1a 64 of the name mod 10
bool in_split(const std::string& hexcode, Split split);

// $EMBER_DATA_DIR/openmoji or ~/.cache/ember/openmoji (the raw rasters and packed sets live below).
std::string default_data_root();
// <root>/<size>: the packed set of that raster size.
std::string packed_dir(const std::string& root, int size);

// Dedupes rendered pairs: `names` sorted, line/color rasters given per name. Keeps the first name
// (in order) of each distinct line raster and drops blank ones (every pixel >= 250). Returns the
// kept indices.
std::vector<int64_t> dedupe(const std::vector<std::string>& names, const std::vector<std::vector<uint8_t>>& lines);

// Packs <raw_dir>/{black,color}/*.png (as build_openmoji.sh writes them) into IDX files in out_dir
// with LICENSE.txt / CREDIT.txt; returns how many pairs were kept.
int64_t pack_openmoji(const std::string& raw_dir, const std::string& out_dir, int size,
                      const std::string& license_file = "");
// Runs scripts/build_openmoji.sh (found next to the binary's source tree or via $EMBER_SCRIPTS_DIR)
// into root, then pack_openmoji. Returns the packed folder.
std::string build_openmoji(const std::string& root, int size, int jobs);

// Loads a packed set (all of it, or one split). A missing set throws "colorize: OpenMoji data not
// found in <dir>; build it with: ember data openmoji [--size S]".
OpenMoji load_openmoji(const std::string& root, int size);
OpenMoji select_split(const OpenMoji& all, Split split);
OpenMoji select_rows(const OpenMoji& all, const std::vector<int64_t>& rows);

// ---- model ----

struct UNetConfig {
  int64_t depth = 3;    // number of 2x downsamplings (W3: 3)
  int64_t width = 32;   // channels of the first level, doubled per level (W3: 32)
  bool hints = true;    // 4 extra input channels: hint RGB + mask (W3 itself: false)
  // Set for data-parallel training: SyncBatchNorm2d over these ranks instead of BatchNorm2d (same
  // tensors and names, so checkpoints are the same either way).
  dist::CommunicatorPtr sync_bn = nullptr;
};

class UNet : public nn::Module {
 public:
  explicit UNet(UNetConfig config = {});
  // x [N, in_channels(), H, W] -> [N, 3, H, W] in (0, 1); H, W multiples of stride().
  Tensor forward(const Tensor& x) override;
  // Inference output: forward(x), or with flip_average the mean of forward(x) and the mirrored
  // forward of the mirrored input (training flips half the pictures, so both estimate the same
  // colours; for the squared-error model their mean has a lower error: docs/colorize.md).
  Tensor predict(const Tensor& x, bool flip_average);
  std::string type_name() const override { return "UNet"; }
  std::string extra_repr() const override;
  int64_t in_channels() const { return config.hints ? 5 : 1; }
  int64_t stride() const { return int64_t(1) << config.depth; }
  const UNetConfig config;

 private:
  std::vector<nn::ModulePtr> down_, up_, dec_;
  nn::ModulePtr bottleneck_, head_;
};

// ---- hints and model input ----

// A hint: the target colour of a (2r+1)^2 dot centred at (y, x).
struct Hint {
  int64_t y, x;
  uint8_t r, g, b;
};
constexpr int64_t kHintRadius = 1;
// Samples `count` hints from an RGB target u8 [S, S, 3] (+ line u8 [S, S]): centres drawn from
// coloured, non-ink pixels when there are any (else anywhere), deterministic in (seed, key).
std::vector<Hint> sample_hints(const uint8_t* line, const uint8_t* rgb, int64_t h, int64_t w, int64_t count,
                               uint64_t seed, uint64_t key);
// The number of hints for one training sample: 0 with probability 1/2, else 1..20 log-uniformly.
int64_t sample_hint_count(uint64_t seed, uint64_t key);
// Writes the 4 hint planes [4, H, W] for `hints` into `out` (f32, zero-initialised by the caller).
void paint_hints(const std::vector<Hint>& hints, int64_t h, int64_t w, int64_t radius, float* out);

// Per-sample augmentation: a horizontal flip, then a shift by (dy, dx) pixels filled with white.
struct Augment {
  bool flip = false;
  int64_t dy = 0, dx = 0;
};
// The model input for rows of a set: f32 [B, 1 (+4), S, S], with optional augmentation (aug[i];
// empty = none) and hint counts (hint_counts[i]; empty = none), the hints sampled from the
// augmented target with key (hint_seed, row). Targets f32 [B, 3, S, S] in [0, 1].
struct Batch {
  Tensor input, target;
};
Batch make_batch(const OpenMoji& set, const std::vector<int64_t>& rows, bool with_hint_channels,
                 const std::vector<Augment>& aug, const std::vector<int64_t>& hint_counts, uint64_t hint_seed);

// ---- metrics (metrics.cpp) ----

// SSIM of Wang et al. 2004 between two images f32 [C, H, W] in [0, 1] (data range 1): Gaussian
// 11x11 window, sigma 1.5, K1 0.01, K2 0.03, population covariances, mean over the valid
// (unpadded) window positions and the channels: skimage's structural_similarity(gaussian_weights=
// True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=0).
double ssim(const float* a, const float* b, int64_t c, int64_t h, int64_t w);
// Differentiable mean SSIM of two batches [N, 3, H, W] (the same definition) for the l1+ssim loss.
Tensor ssim_loss_term(const Tensor& pred, const Tensor& target);

struct Scores {
  double l1 = 0, psnr_pooled = 0, psnr_mean = 0, ssim = 0;  // psnr_mean: per image, capped 60 dB
  int64_t images = 0;
  void add(const float* pred, const float* target, int64_t h, int64_t w);  // one [3, H, W] pair
  void finish();
  double sq_sum_ = 0, abs_sum_ = 0, psnr_sum_ = 0, ssim_sum_ = 0;
  int64_t values_ = 0;
};
inline constexpr double kPsnrCap = 60.0;

struct EvalResult {
  Scores model, line_grey, mean_color;
};
// Scores the model on a split with `hints` hints per image (sampled from the target, seeded by the
// image's row), and the two non-learned baselines: the line as grey RGB, and the per-pixel mean
// training colour multiplied by the line (ink kept).
EvalResult evaluate(UNet& model, const OpenMoji& set, const Tensor& mean_color, int64_t hints, bool baselines = true,
                    bool flip_average = false);
// Per-pixel mean colour of a set: f32 [3, S, S] in [0, 1].
Tensor mean_color(const OpenMoji& set);

// ---- training (train.cpp) ----

inline constexpr int64_t kMaxShift = 4;
// Defaults: the measured runs of docs/colorize.md (W3's width 32, 32 epochs, mean squared error:
// ~20 minutes on 2 quiet AVX2 cores).
struct TrainConfig {
  int64_t epochs = 32, batch = 16;
  double lr = 2e-3, weight_decay = 1e-2;
  std::string hints = "random";  // none | random
  std::string loss = "l2";       // l1 | l2 | l1+ssim
  std::string augment = "flip+shift";  // none | flip | flip+shift (up to kMaxShift pixels)
  int64_t depth = 3, width = 32;
  uint64_t seed = 0;
  std::string out = "runs/colorize";
  bool resume = false;
  int threads = 0;
  std::string data_root{};  // "" = default_data_root()
  int size = 64;
  int64_t train_limit = 0;  // > 0: the first N training pairs (tests)
  int64_t val_limit = 0;
  int64_t stop_after = 0;   // > 0: stop after N epochs of this run
  bool progress = true, plots = true;
  bool distributed = false;  // one rank of `ember launch`: each global batch of --batch is split over the ranks
};
struct EpochMetrics {
  int64_t epoch = 0;
  double train_loss = 0, val_l1 = 0, val_psnr = 0, val_psnr_mean = 0, val_ssim = 0, lr = 0, seconds = 0;
};
struct TrainResult {
  std::vector<EpochMetrics> history;
  std::string checkpoint;
};
// With a communicator (or config.distributed, which joins the `ember launch` job), each epoch's
// order is sharded like dist::DistributedSampler (the last size % W pairs dropped) and BatchNorm
// becomes SyncBatchNorm2d, so W ranks follow the single-process trajectory; rank 0 alone
// validates, prints and writes the run folder.
TrainResult train(const TrainConfig& config, dist::CommunicatorPtr comm = nullptr);

struct LoadedModel {
  std::shared_ptr<UNet> model;
  int64_t epoch = 0;
  int size = 64;
};
// Reads model.safetensors of a run (configuration from its metadata); clear errors otherwise.
LoadedModel load_checkpoint(const std::string& path);
// A grid of the first `count` pairs of `set`, one per row: line | hints (dots on white) |
// prediction with `hints` hints | truth (the grid written each epoch, of val), or with
// zero_hint_column: line | prediction without hints | hints | prediction with them | truth.
void save_samples(UNet& model, const OpenMoji& set, const std::string& path, int64_t hints, int64_t count,
                  bool zero_hint_column = false, bool flip_average = false);

// ---- inference (infer.cpp) ----

// Colours one image file (any size, colour or grey: converted to luminance) with optional hints
// (non-white pixels of a PNG of the same size). Pads with white to a multiple of the stride and
// crops back. Runs on `device` (the model must be there). Returns f32 [3, H, W] on the CPU.
Tensor colorize_image(UNet& model, const std::string& path, const std::string& hints_path = "",
                      Device device = Device::cpu(), bool flip_average = false);

}  // namespace ember::zoo::colorize
