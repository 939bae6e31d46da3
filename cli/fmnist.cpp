// `ember train fmnist` and `ember eval fmnist`: the Fashion-MNIST classifiers of zoo/fmnist.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/usage.h"
#include "hpo/nas/network.h"
#include "tensor/matmul_precision.h"
#include "zoo/fmnist/fmnist.h"

namespace ember::cli {

namespace {

namespace fm = zoo::fmnist;

void add_train_fmnist(CLI::App& train) {
  auto* cmd = train.add_subcommand("fmnist", "train the W1 MLP or the W2 CNN on Fashion-MNIST");
  auto cfg = std::make_shared<fm::TrainConfig>();
  auto model = std::make_shared<std::string>("cnn");
  auto precision = std::make_shared<std::string>();  // "": keep $EMBER_MATMUL_PRECISION (or highest)
  auto genotype = std::make_shared<std::string>();
  auto nas_net = std::make_shared<nas::NetworkOptions>();
  cmd->add_option("--model", *model, "mlp (W1) or cnn (W2)")->check(CLI::IsMember({"mlp", "cnn"}))->capture_default_str();
  cmd->add_option("--epochs", cfg->epochs, "epochs (default: cnn 5, mlp 10)")->check(positive());
  cmd->add_option("--batch", cfg->batch, "batch size (default: cnn 64, mlp 128)")->check(positive());
  cmd->add_option("--lr", cfg->lr, "peak Adam learning rate of the cosine schedule (default: cnn 2e-3, mlp 1e-3)")
      ->check(positive());
  cmd->add_option("--seed", cfg->seed, "seed of the initial weights and the shuffling")->capture_default_str();
  cmd->add_option("--augment", cfg->augment, "training augmentation: none, flip, crop, flip+crop")
      ->check(CLI::IsMember({"none", "flip", "crop", "flip+crop"}))
      ->capture_default_str();
  cmd->add_option("--out", cfg->out, "run folder: checkpoint, metrics, plots")->capture_default_str();
  cmd->add_flag("--resume", cfg->resume, "continue from the checkpoint in --out");
  cmd->add_flag("--overwrite", cfg->overwrite, "start a new run even if --out holds one (its files are replaced)");
  cmd->add_option("--threads", cfg->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->add_option("--data", cfg->data_dir, "Fashion-MNIST folder (default $EMBER_FMNIST_DIR or the Debian path)");
  cmd->add_option("--train-limit", cfg->train_limit, "use only the first N training images")
      ->check(non_negative());
  cmd->add_option("--test-limit", cfg->test_limit, "evaluate on the first N test images")
      ->check(non_negative());
  cmd->add_option("--stop-after", cfg->stop_after, "stop after N epochs of this run (continue with --resume)")
      ->check(non_negative());
  cmd->add_flag_function("--no-progress", [cfg](int64_t) { cfg->progress = false; }, "no progress line");
  cmd->add_flag_function("--no-plots", [cfg](int64_t) { cfg->plots = false; }, "skip curves.png and predictions.png");
  cmd->add_flag("--distributed", cfg->distributed, "run as one rank of `ember launch` (data-parallel over Gloo)");
  cmd->add_flag("--skip-nonfinite", cfg->skip_nonfinite,
                "skip training steps whose loss is NaN/inf (default: stop with an error, keeping the last checkpoint)");
  cmd->add_option("--matmul-precision", *precision,
                  "f32 GEMMs (training and evaluation): highest, or bf16 operands with f32 sums "
                  "(default $EMBER_MATMUL_PRECISION or highest)")
      ->check(CLI::IsMember({"highest", "bf16"}));
  cmd->add_option("--genotype", *genotype, "train the network of this genotype (`ember nas fmnist`) instead")
      ->check(CLI::ExistingFile);
  cmd->add_option("--channels", nas_net->channels, "with --genotype: channels of the first cell")->check(positive())
      ->capture_default_str();
  cmd->add_option("--cells", nas_net->cells, "with --genotype: cells")->check(CLI::Range(int64_t{3}, int64_t{64}))
      ->capture_default_str();
  cmd->add_option("--drop-path", nas_net->drop_path, "with --genotype: drop-path probability")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  cmd->callback([cfg, model, precision, genotype, nas_net] {
    cfg->arch = fm::parse_arch(*model);
    if (!genotype->empty()) {  // the W2 recipe on the genotype's network
      const nas::Genotype g = nas::load_genotype(*genotype);
      const nas::NetworkOptions o = *nas_net;
      cfg->model_factory = [g, o] { return nn::sequential(std::make_shared<nas::GenotypeNetwork>(g, o)); };
      cfg->model_name = fmt::format("nas-c{}-l{}", o.channels, o.cells);
      cfg->model_metadata = {{"nas.genotype", g.to_json().dump()}, {"nas.drop_path", fmt::format("{}", o.drop_path)}};
    }
    // Set the flag's precision, or read the variable's now so a bad value fails before training.
    if (precision->empty()) (void)matmul_precision();
    else set_matmul_precision(parse_matmul_precision(*precision));
    fm::TrainResult r = fm::train(*cfg);
    if (r.history.empty()) return;
    const auto& last = r.history.back();
    fmt::print("final: epoch {} test accuracy {:.2f}%, test loss {:.4f}; checkpoint {}\n", last.epoch,
               100 * last.test_accuracy, last.test_loss, r.checkpoint);
  });
}

void add_eval_fmnist(CLI::App& eval) {
  auto* cmd = eval.add_subcommand("fmnist", "evaluate a Fashion-MNIST checkpoint on the 10,000 test images");
  struct Args {
    std::string checkpoint, data_dir;
    int threads = 0;
    int64_t limit = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "model.safetensors written by `ember train fmnist`")->required();
  cmd->add_option("--data", a->data_dir, "Fashion-MNIST folder (default $EMBER_FMNIST_DIR or the Debian path)");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->add_option("--test-limit", a->limit, "evaluate on the first N test images")->check(non_negative());
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    fm::LoadedModel m = fm::load_checkpoint(a->checkpoint);
    data::FashionMnist test(data::Split::test, a->data_dir);
    fm::EvalResult r = fm::evaluate(*m.model, test, a->limit);
    fmt::print("fmnist {} (epoch {}): test accuracy {:.2f}% ({}/{}), test loss {:.4f}\n", fm::arch_name(m.arch),
               m.epoch, 100 * r.accuracy, r.correct, r.total, r.loss);
    if (m.recorded_accuracy)
      fmt::print("recorded at training: {:.2f}% ({})\n", 100 * *m.recorded_accuracy,
                 *m.recorded_accuracy == r.accuracy ? "identical" : "DIFFERENT");
  });
}

}  // namespace

void add_fmnist_commands(const ZooCommands& zoo) {
  add_train_fmnist(*zoo.train);
  add_eval_fmnist(*zoo.eval);
}

}  // namespace ember::cli
