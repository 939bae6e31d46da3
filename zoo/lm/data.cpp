// The text corpus: building the KJV file from Debian's bible-kjv and the 90/5/5 split.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "tensor/error.h"
#include "zoo/lm/lm.h"

namespace ember::zoo::lm {
namespace fs = std::filesystem;

namespace {
constexpr int64_t kKjvBytes = 4137850;  // verses Gen1:1-Rev22:21, one a line, references stripped
}

std::string default_data_dir() {
  if (const char* d = std::getenv("EMBER_DATA_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "ember").string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".cache" / "ember").string();
}

std::string default_kjv_path() { return (fs::path(default_data_dir()) / "kjv" / "kjv.txt").string(); }

int64_t build_kjv(const std::string& path) {
  FILE* p = popen("bible -f 'Gen1:1-Rev22:21' 2>/dev/null", "r");
  EMBER_CHECK(p != nullptr, "data kjv: cannot run `bible` (install the Debian package bible-kjv)");
  std::vector<uint8_t> text;
  std::string line;
  int c;
  auto flush = [&] {
    // "Ge1:1 In the beginning..." -> "In the beginning..."
    const size_t sp = line.find(' ');
    if (sp != std::string::npos) text.insert(text.end(), line.begin() + static_cast<int64_t>(sp) + 1, line.end());
    text.push_back('\n');
    line.clear();
  };
  while ((c = std::fgetc(p)) != EOF) {
    if (c == '\n') flush();
    else line.push_back(static_cast<char>(c));
  }
  if (!line.empty()) flush();
  const int status = pclose(p);
  EMBER_CHECK(status == 0 && !text.empty(),
              "data kjv: `bible -f 'Gen1:1-Rev22:21'` failed (exit status {}); install the Debian package bible-kjv",
              status);
  EMBER_CHECK(static_cast<int64_t>(text.size()) == kKjvBytes,
              "data kjv: the text has {} bytes, expected {} (another bible-kjv version?)", text.size(), kKjvBytes);
  fs::create_directories(fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path());
  data::write_file_atomic(path, text);
  return static_cast<int64_t>(text.size());
}

Corpus split_text(std::vector<uint8_t> text, const std::string& source) {
  const size_t n = text.size();
  auto cut = [&](size_t at) {  // just after the first '\n' at or after `at` (or the end)
    while (at < n && (at == 0 || text[at - 1] != '\n')) ++at;
    return at;
  };
  const size_t a = cut(n * 90 / 100), b = std::max(a, cut(n * 95 / 100));
  EMBER_CHECK(a >= 2 && b - a >= 2 && n - b >= 2,
              "lm data: {} ({} bytes) is too short or has too few lines for a 90/5/5 split by lines", source, n);
  Corpus c;
  c.source = source;
  c.val.assign(text.begin() + static_cast<int64_t>(a), text.begin() + static_cast<int64_t>(b));
  c.test.assign(text.begin() + static_cast<int64_t>(b), text.end());
  text.resize(a);
  c.train = std::move(text);
  return c;
}

Corpus load_corpus(const std::string& path) {
  const std::string p = path.empty() ? default_kjv_path() : path;
  if (path.empty())
    EMBER_CHECK(fs::exists(p), "lm data: {} does not exist; run `ember data kjv` first (or pass --data FILE)", p);
  else
    EMBER_CHECK(fs::exists(p), "lm data: text file '{}' does not exist", p);
  std::ifstream f(p, std::ios::binary);
  EMBER_CHECK(f.good(), "lm data: cannot read '{}'", p);
  std::vector<uint8_t> text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return split_text(std::move(text), p);
}

}  // namespace ember::zoo::lm
