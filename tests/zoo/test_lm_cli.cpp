// `ember train lm`, `eval lm`, `generate`, `quantize` as a user runs them (subprocess): a tiny run
// end to end on a small text file, and one clear line plus a non-zero exit for bad input (unknown
// preset, prompt longer than the context, missing or mismatched config.json, missing data).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "tests/common/subprocess.h"

namespace fs = std::filesystem;
using ember::test::count_lines;
using ember::test::run_command;

namespace {

class CliLm : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(EMBER_CLI_PATH)) GTEST_SKIP() << "ember binary not built";
    dir_ = fs::temp_directory_path() / fmt::format("ember_cli_lm_{}", getpid());
    fs::create_directories(dir_);
    std::ofstream f(dir_ / "text.txt");
    for (int i = 0; i < 300; ++i) f << "In the beginning was the word " << i % 11 << ".\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  ember::test::RunResult ember(const std::string& args) {
    return run_command(fmt::format("cd '{}' && '{}' {}", dir_.string(), EMBER_CLI_PATH, args));
  }
  void expect_one_line_error(const std::string& args, const std::string& fragment) {
    auto r = ember(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_LE(count_lines(r.out), 1u) << args << ":\n" << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << args << ":\n" << r.out;
  }
  fs::path dir_;
};

TEST_F(CliLm, TrainEvalGenerateQuantizeAndBadInput) {
  auto r = ember("train lm --preset tiny --ctx 16 --steps 4 --batch 2 --warmup 1 --eval-every 2 --eval-bytes 64 "
                 "--sample-tokens 8 --data text.txt --out run --threads 1 --no-plots");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("test bpc"), std::string::npos) << r.out;
  for (const char* f : {"config.json", "model.safetensors", "train_state.safetensors", "metrics.jsonl"})
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  r = ember("eval lm --checkpoint run --data text.txt --split val");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("val bpc"), std::string::npos) << r.out;
  r = ember("generate --checkpoint run --prompt 'In the' --tokens 20 --seed 3 --top-k 5 --top-p 0.9");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("tokens/s"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.rfind("In the", 0), 0u) << r.out;  // the prompt, then the stream
  r = ember("quantize --checkpoint run --int8 -o run8");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = ember("generate --checkpoint run8 --prompt 'In' --tokens 10 --greedy");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("int8"), std::string::npos) << r.out;
  r = ember("quantize --checkpoint run --bf16 -o run16");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = ember("eval lm --checkpoint run16 --data text.txt --split val");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("(bf16 weights x f32 activations): val bpc"), std::string::npos) << r.out;
  // Low-precision activations: bf16 x bf16 under --matmul-precision bf16, int8 x int8 (W8A8).
  r = ember("eval lm --checkpoint run16 --data text.txt --split val --matmul-precision bf16");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("(bf16 weights x bf16 activations): val bpc"), std::string::npos) << r.out;
  r = ember("generate --checkpoint run8 --prompt 'In' --tokens 10 --greedy --int8-activations");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("int8 weights x int8 activations"), std::string::npos) << r.out;
  r = ember("eval lm --checkpoint run8 --data text.txt --split val --int8-activations");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("(int8 weights x int8 activations): val bpc"), std::string::npos) << r.out;
  for (auto [args, fragment] : {std::pair{"quantize --checkpoint run -o runq", "--int8 or --bf16"},
                                std::pair{"quantize --checkpoint run --int8 --bf16 -o runq", "excludes"}}) {
    r = ember(args);  // usage errors: exit 2, the error and a pointer to --help
    EXPECT_EQ(r.rc, 2) << args << ":\n" << r.out;
    EXPECT_NE(r.out.find(fragment), std::string::npos) << args << ":\n" << r.out;
  }

  expect_one_line_error("train lm --preset enormous --data text.txt", "unknown preset 'enormous'");
  expect_one_line_error("generate --checkpoint run --tokens 2 --int8-activations",
                        "int8 activations need an int8 checkpoint (ember quantize --int8)");
  expect_one_line_error("train lm --preset tiny --hidden 60 --heads 8 --data text.txt",
                        "hidden_size 60 is not a multiple of num_attention_heads 8");

  // Size flags override the preset; config.json says what was trained.
  r = ember("train lm --preset tiny --hidden 48 --layers 1 --heads 2 --kv-heads 1 --ffn 96 --ctx 16 --steps 2 "
            "--batch 2 --warmup 1 --eval-every 2 --eval-bytes 32 --sample-tokens 0 --data text.txt --out sized "
            "--threads 1 --no-plots --no-final-test");
  ASSERT_EQ(r.rc, 0) << r.out;
  {
    std::ifstream f(dir_ / "sized" / "config.json");
    const std::string sized(std::istreambuf_iterator<char>(f), {});
    for (const char* kv : {"\"hidden_size\": 48", "\"num_hidden_layers\": 1", "\"num_attention_heads\": 2",
                           "\"num_key_value_heads\": 1", "\"intermediate_size\": 96"})
      EXPECT_NE(sized.find(kv), std::string::npos) << kv << " in\n" << sized;
  }
  expect_one_line_error("train lm --preset tiny --data missing.txt", "missing.txt");

  // A BPE run: the folder carries its tokenizer; eval and generate use it.
  r = ember("train lm --preset tiny --tokenizer bpe --vocab 270 --dropout 0.1 --ctx 16 --steps 2 --batch 2 "
            "--warmup 1 --eval-every 2 --eval-bytes 64 --sample-tokens 4 --data text.txt --out bpe --threads 1 "
            "--no-plots");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("tokenizer: BPE with 270 tokens"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "bpe" / "ember_tokenizer.json"));
  r = ember("eval lm --checkpoint bpe --data text.txt --split test");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("bpe tokens"), std::string::npos) << r.out;
  r = ember("generate --checkpoint bpe --prompt 'In the beginning' --tokens 12 --seed 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.rfind("In the beginning", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("12 bpe tokens"), std::string::npos) << r.out;
  r = ember("train lm --preset tiny --tokenizer bpe --vocab 100 --data text.txt");  // a usage error: exit 2
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("--vocab: Value 100 not in range"), std::string::npos) << r.out;
  expect_one_line_error("generate --checkpoint run --prompt '" + std::string(17, 'x') + "'",
                        "prompt has 17 tokens but the model's context is 16");
  expect_one_line_error("eval lm --checkpoint nowhere --data text.txt", "'nowhere' does not exist");
  std::string cfg;
  {
    std::ifstream f(dir_ / "run" / "config.json");
    cfg.assign(std::istreambuf_iterator<char>(f), {});
  }
  std::ofstream(dir_ / "run" / "config.json") << "{\"hidden_size\": 64}";
  expect_one_line_error("generate --checkpoint run", "has no \"vocab_size\"");
  fs::remove(dir_ / "run" / "config.json");
  expect_one_line_error("generate --checkpoint run", "config.json is missing");
}

}  // namespace
