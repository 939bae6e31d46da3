// launch (launch.h): fork + exec per local rank, then a waitpid loop that notices the first failure.
#include "dist/launch.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "tensor/error.h"

namespace ember::dist {

namespace {

using Clock = std::chrono::steady_clock;

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EMBER_CHECK(fd >= 0, "launch: socket() failed ({})", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  EMBER_CHECK(ok, "launch: cannot find a free port ({})", std::strerror(errno));
  return ntohs(addr.sin_port);
}

int status_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

std::string describe(int status) {
  return WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                           : fmt::format("signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
}

}  // namespace

int launch(const LaunchOptions& o) {
  EMBER_CHECK(o.nproc >= 1, "launch: --nproc must be >= 1, got {}", o.nproc);
  EMBER_CHECK(o.nnodes >= 1 && o.node_rank >= 0 && o.node_rank < o.nnodes,
              "launch: --node-rank {} is not in [0, --nnodes {})", o.node_rank, o.nnodes);
  EMBER_CHECK(!o.command.empty(), "launch: no command to run (write it after --)");
  const auto colon = o.master.rfind(':');
  EMBER_CHECK(colon != std::string::npos && colon > 0, "launch: --master '{}' is not ADDR:PORT", o.master);
  const std::string addr = o.master.substr(0, colon);
  int port = -1;
  try {
    port = std::stoi(o.master.substr(colon + 1));
  } catch (const std::exception&) {
  }
  EMBER_CHECK(port >= 0 && port < 65536, "launch: --master '{}' has no valid port", o.master);
  EMBER_CHECK(port != 0 || o.nnodes == 1, "launch: --master needs an explicit port with --nnodes {}", o.nnodes);
  if (port == 0) port = free_port();

  const int world = o.nnodes * o.nproc;
  // Like torchrun, keep N ranks from each spawning a thread per core: unless the user chose a
  // count, each rank gets an equal share of this host's cores.
  const bool threads_set = std::getenv("EMBER_NUM_THREADS") || std::getenv("OMP_NUM_THREADS");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const std::string share = std::to_string(std::max(1, cores / o.nproc));
  std::vector<pid_t> pids(o.nproc, -1);
  std::vector<char*> argv;
  for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (int local = 0; local < o.nproc; ++local) {
    const pid_t pid = ::fork();
    EMBER_CHECK(pid >= 0, "launch: fork failed ({})", std::strerror(errno));
    if (pid == 0) {
      ::setenv("RANK", std::to_string(o.node_rank * o.nproc + local).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
      ::setenv("GROUP_RANK", std::to_string(o.node_rank).c_str(), 1);
      ::setenv("MASTER_ADDR", addr.c_str(), 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      if (!threads_set) ::setenv("EMBER_NUM_THREADS", share.c_str(), 1);
      ::execvp(argv[0], argv.data());
      std::fprintf(stderr, "launch: cannot run '%s' (%s)\n", argv[0], std::strerror(errno));
      std::_Exit(127);
    }
    pids[local] = pid;
  }

  int result = 0, alive = o.nproc;
  std::optional<Clock::time_point> failed_at;
  bool termed = false, killed = false;
  while (alive > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (int local = 0; local < o.nproc; ++local) {
        if (pids[local] != pid) continue;
        pids[local] = -1;
        --alive;
        if (status_code(status) != 0 && !failed_at) {
          result = status_code(status);
          failed_at = Clock::now();
          if (o.verbose)
            std::fprintf(stderr, "launch: rank %d (local %d) failed with %s; stopping the other ranks\n",
                         o.node_rank * o.nproc + local, local, describe(status).c_str());
        }
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (failed_at) {  // escalate: grace, then SIGTERM, then SIGKILL 5 s later
      const auto waited = Clock::now() - *failed_at;
      const int sig = !termed && waited > o.grace ? SIGTERM
                      : !killed && waited > o.grace + std::chrono::seconds(5) ? SIGKILL : 0;
      if (sig != 0) {
        for (pid_t p : pids)
          if (p > 0) ::kill(p, sig);
        (sig == SIGTERM ? termed : killed) = true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return result;
}

}  // namespace ember::dist
