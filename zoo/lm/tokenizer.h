// Tokenizers of the language model: bytes (vocab 256, the default) or a byte-level BPE trained
// in-framework on the training split (`ember train lm --tokenizer bpe --vocab N`).
//
// BPE here: token ids 0..255 are the bytes; id 256 + i is merge i, the concatenation of the two
// tokens it joins. Training first cuts the text into chunks (below) and never merges across a
// chunk boundary, then repeatedly merges the most frequent adjacent pair (ties: the smaller pair
// (left id, right id)) until the vocabulary has N tokens or no pair occurs twice. Encoding cuts
// the same way and applies, within each chunk, the earliest learned merge that still applies,
// until none does (the usual rank-ordered BPE), so every byte string has exactly one encoding and
// decode(encode(s)) == s for any bytes, UTF-8 or not.
//
// Chunks (at most 256 bytes; a longer run is cut): a run of letters (ASCII letters and every byte >= 0x80, so UTF-8 sequences stay whole)
// with at most one space before it; a run of digits likewise; a run of other printable bytes
// (punctuation) likewise; a run of whitespace, less its last space when a non-space follows (that
// space joins the next chunk, as in GPT-2's pre-tokenizer).
//
// A checkpoint folder trained with BPE holds ember_tokenizer.json:
//   {"format": "ember-bpe", "version": 1, "vocab_size": N, "merges": [[left, right], ...]}
// (merge i makes token 256 + i). Without that file a folder is byte-level.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ember::zoo::lm {

using Token = int32_t;
using Tokens = std::vector<Token>;

class Tokenizer {
 public:
  static constexpr const char* kFile = "ember_tokenizer.json";

  Tokenizer() { build_tables(); }  // bytes
  // Learns merges on `text` until the vocabulary has `vocab_size` tokens (>= 256; 256: bytes, no
  // learning).
  static Tokenizer train_bpe(std::string_view text, int64_t vocab_size);
  // From merges (left, right) in order; each id must be below 256 + its own index.
  static Tokenizer from_merges(const std::vector<std::pair<Token, Token>>& merges);

  bool is_bytes() const { return merges_.empty(); }
  int64_t vocab_size() const { return 256 + static_cast<int64_t>(merges_.size()); }
  std::string_view name() const { return is_bytes() ? "bytes" : "bpe"; }
  const std::vector<std::pair<Token, Token>>& merges() const { return merges_; }

  Tokens encode(std::string_view text) const;
  std::string decode(const Tokens& tokens) const;
  const std::string& piece(Token t) const;  // the bytes of token t (throws when out of range)

  std::string to_json() const;
  static Tokenizer from_json(const std::string& text, const std::string& source);
  // dir/ember_tokenizer.json (written atomically; a byte tokenizer removes a stale file), and back
  // (no file: bytes).
  void save(const std::string& dir) const;
  static Tokenizer load(const std::string& dir);

 private:
  void build_tables();
  void encode_chunk(std::string_view chunk, Tokens& out) const;
  std::vector<std::pair<Token, Token>> merges_;
  std::vector<std::string> pieces_;                 // id -> bytes
  std::unordered_map<uint64_t, Token> merge_of_;    // (left << 32 | right) -> merged id (= rank + 256)
};

// A byte buffer (a corpus split) as the text the tokenizer reads; the first `n` bytes when n >= 0.
inline std::string_view as_text(const std::vector<uint8_t>& bytes, int64_t n = -1) {
  return {reinterpret_cast<const char*>(bytes.data()), n < 0 ? bytes.size() : static_cast<size_t>(n)};
}

// Cuts text into the chunks described above (exposed for tests).
std::vector<std::string_view> split_chunks(std::string_view text);

}  // namespace ember::zoo::lm
