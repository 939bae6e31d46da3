// `ember data openmoji`, `ember train colorize`, `ember eval colorize` and `ember colorize`: the
// OpenMoji line-art colorizer of zoo/colorize.
#include <chrono>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "data/image.h"
#include "zoo/colorize/colorize.h"

namespace ember::cli {

namespace {

namespace cz = zoo::colorize;
namespace fs = std::filesystem;

void add_data_openmoji(CLI::App& data) {
  auto* cmd = data.add_subcommand("openmoji", "fetch OpenMoji 17.0.0 (npm), rasterise, dedupe and pack line/colour pairs");
  struct Args {
    std::string root;
    int size = 64, jobs = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--root", a->root, "cache folder (default $EMBER_DATA_DIR/openmoji or ~/.cache/ember/openmoji)");
  cmd->add_option("--size", a->size, "raster size in pixels (64 or 128; multiples of 8 in 16..512)")->capture_default_str();
  cmd->add_option("--jobs", a->jobs, "parallel rasteriser processes (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([a] {
    const int jobs = a->jobs > 0 ? a->jobs : std::max(1u, std::thread::hardware_concurrency());
    cz::build_openmoji(a->root.empty() ? cz::default_data_root() : a->root, a->size, jobs);
  });
}

void add_train_colorize(CLI::App& train) {
  auto* cmd = train.add_subcommand("colorize", "train the line-art colorization U-Net on OpenMoji pairs");
  auto c = std::make_shared<cz::TrainConfig>();
  cmd->add_option("--epochs", c->epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", c->batch, "batch size")->check(CLI::Range(2, 4096))->capture_default_str();
  cmd->add_option("--lr", c->lr, "peak AdamW learning rate of the cosine schedule")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--weight-decay", c->weight_decay, "AdamW decoupled weight decay")->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--hints", c->hints, "colour hints: none (line only) or random (0-20 sampled dots)")
      ->check(CLI::IsMember({"none", "random"}))->capture_default_str();
  cmd->add_option("--loss", c->loss, "l1, l2 (mean squared error: what pooled PSNR measures) or l1+ssim")
      ->check(CLI::IsMember({"l1", "l2", "l1+ssim"}))->capture_default_str();
  cmd->add_option("--augment", c->augment, "none, flip (random horizontal flips) or flip+shift (and shifts of up to 4 px)")
      ->check(CLI::IsMember({"none", "flip", "flip+shift"}))->capture_default_str();
  cmd->add_option("--depth", c->depth, "U-Net levels (2x downsamplings)")->check(CLI::Range(1, 6))->capture_default_str();
  cmd->add_option("--width", c->width, "channels of the first level")->check(CLI::Range(1, 512))->capture_default_str();
  cmd->add_option("--seed", c->seed, "seed of the weights, order, flips and hints")->capture_default_str();
  cmd->add_option("--out", c->out, "run folder")->capture_default_str();
  cmd->add_flag("--resume", c->resume, "continue from the checkpoint in --out");
  cmd->add_option("--threads", c->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--root", c->data_root, "OpenMoji cache folder (default $EMBER_DATA_DIR/openmoji or ~/.cache/ember/openmoji)");
  cmd->add_option("--size", c->size, "image size of the packed set")->capture_default_str();
  cmd->add_option("--train-limit", c->train_limit, "use the first N training pairs")->check(CLI::NonNegativeNumber);
  cmd->add_option("--val-limit", c->val_limit, "validate on the first N val pairs")->check(CLI::NonNegativeNumber);
  cmd->add_option("--stop-after", c->stop_after, "stop after N epochs of this run (continue with --resume)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag_function("--no-progress", [c](int64_t) { c->progress = false; }, "no progress line");
  cmd->add_flag_function("--no-plots", [c](int64_t) { c->plots = false; }, "skip curves.png and the sample grids");
  cmd->add_flag("--distributed", c->distributed,
                "run as one rank of `ember launch`: each batch is split over the ranks (Gloo, SyncBatchNorm)");
  cmd->callback([c] {
    cz::TrainResult r = cz::train(*c);
    if (r.history.empty()) return;
    const auto& m = r.history.back();
    fmt::print("final: epoch {} val PSNR {:.2f} dB, SSIM {:.4f}; checkpoint {}\n", m.epoch, m.val_psnr, m.val_ssim,
               r.checkpoint);
  });
}

void print_scores(const std::string& name, const cz::Scores& s) {
  fmt::print("  {:<24} L1 {:.4f} | PSNR pooled {:6.2f} dB | PSNR per image {:6.2f} dB | SSIM {:.4f}\n", name, s.l1,
             s.psnr_pooled, s.psnr_mean, s.ssim);
}

void add_eval_colorize(CLI::App& eval) {
  auto* cmd = eval.add_subcommand("colorize", "score a colorize checkpoint and two non-learned baselines");
  struct Args {
    std::string checkpoint, split = "test", root, grid;
    int64_t hints = 0, grid_rows = 8;
    int threads = 0;
    bool flip_average = true;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "model.safetensors written by `ember train colorize`")->required();
  cmd->add_option("--split", a->split, "val or test")->check(CLI::IsMember({"val", "test"}))->capture_default_str();
  cmd->add_option("--hints", a->hints, "hints per image, sampled from the truth")->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--root", a->root, "OpenMoji cache folder");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--grid", a->grid, "also write a PNG: line | no hints | hints | with hints | truth, per row");
  cmd->add_option("--grid-rows", a->grid_rows, "pairs in the --grid picture")->check(CLI::Range(1, 512))
      ->capture_default_str();
  cmd->add_flag_function("--no-flip-average", [a](int64_t) { a->flip_average = false; },
                         "score the plain prediction, not its mean with the mirrored prediction of the mirrored "
                         "input (the default: docs/colorize.md)");
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    cz::LoadedModel m = cz::load_checkpoint(a->checkpoint);
    const cz::OpenMoji all = cz::load_openmoji(a->root, m.size);
    const cz::OpenMoji set = cz::select_split(all, cz::parse_split(a->split));
    const Tensor mean = cz::mean_color(cz::select_split(all, cz::Split::train));
    const auto t0 = std::chrono::steady_clock::now();
    cz::EvalResult r = cz::evaluate(*m.model, set, mean, a->hints, true, a->flip_average);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("colorize (epoch {}) on {} {} pairs at {}px, {} hint(s) per image{}, {:.1f} s:\n", m.epoch,
               set.line.size(0), a->split, m.size, a->hints, a->flip_average ? ", flip-averaged" : "", sec);
    print_scores("model", r.model);
    print_scores("line as grey", r.line_grey);
    print_scores("mean colour, ink kept", r.mean_color);
    if (!a->grid.empty()) {
      cz::save_samples(*m.model, set, a->grid, a->hints, a->grid_rows, true, a->flip_average);
      fmt::print("grid: {}\n", a->grid);
    }
  });
}

void add_colorize(CLI::App& app) {
  auto* cmd = app.add_subcommand("colorize", "colour line art with a trained colorize checkpoint");
  struct Args {
    std::string checkpoint, input, hints, output, device = "cpu";
    int threads = 0;
    bool flip_average = true;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "model.safetensors written by `ember train colorize`")->required();
  cmd->add_option("input", a->input, "image file (PNG/JPEG/...) or a folder of them")->required();
  cmd->add_option("--hints", a->hints, "PNG of the input's size whose non-white pixels are colour hints");
  cmd->add_option("-o,--output", a->output, "output PNG (or folder when the input is a folder)")->required();
  cmd->add_option("--device", a->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag_function("--no-flip-average", [a](int64_t) { a->flip_average = false; },
                         "one forward pass, not the mean with the mirrored prediction of the mirrored input "
                         "(half the time)");
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    cz::LoadedModel m = cz::load_checkpoint(a->checkpoint);
    const Device device = a->device == "cuda" ? Device::cuda() : Device::cpu();
    if (!device.is_cpu()) m.model->to(device);
    EMBER_CHECK(fs::exists(a->input), "colorize: input '{}' does not exist", a->input);
    std::vector<std::pair<std::string, std::string>> jobs;  // in -> out
    if (fs::is_directory(a->input)) {
      EMBER_CHECK(a->hints.empty(), "colorize: --hints takes one image, not a folder input");
      fs::create_directories(a->output);
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(a->input)) {
        std::string ext = e.path().extension().string();
        for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        if (e.is_regular_file() && (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp"))
          files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      EMBER_CHECK(!files.empty(), "colorize: no PNG/JPEG/BMP images in folder '{}'", a->input);
      for (const auto& f : files)
        jobs.emplace_back(f.string(), (fs::path(a->output) / f.filename()).replace_extension(".png").string());
    } else {
      jobs.emplace_back(a->input, a->output);
    }
    for (const auto& [in, out] : jobs) {
      const auto t0 = std::chrono::steady_clock::now();
      Tensor y = cz::colorize_image(*m.model, in, a->hints, device, a->flip_average);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      data::save_png(out, y);
      fmt::print("{} -> {} ({}x{}, {:.1f} ms on {})\n", in, out, y.size(2), y.size(1), ms, device.str());
    }
  });
}

}  // namespace

void add_colorize_commands(const ZooCommands& zoo) {
  add_data_openmoji(*zoo.data);
  add_train_colorize(*zoo.train);
  add_eval_colorize(*zoo.eval);
  add_colorize(*zoo.app);
}

}  // namespace ember::cli
