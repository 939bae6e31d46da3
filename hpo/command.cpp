// The command objective: placeholder substitution, fork/exec with piped output, a per-trial
// timeout, metric lines as reports, and killing a pruned trial's process group.
#include "hpo/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "tensor/error.h"

namespace ember::hpo {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) out.push_back(s.substr(start, i - start)), start = i + 1;
  return out;
}

double number(const std::string& text, const std::string& spec) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  EMBER_CHECK(ec == std::errc() && p == text.data() + text.size() && !text.empty(),
              "tune command: --param '{}': '{}' is not a number", spec, text);
  return v;
}

// The value of a metric line `NAME=V` / `NAME: V` (surrounding blanks allowed), or none.
std::optional<std::string> metric_text(const std::string& line, const std::string& name) {
  size_t i = line.find_first_not_of(" \t");
  if (i == std::string::npos || line.compare(i, name.size(), name) != 0) return std::nullopt;
  i += name.size();
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i >= line.size() || (line[i] != '=' && line[i] != ':')) return std::nullopt;
  std::string v = line.substr(i + 1);
  v.erase(0, v.find_first_not_of(" \t"));
  v.erase(v.find_last_not_of(" \t\r") + 1);
  return v;
}

struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {  // still running: the whole process group goes
      ::kill(-pid, SIGKILL);
      int st;
      ::waitpid(pid, &st, 0);
    }
  }
};

}  // namespace

void add_param_spec(Space& space, const std::string& spec) {
  const size_t eq = spec.find('=');
  EMBER_CHECK(eq != std::string::npos && eq > 0,
              "tune command: --param '{}' must be NAME=float:LO:HI[:log], NAME=int:LO:HI[:log] or NAME=cat:A,B,...",
              spec);
  const std::string name = spec.substr(0, eq);
  const auto parts = split(spec.substr(eq + 1), ':');
  const std::string& kind = parts[0];
  if (kind == "cat") {
    EMBER_CHECK(parts.size() == 2, "tune command: --param '{}': a categorical is NAME=cat:A,B,...", spec);
    space.add_categorical(name, split(parts[1], ','));
    return;
  }
  EMBER_CHECK((kind == "float" || kind == "int") && (parts.size() == 3 || (parts.size() == 4 && parts[3] == "log")),
              "tune command: --param '{}' must be NAME=float:LO:HI[:log], NAME=int:LO:HI[:log] or NAME=cat:A,B,...",
              spec);
  const bool log = parts.size() == 4;
  const double lo = number(parts[1], spec), hi = number(parts[2], spec);
  if (kind == "float") {
    space.add_float(name, lo, hi, {.log = log});
  } else {
    EMBER_CHECK(lo == std::floor(lo) && hi == std::floor(hi), "tune command: --param '{}': int bounds must be integers",
                spec);
    space.add_int(name, int64_t(lo), int64_t(hi), {.log = log});
  }
}

CommandTrainable::CommandTrainable(CommandOptions opt) : opt_(std::move(opt)) {
  EMBER_CHECK(!opt_.argv.empty(), "tune command: no program given (ember tune command [options] -- PROG ARGS...)");
  EMBER_CHECK(!opt_.metric.empty(), "tune command: --metric must not be empty");
  EMBER_CHECK(opt_.timeout_s >= 0, "tune command: --timeout must be >= 0 (got {})", opt_.timeout_s);
  // Every placeholder names a parameter (a typo would otherwise pass "{lrr}" to the program).
  for (const auto& a : opt_.argv)
    for (size_t i = a.find('{'); i != std::string::npos; i = a.find('{', i + 1)) {
      const size_t j = a.find('}', i);
      if (j == std::string::npos) break;
      const std::string n = a.substr(i + 1, j - i - 1);
      EMBER_CHECK(opt_.space.find(n) != nullptr, "tune command: placeholder {{{}}} in '{}' names no --param", n, a);
    }
}

std::string CommandTrainable::describe() const { return fmt::format("`{}`", fmt::join(opt_.argv, " ")); }

RunResult CommandTrainable::run(Trial& trial, const RunContext& ctx) {
  const auto values = opt_.space.suggest_all(trial);
  std::vector<std::string> args;
  for (std::string a : opt_.argv) {
    for (const auto& [n, v] : values) {
      const std::string key = "{" + n + "}", text = opt_.space.find(n)->dist.format_value(v);
      for (size_t i = a.find(key); i != std::string::npos; i = a.find(key, i + text.size())) a.replace(i, key.size(), text);
    }
    args.push_back(a);
  }
  int out_pipe[2], err_pipe[2];
  EMBER_CHECK(::pipe2(out_pipe, O_CLOEXEC) == 0 && ::pipe2(err_pipe, O_CLOEXEC) == 0,
              "tune command: pipe failed ({})", std::strerror(errno));
  // Everything the child needs is built before fork: after it, only async-signal-safe calls
  // (another thread may hold the allocator's lock).
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const std::string cannot = fmt::format("cannot run '{}'\n", args[0]);
  Child child;
  child.pid = ::fork();
  EMBER_CHECK(child.pid >= 0, "tune command: fork failed ({})", std::strerror(errno));
  if (child.pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execvp(cargs[0], cargs.data());
    (void)!::write(2, cannot.data(), cannot.size());
    ::_exit(127);
  }
  ::setpgid(child.pid, child.pid);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  struct Fds {
    int a, b;
    ~Fds() { ::close(a), ::close(b); }
  } fds{out_pipe[0], err_pipe[0]};
  const auto t0 = std::chrono::steady_clock::now();
  std::string out_buf, err_buf, last_err;
  RunResult r;
  int64_t step = 0;
  std::optional<double> last;
  bool out_open = true, err_open = true;
  auto handle_line = [&](const std::string& line) {
    const auto v = metric_text(line, opt_.metric);
    if (!v) return;
    double x = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
    EMBER_CHECK(ec == std::errc() && p == v->data() + v->size() && !v->empty(),
                "tune command: the program printed '{}={}', which is not a number", opt_.metric, *v);
    last = x;
    r.resource = ++step;
    report_epoch(trial, ctx, step, x);  // may throw TrialPruned: ~Child kills the program
  };
  while (out_open || err_open) {
    int wait_ms = -1;
    if (opt_.timeout_s > 0) {
      const double left = opt_.timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      EMBER_CHECK(left > 0, "tune command: timed out after {:g} s (killed){}", opt_.timeout_s,
                  last_err.empty() ? "" : "; last stderr line: " + last_err);
      wait_ms = int(std::ceil(left * 1000));
    }
    pollfd p[2] = {{out_open ? fds.a : -1, POLLIN, 0}, {err_open ? fds.b : -1, POLLIN, 0}};
    if (::poll(p, 2, wait_ms) < 0) {
      EMBER_CHECK(errno == EINTR, "tune command: poll failed ({})", std::strerror(errno));
      continue;
    }
    for (int k = 0; k < 2; ++k) {
      if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = ::read(k == 0 ? fds.a : fds.b, buf, sizeof buf);
      if (n <= 0) {
        (k == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& acc = k == 0 ? out_buf : err_buf;
      acc.append(buf, size_t(n));
      for (size_t nl = acc.find('\n'); nl != std::string::npos; nl = acc.find('\n')) {
        const std::string line = acc.substr(0, nl);
        acc.erase(0, nl + 1);
        if (k == 0) handle_line(line);
        else if (!line.empty()) last_err = line;
      }
    }
  }
  if (!out_buf.empty()) handle_line(out_buf);
  if (!err_buf.empty()) last_err = err_buf;
  int status = 0;
  while (::waitpid(child.pid, &status, WNOHANG) == 0) {  // output closed; the program may still run
    EMBER_CHECK(opt_.timeout_s <= 0 ||
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < opt_.timeout_s,
                "tune command: timed out after {:g} s (killed)", opt_.timeout_s);
    ::usleep(5000);
  }
  child.pid = -1;
  const std::string tail = last_err.empty() ? "" : "; last stderr line: " + last_err;
  EMBER_CHECK(!WIFSIGNALED(status), "tune command: the program was killed by signal {}{}", WTERMSIG(status), tail);
  EMBER_CHECK(WEXITSTATUS(status) == 0, "tune command: the program exited with status {}{}", WEXITSTATUS(status), tail);
  EMBER_CHECK(last.has_value(), "tune command: the program printed no '{}=VALUE' line{}", opt_.metric, tail);
  r.value = *last;
  return r;
}

}  // namespace ember::hpo
