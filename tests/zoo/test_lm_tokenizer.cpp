// zoo/lm tokenizer: the chunking rule, BPE training (first merges by hand, ties, the vocabulary
// limit, determinism), rank-ordered encoding, decode(encode(s)) == s on arbitrary bytes, the
// ember_tokenizer.json round trip and its bad inputs, and bits per byte with a BPE tokenizer
// against a direct cross-entropy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "tests/common/expect_close.h"
#include "zoo/lm/lm.h"

namespace fs = std::filesystem;
using namespace ember;
using namespace ember::zoo::lm;
using ember::test::throws_with;

namespace {

std::vector<std::string> chunks(std::string_view s) {
  std::vector<std::string> out;
  for (auto c : split_chunks(s)) out.emplace_back(c);
  return out;
}

std::string verses() {
  std::string text;
  for (int i = 0; i < 300; ++i)
    text += fmt::format("And the LORD said unto Moses, {} times: thou shalt not; and they went {}.\n", i % 17,
                        i % 3 ? "forth" : "away");
  return text;
}

}  // namespace

TEST(LmTokenizer, ChunksKeepOneLeadingSpaceAndWholeUtf8) {
  using V = std::vector<std::string>;
  EXPECT_EQ(chunks("And God said, Let"), (V{"And", " God", " said", ",", " Let"}));
  EXPECT_EQ(chunks("verse 12:3\n\nIn  the"), (V{"verse", " 12", ":", "3", "\n\n", "In", " ", " the"}));
  EXPECT_EQ(chunks("  x"), (V{" ", " x"}));
  EXPECT_EQ(chunks("end.  \n"), (V{"end", ".", "  \n"}));
  EXPECT_EQ(chunks(" caf\xc3\xa9 \xe2\x80\x94 ok"), (V{" caf\xc3\xa9", " \xe2\x80\x94", " ok"}));
  EXPECT_EQ(chunks("?!"), (V{"?!"}));
  EXPECT_TRUE(chunks("").empty());
  // A long run is cut at 256 bytes; the pieces still cover the text exactly.
  const std::string run(600, 'a');
  const auto cut = chunks(run);
  ASSERT_EQ(cut.size(), 3u);
  EXPECT_EQ(cut[0].size(), 256u);
  EXPECT_EQ(cut[2].size(), 88u);
}

TEST(LmTokenizer, LearnsTheMostFrequentPairsFirst) {
  // Chunks: "ab" once, " ab" 3 times, " abc" twice.
  const std::string text = "ab ab ab ab abc abc";
  Tokenizer t = Tokenizer::train_bpe(text, 259);
  ASSERT_EQ(t.vocab_size(), 259);
  // Pair counts: (a,b) 6, (' ',a) 5, (b,c) 2. First merge ab = 256; then (' ', 256), 5 times,
  // = 257; then (257, c), twice, = 258.
  EXPECT_EQ(t.merges()[0], (std::pair<Token, Token>{'a', 'b'}));
  EXPECT_EQ(t.merges()[1], (std::pair<Token, Token>{' ', 256}));
  EXPECT_EQ(t.merges()[2], (std::pair<Token, Token>{257, 'c'}));
  EXPECT_EQ(t.piece(257), " ab");
  EXPECT_EQ(t.piece(258), " abc");
  EXPECT_EQ(t.encode(" ab abc"), (Tokens{257, 258}));
  EXPECT_EQ(t.encode("abc"), (Tokens{256, 'c'}));  // no leading space: " abc" does not apply
  EXPECT_EQ(t.encode("abab"), (Tokens{256, 256}));
  // Stops when no pair occurs twice, below the asked size.
  EXPECT_EQ(Tokenizer::train_bpe("abcdef", 1000).vocab_size(), 256);
  // Ties go to the smaller pair: (' ',c), (c,d) and (x,y) each occur twice.
  EXPECT_EQ(Tokenizer::train_bpe("xy cd xy cd", 257).merges()[0], (std::pair<Token, Token>{' ', 'c'}));
  EXPECT_TRUE(throws_with([] { Tokenizer::train_bpe("ab", 100); }, {"vocabulary", "got 100"}));
}

TEST(LmTokenizer, EncodeDecodeIsExactOnAnyBytesAndTrainingIsDeterministic) {
  const std::string text = verses();
  Tokenizer a = Tokenizer::train_bpe(text, 310), b = Tokenizer::train_bpe(text, 310);
  EXPECT_EQ(a.merges(), b.merges());
  EXPECT_EQ(a.vocab_size(), 310);
  // Asked for more than the text supports, merging stops when every repeated chunk is one token.
  Tokenizer full = Tokenizer::train_bpe(text, 1000);
  EXPECT_LT(full.vocab_size(), 1000);
  EXPECT_EQ(full.encode("And the LORD said unto Moses,").size(), 7u);
  const Tokens enc = a.encode(text);
  EXPECT_LT(enc.size() * 3, text.size());  // the training text compresses well
  EXPECT_EQ(a.decode(enc), text);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    std::string s(static_cast<size_t>(rng() % 300), '\0');
    for (char& ch : s) ch = static_cast<char>(trial % 2 ? rng() % 256 : " aehnLORD,.\n"[rng() % 12]);
    const Tokens t = a.encode(s);
    for (Token x : t) ASSERT_TRUE(x >= 0 && x < a.vocab_size());
    ASSERT_EQ(a.decode(t), s) << trial;
  }
  // Byte tokenizer: identity.
  Tokenizer bytes;
  EXPECT_TRUE(bytes.is_bytes());
  EXPECT_EQ(bytes.encode("A\xff"), (Tokens{'A', 255}));
  EXPECT_EQ(bytes.decode({'h', 'i'}), "hi");
  EXPECT_TRUE(throws_with([&] { (void)bytes.piece(256); }, {"token 256", "vocabulary of 256"}));
}

TEST(LmTokenizer, FileRoundTripAndBadFiles) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("ember_lm_tok_{}", getpid());
  fs::create_directories(dir);
  Tokenizer t = Tokenizer::train_bpe(verses(), 300);
  t.save(dir.string());
  Tokenizer back = Tokenizer::load(dir.string());
  EXPECT_EQ(back.merges(), t.merges());
  EXPECT_EQ(back.encode("And the LORD"), t.encode("And the LORD"));
  Tokenizer().save(dir.string());  // a byte tokenizer removes the file
  EXPECT_FALSE(fs::exists(dir / Tokenizer::kFile));
  EXPECT_TRUE(Tokenizer::load(dir.string()).is_bytes());
  EXPECT_TRUE(throws_with([] { Tokenizer::from_json("[1,2]", "f.json"); }, {"f.json", "not a JSON object"}));
  EXPECT_TRUE(throws_with([] { Tokenizer::from_json(R"({"format":"hf"})", "f.json"); }, {"not an ember-bpe"}));
  EXPECT_TRUE(throws_with([] { Tokenizer::from_json(R"({"format":"ember-bpe","version":1,"merges":[[97,300]]})", "f"); },
                          {"merge 0 joins (97, 300)", "below 256"}));
  EXPECT_TRUE(throws_with([] { Tokenizer::from_json(R"({"format":"ember-bpe","version":1,"merges":[[97,98],[97,98]]})", "f"); },
                          {"repeat a pair"}));
  EXPECT_TRUE(throws_with([] { Tokenizer::from_json(R"({"format":"ember-bpe","version":1,"merges":[[97]]})", "f"); },
                          {"merge 0 is not a pair"}));
  EXPECT_TRUE(throws_with(
      [] { Tokenizer::from_json(R"({"format":"ember-bpe","version":1,"vocab_size":300,"merges":[[97,98]]})", "f"); },
      {"vocab_size 300", "make 257"}));
  // A checkpoint folder whose tokenizer disagrees with config.json's vocab_size is refused.
  manual_seed(1);
  auto m = make_model({.vocab_size = 300, .hidden_size = 16, .intermediate_size = 24, .num_hidden_layers = 1,
                       .num_attention_heads = 2, .num_key_value_heads = 1, .max_position_embeddings = 16});
  save_pretrained(*m, dir.string());
  t.save(dir.string());
  EXPECT_EQ(load_pretrained(dir.string()).tokenizer.vocab_size(), 300);
  Tokenizer::train_bpe(verses(), 280).save(dir.string());
  EXPECT_TRUE(throws_with([&] { load_pretrained(dir.string()); }, {"ember_tokenizer.json has 280 tokens",
                                                                   "vocab_size is 300"}));
  fs::remove_all(dir);
}

// One window: bpc = (sum of the cross-entropy of tokens 1..n-1) / (bytes of tokens 1..n-1) / ln 2.
TEST(LmTokenizer, BitsPerByteWithBpeTokensEqualDirectCrossEntropy) {
  Tokenizer t = Tokenizer::train_bpe(verses(), 320);
  manual_seed(3);
  auto m = make_model({.vocab_size = 320, .hidden_size = 16, .intermediate_size = 24, .num_hidden_layers = 1,
                       .num_attention_heads = 2, .num_key_value_heads = 1, .max_position_embeddings = 64});
  const std::string s = "And the LORD said unto Moses, thou shalt go forth.\n";
  const Tokens enc = t.encode(s);
  ASSERT_LT(enc.size(), 64u);
  ASSERT_LT(enc.size() * 2, s.size());
  std::vector<int64_t> in(enc.begin(), enc.end() - 1), tgt(enc.begin() + 1, enc.end());
  const auto n = static_cast<int64_t>(in.size());
  NoGradGuard g;
  const double nats = cross_entropy(m->forward(Tensor::from_vector(in, {1, n}, {.dtype = DType::i64})).reshape({n, 320}),
                                    Tensor::from_vector(tgt, {n}, {.dtype = DType::i64}))
                          .item() * static_cast<double>(n);
  const int64_t bytes = static_cast<int64_t>(s.size() - t.piece(enc[0]).size());
  EvalResult r = evaluate(*m, t, {s.begin(), s.end()});
  EXPECT_EQ(r.tokens, n);
  EXPECT_EQ(r.bytes, bytes);
  EXPECT_NEAR(r.bpc, nats / static_cast<double>(bytes) / std::log(2.0), 1e-5);
  EXPECT_NEAR(r.perplexity, std::exp(nats / static_cast<double>(n)), 1e-3 * r.perplexity);
  // A tokenizer larger than the model's vocabulary is refused.
  Tokenizer big = Tokenizer::train_bpe(verses(), 1000);
  EXPECT_TRUE(throws_with([&] { evaluate(*m, big, {s.begin(), s.end()}); },
                          {fmt::format("{} tokens", big.vocab_size()), "vocab_size is 320"}));
}

// Dynamic evaluation: lr 0 is the static evaluation; with a positive lr, a text that repeats itself
// costs fewer bits (the model adapts to what it was charged for); the weights come back unchanged.
TEST(LmDynamicEval, ZeroLrIsStaticAndAdaptationHelpsOnRepeatsAndWeightsAreRestored) {
  const std::string base = verses();
  Tokenizer t = Tokenizer::train_bpe(base, 300);
  manual_seed(4);
  auto m = make_model({.vocab_size = 300, .hidden_size = 32, .intermediate_size = 48, .num_hidden_layers = 1,
                       .num_attention_heads = 2, .num_key_value_heads = 1, .max_position_embeddings = 32});
  std::string s;
  for (int i = 0; i < 12; ++i) s += "Behold, a sower went forth to sow; and some seeds fell by the way side.\n";
  const std::vector<uint8_t> text(s.begin(), s.end());
  const auto before = m->state_dict();
  std::vector<std::vector<float>> saved;
  for (const auto& [n, w] : before) saved.push_back(w.to_vector<float>());
  const EvalResult st = evaluate(*m, t, text, 0, 4);
  const EvalResult zero = evaluate_dynamic(*m, t, text, {.lr = 0});
  EXPECT_EQ(zero.tokens, st.tokens);
  EXPECT_NEAR(zero.bpc, st.bpc, 1e-5);
  const EvalResult dyn = evaluate_dynamic(*m, t, text, {.lr = 0.05, .grad_clip = 1.0});
  EXPECT_EQ(dyn.tokens, st.tokens);
  EXPECT_LT(dyn.bpc, st.bpc - 0.5) << "static " << st.bpc << ", dynamic " << dyn.bpc;
  const auto after = m->state_dict();
  for (size_t i = 0; i < after.size(); ++i) EXPECT_EQ(after[i].second.to_vector<float>(), saved[i]) << after[i].first;
  EXPECT_TRUE(m->is_training());
  EXPECT_TRUE(throws_with([&] { evaluate_dynamic(*m, t, text, {.lr = -1}); }, {"dynamic learning rate", ">= 0"}));
}
