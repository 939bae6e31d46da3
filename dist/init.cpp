// Environment parsing and init_process_group (init.h).
#include "dist/init.h"

#include <unistd.h>

#include <cstdlib>

#include "dist/gloo.h"
#include "dist/store.h"

namespace ember::dist {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(const char* name, int fallback) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  EMBER_CHECK(end && *end == '\0' && x >= 0 && x < (1L << 30), "dist: environment variable {}='{}' is not a count",
              name, v);
  return static_cast<int>(x);
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

}  // namespace

std::optional<DistEnv> env_from_environment() {
  const bool torchrun = env("RANK") != nullptr, mpi = env("OMPI_COMM_WORLD_RANK") != nullptr;
  if (!torchrun && !mpi) return std::nullopt;
  DistEnv e;
  if (torchrun) {
    e.rank = env_int("RANK", 0);
    e.world_size = env_int("WORLD_SIZE", 1);
    e.local_rank = env_int("LOCAL_RANK", e.rank);
    e.local_world_size = env_int("LOCAL_WORLD_SIZE", e.world_size);
  } else {
    e.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    e.world_size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", e.rank);
    e.local_world_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", e.world_size);
  }
  if (const char* a = env("MASTER_ADDR")) e.master_addr = a;
  e.master_port = env_int("MASTER_PORT", e.master_port);
  EMBER_CHECK(e.world_size >= 1 && e.rank < e.world_size, "dist: RANK {} is not in a world of WORLD_SIZE {}", e.rank,
              e.world_size);
  EMBER_CHECK(e.local_rank < e.local_world_size, "dist: LOCAL_RANK {} is not below LOCAL_WORLD_SIZE {}", e.local_rank,
              e.local_world_size);
  EMBER_CHECK(e.master_port > 0 && e.master_port < 65536, "dist: MASTER_PORT {} is not a port", e.master_port);
  return e;
}

CommunicatorPtr init_process_group(const DistEnv& e, InitOptions o) {
  if (o.timeout.count() == 0) o.timeout = std::chrono::seconds(env_int("EMBER_DIST_TIMEOUT", 300));
  if (o.store.empty()) {
    const char* s = env("EMBER_DIST_STORE");
    o.store = s ? s : "tcp://" + e.master_addr + ":" + std::to_string(e.master_port);
  }
  if (o.backend == "nccl") return make_nccl_communicator(e, o.store, o.timeout);
  EMBER_CHECK(o.backend == "gloo", "dist: unknown backend '{}' (expected gloo or nccl)", o.backend);
  GlooOptions g;
  g.timeout = o.timeout;
  if (!o.iface.empty()) g.iface = o.iface;
  else if (const char* i = env("EMBER_DIST_IFACE")) g.iface = i;
  else if (const char* i2 = env("GLOO_SOCKET_IFNAME")) g.iface = i2;
  if (g.iface.empty() && !is_loopback(e.master_addr)) {  // many hosts: this host's own name
    char name[256] = {};
    ::gethostname(name, sizeof(name) - 1);
    g.hostname = name;
  }
  return make_gloo_communicator(e.rank, e.world_size, open_store(o.store, e.rank, o.timeout), g);
}

#ifndef EMBER_DIST_NCCL
CommunicatorPtr make_nccl_communicator(const DistEnv&, const std::string&, std::chrono::milliseconds) {
  EMBER_CHECK(false, "dist: backend nccl needs a CUDA build of ember with NCCL (this build has none)");
  return nullptr;
}
#endif

}  // namespace ember::dist
