#include "zoo/common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace ember::zoo {

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

Progress::Progress(std::string label, int64_t total, int64_t examples_per_step, bool enabled)
    : label_(std::move(label)),
      total_(total),
      examples_per_step_(examples_per_step),
      enabled_(enabled),
      tty_(isatty(fileno(stdout)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& status) {
  if (!enabled_ || total_ <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  const int64_t decile = done * 10 / total_;
  if (tty_) {
    if (done != total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  } else if (decile == last_decile_ && done != total_) {
    return;
  }
  last_draw_ = now;
  last_decile_ = decile;
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? static_cast<double>(done * examples_per_step_) / elapsed : 0;
  const double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * done / total_);
  std::string bar = std::string(static_cast<size_t>(filled), '=') + (filled < kWidth ? ">" : "") +
                    std::string(static_cast<size_t>(std::max(0, kWidth - filled - 1)), ' ');
  const std::string line = fmt::format("{} {:>5}/{} [{}] {} | {:.0f} ex/s | ETA {}", label_, done, total_, bar, status,
                                       rate, format_duration(eta));
  if (tty_) {
    fmt::print("\r{}\033[K", line);
  } else {
    fmt::print("{}\n", line);
  }
  std::fflush(stdout);
}

void Progress::finish() {
  if (enabled_ && tty_) fmt::print("\n");
  std::fflush(stdout);
}

}  // namespace ember::zoo
