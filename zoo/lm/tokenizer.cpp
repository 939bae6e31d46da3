// Byte-level BPE: chunking, merge learning with incremental pair counts, rank-ordered encoding,
// and the ember_tokenizer.json file.
#include "zoo/lm/tokenizer.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "data/image.h"
#include "tensor/error.h"

namespace ember::zoo::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr size_t kMaxChunk = 256;

enum class ByteClass : uint8_t { letter, digit, space, other };

ByteClass byte_class(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return ByteClass::letter;
  if (c >= '0' && c <= '9') return ByteClass::digit;
  if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f') return ByteClass::space;
  return ByteClass::other;
}

uint64_t pair_key(Token a, Token b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

// Merges every non-overlapping occurrence of (a, b), left to right, into `id`.
void merge_pair(Tokens& s, Token a, Token b, Token id) {
  size_t w = 0;
  for (size_t r = 0; r < s.size(); ++r) {
    if (r + 1 < s.size() && s[r] == a && s[r + 1] == b) {
      s[w++] = id;
      ++r;
    } else {
      s[w++] = s[r];
    }
  }
  s.resize(w);
}

}  // namespace

std::vector<std::string_view> split_chunks(std::string_view text) {
  std::vector<std::string_view> out;
  const size_t n = text.size();
  auto cls = [&](size_t i) { return byte_class(static_cast<unsigned char>(text[i])); };
  size_t i = 0;
  while (i < n) {
    const size_t start = i;
    if (text[i] == ' ' && i + 1 < n && cls(i + 1) != ByteClass::space) {
      const ByteClass c = cls(++i);
      while (i < n && cls(i) == c) ++i;
    } else if (cls(i) == ByteClass::space) {
      while (i < n && cls(i) == ByteClass::space) ++i;
      if (i < n && i - start >= 2 && text[i - 1] == ' ') --i;  // that space joins the next chunk
    } else {
      const ByteClass c = cls(i);
      while (i < n && cls(i) == c) ++i;
    }
    i = std::min(i, start + kMaxChunk);
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

Tokenizer Tokenizer::from_merges(const std::vector<std::pair<Token, Token>>& merges) {
  Tokenizer t;
  t.merges_ = merges;
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto limit = static_cast<Token>(256 + i);
    EMBER_CHECK(merges[i].first >= 0 && merges[i].first < limit && merges[i].second >= 0 && merges[i].second < limit,
                "tokenizer: merge {} joins ({}, {}), but only tokens below {} exist before it", i, merges[i].first,
                merges[i].second, limit);
  }
  t.build_tables();
  EMBER_CHECK(t.merge_of_.size() == merges.size(), "tokenizer: the merges repeat a pair");
  return t;
}

void Tokenizer::build_tables() {
  pieces_.assign(256, std::string());
  for (int b = 0; b < 256; ++b) pieces_[static_cast<size_t>(b)] = std::string(1, static_cast<char>(b));
  merge_of_.clear();
  for (size_t i = 0; i < merges_.size(); ++i) {
    const auto [a, b] = merges_[i];
    pieces_.push_back(pieces_[static_cast<size_t>(a)] + pieces_[static_cast<size_t>(b)]);
    merge_of_.emplace(pair_key(a, b), static_cast<Token>(256 + i));
  }
}

Tokenizer Tokenizer::train_bpe(std::string_view text, int64_t vocab_size) {
  EMBER_CHECK(vocab_size >= 256 && vocab_size <= (int64_t{1} << 20),
              "tokenizer: the BPE vocabulary must be in [256, 1048576] (256 = bytes), got {}", vocab_size);
  if (vocab_size == 256) return {};
  // Distinct chunks with their counts: merges never cross a chunk, so a chunk type is a "word".
  std::unordered_map<std::string_view, int64_t> counts;
  for (std::string_view c : split_chunks(text)) ++counts[c];
  std::vector<std::string_view> keys;
  keys.reserve(counts.size());
  for (const auto& [k, v] : counts) keys.push_back(k);
  std::sort(keys.begin(), keys.end());  // a fixed order, so training is deterministic
  std::vector<Tokens> words(keys.size());
  std::vector<int64_t> freq(keys.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // pair -> words that had it (may be stale)
  for (size_t w = 0; w < keys.size(); ++w) {
    freq[w] = counts[keys[w]];
    for (char ch : keys[w]) words[w].push_back(static_cast<unsigned char>(ch));
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t k = pair_key(words[w][i], words[w][i + 1]);
      pair_count[k] += freq[w];
      auto& list = where[k];
      if (list.empty() || list.back() != static_cast<int32_t>(w)) list.push_back(static_cast<int32_t>(w));
    }
  }
  Tokenizer t;
  std::vector<uint32_t> seen(words.size(), 0);
  uint32_t stamp = 0;
  while (t.vocab_size() < vocab_size) {
    uint64_t best = 0;
    int64_t best_count = 1;  // a pair must occur at least twice
    for (const auto& [k, n] : pair_count)
      if (n > best_count || (n == best_count && best_count > 1 && k < best)) best = k, best_count = n;
    if (best_count < 2) break;
    const auto a = static_cast<Token>(best >> 32), b = static_cast<Token>(best & 0xffffffffu);
    const auto id = static_cast<Token>(t.vocab_size());
    t.merges_.emplace_back(a, b);
    ++stamp;
    std::vector<int32_t> users = std::move(where[best]);
    where.erase(best);
    for (int32_t w : users) {
      if (seen[static_cast<size_t>(w)] == stamp) continue;
      seen[static_cast<size_t>(w)] = stamp;
      Tokens& s = words[static_cast<size_t>(w)];
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == a && s[i + 1] == b;
      if (!has) continue;
      const int64_t f = freq[static_cast<size_t>(w)];
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        auto it = pair_count.find(pair_key(s[i], s[i + 1]));
        if ((it->second -= f) == 0) pair_count.erase(it);
      }
      merge_pair(s, a, b, id);
      for (size_t i = 0; i + 1 < s.size(); ++i) {
        const uint64_t k = pair_key(s[i], s[i + 1]);
        pair_count[k] += f;
        if (s[i] == id || s[i + 1] == id) {
          auto& list = where[k];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      }
    }
  }
  t.build_tables();
  return t;
}

void Tokenizer::encode_chunk(std::string_view chunk, Tokens& out) const {
  Tokens s(chunk.size());
  for (size_t i = 0; i < chunk.size(); ++i) s[i] = static_cast<unsigned char>(chunk[i]);
  while (s.size() >= 2) {
    Token best = -1;
    size_t at = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      auto it = merge_of_.find(pair_key(s[i], s[i + 1]));
      if (it != merge_of_.end() && (best < 0 || it->second < best)) best = it->second, at = i;
    }
    if (best < 0) break;
    merge_pair(s, s[at], s[at + 1], best);
  }
  out.insert(out.end(), s.begin(), s.end());
}

Tokens Tokenizer::encode(std::string_view text) const {
  Tokens out;
  if (is_bytes()) {
    out.reserve(text.size());
    for (char c : text) out.push_back(static_cast<unsigned char>(c));
    return out;
  }
  out.reserve(text.size() / 2);
  std::unordered_map<std::string_view, Tokens> cache;  // chunk -> its tokens, for this call
  for (std::string_view c : split_chunks(text)) {
    auto it = cache.find(c);
    if (it == cache.end()) {
      Tokens t;
      encode_chunk(c, t);
      it = cache.emplace(c, std::move(t)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  return out;
}

const std::string& Tokenizer::piece(Token t) const {
  EMBER_CHECK(t >= 0 && static_cast<size_t>(t) < pieces_.size(), "tokenizer: token {} is outside the vocabulary of {}",
              t, pieces_.size());
  return pieces_[static_cast<size_t>(t)];
}

std::string Tokenizer::decode(const Tokens& tokens) const {
  std::string s;
  for (Token t : tokens) s += piece(t);
  return s;
}

std::string Tokenizer::to_json() const {
  json merges = json::array();
  for (const auto& [a, b] : merges_) merges.push_back({a, b});
  return json{{"format", "ember-bpe"}, {"version", 1}, {"vocab_size", vocab_size()}, {"merges", merges}}.dump() + "\n";
}

Tokenizer Tokenizer::from_json(const std::string& text, const std::string& source) {
  const json j = json::parse(text, nullptr, false);
  EMBER_CHECK(!j.is_discarded() && j.is_object(), "tokenizer: {} is not a JSON object", source);
  EMBER_CHECK(j.value("format", "") == "ember-bpe" && j.value("version", 0) == 1,
              "tokenizer: {} is not an ember-bpe version 1 file", source);
  EMBER_CHECK(j.contains("merges") && j["merges"].is_array(), "tokenizer: {} has no \"merges\" array", source);
  std::vector<std::pair<Token, Token>> merges;
  for (const auto& m : j["merges"]) {
    EMBER_CHECK(m.is_array() && m.size() == 2 && m[0].is_number_integer() && m[1].is_number_integer(),
                "tokenizer: {}: merge {} is not a pair of token ids: {}", source, merges.size(), m.dump());
    merges.emplace_back(m[0].get<Token>(), m[1].get<Token>());
  }
  Tokenizer t = from_merges(merges);
  EMBER_CHECK(!j.contains("vocab_size") || j["vocab_size"] == t.vocab_size(),
              "tokenizer: {} says vocab_size {} but its merges make {}", source, j["vocab_size"].dump(), t.vocab_size());
  return t;
}

void Tokenizer::save(const std::string& dir) const {
  const fs::path p = fs::path(dir) / kFile;
  if (is_bytes()) {
    std::error_code ec;
    fs::remove(p, ec);
    return;
  }
  const std::string s = to_json();
  data::write_file_atomic(p.string(), {s.begin(), s.end()});
}

Tokenizer Tokenizer::load(const std::string& dir) {
  const fs::path p = fs::path(dir) / kFile;
  if (!fs::exists(p)) return {};
  std::ifstream f(p, std::ios::binary);
  EMBER_CHECK(f.good(), "tokenizer: cannot read {}", p.string());
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return from_json(text, p.string());
}

}  // namespace ember::zoo::lm
