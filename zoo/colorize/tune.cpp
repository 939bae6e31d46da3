// The colorization Trainable (see tune.h): splits, one trial's training loop, L1 scores.
#include "zoo/colorize/tune.h"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "hpo/rng.h"
#include "nn/optim/adam.h"
#include "tensor/error.h"
#include "zoo/colorize/colorize.h"

namespace ember::zoo::colorize {

namespace {

OpenMoji head(const OpenMoji& s, int64_t limit) {
  const int64_t n = int64_t(s.names.size());
  if (limit <= 0 || limit >= n) return s;
  std::vector<int64_t> rows(static_cast<size_t>(limit));
  std::iota(rows.begin(), rows.end(), 0);
  return select_rows(s, rows);
}

class ColorizeTrainable final : public hpo::Trainable {
 public:
  bool deterministic() const override { return true; }  // seeded: a configuration always scores the same
  explicit ColorizeTrainable(TuneConfig c) : cfg_(std::move(c)) {
    EMBER_CHECK(cfg_.train_limit >= 0 && cfg_.val_limit >= 0, "tune colorize: limits must be >= 0");
    const OpenMoji all = load_openmoji(cfg_.data_root, cfg_.size);
    train_ = head(select_split(all, Split::train), cfg_.train_limit);
    val_ = head(select_split(all, Split::val), cfg_.val_limit);
    test_ = select_split(all, Split::test);
  }
  std::string name() const override { return "colorize"; }
  std::string metric() const override { return "val_l1"; }
  hpo::Direction direction() const override { return hpo::Direction::kMinimize; }
  std::string describe() const override {
    return fmt::format("OpenMoji {}px U-Net colorization, {} train / {} validation pairs (L1 without hints)",
                       cfg_.size, train_.names.size(), val_.names.size());
  }
  hpo::Space space() const override {
    hpo::Space s;
    s.add_float("lr", 3e-4, 1e-2, {.log = true})
        .add_categorical("width", {"8", "16", "24"})
        .add_categorical("loss", {"l1", "l1+ssim"})
        .add_categorical("hints", {"none", "random"});
    return s;
  }

  hpo::RunResult run(hpo::Trial& trial, const hpo::RunContext& ctx) override {
    const hpo::Space sp = space();
    const auto v = sp.suggest_all(trial);
    auto choice = [&](const char* n) { return sp.find(n)->dist.choices.at(size_t(v.at(n))); };
    const bool hints = choice("hints") == "random", ssim = choice("loss") == "l1+ssim";
    // The trial's own stream: parallel trials (--jobs) do not interleave draws.
    Generator gen(cfg_.seed);
    GeneratorScope gen_scope(gen);
    UNet model(UNetConfig{.depth = 3, .width = std::stoll(choice("width")), .hints = hints});
    nn::AdamW opt(model.parameters(), {.lr = v.at("lr"), .weight_decay = 1e-2});
    const int64_t n = int64_t(train_.names.size()), batch = 16;
    hpo::RunResult r;
    for (int64_t epoch = 1; epoch <= ctx.max_resource; ++epoch) {
      // The order and the hint counts are keyed by (seed, epoch, row): the same for every trial.
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      hpo::Rng rng(hpo::mix_seed(cfg_.seed, uint64_t(epoch), 0x636f6c));
      for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.below(uint64_t(i) + 1))]);
      for (int64_t s = 0; s < n; s += batch) {
        std::vector<int64_t> rows(order.begin() + s, order.begin() + std::min(n, s + batch));
        std::vector<Augment> aug(rows.size());
        std::vector<int64_t> counts(rows.size(), 0);
        for (size_t i = 0; i < rows.size(); ++i) {
          const uint64_t key = uint64_t(epoch) * 1000003ull + uint64_t(rows[i]);
          aug[i].flip = (hpo::mix_seed(cfg_.seed, key, 1) & 1) != 0;
          if (hints) counts[i] = sample_hint_count(hpo::mix_seed(cfg_.seed, 3), key);
        }
        Batch b = make_batch(train_, rows, hints, aug, counts, hpo::mix_seed(cfg_.seed, 4 + uint64_t(epoch)));
        opt.zero_grad();
        Tensor pred = model.forward(b.input);
        Tensor loss = mean(abs(sub(pred, b.target)));
        if (ssim) loss = add(loss, mul(add(neg(ssim_loss_term(pred, b.target)), 1.0), 0.2));
        EMBER_CHECK(std::isfinite(loss.item()), "tune colorize: the loss diverged in epoch {} (lr {:.3g})", epoch,
                    v.at("lr"));
        loss.backward();
        opt.step();
      }
      r.value = evaluate(model, val_, Tensor(), 0, false).model.l1;
      r.resource = epoch;
      hpo::report_epoch(trial, ctx, epoch, r.value);
    }
    if (ctx.measure_test) r.test = evaluate(model, test_, Tensor(), 0, false).model.l1;
    return r;
  }

 private:
  TuneConfig cfg_;
  OpenMoji train_, val_, test_;
};

}  // namespace

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config) {
  return std::make_unique<ColorizeTrainable>(config);
}

}  // namespace ember::zoo::colorize
