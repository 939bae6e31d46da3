// zoo/lm: a Llama-style byte-level language model trained on real text (the King James Bible by
// default), its training loop, evaluation in bits per byte (bpc), sampling with a KV cache and
// int8 inference. `ember data kjv`, `ember train lm`, `ember eval lm`, `ember generate` and
// `ember quantize` (cli/lm.cpp) are thin wrappers over this header.
//
// Tokens are bytes (vocab 256) by default, or byte-level BPE tokens trained on the training split
// (tokenizer.h; --tokenizer bpe --vocab N); either way bpc = total bits / total bytes predicted,
// and any text works. A text is split by position at line boundaries: the first 90% of its bytes
// train, the next 5% validate, the last 5% test (each cut moves forward to just after a '\n').
//
// A run folder (--out) is a checkpoint folder (config.json + model.safetensors, Hugging Face
// Llama names, see model.h) plus train_state.safetensors (AdamW + schedule + step, for --resume),
// metrics.jsonl (one line per evaluation) and curves.png.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "zoo/lm/model.h"
#include "zoo/lm/tokenizer.h"

namespace ember::zoo::lm {

// ---- data ----
// $EMBER_DATA_DIR, else $XDG_CACHE_HOME/ember, else ~/.cache/ember.
std::string default_data_dir();
std::string default_kjv_path();  // <data dir>/kjv/kjv.txt
// Runs `bible -f 'Gen1:1-Rev22:21'` (Debian bible-kjv), strips each verse's reference ("Ge1:1 "),
// checks the 4,137,850-byte result and writes it atomically to `path`. Returns the byte count.
int64_t build_kjv(const std::string& path);

struct Corpus {
  std::vector<uint8_t> train, val, test;
  std::string source;
};
// Reads `path` (empty: the KJV file, with a hint to run `ember data kjv` when it is missing) and
// splits it 90/5/5 at line boundaries.
Corpus load_corpus(const std::string& path);
Corpus split_text(std::vector<uint8_t> text, const std::string& source);

// ---- evaluation ----
struct EvalResult {
  double bpc = 0;         // bits per predicted byte
  double perplexity = 0;  // per token
  int64_t bytes = 0;      // predicted bytes (the text's length minus the first token's bytes)
  int64_t tokens = 0;     // predicted tokens (= bytes for the byte tokenizer)
  int64_t stride = 0;     // the sliding window's step in tokens
};
// The text is encoded with `tok` and every token after the first is predicted once, with a sliding
// window of the model's context: windows of T tokens advance by `stride` tokens (0: T/2) and score
// only the tokens the previous window did not, so each prediction (after the first window) sees at
// least T - stride + 1 tokens of context (stride 1: all T, at T/2 times the forwards of stride T/2).
// bpc = the predicted tokens' bits / their bytes. limit > 0: only the first `limit` bytes of the
// text. A stride above the model's context is an error.
EvalResult evaluate(LlamaLM& model, const Tokenizer& tok, const std::vector<uint8_t>& text, int64_t limit = 0,
                    int64_t batch = 16, int64_t stride = 0);
// Byte tokens.
EvalResult evaluate(LlamaLM& model, const std::vector<uint8_t>& text, int64_t limit = 0, int64_t batch = 16,
                    int64_t stride = 0);

// Dynamic evaluation (Krause et al., "Dynamic Evaluation of Neural Sequence Models", 2018): the
// windows of evaluate(), one at a time in text order; each window's new tokens are scored first,
// then the model takes one SGD step (gradient-norm clipped) on their loss, so it adapts to the text
// it has already been charged for, as an adaptive compressor does. Every token is still predicted
// once, before any update that saw it. The weights are restored at the end. lr = 0 equals evaluate().
struct DynamicEvalOptions {
  double lr = 0;          // SGD learning rate of the per-window step
  double grad_clip = 1;   // global gradient norm cap per step (0: off)
  double decay = 0;       // after each step, move the weights this fraction back toward the trained ones
  int64_t limit = 0;      // > 0: only the first `limit` bytes
  int64_t stride = 0;     // window stride in tokens, as evaluate() (0: half the context)
};
EvalResult evaluate_dynamic(LlamaLM& model, const Tokenizer& tok, const std::vector<uint8_t>& text,
                            const DynamicEvalOptions& opt);

// ---- sampling and generation ----
struct SampleOptions {
  double temperature = 0.8;
  int64_t top_k = 0;     // 0: off
  double top_p = 1.0;    // nucleus; 1: off
  bool greedy = false;   // argmax (ties: the lowest token)
  uint64_t seed = 0;
};
// The distribution a token is drawn from: softmax(logits / temperature), then only the top_k
// largest, then the smallest set of most likely tokens whose mass reaches top_p; renormalised.
std::vector<double> sampling_probs(const float* logits, int64_t vocab, const SampleOptions& opt);
// Draws from probs with the uniform number splitmix64(seed, step) (inverse CDF), or argmax when greedy.
int64_t sample_token(const float* logits, int64_t vocab, const SampleOptions& opt, uint64_t step);

struct GenerateOptions {
  int64_t tokens = 200;
  SampleOptions sample;
  bool use_cache = true;  // false: a full forward over the sequence for every token (the W5 baseline)
};
struct GenerateResult {
  Tokens tokens;                // the new tokens
  double seconds = 0;           // wall time of the whole generation (prefill included)
  int64_t slides = 0;           // times the context was full and the window slid
};
// Prefill the prompt, then decode one token at a time, calling on_token for each. When the
// sequence reaches the context length the window slides: the cache restarts from the last half
// context of tokens (re-prefilled at positions 0..). Throws when the prompt is empty or longer
// than the context.
GenerateResult generate(LlamaLM& model, const Tokens& prompt, const GenerateOptions& opt,
                        const std::function<void(Token)>& on_token = {});

// ---- training ----
struct TrainConfig {
  std::string preset = "small";
  std::optional<bool> tie_embeddings = std::nullopt;  // unset: the preset's (untied)
  std::optional<double> rope_theta = std::nullopt;
  // Size overrides of the preset (unset: the preset's): hidden_size, num_hidden_layers,
  // num_attention_heads, num_key_value_heads, intermediate_size.
  std::optional<int64_t> hidden = std::nullopt, layers = std::nullopt, heads = std::nullopt, kv_heads = std::nullopt,
                         ffn = std::nullopt;
  std::string tokenizer = "bytes";  // "bytes" or "bpe" (trained on the training split at the start)
  int64_t vocab = 1024;             // BPE vocabulary size (tokenizer "bpe" only)
  double dropout = 0;               // on embeddings and residual branches (LlamaLM::set_dropout)
  // > 0: keep an exponential moving average of the weights with this decay per step (the decay of
  // update t is min(ema, (1 + t) / (10 + t)), so early averages do not drag the first weights
  // along); validation, the checkpoint's model.safetensors and the final scores use the average,
  // and the raw weights go to train_weights.safetensors for --resume.
  double ema = 0;
  // Input-token noise (data noising as smoothing, Xie et al. 2017): each input token is replaced,
  // with this probability, by a draw from the training split's unigram distribution; targets stay.
  double token_noise = 0;
  int64_t steps = 6000, batch = 16, ctx = 128, accum = 1;
  double lr = 2e-3, min_lr_ratio = 0.1, weight_decay = 0.1, grad_clip = 1.0;
  int64_t warmup = 200;
  uint64_t seed = 0;
  std::string data_file;  // "": the KJV text
  std::string out = "runs/lm";
  bool resume = false;
  int threads = 0;
  int64_t eval_every = 500;      // steps between validation passes, samples and checkpoints
  int64_t eval_bytes = 65536;    // validation bytes scored at each eval (0: the whole split)
  int64_t sample_tokens = 160;   // tokens generated at each eval
  int64_t stop_after = 0;        // > 0: stop after this many steps of this run (continue with --resume)
  bool final_test = true;        // score the whole val and test splits at the end
  bool progress = true, plots = true;
  bool distributed = false;      // one rank of `ember launch`: each micro-batch is split over the ranks
};

// --token-noise: the cumulative unigram distribution of `text` over `vocab` tokens, and the noise
// itself: each of `tokens` is replaced with probability p by a draw from `cdf`; the draws for
// position i are keyed by (seed, key + i), so they do not depend on how a batch is cut.
std::vector<double> unigram_cdf(const Tokens& text, int64_t vocab);
void apply_token_noise(std::vector<int64_t>& tokens, const std::vector<double>& cdf, double p, uint64_t seed,
                       uint64_t key);

struct EvalPoint {
  int64_t step = 0, tokens = 0;
  double train_loss = 0, train_bpc = 0, val_bpc = 0, lr = 0, seconds = 0, tokens_per_second = 0;
  std::optional<double> raw_val_bpc;  // with --ema: the raw (not averaged) weights' val bpc
};
struct TrainResult {
  std::vector<EvalPoint> history;
  std::optional<double> val_bpc, test_bpc;  // whole splits, when the run finished
  double seconds = 0;                       // training wall time over all runs (evaluation excluded)
  std::string out;
};
// With a communicator (or config.distributed, which joins the `ember launch` job), rank r of W
// takes windows [rB/W, (r+1)B/W) of every micro-batch of B windows, so W ranks follow the
// single-process trajectory (with dropout, each rank draws its own masks, so the trajectory is an
// equally likely one, not the same); rank 0 alone evaluates, prints and writes the run folder.
TrainResult train(const TrainConfig& config, dist::CommunicatorPtr comm = nullptr);

}  // namespace ember::zoo::lm
