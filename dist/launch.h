// launch: start `nproc` copies of a command on this node with the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), wait for them, and
// stop the rest when one fails. `ember launch` (cli/launch.cpp) is a thin wrapper.
//   node with rank R of M nodes: RANK = R * nproc + LOCAL_RANK, WORLD_SIZE = M * nproc.
// Unless EMBER_NUM_THREADS or OMP_NUM_THREADS is set, each rank gets EMBER_NUM_THREADS =
// max(1, cores / nproc), so the ranks do not oversubscribe the host.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace ember::dist {

struct LaunchOptions {
  int nproc = 1;
  int nnodes = 1, node_rank = 0;
  // Rank 0's host and the rendezvous port. Port 0 (single node only): pick a free port.
  std::string master = "127.0.0.1:0";
  std::vector<std::string> command{};  // program and its arguments (PATH is searched)
  // After the first rank fails, how long the others get to notice and exit on their own before
  // SIGTERM (and SIGKILL 5 s later).
  std::chrono::milliseconds grace = std::chrono::seconds(10);
  bool verbose = true;  // one line per rank that fails, and a summary
};

// Runs the ranks and returns the exit status to report: 0 when every rank exited 0, else the first
// failing rank's exit code (128 + signal when it was killed). Throws on bad options.
int launch(const LaunchOptions& options);

}  // namespace ember::dist
