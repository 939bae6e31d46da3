// ThreadGroup (threads.h): ranks are threads; every collective is "post my buffer, meet, act, meet".
#include "dist/threads.h"

#include <condition_variable>
#include <cstring>
#include <mutex>

#include <fmt/format.h>

namespace ember::dist {

namespace {

// What every rank shares: the posted buffers and a reusable, generation-counted barrier.
struct Rendezvous {
  explicit Rendezvous(int n, std::chrono::milliseconds t) : world(n), timeout(t), in(n), out(n) {}
  const int world;
  const std::chrono::milliseconds timeout;
  std::vector<const void*> in;
  std::vector<void*> out;
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  int64_t generation = 0;
  bool broken = false;  // a rank timed out: every later collective fails at once

  void meet(const char* op, int rank) {
    std::unique_lock lock(mu);
    EMBER_CHECK(!broken, "{}: rank {} of {} failed (the thread group broke after an earlier timeout)", op, rank, world);
    const int64_t gen = generation;
    if (++arrived == world) {
      arrived = 0;
      ++generation;
      cv.notify_all();
      return;
    }
    if (!cv.wait_for(lock, timeout, [&] { return generation != gen || broken; }) || broken) {
      const int missing = world - arrived;
      broken = true;
      cv.notify_all();
      EMBER_CHECK(false, "{}: rank {} of {} failed ({} rank(s) did not arrive within {} ms)", op, rank, world, missing,
                  timeout.count());
    }
  }
};

template <class T>
void reduce_into(T* dst, const std::vector<const void*>& src, int64_t n, bool avg) {
  const auto world = static_cast<T>(src.size());
  for (int64_t i = 0; i < n; ++i) {
    T s = 0;
    for (const void* p : src) s += static_cast<const T*>(p)[i];  // rank order: deterministic
    dst[i] = avg ? s / world : s;
  }
}

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(std::shared_ptr<Rendezvous> rv, int rank) : rv_(std::move(rv)), rank_(rank) {}
  int rank() const override { return rank_; }
  int world_size() const override { return rv_->world; }
  std::string backend() const override { return "threads"; }
  std::chrono::milliseconds timeout() const override { return rv_->timeout; }

  void allreduce(void* data, int64_t n, DType dtype, ReduceOp op) override {
    EMBER_CHECK(dtype == DType::f32 || dtype == DType::f64, "allreduce: dtype {} is not f32 or f64", dtype);
    // Every rank copies its input, then each reduces all copies into its own buffer.
    const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
    std::vector<char> mine(static_cast<const char*>(data), static_cast<const char*>(data) + bytes);
    rv_->in[rank_] = mine.data();
    rv_->meet("allreduce", rank_);
    if (dtype == DType::f32) reduce_into(static_cast<float*>(data), rv_->in, n, op == ReduceOp::avg);
    else reduce_into(static_cast<double*>(data), rv_->in, n, op == ReduceOp::avg);
    rv_->meet("allreduce", rank_);  // keep `mine` alive until everyone has read it
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    rv_->in[rank_] = data;
    rv_->meet("broadcast", rank_);
    if (rank_ != root) std::memcpy(data, rv_->in[root], static_cast<size_t>(bytes));
    rv_->meet("broadcast", rank_);
  }

  void allgather(const void* in, void* out, int64_t bytes) override {
    rv_->in[rank_] = in;
    rv_->meet("allgather", rank_);
    for (int r = 0; r < rv_->world; ++r)
      std::memcpy(static_cast<char*>(out) + r * bytes, rv_->in[r], static_cast<size_t>(bytes));
    rv_->meet("allgather", rank_);
  }

  void barrier() override { rv_->meet("barrier", rank_); }

 private:
  std::shared_ptr<Rendezvous> rv_;
  int rank_;
};

}  // namespace

std::vector<CommunicatorPtr> make_thread_group(int world_size, std::chrono::milliseconds timeout) {
  EMBER_CHECK(world_size >= 1, "make_thread_group: world size must be >= 1, got {}", world_size);
  auto rv = std::make_shared<Rendezvous>(world_size, timeout);
  std::vector<CommunicatorPtr> comms;
  for (int r = 0; r < world_size; ++r) comms.push_back(std::make_shared<ThreadCommunicator>(rv, r));
  return comms;
}

}  // namespace ember::dist
