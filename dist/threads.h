// ThreadGroup: a world of ranks that are threads of one process, for unit tests of everything
// built on Communicator (DDP, samplers) without sockets. make_thread_group(n) returns one
// communicator per rank; hand communicator r to thread r. Collectives meet at a shared rendezvous
// (generation-counted, so consecutive collectives never mix) and reduce in rank order, so results
// are deterministic. A rank that does not arrive within the timeout makes the others throw.
#pragma once

#include <vector>

#include "dist/communicator.h"

namespace ember::dist {

std::vector<CommunicatorPtr> make_thread_group(int world_size,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace ember::dist
