// `ember data openmoji`, `ember train/eval colorize` and `ember colorize` as a user runs them
// (subprocess): colouring single files of any size, folders and hint images with a small
// checkpoint written here, and one clear line plus a non-zero exit for bad flags, missing data,
// bad image files and mismatched hints.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "data/image.h"
#include "nn/safetensors.h"
#include "tests/common/subprocess.h"
#include "tests/common/sanitizer.h"
#include "zoo/colorize/colorize.h"

namespace fs = std::filesystem;
using namespace ember;
using ember::test::count_lines;
using ember::test::run_command;

namespace {

class CliColorize : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(EMBER_CLI_PATH)) GTEST_SKIP() << "ember binary not built";
    dir_ = fs::temp_directory_path() / fmt::format("ember_cli_colorize_{}", getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  test::RunResult ember(const std::string& args, const std::string& env = "") {
    return run_command(fmt::format("cd '{}' && {} '{}' {}", dir_.string(), env, EMBER_CLI_PATH, args));
  }
  // An untrained depth-2 width-4 U-Net saved as `ember train colorize` saves its checkpoints.
  void write_checkpoint(const std::string& name, bool hints) {
    manual_seed(5);
    zoo::colorize::UNet net({.depth = 2, .width = 4, .hints = hints});
    nn::save_safetensors((dir_ / name).string(), net.state_dict(),
                         {{"ember.model", "colorize-unet"}, {"colorize.depth", "2"}, {"colorize.width", "4"},
                          {"colorize.hints", hints ? "1" : "0"}, {"colorize.size", "64"}, {"colorize.epoch", "1"}});
  }
  // An RGB test picture: a dark ring on white.
  void write_picture(const fs::path& path, int64_t h, int64_t w) {
    Tensor img = Tensor::ones({3, h, w});
    float* p = img.data<float>();
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const double r = std::hypot(double(y) - h / 2.0, double(x) - w / 2.0);
          if (std::abs(r - std::min(h, w) / 3.0) < 1.5) p[(c * h + y) * w + x] = 0.1f;
        }
    data::save_png(path.string(), img);
  }
  fs::path dir_;
};

void expect_one_line_error(const test::RunResult& r, const std::string& args, const std::string& needle = "") {
  EXPECT_NE(r.rc, 0) << args;
  EXPECT_LE(count_lines(r.out), 2u) << args << ":\n" << r.out;  // CLI11 usage errors add a "Run with --help" line
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
  if (!needle.empty()) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << ":\n" << r.out;
  }
}

TEST_F(CliColorize, BadFlagsFailWithOneLine) {
  for (const char* args :
       {"train colorize --bogus", "train colorize --hints some", "train colorize --loss l3", "train colorize --epochs 0",
        "train colorize --batch 1", "train colorize --augment rotate", "train colorize --lr abc", "eval colorize",
        "eval colorize --checkpoint x --split train", "eval colorize --checkpoint x --hints -1", "colorize in.png",
        "colorize --checkpoint x.safetensors", "colorize --checkpoint x in.png -o o.png --device tpu"})
    expect_one_line_error(ember(args), args);
  expect_one_line_error(ember("data openmoji --size 20 --root ."), "size 20", "--size must be a multiple of 8");
  expect_one_line_error(ember("eval colorize --checkpoint none.safetensors"), "missing checkpoint",
                        "checkpoint 'none.safetensors' does not exist");
}

TEST_F(CliColorize, MissingDataSaysHowToBuildIt) {
  const auto r = ember("train colorize --out run --no-plots", "EMBER_DATA_DIR=/nonexistent/data");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(count_lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("/nonexistent/data/openmoji/64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("build it with: ember data openmoji"), std::string::npos) << r.out;
}

TEST_F(CliColorize, ColoursFilesOfAnySizeFoldersAndHints) {
  write_checkpoint("hint.safetensors", true);
  write_picture(dir_ / "ring.png", 37, 50);  // not a multiple of the stride: padded and cropped back
  auto r = ember("colorize --checkpoint hint.safetensors ring.png -o out.png --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("ms on cpu"), std::string::npos) << r.out;  // latency per image
  Tensor out = data::load_image((dir_ / "out.png").string());
  EXPECT_EQ(out.shape(), (Shape{37, 50, 3}));

  // Hints: a red dot; another size is refused.
  Tensor hints = Tensor::ones({3, 37, 50});
  for (int64_t y = 10; y < 13; ++y)
    for (int64_t x = 20; x < 23; ++x)
      for (int64_t c = 0; c < 3; ++c) hints.data<float>()[c * 37 * 50 + y * 50 + x] = c == 0 ? 0.9f : 0.1f;
  data::save_png((dir_ / "hints.png").string(), hints);
  r = ember("colorize --checkpoint hint.safetensors ring.png --hints hints.png -o hinted.png --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(data::load_image((dir_ / "hinted.png").string()).to_vector<int>(), out.to_vector<int>());  // hints matter
  write_picture(dir_ / "small.png", 16, 16);
  expect_one_line_error(ember("colorize --checkpoint hint.safetensors small.png --hints hints.png -o x.png"),
                        "hint size", "hints image");

  // A folder in gives a folder out (non-images skipped); a bad image file is one line.
  fs::create_directories(dir_ / "in");
  write_picture(dir_ / "in" / "a.png", 64, 64);
  write_picture(dir_ / "in" / "b.png", 24, 40);
  run_command(fmt::format("echo hello > '{}'", (dir_ / "in" / "notes.txt").string()));
  r = ember("colorize --checkpoint hint.safetensors in -o outdir --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "outdir" / "a.png"));
  EXPECT_EQ(data::load_image((dir_ / "outdir" / "b.png").string()).shape(), (Shape{24, 40, 3}));
  EXPECT_FALSE(fs::exists(dir_ / "outdir" / "notes.png"));
  run_command(fmt::format("echo 'not a picture' > '{}'", (dir_ / "bad.png").string()));
  expect_one_line_error(ember("colorize --checkpoint hint.safetensors bad.png -o x.png"), "bad image", "bad.png");
  expect_one_line_error(ember("colorize --checkpoint hint.safetensors nothing.png -o x.png"), "missing", "nothing.png");
  expect_one_line_error(ember("colorize --checkpoint bad.png ring.png -o x.png"), "bad checkpoint", "bad.png");

  // A line-only checkpoint refuses hints.
  write_checkpoint("plain.safetensors", false);
  expect_one_line_error(ember("colorize --checkpoint plain.safetensors ring.png --hints hints.png -o x.png"),
                        "plain + hints", "trained without hints");
}

TEST_F(CliColorize, EvalPrintsModelAndBaselines) {
  if (EMBER_ASAN) GTEST_SKIP() << "evaluates the whole split: too slow under the sanitizers (-O0); run in Release";
  if (!fs::exists(fs::path(zoo::colorize::packed_dir(zoo::colorize::default_data_root(), 64)) / "names.txt"))
    GTEST_SKIP() << "OpenMoji not built (run: ember data openmoji)";
  write_checkpoint("hint.safetensors", true);
  const auto r = ember("eval colorize --checkpoint hint.safetensors --split val --hints 5 --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* row : {"model", "line as grey", "mean colour, ink kept", "PSNR pooled", "PSNR per image", "SSIM",
                          "flip-averaged"})
    EXPECT_NE(r.out.find(row), std::string::npos) << r.out;
  const auto plain = ember("eval colorize --checkpoint hint.safetensors --split val --hints 5 --threads 1 "
                           "--no-flip-average");
  ASSERT_EQ(plain.rc, 0) << plain.out;
  EXPECT_EQ(plain.out.find("flip-averaged"), std::string::npos) << plain.out;
}

}  // namespace
