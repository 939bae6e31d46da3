// `ember launch`: run N copies of a command with the torchrun environment (dist/launch.h).
//   ember launch --nproc 2 -- ember train fmnist --distributed
//   ember launch --nproc 4 --nnodes 2 --node-rank 0 --master 10.0.0.1:29500 -- ember train fmnist --distributed
#include <cstdlib>

#include "cli/commands.h"
#include "cli/usage.h"
#include "dist/launch.h"

namespace ember::cli {

void add_launch_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "launch", "run N copies of a command as ranks of one distributed job (RANK, WORLD_SIZE, LOCAL_RANK, "
                "MASTER_ADDR, MASTER_PORT), like torchrun");
  auto o = std::make_shared<dist::LaunchOptions>();
  auto grace_s = std::make_shared<double>(10);
  cmd->add_option("--nproc", o->nproc, "processes on this node")->check(positive())->capture_default_str();
  cmd->add_option("--nnodes", o->nnodes, "nodes in the job")->check(positive())->capture_default_str();
  cmd->add_option("--node-rank", o->node_rank, "this node's rank, 0..nnodes-1")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--master", o->master, "rank 0's ADDR:PORT (port 0: a free one, single node only)")
      ->capture_default_str();
  cmd->add_option("--grace", *grace_s, "seconds the other ranks get to exit after one fails, before SIGTERM")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("command", o->command, "the command each rank runs (after --)")->required();
  cmd->callback([o, grace_s] {
    o->grace = std::chrono::milliseconds(static_cast<int64_t>(*grace_s * 1000));
    const int rc = dist::launch(*o);
    if (rc != 0) std::exit(rc);  // the failing rank's status is the launcher's
  });
}

}  // namespace ember::cli
