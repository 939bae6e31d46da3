// Rendezvous stores: where ranks publish and look up what they need to connect (Gloo addresses,
// the NCCL unique id). Both are gloo::rendezvous::Store implementations:
//   - FileStore (Gloo's own): a folder every rank can reach (one host, or a shared file system);
//   - TcpStore (ours): rank 0 serves a key-value map at MASTER_ADDR:MASTER_PORT, the others
//     connect to it, as PyTorch's TCPStore does. get() and wait() poll until the keys appear or the
//     timeout passes, then throw "store: ..." naming the missing key.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <gloo/rendezvous/store.h>

namespace ember::dist {

// "tcp://HOST:PORT" (rank 0 serves, the others connect) or "file:PATH"; throws on anything else.
std::shared_ptr<gloo::rendezvous::Store> open_store(const std::string& url, int rank,
                                                    std::chrono::milliseconds timeout);

}  // namespace ember::dist
