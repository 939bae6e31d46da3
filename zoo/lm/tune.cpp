// The LM Trainable (see tune.h): model family, batches of random windows, one trial's training.
#include "zoo/lm/tune.h"

#include <cmath>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "hpo/rng.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/scheduler.h"
#include "tensor/error.h"
#include "zoo/lm/lm.h"
#include "zoo/lm/model.h"

namespace ember::zoo::lm {

namespace {

class LmTrainable final : public hpo::Trainable {
 public:
  bool deterministic() const override { return true; }  // seeded: a configuration always scores the same
  explicit LmTrainable(TuneConfig c) : cfg_(std::move(c)) {
    EMBER_CHECK(cfg_.steps >= 1, "tune lm: --steps must be >= 1 (got {})", cfg_.steps);
    EMBER_CHECK(cfg_.val_bytes >= 0 && cfg_.test_bytes >= 0, "tune lm: byte limits must be >= 0");
    corpus_ = load_corpus(cfg_.data_file);
    EMBER_CHECK(corpus_.train.size() > 1024 && corpus_.val.size() > 256,
                "tune lm: {} is too small ({} train / {} validation bytes)", corpus_.source, corpus_.train.size(),
                corpus_.val.size());
  }

  std::string name() const override { return "lm"; }
  std::string metric() const override { return "val_bpc"; }
  hpo::Direction direction() const override { return hpo::Direction::kMinimize; }
  std::string describe() const override {
    return fmt::format("Llama LM (byte or BPE tokens) on {} ({} train / {} val bytes), {} steps per report", corpus_.source,
                       corpus_.train.size(), corpus_.val.size(), cfg_.steps);
  }
  hpo::Space space() const override {
    hpo::Space s;
    s.add_float("lr", 3e-4, 1e-2, {.log = true})
        .add_float("warmup", 0.0, 0.2)  // share of all steps
        .add_categorical("width", {"128", "192", "256"})
        .add_int("depth", 2, 4)
        .add_categorical("batch", {"8", "16", "32"})
        .add_categorical("ctx", {"64", "128"})
        .add_categorical("vocab", {"256", "1024"})  // 256: bytes; 1024: BPE learned on the training split
        .add_float("dropout", 0.0, 0.3);
    return s;
  }

  hpo::RunResult run(hpo::Trial& trial, const hpo::RunContext& ctx) override {
    const hpo::Space sp = space();
    const auto v = sp.suggest_all(trial);
    auto choice = [&](const char* n) { return std::stoll(sp.find(n)->dist.choices.at(size_t(v.at(n)))); };
    const int64_t width = choice("width"), B = choice("batch"), T = choice("ctx"), vocab = choice("vocab");
    const auto& [tok, train] = tokens_for(vocab);
    LmConfig mc;
    mc.vocab_size = tok.vocab_size();
    mc.hidden_size = width;
    mc.intermediate_size = (width * 8 / 3 + 15) / 16 * 16;
    mc.num_hidden_layers = int64_t(v.at("depth"));
    mc.num_attention_heads = width / 32;
    mc.num_key_value_heads = 2;
    mc.max_position_embeddings = T;
    mc.validate("tune lm");
    // The trial's own stream: parallel trials (--jobs) do not interleave draws.
    Generator gen(cfg_.seed);
    GeneratorScope gen_scope(gen);
    auto model = std::make_shared<LlamaLM>(mc);
    model->set_dropout(v.at("dropout"));
    nn::AdamW opt(model->parameters(), {.lr = v.at("lr"), .weight_decay = 0.1});
    const int64_t total = ctx.max_resource * cfg_.steps;
    const int64_t warm = std::min<int64_t>(int64_t(v.at("warmup") * double(total)), total - 1);
    nn::CosineWithWarmup sched(opt, {.warmup_steps = warm, .total_steps = total, .min_lr = 0.1 * v.at("lr")});
    EMBER_CHECK(train.size() > size_t(T) + 1, "tune lm: the training split has {} tokens, fewer than ctx {}",
                train.size(), T);
    const auto span = uint64_t(train.size()) - uint64_t(T);
    std::vector<int64_t> in(size_t(B * T)), tgt(size_t(B * T));
    hpo::RunResult r;
    for (int64_t round = 1; round <= ctx.max_resource; ++round) {
      for (int64_t s = 0; s < cfg_.steps; ++s) {
        // Windows keyed by (seed, step): every configuration sees the same data in the same order.
        hpo::Rng rng(hpo::mix_seed(cfg_.seed, uint64_t((round - 1) * cfg_.steps + s), 0x6c6d));
        for (int64_t b = 0; b < B; ++b) {
          const size_t o = size_t(rng.below(span));
          for (int64_t t = 0; t < T; ++t) {
            in[size_t(b * T + t)] = train[o + size_t(t)];
            tgt[size_t(b * T + t)] = train[o + size_t(t) + 1];
          }
        }
        opt.zero_grad();
        Tensor logits = model->forward(Tensor::from_vector(in, {B, T}, {.dtype = DType::i64}));
        Tensor loss = cross_entropy(logits.reshape({B * T, mc.vocab_size}),
                                    Tensor::from_vector(tgt, {B * T}, {.dtype = DType::i64}));
        EMBER_CHECK(std::isfinite(loss.item()), "tune lm: the loss diverged at step {} (lr {:.3g})",
                    (round - 1) * cfg_.steps + s + 1, v.at("lr"));
        loss.backward();
        nn::clip_grad_norm_(opt.params(), 1.0);
        opt.step();
        sched.step();
      }
      r.value = evaluate(*model, tok, corpus_.val, cfg_.val_bytes).bpc;
      r.resource = round;
      hpo::report_epoch(trial, ctx, round, r.value);
    }
    if (ctx.measure_test) r.test = evaluate(*model, tok, corpus_.test, cfg_.test_bytes).bpc;
    return r;
  }

 private:
  // The tokenizer of a vocabulary size and the training split in its tokens, built once (trials
  // may run on several threads).
  const std::pair<Tokenizer, Tokens>& tokens_for(int64_t vocab) {
    std::lock_guard lock(mu_);
    auto it = tokenized_.find(vocab);
    if (it == tokenized_.end()) {
      Tokenizer tok = Tokenizer::train_bpe(as_text(corpus_.train), vocab);  // 256: bytes
      Tokens enc = tok.encode(as_text(corpus_.train));
      it = tokenized_.emplace(vocab, std::make_pair(std::move(tok), std::move(enc))).first;
    }
    return it->second;
  }
  TuneConfig cfg_;
  Corpus corpus_;
  std::mutex mu_;
  std::map<int64_t, std::pair<Tokenizer, Tokens>> tokenized_;
};

}  // namespace

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config) {
  return std::make_unique<LmTrainable>(config);
}

}  // namespace ember::zoo::lm
