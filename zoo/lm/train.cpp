// `ember train lm`: AdamW with linear warm-up and cosine decay, gradient clipping and
// accumulation, random windows of the training split (chosen by (seed, micro-batch index), so a
// resumed run draws the same batches), periodic validation with a sample, checkpoints that
// resume bit for bit, metrics.jsonl and curves.png.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "dist/ddp.h"
#include "dist/init.h"
#include "autograd/grad_mode.h"
#include "report/gnuplot.h"
#include "tensor/generator.h"
#include "nn/optim/adam.h"
#include "nn/optim/clip_grad.h"
#include "nn/optim/scheduler.h"
#include "nn/safetensors.h"
#include "zoo/common/progress.h"
#include "zoo/lm/lm.h"

namespace ember::zoo::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kStateFile = "train_state.safetensors";
constexpr const char* kRawWeightsFile = "train_weights.safetensors";  // --ema: the weights being trained

uint64_t mix(uint64_t s, uint64_t k) {
  uint64_t z = s + (k + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct TokenNoise {
  double p = 0;
  std::vector<double> cdf;
};

// Micro-batch `index`: B windows of T+1 tokens at offsets mix(seed, index * B + b) mod (n - T); a
// rank of a distributed run builds only its windows b in [first, first + count). Noise draws are
// keyed by (seed, window, position), so every rank count and --resume see the same inputs.
std::pair<Tensor, Tensor> make_batch(const Tokens& text, int64_t B, int64_t T, uint64_t seed,
                                     int64_t index, int64_t first = 0, int64_t count = -1,
                                     const TokenNoise* noise = nullptr) {
  const auto span = static_cast<uint64_t>(static_cast<int64_t>(text.size()) - T);
  if (count < 0) count = B;
  std::vector<int64_t> in(static_cast<size_t>(count * T)), tgt(static_cast<size_t>(count * T));
  for (int64_t b = 0; b < count; ++b) {
    const auto s = static_cast<size_t>(mix(seed ^ 0x6c6du, static_cast<uint64_t>(index * B + first + b)) % span);
    for (int64_t t = 0; t < T; ++t) {
      in[static_cast<size_t>(b * T + t)] = text[s + static_cast<size_t>(t)];
      tgt[static_cast<size_t>(b * T + t)] = text[s + static_cast<size_t>(t) + 1];
    }
  }
  if (noise != nullptr && noise->p > 0)
    apply_token_noise(in, noise->cdf, noise->p, seed, static_cast<uint64_t>(index * B + first) * static_cast<uint64_t>(T));
  return {Tensor::from_vector(in, {count, T}, {.dtype = DType::i64}),
          Tensor::from_vector(tgt, {count * T}, {.dtype = DType::i64})};
}

json point_json(const EvalPoint& p) {
  json j = {{"step", p.step},       {"tokens", p.tokens}, {"train_loss", p.train_loss}, {"train_bpc", p.train_bpc},
            {"val_bpc", p.val_bpc}, {"lr", p.lr},         {"seconds", p.seconds},       {"tokens_per_second", p.tokens_per_second}};
  if (p.raw_val_bpc) j["raw_val_bpc"] = *p.raw_val_bpc;
  return j;
}

EvalPoint point_from_json(const json& j) {
  EvalPoint p{j.at("step").get<int64_t>(),       j.at("tokens").get<int64_t>(),  j.at("train_loss").get<double>(),
              j.at("train_bpc").get<double>(),   j.at("val_bpc").get<double>(),  j.at("lr").get<double>(),
              j.at("seconds").get<double>(),     j.at("tokens_per_second").get<double>(), std::nullopt};
  if (j.contains("raw_val_bpc")) p.raw_val_bpc = j.at("raw_val_bpc").get<double>();
  return p;
}

void write_metrics(const fs::path& out, const TrainResult& r) {
  std::string lines;
  for (const auto& p : r.history) lines += point_json(p).dump() + "\n";
  if (r.test_bpc) lines += json{{"final", true}, {"val_bpc", *r.val_bpc}, {"test_bpc", *r.test_bpc},
                                {"seconds", r.seconds}}.dump() + "\n";
  data::write_file_atomic((out / "metrics.jsonl").string(), {lines.begin(), lines.end()});
}

void plot_curves(const fs::path& out, const std::vector<EvalPoint>& history) {
  std::string rows;
  bool raw = false;  // --ema: the trained weights' val bpc beside the average's
  for (const auto& p : history) {
    rows += fmt::format("{} {:.5f} {:.5f} {:.3f} {:.5f}\n", p.step, p.train_bpc, p.val_bpc, p.seconds / 60,
                        p.raw_val_bpc.value_or(p.val_bpc));
    raw = raw || p.raw_val_bpc.has_value();
  }
  const std::string val_title = raw ? "val bpc (weight average)" : "val bpc";
  const std::string raw_plot = raw ? ", '' using 1:5 with linespoints lw 1 dt 2 title 'val bpc (trained weights)'" : "";
  const std::string script =
      "set terminal pngcairo size 1000,420\nset output 'out.png'\nset multiplot layout 1,2 title 'lm training'\n"
      "set grid\nset key top right\nset ylabel 'bits per byte'\nset xlabel 'step'\n"
      "plot 'curves.dat' using 1:2 with linespoints lw 2 title 'train bpc', '' using 1:3 with linespoints lw 2 title '" +
      val_title + "'" + raw_plot + "\nset xlabel 'wall minutes'\n" +
      "plot 'curves.dat' using 4:3 with linespoints lw 2 lc rgb '#2a9d3a' title '" + val_title + "'\nunset multiplot\n";
  report::run_gnuplot(script, {{"curves.dat", rows}}, (out / "curves.png").string());
}

}  // namespace

std::vector<double> unigram_cdf(const Tokens& text, int64_t vocab) {
  EMBER_CHECK(!text.empty() && vocab > 0, "unigram_cdf: an empty text or vocabulary");
  std::vector<double> cdf(static_cast<size_t>(vocab), 0.0);
  for (Token t : text) {
    EMBER_CHECK(t >= 0 && t < vocab, "unigram_cdf: token {} is outside the vocabulary of {}", t, vocab);
    cdf[static_cast<size_t>(t)] += 1;
  }
  double sum = 0;
  for (double& c : cdf) c = sum += c;
  for (double& c : cdf) c /= sum;
  return cdf;
}

void apply_token_noise(std::vector<int64_t>& tokens, const std::vector<double>& cdf, double p, uint64_t seed,
                       uint64_t key) {
  if (p <= 0) return;
  auto unit = [](uint64_t h) { return static_cast<double>(h >> 11) * 0x1.0p-53; };  // [0, 1)
  for (size_t i = 0; i < tokens.size(); ++i) {
    const uint64_t h = mix(seed ^ 0x6e6f697365ull, key + i);
    if (unit(h) >= p) continue;
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), unit(mix(h, 1)));
    tokens[i] = std::min<int64_t>(it - cdf.begin(), static_cast<int64_t>(cdf.size()) - 1);
  }
}

namespace {

std::string printable(const std::vector<uint8_t>& v) {
  std::string s;
  for (uint8_t c : v) s += (c == '\n') ? std::string("\n    ") : (c >= 32 && c < 127 ? std::string(1, char(c)) : "?");
  return s;
}

}  // namespace

TrainResult train(const TrainConfig& c, dist::CommunicatorPtr comm) {
  EMBER_CHECK(c.steps >= 1 && c.batch >= 1 && c.accum >= 1 && c.ctx >= 2,
              "train lm: --steps, --batch and --accum must be >= 1 and --ctx >= 2");
  EMBER_CHECK(c.lr > 0 && std::isfinite(c.lr), "train lm: --lr must be positive, got {}", c.lr);
  EMBER_CHECK(c.warmup >= 0 && c.warmup < c.steps, "train lm: --warmup must be in [0, steps), got {}", c.warmup);
  EMBER_CHECK(c.grad_clip >= 0, "train lm: --grad-clip must be >= 0 (0: off), got {}", c.grad_clip);
  EMBER_CHECK(c.eval_every >= 1, "train lm: --eval-every must be >= 1");
  LmConfig mc = preset(c.preset);
  mc.max_position_embeddings = c.ctx;
  if (c.tie_embeddings) mc.tie_word_embeddings = *c.tie_embeddings;
  if (c.rope_theta) mc.rope_theta = *c.rope_theta;
  if (c.hidden) mc.hidden_size = *c.hidden;
  if (c.layers) mc.num_hidden_layers = *c.layers;
  if (c.heads) mc.num_attention_heads = *c.heads;
  if (c.kv_heads) mc.num_key_value_heads = *c.kv_heads;
  if (c.ffn) mc.intermediate_size = *c.ffn;
  EMBER_CHECK(c.tokenizer == "bytes" || c.tokenizer == "bpe", "train lm: --tokenizer must be bytes or bpe, got '{}'",
              c.tokenizer);
  EMBER_CHECK(c.tokenizer == "bytes" || (c.vocab >= 257 && c.vocab <= 65536),
              "train lm: --vocab must be in [257, 65536] for a BPE tokenizer, got {}", c.vocab);
  EMBER_CHECK(c.dropout >= 0 && c.dropout < 1, "train lm: --dropout must be in [0, 1), got {}", c.dropout);
  EMBER_CHECK(c.ema >= 0 && c.ema < 1, "train lm: --ema must be in [0, 1) (0: off), got {}", c.ema);
  EMBER_CHECK(c.token_noise >= 0 && c.token_noise < 1, "train lm: --token-noise must be in [0, 1), got {}",
              c.token_noise);
  if (c.threads > 0) set_num_threads(c.threads);
  const Corpus corpus = load_corpus(c.data_file);
  // The tokenizer is learned on the training split alone (deterministic, so every rank and every
  // --resume learns the same one).
  const auto tok_t0 = std::chrono::steady_clock::now();
  const Tokenizer tok = c.tokenizer == "bpe" ? Tokenizer::train_bpe(as_text(corpus.train), c.vocab) : Tokenizer();
  const Tokens train_tokens = tok.encode(as_text(corpus.train));
  const double tok_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tok_t0).count();
  mc.vocab_size = tok.vocab_size();
  mc.validate("train lm");
  const double bytes_per_token = static_cast<double>(corpus.train.size()) / static_cast<double>(train_tokens.size());
  EMBER_CHECK(static_cast<int64_t>(train_tokens.size()) > c.ctx + 1, "train lm: the training split ({} tokens) is "
              "shorter than the context {}", train_tokens.size(), c.ctx);
  // --distributed: this process is one rank of `ember launch`; the ranks split each micro-batch.
  if (c.distributed && !comm) {
    const auto env = dist::env_from_environment();
    EMBER_CHECK(env, "train lm --distributed: RANK/WORLD_SIZE are not set (run under `ember launch`)");
    comm = dist::init_process_group(*env);
  }
  const int world = comm ? comm->world_size() : 1, rank = comm ? comm->rank() : 0;
  const bool main_rank = rank == 0;  // evaluates, prints, writes the run folder
  EMBER_CHECK(c.batch % world == 0, "train lm --distributed: --batch {} must be a multiple of the world size {}",
              c.batch, world);
  const int64_t local_batch = c.batch / world;
  const fs::path out(c.out);
  if (main_rank) fs::create_directories(out);
  // What shapes the trajectory; --resume checks it.
  json run_cfg = {{"config", json::parse(config_to_json(mc))}, {"steps", c.steps}, {"batch", c.batch},
                  {"accum", c.accum}, {"lr", c.lr}, {"min_lr_ratio", c.min_lr_ratio}, {"warmup", c.warmup},
                  {"weight_decay", c.weight_decay}, {"grad_clip", c.grad_clip}, {"seed", c.seed},
                  {"data", corpus.source}, {"train_bytes", corpus.train.size()}};
  if (!tok.is_bytes()) run_cfg["tokenizer"] = {{"type", tok.name()}, {"vocab", tok.vocab_size()}};
  if (c.dropout > 0) run_cfg["dropout"] = c.dropout;
  if (c.ema > 0) run_cfg["ema"] = c.ema;
  if (c.token_noise > 0) run_cfg["token_noise"] = c.token_noise;
  const TokenNoise noise{.p = c.token_noise,
                         .cdf = c.token_noise > 0 ? unigram_cdf(train_tokens, mc.vocab_size) : std::vector<double>{}};

  std::shared_ptr<LlamaLM> model;
  {
    // Ranks that are threads of one process (the tests) share the default generator: one at a time.
    static std::mutex init_mu;
    std::lock_guard lock(init_mu);
    manual_seed(c.seed);
    model = make_model(mc);
  }
  model->set_dropout(c.dropout);
  // Decay matrices only (norm gains stay free); betas (0.9, 0.95) as in the Llama recipe.
  std::vector<Tensor> decay, no_decay;
  for (auto& [name, p] : model->named_parameters()) (p.dim() >= 2 ? decay : no_decay).push_back(p);
  nn::AdamW opt({nn::ParamGroup{.params = decay, .weight_decay = c.weight_decay},
                 nn::ParamGroup{.params = no_decay, .weight_decay = 0.0}},
                {.lr = c.lr, .beta2 = 0.95});
  nn::CosineWithWarmup sched(opt, {.warmup_steps = c.warmup, .total_steps = c.steps, .start_factor = 0.0,
                                   .min_lr = c.lr * c.min_lr_ratio});

  // --ema: the averaged weights, one per parameter (as `params`, listed once: loading a state dict
  // copies into the same tensors); swap_ema() exchanges them with the model's, so evaluation and
  // saving see the average.
  const auto params = model->named_parameters();
  std::vector<Tensor> ema_weights;
  bool model_holds_average = false;
  auto swap_ema = [&] {
    model_holds_average = !model_holds_average;
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor raw = params[i].second.detach().clone();
      params[i].second.detach().copy_(ema_weights[i]);
      ema_weights[i] = raw;
    }
  };
  auto copy_weights = [&] {
    for (const auto& [name, p] : params) ema_weights.push_back(p.detach().clone());
  };

  TrainResult result;
  result.out = c.out;
  int64_t start = 0;
  double prior_seconds = 0;
  const fs::path state = out / kStateFile;
  if (c.resume && fs::exists(state) && fs::exists(out / "model.safetensors")) {
    Loaded saved = load_pretrained(c.out);
    std::map<std::string, std::string> meta = opt.load(state.string());
    const json saved_cfg = json::parse(meta.at("lm.run"));
    EMBER_CHECK(saved_cfg == run_cfg, "train lm --resume: {} was written by a run with {}, not {}", state.string(),
                saved_cfg.dump(), run_cfg.dump());
    start = std::stoll(meta.at("lm.step"));
    EMBER_CHECK(saved.metadata.count("lm.step") && std::stoll(saved.metadata.at("lm.step")) == start,
                "train lm --resume: the weights and {} are from different steps", state.string());
    model->load_state_dict(saved.model->state_dict());
    if (c.ema > 0) {  // model.safetensors holds the average; the trained weights are beside it
      const fs::path raw = out / kRawWeightsFile;
      EMBER_CHECK(fs::exists(raw), "train lm --resume: {} is missing (a run with --ema keeps its weights there)",
                  raw.string());
      nn::TensorDict w = nn::load_safetensors(raw.string());
      EMBER_CHECK(w.metadata.count("lm.step") && std::stoll(w.metadata.at("lm.step")) == start,
                  "train lm --resume: {} and {} are from different steps", raw.string(), state.string());
      copy_weights();
      model->load_state_dict(w.tensors);
    }
    sched.load_state_dict(meta);
    prior_seconds = std::stod(meta.at("lm.seconds"));
    for (const auto& j : json::parse(meta.at("lm.history"))) result.history.push_back(point_from_json(j));
    if (main_rank) fmt::print("resuming from step {}/{} ({})\n", start, c.steps, c.out);
    else result.history.clear();  // rank 0 alone reports
  } else if (c.resume && main_rank) {
    fmt::print("no checkpoint in {}; starting a new run\n", c.out);
  }
  if (c.ema > 0 && ema_weights.empty()) copy_weights();
  // Every rank starts from rank 0's weights (after a resume too); gradients are averaged per step.
  std::optional<dist::DistributedDataParallel> ddp;
  if (comm) ddp.emplace(model, comm);

  const int64_t tokens_per_step = c.batch * c.accum * c.ctx;
  if (main_rank)
    fmt::print("lm {}: {} parameters (d {}, {} layers, {} q / {} kv heads, ffn {}, ctx {}, {} embeddings); {}: {} train "
             "/ {} val / {} test bytes; {} steps of {} tokens (batch {} x accum {}), lr {} warm-up {}, {} threads\n",
             c.preset, model->num_parameters(), mc.hidden_size, mc.num_hidden_layers, mc.num_attention_heads,
             mc.num_key_value_heads, mc.intermediate_size, mc.max_position_embeddings,
             mc.tie_word_embeddings ? "tied" : "untied", corpus.source, corpus.train.size(), corpus.val.size(),
             corpus.test.size(), c.steps, tokens_per_step, c.batch, c.accum, c.lr, c.warmup, get_num_threads());
  if (main_rank && !tok.is_bytes())
    fmt::print("tokenizer: BPE with {} tokens learned on the training split: {} tokens, {:.3f} bytes per token ({:.1f} s)\n",
               tok.vocab_size(), train_tokens.size(), bytes_per_token, tok_seconds);
  if (main_rank && c.dropout > 0) fmt::print("dropout {} on the embeddings and residual branches\n", c.dropout);
  if (main_rank && c.token_noise > 0)
    fmt::print("token noise: {} of the input tokens replaced by unigram draws\n", c.token_noise);
  if (main_rank && c.ema > 0)
    fmt::print("weights averaged with decay {} per step (EMA); val bpc and the checkpoint use the average\n", c.ema);
  if (comm && main_rank)
    fmt::print("distributed: {} ranks ({}), {} of each micro-batch's {} sequences per rank\n", world, comm->backend(),
               local_batch, c.batch);

  auto save = [&](int64_t step, double seconds) {
    json hist = json::array();
    for (const auto& p : result.history) hist.push_back(point_json(p));
    std::map<std::string, std::string> meta = sched.state_dict();
    meta["lm.step"] = std::to_string(step);
    meta["lm.run"] = run_cfg.dump();
    meta["lm.history"] = hist.dump();
    meta["lm.seconds"] = fmt::format("{:.17g}", seconds);
    opt.save(state.string(), meta);
    if (c.ema > 0) {  // called with the average swapped in: the trained weights are in ema_weights
      std::vector<std::pair<std::string, Tensor>> raw;
      for (size_t i = 0; i < params.size(); ++i) raw.emplace_back(params[i].first, ema_weights[i]);
      nn::save_safetensors((out / kRawWeightsFile).string(), raw, {{"lm.step", std::to_string(step)}});
    }
    save_pretrained(*model, c.out, {{"ember.model", "lm"}, {"lm.step", std::to_string(step)}});
    tok.save(c.out);
  };

  double loss_sum = 0;
  int64_t loss_count = 0, run_steps = 0;
  double seconds = prior_seconds;
  Progress progress("train", c.steps - start, c.batch * c.accum, c.progress && main_rank);
  auto t_last = std::chrono::steady_clock::now();
  for (int64_t step = start; step < c.steps; ++step) {
    if (c.stop_after > 0 && run_steps == c.stop_after) {
      progress.finish();
      if (main_rank) fmt::print("stopping after {} step(s) as asked; continue with --resume\n", run_steps);
      result.seconds = seconds;
      return result;
    }
    opt.zero_grad();
    double step_loss = 0;
    for (int64_t a = 0; a < c.accum; ++a) {
      auto [in, tgt] = make_batch(train_tokens, c.batch, c.ctx, c.seed, step * c.accum + a, rank * local_batch,
                                  local_batch, &noise);
      // Dropout masks from (seed, micro-batch, rank), so --resume replays them.
      Generator drop_gen(mix(c.seed ^ 0x64726f70u, static_cast<uint64_t>((step * c.accum + a) * world + rank)));
      GeneratorScope drop_scope(drop_gen);
      Tensor logits = model->forward(in);
      Tensor loss = cross_entropy(logits.reshape({local_batch * c.ctx, mc.vocab_size}), tgt);
      std::optional<dist::DistributedDataParallel::NoSync> local;  // all but the last micro-batch
      if (ddp && a + 1 < c.accum) local.emplace(ddp->no_sync());
      (c.accum > 1 ? loss / static_cast<double>(c.accum) : loss).backward();
      step_loss += loss.item() / static_cast<double>(c.accum);
    }
    if (ddp) {
      ddp->sync_gradients();
      step_loss = comm->allreduce(step_loss, dist::ReduceOp::avg);
    }
    if (c.grad_clip > 0) nn::clip_grad_norm_(opt.params(), c.grad_clip);
    opt.step();
    sched.step();
    if (c.ema > 0) {
      const double t = static_cast<double>(step + 1);
      const double d = std::min(c.ema, (1 + t) / (10 + t));
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) ema_weights[i].mul_(d).add_(params[i].second.detach(), 1 - d);
    }
    ++run_steps;
    loss_sum += step_loss;
    ++loss_count;
    const auto now = std::chrono::steady_clock::now();
    seconds += std::chrono::duration<double>(now - t_last).count();
    t_last = now;
    const double run_tps = static_cast<double>(run_steps * tokens_per_step) / std::max(1e-9, progress.seconds());
    progress.update(step - start + 1, fmt::format("loss {:.4f} bpc {:.3f} | {:.0f} tok/s", step_loss,
                                                  step_loss / std::log(2.0) / bytes_per_token, run_tps));
    if ((step + 1) % c.eval_every != 0 && step + 1 != c.steps) continue;

    progress.finish();
    if (!main_rank) {  // rank 0 alone evaluates and saves; the others go on training
      loss_sum = 0;
      loss_count = 0;
      continue;
    }
    EvalPoint p;
    p.step = step + 1;
    p.tokens = p.step * tokens_per_step;
    p.train_loss = loss_sum / static_cast<double>(loss_count);
    p.train_bpc = p.train_loss / std::log(2.0) / bytes_per_token;  // per byte of the training split
    p.lr = opt.lr();
    p.seconds = seconds;
    p.tokens_per_second = run_tps;
    if (c.ema > 0) {
      p.raw_val_bpc = evaluate(*model, tok, corpus.val, c.eval_bytes).bpc;
      swap_ema();  // the average from here to the end of this evaluation
    }
    p.val_bpc = evaluate(*model, tok, corpus.val, c.eval_bytes).bpc;
    result.history.push_back(p);
    loss_sum = 0;
    loss_count = 0;
    fmt::print("step {}/{}: train bpc {:.4f} | val bpc {:.4f}{}{} | lr {:.2e} | {:.0f} tok/s | {} elapsed\n", p.step,
               c.steps, p.train_bpc, p.val_bpc, p.raw_val_bpc ? fmt::format(" (raw weights {:.4f})", *p.raw_val_bpc) : "",
               c.eval_bytes > 0 ? fmt::format(" (first {} bytes)", c.eval_bytes) : "", p.lr, p.tokens_per_second,
               format_duration(seconds));
    if (c.sample_tokens > 0) {
      Tokens prompt = tok.encode("And");
      GenerateResult g = generate(*model, prompt, {.tokens = c.sample_tokens, .sample = {.seed = c.seed}});
      prompt.insert(prompt.end(), g.tokens.begin(), g.tokens.end());
      const std::string all = tok.decode(prompt);
      fmt::print("  sample: {}\n", printable({all.begin(), all.end()}));
    }
    std::fflush(stdout);  // a log file sees each evaluation as it happens
    save(p.step, seconds);
    write_metrics(out, result);
    if (c.plots) plot_curves(out, result.history);
    if (c.ema > 0 && step + 1 != c.steps) swap_ema();  // back to the trained weights (the last step keeps the average)
    t_last = std::chrono::steady_clock::now();  // evaluation is not training time
  }
  progress.finish();
  result.seconds = seconds;
  if (c.ema > 0 && !model_holds_average) swap_ema();  // e.g. --resume of a finished run: score the average
  if (c.final_test && main_rank) {
    result.val_bpc = evaluate(*model, tok, corpus.val).bpc;
    result.test_bpc = evaluate(*model, tok, corpus.test).bpc;
    fmt::print("final: val bpc {:.4f}, test bpc {:.4f} (whole splits, sliding window {} tokens), training time {}\n",
               *result.val_bpc, *result.test_bpc, c.ctx, format_duration(result.seconds));
    write_metrics(out, result);
  }
  return result;
}

}  // namespace ember::zoo::lm
