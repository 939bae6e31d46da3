// GlooCommunicator: CPU collectives over TCP with Facebook's Gloo (Debian libgloo-dev), the engine
// PyTorch uses on CPU. Ranks find each other through a rendezvous store (store.h) and then keep one
// TCP connection per pair; allreduce is Gloo's ring algorithm.
#pragma once

#include <gloo/rendezvous/store.h>

#include "dist/communicator.h"

namespace ember::dist {

struct GlooOptions {
  // Which local address the ranks' connections bind to: a network interface name ("eth0") or, when
  // empty, `hostname` (an address or a name that resolves to one of this host's addresses).
  std::string iface{};
  std::string hostname = "127.0.0.1";
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // rendezvous and every collective
};

// Connects `world_size` ranks through `store` (every rank calls it with the same store contents).
CommunicatorPtr make_gloo_communicator(int rank, int world_size, std::shared_ptr<gloo::rendezvous::Store> store,
                                       const GlooOptions& options);

}  // namespace ember::dist
