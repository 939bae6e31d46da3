// Fashion-MNIST Trainable (see tune.h): data split, the model family, one trial's training loop.
#include "zoo/fmnist/tune.h"

#include <cmath>

#include <fmt/format.h>

#include "data/fashion_mnist.h"
#include "data/loader.h"
#include "data/transforms.h"
#include "nn/container.h"
#include "nn/layers.h"
#include "nn/optim/adam.h"
#include "nn/optim/scheduler.h"
#include "tensor/error.h"

namespace ember::zoo::fmnist {

namespace {

// Accuracy of `model` on (x, y) in batches of 1000, eval mode, no gradients.
double accuracy(nn::Module& model, const Tensor& x, const Tensor& y) {
  model.eval();
  NoGradGuard no_grad;
  int64_t correct = 0;
  const int64_t n = x.size(0);
  for (int64_t s = 0; s < n; s += 1000) {
    const int64_t len = std::min<int64_t>(1000, n - s);
    correct += int64_t(sum(eq(argmax(model.forward(x.narrow(0, s, len)), 1), y.narrow(0, s, len))).item());
  }
  model.train(true);
  return n > 0 ? double(correct) / double(n) : 0.0;
}

class FmnistTrainable final : public hpo::Trainable {
 public:
  bool deterministic() const override { return true; }  // seeded: a configuration always scores the same
  explicit FmnistTrainable(TuneConfig c) : cfg_(std::move(c)) {
    EMBER_CHECK(cfg_.train_limit >= 0, "tune fmnist: --train-limit must be >= 0 (got {})", cfg_.train_limit);
    EMBER_CHECK(cfg_.val_size >= 1, "tune fmnist: --val-size must be >= 1 (got {})", cfg_.val_size);
    data::FashionMnist train(data::Split::train, cfg_.data_dir);
    EMBER_CHECK(cfg_.val_size < train.size(), "tune fmnist: the validation split must hold 1..{} images (got {})",
                train.size() - 1, cfg_.val_size);
    const int64_t n_train = train.size() - cfg_.val_size;
    const int64_t used = cfg_.train_limit > 0 ? std::min(cfg_.train_limit, n_train) : n_train;
    train_ = std::make_shared<data::TensorDataset>(train.images().narrow(0, 0, used), train.labels().narrow(0, 0, used));
    val_x_ = train.images().narrow(0, n_train, cfg_.val_size);
    val_y_ = train.labels().narrow(0, n_train, cfg_.val_size);
  }

  std::string name() const override { return "fmnist"; }
  std::string metric() const override { return "val_accuracy"; }
  hpo::Direction direction() const override { return hpo::Direction::kMaximize; }
  std::string describe() const override {
    return fmt::format("Fashion-MNIST CNN (w2 / vgg families, < 1M parameters), {} training images, {} validation images (fixed split)",
                       train_->size(), val_x_.size(0));
  }

  hpo::Space space() const override {
    hpo::Space s;
    s.add_categorical("arch", {"w2", "vgg"})
        .add_float("lr", 3e-4, 1e-2, {.log = true})
        .add_float("weight_decay", 1e-5, 0.3, {.log = true})
        .add_categorical("batch", {"32", "64", "128", "256"})
        .add_int("width", 16, 48, {.step = 8})
        .add_float("dropout", 0.0, 0.5)
        .add_categorical("augment", {"none", "flip", "crop", "flip+crop"})
        .add_categorical("schedule", {"cosine", "constant"});
    return s;
  }

  hpo::RunResult run(hpo::Trial& trial, const hpo::RunContext& ctx) override {
    const hpo::Space sp = space();
    const auto v = sp.suggest_all(trial);  // internal values: categoricals are choice indices
    auto choice = [&](const char* n) { return sp.find(n)->dist.choices.at(size_t(v.at(n))); };
    const double lr = v.at("lr"), wd = v.at("weight_decay"), dropout = v.at("dropout");
    const int64_t batch = std::stoll(choice("batch")), width = int64_t(v.at("width"));
    const std::string aug = choice("augment"), schedule = choice("schedule"), arch = choice("arch");

    data::Compose augment;
    if (aug.find("crop") != std::string::npos) augment.stages.push_back(data::RandomCrop{.size = 28, .padding = 2});
    if (aug.find("flip") != std::string::npos) augment.stages.push_back(data::RandomHorizontalFlip{.p = 0.5});
    data::DataLoader loader(train_, {.batch_size = batch, .shuffle = true, .seed = cfg_.seed,
                                     .transform = augment.stages.empty() ? data::Transform{} : augment});
    // The trial's own stream: parallel trials (--jobs) do not interleave draws.
    Generator gen(cfg_.seed);
    GeneratorScope gen_scope(gen);
    auto model = make_tuned_cnn(arch, width, dropout);
    nn::AdamW opt(model->parameters(), {.lr = lr, .weight_decay = wd});
    const int64_t total = ctx.max_resource * loader.size();
    std::optional<nn::CosineWithWarmup> sched;
    if (schedule == "cosine")
      sched.emplace(opt, nn::CosineWithWarmupOptions{.warmup_steps = std::min<int64_t>(total / 50, total - 1),
                                                     .total_steps = total, .start_factor = 0.1});
    hpo::RunResult r;
    for (int64_t epoch = 1; epoch <= ctx.max_resource; ++epoch) {
      loader.set_epoch(epoch - 1);
      for (data::Batch& b : loader) {
        opt.zero_grad();
        Tensor loss = cross_entropy(model->forward(b.input), b.target);
        const double l = loss.item();
        // A diverged configuration is a failed trial with a clear reason, not a NaN model.
        EMBER_CHECK(std::isfinite(l), "tune fmnist: the loss is {} in epoch {} (lr {:.3g})", l, epoch, lr);
        loss.backward();
        opt.step();
        if (sched) sched->step();
      }
      r.value = accuracy(*model, val_x_, val_y_);
      r.resource = epoch;
      hpo::report_epoch(trial, ctx, epoch, r.value);
    }
    // The test split, once, for the best configuration: now if the tuner asked, else through the
    // kept model if this trial turns out best.
    auto test = [model, cfg = cfg_] {
      data::FashionMnist split(data::Split::test, cfg.data_dir);
      const int64_t n = cfg.test_limit > 0 ? std::min(cfg.test_limit, split.size()) : split.size();
      return accuracy(*model, split.images().narrow(0, 0, n), split.labels().narrow(0, 0, n));
    };
    if (ctx.measure_test) r.test = test();
    else r.measure_test = test;
    return r;
  }

 private:
  TuneConfig cfg_;
  std::shared_ptr<const data::TensorDataset> train_;
  Tensor val_x_, val_y_;
};

}  // namespace

std::shared_ptr<nn::Sequential> make_tuned_cnn(const std::string& arch, int64_t w, double dropout) {
  using namespace nn;
  if (arch == "w2")
    return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
        std::make_shared<Conv2d>(1, w, 3, ConvOptions{.padding = 1}), std::make_shared<ReLU>(),
        std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(w, 2 * w, 3, ConvOptions{.padding = 1}),
        std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
        std::make_shared<Dropout>(dropout), std::make_shared<Linear>(2 * w * 49, 4 * w), std::make_shared<ReLU>(),
        std::make_shared<Dropout>(dropout), std::make_shared<Linear>(4 * w, 10)});
  EMBER_CHECK(arch == "vgg", "tune fmnist: unknown arch '{}'", arch);
  auto seq = std::make_shared<Sequential>();
  auto conv_bn = [&](int64_t cin, int64_t cout) {
    // No conv bias: the BatchNorm's shift takes its place.
    seq->push_back(std::make_shared<Conv2d>(cin, cout, 3, ConvOptions{.padding = 1, .bias = false}));
    seq->push_back(std::make_shared<BatchNorm2d>(cout));
    seq->push_back(std::make_shared<ReLU>());
  };
  conv_bn(1, w), conv_bn(w, w), seq->push_back(std::make_shared<MaxPool2d>(2));
  conv_bn(w, 2 * w), conv_bn(2 * w, 2 * w), seq->push_back(std::make_shared<MaxPool2d>(2));
  seq->push_back(std::make_shared<Flatten>());
  seq->push_back(std::make_shared<Dropout>(dropout));
  seq->push_back(std::make_shared<Linear>(2 * w * 49, 2 * w));
  seq->push_back(std::make_shared<ReLU>());
  seq->push_back(std::make_shared<Dropout>(dropout));
  seq->push_back(std::make_shared<Linear>(2 * w, 10));
  return seq;
}

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config) {
  return std::make_unique<FmnistTrainable>(config);
}

}  // namespace ember::zoo::fmnist
