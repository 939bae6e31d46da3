// `ember data kjv`, `ember train lm`, `ember eval lm`, `ember generate`, `ember quantize`: the
// Llama-style language model of zoo/lm (byte or BPE tokens).
#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/matmul_precision.h"
#include "zoo/lm/lm.h"
#include "zoo/lm/quant.h"

namespace ember::cli {

namespace {

namespace lm = zoo::lm;

void add_data_kjv(CLI::App& data) {
  auto* cmd = data.add_subcommand("kjv", "write the King James Bible (Debian bible-kjv) as one verse a line, "
                                         "references stripped, to $EMBER_DATA_DIR/kjv/kjv.txt (default ~/.cache/ember)");
  auto out = std::make_shared<std::string>();
  cmd->add_option("-o,--out", *out, "output file (default: " + lm::default_kjv_path() + ")");
  cmd->callback([out] {
    const std::string path = out->empty() ? lm::default_kjv_path() : *out;
    const int64_t n = lm::build_kjv(path);
    fmt::print("wrote {} ({} bytes)\n", path, n);
  });
}

void add_train_lm(CLI::App& train) {
  auto* cmd = train.add_subcommand("lm", "train the Llama-style language model, byte or BPE tokens (KJV by default)");
  auto c = std::make_shared<lm::TrainConfig>();
  auto precision = std::make_shared<std::string>();
  auto tie = std::make_shared<bool>(false);
  cmd->add_option("--preset", c->preset, "model size: tiny, mini, small (W4), medium, large")->capture_default_str();
  cmd->add_flag("--tie-embeddings", *tie, "share the input embedding with the output head");
  cmd->add_option("--rope-theta", c->rope_theta, "RoPE base (default 10000)")->check(CLI::PositiveNumber);
  cmd->add_option("--hidden", c->hidden, "hidden size (overrides the preset's)")->check(CLI::PositiveNumber);
  cmd->add_option("--layers", c->layers, "transformer blocks (overrides the preset's)")->check(CLI::PositiveNumber);
  cmd->add_option("--heads", c->heads, "query heads (overrides the preset's; divides --hidden)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--kv-heads", c->kv_heads, "key/value heads (overrides the preset's; divides --heads)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--ffn", c->ffn, "SwiGLU hidden size (overrides the preset's)")->check(CLI::PositiveNumber);
  cmd->add_option("--tokenizer", c->tokenizer, "bytes, or bpe: a byte-level BPE learned on the training split")
      ->check(CLI::IsMember({"bytes", "bpe"}))->capture_default_str();
  cmd->add_option("--vocab", c->vocab, "BPE vocabulary size (with --tokenizer bpe)")
      ->check(CLI::Range(257, 65536))->capture_default_str();
  cmd->add_option("--dropout", c->dropout, "dropout on the embeddings and residual branches while training")
      ->check(CLI::Range(0.0, 0.95))->capture_default_str();
  cmd->add_option("--ema", c->ema,
                  "keep an exponential moving average of the weights with this decay per step (e.g. 0.999; 0: off); "
                  "validation and the checkpoint use the average")
      ->check(CLI::Range(0.0, 0.999999))->capture_default_str();
  cmd->add_option("--token-noise", c->token_noise,
                  "replace each input token with this probability by a draw from the training split's unigram "
                  "distribution (targets unchanged; a regulariser)")
      ->check(CLI::Range(0.0, 0.95))->capture_default_str();
  cmd->add_option("--steps", c->steps, "optimizer steps")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", c->batch, "sequences per micro-batch")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--ctx", c->ctx, "context length in tokens (max_position_embeddings)")
      ->check(CLI::Range(2, 1 << 16))->capture_default_str();
  cmd->add_option("--accum", c->accum, "micro-batches per optimizer step (gradient accumulation)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", c->lr, "peak AdamW learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--min-lr-ratio", c->min_lr_ratio, "final lr / peak lr of the cosine")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--warmup", c->warmup, "linear warm-up steps")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--weight-decay", c->weight_decay, "AdamW decoupled weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--grad-clip", c->grad_clip, "clip the global gradient norm (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--seed", c->seed, "seed of the weights and the batches")->capture_default_str();
  cmd->add_option("--data", c->data_file, "train on this text file instead of the KJV (split 90/5/5 by lines)");
  cmd->add_option("--out", c->out, "run folder: checkpoint, metrics, curves")->capture_default_str();
  cmd->add_flag("--resume", c->resume, "continue from the checkpoint in --out");
  cmd->add_option("--threads", c->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--eval-every", c->eval_every, "steps between validation, sample and checkpoint")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--eval-bytes", c->eval_bytes, "validation bytes scored at each eval (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--sample-tokens", c->sample_tokens, "tokens generated at each eval")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--stop-after", c->stop_after, "stop after N steps of this run (continue with --resume)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag_function("--no-final-test", [c](int64_t) { c->final_test = false; }, "skip scoring the whole val/test splits at the end");
  cmd->add_flag_function("--no-progress", [c](int64_t) { c->progress = false; }, "no progress line");
  cmd->add_flag_function("--no-plots", [c](int64_t) { c->plots = false; }, "skip curves.png");
  cmd->add_option("--matmul-precision", *precision, "f32 GEMMs: highest, or bf16 operands with f32 sums")
      ->check(CLI::IsMember({"highest", "bf16"}));
  cmd->add_flag("--distributed", c->distributed,
                "run as one rank of `ember launch`: each micro-batch is split over the ranks (Gloo)");
  cmd->callback([c, precision, tie] {
    if (*tie) c->tie_embeddings = true;
    if (precision->empty()) (void)matmul_precision();
    else set_matmul_precision(parse_matmul_precision(*precision));
    lm::TrainResult r = lm::train(*c);
    if (r.test_bpc) fmt::print("checkpoint {}: test bpc {:.4f}\n", r.out, *r.test_bpc);
  });
}

// Inference precision of eval lm / generate: --int8-activations (int8 checkpoints: W8A8, VNNI where
// the CPU has it) and --matmul-precision (bf16: bf16 checkpoints also round the activations, VDPBF16PS).
struct LowPrecision {
  bool int8_activations = false;
  std::string precision;
};

void add_low_precision_options(CLI::App& cmd, LowPrecision& low) {
  cmd.add_flag("--int8-activations", low.int8_activations,
               "int8 checkpoints: quantize the activations per token too (int8 x int8 products, AVX-512 VNNI where "
               "the CPU has it)");
  cmd.add_option("--matmul-precision", low.precision,
                 "highest, or bf16: products round their operands to bf16 (bf16 checkpoints: bf16 x bf16 with "
                 "AVX512-BF16 where the CPU has it)")
      ->check(CLI::IsMember({"highest", "bf16"}));
}

// Applies the options to a loaded model; returns how its products run, e.g. "int8 weights x int8 activations".
std::string apply_low_precision(lm::Loaded& m, const LowPrecision& low) {
  if (low.precision.empty()) (void)matmul_precision();
  else set_matmul_precision(parse_matmul_precision(low.precision));
  if (low.int8_activations) m.model->set_int8_activations(true);
  const bool bf16 = matmul_precision() == MatmulPrecision::bf16;
  const std::string acts = low.int8_activations ? "int8" : bf16 ? "bf16" : "f32";
  return fmt::format("{} weights x {} activations", lm::weight_format_name(m.format), acts);
}

void add_eval_lm(CLI::App& eval) {
  auto* cmd = eval.add_subcommand("lm", "bits per byte of a checkpoint on a whole split (sliding window)");
  struct Args {
    std::string checkpoint, split = "test", data;
    int threads = 0;
    int64_t limit = 0, batch = 16, stride = 0;
    lm::DynamicEvalOptions dynamic;
    LowPrecision low;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint folder (config.json + model.safetensors)")->required();
  add_low_precision_options(*cmd, a->low);
  cmd->add_option("--split", a->split, "val or test")->check(CLI::IsMember({"val", "test", "train"}))->capture_default_str();
  cmd->add_option("--data", a->data, "text file (default: the KJV)");
  cmd->add_option("--limit", a->limit, "score only the first N bytes of the split")->check(CLI::NonNegativeNumber);
  cmd->add_option("--batch", a->batch, "windows per forward")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--stride", a->stride,
                  "tokens the sliding window advances; each token is scored with at least context - stride + 1 "
                  "tokens before it (0: half the context; 1: the whole context, slowest)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--dynamic-lr", a->dynamic.lr,
                  "dynamic evaluation: after scoring each window, one SGD step of this lr on it (0: off; the "
                  "weights on disk are not changed)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dynamic-clip", a->dynamic.grad_clip, "dynamic evaluation: gradient-norm cap per step (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--dynamic-decay", a->dynamic.decay,
                  "dynamic evaluation: pull the weights this fraction back toward the trained ones after each step")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    lm::Loaded m = lm::load_pretrained(a->checkpoint);
    const std::string formats = apply_low_precision(m, a->low);
    const lm::Corpus corpus = lm::load_corpus(a->data);
    const auto& text = a->split == "val" ? corpus.val : a->split == "test" ? corpus.test : corpus.train;
    const auto t0 = std::chrono::steady_clock::now();
    a->dynamic.limit = a->limit;
    a->dynamic.stride = a->stride;
    const bool dynamic = a->dynamic.lr > 0;
    lm::EvalResult r = dynamic ? lm::evaluate_dynamic(*m.model, m.tokenizer, text, a->dynamic)
                               : lm::evaluate(*m.model, m.tokenizer, text, a->limit, a->batch, a->stride);
    if (dynamic)
      fmt::print("dynamic evaluation: SGD lr {} per window, gradient clip {}, decay {}\n", a->dynamic.lr,
                 a->dynamic.grad_clip, a->dynamic.decay);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("lm {}{}: {} bpc {:.4f}, perplexity per token {:.3f} ({} bytes{}, context {}, stride {}, {:.1f} s)\n",
               a->checkpoint, fmt::format(" ({})", formats), a->split, r.bpc, r.perplexity, r.bytes,
               m.tokenizer.is_bytes() ? "" : fmt::format(" in {} bpe tokens", r.tokens),
               m.model->config().max_position_embeddings, r.stride, s);
  });
}

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "generate",
      "sample text from a language-model checkpoint (prefill + KV cache, streamed). When the sequence reaches the "
      "context length the window slides: generation continues from the last half context.");
  struct Args {
    std::string checkpoint, prompt = "And";
    lm::GenerateOptions opt;
    int threads = 0;
    bool no_cache = false;
    LowPrecision low;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint folder (f32, int8 or bf16)")->required();
  add_low_precision_options(*cmd, a->low);
  cmd->add_option("--prompt", a->prompt, "text to continue (at most the context length in tokens)")->capture_default_str();
  cmd->add_option("--tokens", a->opt.tokens, "tokens to generate (bytes for a byte-level model)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--temperature", a->opt.sample.temperature, "softmax temperature")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--top-k", a->opt.sample.top_k, "keep the k most likely bytes (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--top-p", a->opt.sample.top_p, "nucleus: keep the most likely bytes up to this mass")
      ->check(CLI::Range(1e-9, 1.0))->capture_default_str();
  cmd->add_option("--seed", a->opt.sample.seed, "sampling seed")->capture_default_str();
  cmd->add_flag("--greedy", a->opt.sample.greedy, "always take the most likely byte");
  cmd->add_flag("--no-cache", a->no_cache, "recompute the whole sequence for every byte (slow; for comparison)");
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    lm::Loaded m = lm::load_pretrained(a->checkpoint);
    const std::string formats = apply_low_precision(m, a->low);
    a->opt.use_cache = !a->no_cache;
    const lm::Tokens prompt = m.tokenizer.encode(a->prompt);
    std::fwrite(a->prompt.data(), 1, a->prompt.size(), stdout);
    std::fflush(stdout);
    int64_t bytes = 0;
    lm::GenerateResult r = lm::generate(*m.model, prompt, a->opt, [&](lm::Token t) {
      const std::string& piece = m.tokenizer.piece(t);
      bytes += static_cast<int64_t>(piece.size());
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
    fmt::print(stderr, "\n[{} {} tokens ({} bytes) in {:.2f} s: {:.0f} tokens/s, {}{}, {} threads, isa {}]\n",
               r.tokens.size(), m.tokenizer.name(), bytes,
               r.seconds, r.seconds > 0 ? static_cast<double>(r.tokens.size()) / r.seconds : 0.0,
               a->no_cache ? "no cache" : "KV cache", ", " + formats, get_num_threads(),
               cpu::isa_name(cpu::active_isa()));
  });
}

void add_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "write a weight-only int8 or bf16 copy of a language-model checkpoint");
  struct Args {
    std::string checkpoint, out;
    bool int8 = false, bf16 = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "f32 checkpoint folder")->required();
  auto* i8 = cmd->add_flag("--int8", a->int8, "int8 weights with one f32 scale per output channel (4x smaller)");
  auto* b16 = cmd->add_flag("--bf16", a->bf16, "bf16 weights, rounded to nearest even (2x smaller)");
  i8->excludes(b16);
  cmd->add_option("-o,--out", a->out, "output folder")->required();
  cmd->callback([a] {
    if (!a->int8 && !a->bf16) throw CLI::ValidationError("quantize", "give the format: --int8 or --bf16");
    lm::QuantizeReport r = a->int8 ? lm::quantize_int8(a->checkpoint, a->out) : lm::quantize_bf16(a->checkpoint, a->out);
    fmt::print("wrote {}: model.safetensors {:.2f} MB (f32 {:.2f} MB, {:.2f}x smaller); worst row round-trip error "
               "{:.4f} of the row's max |w|\n",
               a->out, r.out_bytes / 1e6, r.f32_bytes / 1e6,
               static_cast<double>(r.f32_bytes) / static_cast<double>(r.out_bytes), r.max_rel_error);
  });
}

}  // namespace

void add_lm_commands(const ZooCommands& zoo) {
  add_data_kjv(*zoo.data);
  add_train_lm(*zoo.train);
  add_eval_lm(*zoo.eval);
  add_generate(*zoo.app);
  add_quantize(*zoo.app);
}

}  // namespace ember::cli
