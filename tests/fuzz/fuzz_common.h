// Shared by the libFuzzer targets: the loaders under test read files, so each input is written to
// one per-process scratch file first. Every target treats ember::Error as the expected outcome of
// bad input; anything else (a crash, a sanitizer report, another exception) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace ember::fuzz {

inline std::string scratch_path(const char* ext) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/ember_fuzz_" + std::to_string(::getpid()) + ext;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
}

}  // namespace ember::fuzz
