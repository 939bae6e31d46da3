// W4 and W5 of WORKLOADS.md on the zoo model (zoo/lm LlamaLM, preset "small"):
//   W4: training step, batch 16 x 128 bytes of bytes(4001), AdamW lr 3e-4 wd 0.1 on every parameter.
//   W5: greedy generation of 240 bytes after the 16-byte prompt bytes(5001), with the KV cache
//       (prefill + 239 decode forwards; 1 warm-up + 7 timed) and without (240 full forwards; 4
//       timed), same tokens required; plus the cached path with int8 and bf16 weights (same weights,
//       quantized per output channel), whose tokens may differ.
// Rows report ms per step / per generation; W5 rows also print tokens/s = 240 / wall time.
// bench_workloads runs W5 when asked by name (W5) or with no workload named.
#include <cstdio>

#include "bench/workloads/common.h"
#include "tensor/cpu/qgemm.h"
#include "zoo/lm/lm.h"

namespace ember::bench {

namespace lm = zoo::lm;

void run_w4_lm() {
  manual_seed(4);
  auto model = lm::make_model(lm::preset("small"));
  if (model->num_parameters() != 2902272)
    std::printf("WARNING W4: %lld parameters, WORKLOADS.md says 2902272\n", (long long)model->num_parameters());
  nn::AdamW opt(model->parameters(), {.lr = 3e-4, .weight_decay = 0.1, .fused = true});
  const Tensor tok = bytes_stream(4001, {16, 129});
  const Tensor in = tok.narrow(1, 0, 128).contiguous(), target = tok.narrow(1, 1, 128).contiguous().reshape({2048});
  StepStats s = time_steps(5, 30, [&](int) {
    model->zero_grad();
    Tensor loss = cross_entropy(model->forward(in).reshape({2048, 256}), target);
    loss.backward();
    opt.step();
  });
  print_row("W4 gqa-lm train", s, 340);
}

namespace {

lm::Tokens prompt_bytes() {
  lm::Tokens p;
  for (int64_t v : bytes_stream(5001, {16}).to_vector<int64_t>()) p.push_back(static_cast<lm::Token>(v));
  return p;
}

void print_w5(const char* name, const StepStats& s, double ref_tps) {
  print_row(name, s, 240e3 / ref_tps);
  std::printf("%-18s %8.0f tokens/s (min %.0f, max %.0f)\n", "", 240e3 / s.quantile(0.5), 240e3 / s.quantile(1),
              240e3 / s.quantile(0));
}

}  // namespace

void run_w5_lm() {
  lm::LmConfig cfg = lm::preset("small");
  cfg.max_position_embeddings = 256;
  manual_seed(0);
  auto model = lm::make_model(cfg);
  const lm::Tokens prompt = prompt_bytes();
  lm::GenerateOptions opt{.tokens = 240, .sample = {.greedy = true}};
  lm::Tokens cached, full;
  StepStats s = time_steps(1, 7, [&](int) { cached = lm::generate(*model, prompt, opt).tokens; });
  print_w5("W5 gen kv-cache", s, 1330);
  opt.use_cache = false;
  s = time_steps(0, 4, [&](int) { full = lm::generate(*model, prompt, opt).tokens; });
  print_w5("W5 gen no-cache", s, 70);
  if (cached != full) std::printf("WARNING W5: cached and uncached generation produced different tokens\n");

  // The same weights as int8 (per output channel), cached path.
  auto q = std::make_shared<lm::LlamaLM>(cfg, lm::WeightFormat::int8);
  auto b = std::make_shared<lm::LlamaLM>(cfg, lm::WeightFormat::bf16);
  {
    NoGradGuard g;
    auto own = model->state_dict();
    for (auto* m : {q.get(), b.get()})
      for (auto& [name, t] : m->state_dict())
        for (auto& [n2, t2] : own)
          if (n2 == name) t.copy_(t2);
    auto src = model->projections(), dst = q->projections(), dst16 = b->projections();
    for (size_t i = 0; i < src.size(); ++i) {
      auto [w8, sc] = cpu::quantize_rows_int8(src[i].second->weight);
      dst[i].second->set_int8(w8, sc);
      dst16[i].second->set_bf16(cpu::to_bf16_rows(src[i].second->weight));
    }
  }
  opt.use_cache = true;
  lm::Tokens q_tokens;
  s = time_steps(1, 7, [&](int) { q_tokens = lm::generate(*q, prompt, opt).tokens; });
  print_w5("W5 gen int8 cache", s, 1330);
  size_t same = 0;
  while (same < q_tokens.size() && q_tokens[same] == cached[same]) ++same;
  std::printf("%-18s int8 tokens equal the f32 ones for the first %zu of 240\n", "", same);
  lm::Tokens b_tokens;
  s = time_steps(1, 7, [&](int) { b_tokens = lm::generate(*b, prompt, opt).tokens; });
  print_w5("W5 gen bf16 cache", s, 1330);
  same = 0;
  while (same < b_tokens.size() && b_tokens[same] == cached[same]) ++same;
  std::printf("%-18s bf16 tokens equal the f32 ones for the first %zu of 240\n", "", same);
}

}  // namespace ember::bench
