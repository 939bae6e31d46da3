// GlooCommunicator (gloo.h). Every collective gets its own tag (a counter every rank advances in
// the same order) and the communicator's timeout; Gloo's exceptions (peer reset, timeout) become
// ember::Error "<collective>: rank R of W failed (...)".
#include "dist/gloo.h"

#include <signal.h>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <fmt/format.h>

namespace ember::dist {

namespace {

using ReduceFn = void (*)(void*, const void*, const void*, size_t);

class GlooCommunicator final : public Communicator {
 public:
  GlooCommunicator(int rank, int world, std::shared_ptr<gloo::rendezvous::Store> store, const GlooOptions& o)
      : rank_(rank), world_(world), timeout_(o.timeout), store_(std::move(store)) {
    guard("rendezvous", [&] {
      gloo::transport::tcp::attr attr;
      if (!o.iface.empty()) attr.iface = o.iface;
      else attr.hostname = o.hostname;
      auto device = gloo::transport::tcp::CreateDevice(attr);
      ctx_ = std::make_shared<gloo::rendezvous::Context>(rank_, world_);
      ctx_->setTimeout(timeout_);
      gloo::rendezvous::PrefixStore prefixed("ember", *store_);
      ctx_->connectFullMesh(prefixed, device);
    });
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string backend() const override { return "gloo"; }
  std::chrono::milliseconds timeout() const override { return timeout_; }

  void allreduce(void* data, int64_t n, DType dtype, ReduceOp op) override {
    EMBER_CHECK(dtype == DType::f32 || dtype == DType::f64, "allreduce: dtype {} is not f32 or f64", dtype);
    if (n == 0) return;
    guard("allreduce", [&] {
      gloo::AllreduceOptions opts(ctx_);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      if (dtype == DType::f32) {
        opts.setOutput(static_cast<float*>(data), static_cast<size_t>(n));
        opts.setReduceFunction(static_cast<ReduceFn>(&gloo::sum<float>));
      } else {
        opts.setOutput(static_cast<double*>(data), static_cast<size_t>(n));
        opts.setReduceFunction(static_cast<ReduceFn>(&gloo::sum<double>));
      }
      gloo::allreduce(opts);
    });
    if (op == ReduceOp::avg) {
      if (dtype == DType::f32) scale(static_cast<float*>(data), n, 1.0f / static_cast<float>(world_));
      else scale(static_cast<double*>(data), n, 1.0 / world_);
    }
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    if (bytes == 0) return;
    guard("broadcast", [&] {
      gloo::BroadcastOptions opts(ctx_);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      opts.setRoot(root);
      opts.setOutput(static_cast<uint8_t*>(data), static_cast<size_t>(bytes));
      gloo::broadcast(opts);
    });
  }

  void allgather(const void* in, void* out, int64_t bytes) override {
    if (bytes == 0) return;
    guard("allgather", [&] {
      gloo::AllgatherOptions opts(ctx_);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      opts.setInput(const_cast<uint8_t*>(static_cast<const uint8_t*>(in)), static_cast<size_t>(bytes));
      opts.setOutput(static_cast<uint8_t*>(out), static_cast<size_t>(bytes) * static_cast<size_t>(world_));
      gloo::allgather(opts);
    });
  }

  void barrier() override {
    guard("barrier", [&] {
      gloo::BarrierOptions opts(ctx_);
      opts.setTag(next_tag());
      opts.setTimeout(timeout_);
      gloo::barrier(opts);
    });
  }

 private:
  template <class T>
  static void scale(T* p, int64_t n, T s) {
    for (int64_t i = 0; i < n; ++i) p[i] *= s;
  }
  uint32_t next_tag() { return tag_++; }

  template <class Fn>
  void guard(const char* op, Fn&& fn) {
    try {
      fn();
    } catch (const ember::Error&) {
      throw;
    } catch (const std::exception& e) {
      EMBER_CHECK(false, "{}: rank {} of {} failed (a peer died or did not answer within {} ms): {}", op, rank_,
                  world_, timeout_.count(), e.what());
    }
  }

  int rank_, world_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<gloo::rendezvous::Store> store_;
  std::shared_ptr<gloo::rendezvous::Context> ctx_;
  uint32_t tag_ = 1;
};

}  // namespace

CommunicatorPtr make_gloo_communicator(int rank, int world_size, std::shared_ptr<gloo::rendezvous::Store> store,
                                       const GlooOptions& options) {
  EMBER_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "gloo: rank {} is not in a world of {}", rank,
              world_size);
  EMBER_CHECK(store != nullptr, "gloo: no rendezvous store");
  // Gloo writes to its sockets without MSG_NOSIGNAL: a peer that died would kill this process with
  // SIGPIPE instead of letting the collective throw. Ignore it unless the program installed a handler.
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  return std::make_shared<GlooCommunicator>(rank, world_size, std::move(store), options);
}

}  // namespace ember::dist
