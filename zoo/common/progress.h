// A one-line progress display for long loops: "label  312/938 [=====>    ] loss 0.41 | 5.1k ex/s
// | ETA 0:45". On a terminal the line updates in place (at most ~10 times a second); otherwise
// (logs, CI) a plain line is printed at every 10% so the log stays short.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ember::zoo {

class Progress {
 public:
  // total: steps in this pass; examples_per_step: for the throughput figure.
  Progress(std::string label, int64_t total, int64_t examples_per_step, bool enabled = true);
  // After step `done` (1-based) with a status text such as "loss 0.4123".
  void update(int64_t done, const std::string& status);
  // Ends the line (on a terminal) so the next output starts on a fresh line.
  void finish();
  double seconds() const;

 private:
  std::string label_;
  int64_t total_, examples_per_step_;
  bool enabled_, tty_;
  int64_t last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:02:03" / "4:05".
std::string format_duration(double seconds);

}  // namespace ember::zoo
