// Joining a distributed run from the environment, as torchrun-launched programs do:
//   RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (set by `ember launch`
//   or torchrun), or mpirun's OMPI_COMM_WORLD_RANK / _SIZE / _LOCAL_RANK / _LOCAL_SIZE when RANK is
//   absent (then MASTER_ADDR/MASTER_PORT must still name rank 0's host and a free port).
// Optional: EMBER_DIST_STORE (file:PATH instead of tcp://MASTER_ADDR:MASTER_PORT),
//   EMBER_DIST_IFACE or GLOO_SOCKET_IFNAME (network interface for Gloo), EMBER_DIST_TIMEOUT (seconds).
#pragma once

#include <optional>

#include "dist/communicator.h"

namespace ember::dist {

struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0, local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// The run's placement from the environment; nullopt when neither RANK nor OMPI_COMM_WORLD_RANK is
// set (a plain single-process run). Throws on malformed or inconsistent values.
std::optional<DistEnv> env_from_environment();

struct InitOptions {
  std::string backend = "gloo";  // "gloo" (CPU) or "nccl" (CUDA builds, one GPU per local rank)
  std::string store;             // "": $EMBER_DIST_STORE, else tcp://MASTER_ADDR:MASTER_PORT
  std::string iface;             // "": $EMBER_DIST_IFACE / $GLOO_SOCKET_IFNAME, else by address
  std::chrono::milliseconds timeout{0};  // 0: $EMBER_DIST_TIMEOUT seconds, else 300 s
};

// Connects this process to the others described by `env`; every rank calls it.
CommunicatorPtr init_process_group(const DistEnv& env, InitOptions options = {});

// NCCL (nccl.cpp, CUDA builds only): exchanges the unique id through `store`.
CommunicatorPtr make_nccl_communicator(const DistEnv& env, const std::string& store_url,
                                       std::chrono::milliseconds timeout);

}  // namespace ember::dist
