// NcclCommunicator: GPU collectives with NVIDIA's NCCL (CUDA builds). One GPU per local rank
// (cudaSetDevice(LOCAL_RANK)); rank 0 creates the unique id and shares it through the same
// rendezvous store Gloo uses. Each collective runs on a stream of its own; the host then polls it
// (and ncclCommGetAsyncError) until it finishes or the timeout passes, when the communicator is
// aborted and the call throws, so a dead peer never hangs the others.
#include <cuda_runtime.h>
#include <nccl.h>

#include <thread>

#include "dist/init.h"
#include "dist/store.h"

namespace ember::dist {

namespace {

using Clock = std::chrono::steady_clock;

#define EMBER_NCCL_CHECK(call, op)                                                                         \
  do {                                                                                                     \
    const ncclResult_t r_ = (call);                                                                        \
    EMBER_CHECK(r_ == ncclSuccess || r_ == ncclInProgress, "{}: rank {} of {} failed ({}: {})", op, rank_, \
                world_, #call, ncclGetErrorString(r_));                                                    \
  } while (0)

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const DistEnv& e, const std::string& store_url, std::chrono::milliseconds timeout)
      : rank_(e.rank), world_(e.world_size), timeout_(timeout) {
    int devices = 0;
    EMBER_CHECK(cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0, "nccl: no CUDA device on this host");
    EMBER_CHECK(e.local_rank < devices, "nccl: LOCAL_RANK {} has no GPU (this host has {})", e.local_rank, devices);
    cudaSetDevice(e.local_rank);
    auto store = open_store(store_url, rank_, timeout_);
    ncclUniqueId id;
    if (rank_ == 0) {
      EMBER_NCCL_CHECK(ncclGetUniqueId(&id), "nccl");
      store->set("ember/nccl_id", std::vector<char>(id.internal, id.internal + sizeof(id.internal)));
    } else {
      const std::vector<char> v = store->get("ember/nccl_id");
      EMBER_CHECK(v.size() == sizeof(id.internal), "nccl: unique id from the store has {} bytes", v.size());
      std::copy(v.begin(), v.end(), id.internal);
    }
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // non-blocking: init and collectives can be polled and aborted
    EMBER_NCCL_CHECK(ncclCommInitRankConfig(&comm_, world_, id, rank_, &config), "nccl init");
    wait_comm("nccl init");
    cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_; }
  std::string backend() const override { return "nccl"; }
  std::chrono::milliseconds timeout() const override { return timeout_; }

  void allreduce(void* data, int64_t n, DType dtype, ReduceOp op) override {
    EMBER_CHECK(dtype == DType::f32 || dtype == DType::f64, "allreduce: dtype {} is not f32 or f64", dtype);
    const ncclDataType_t t = dtype == DType::f32 ? ncclFloat32 : ncclFloat64;
    EMBER_NCCL_CHECK(ncclAllReduce(data, data, size_t(n), t, op == ReduceOp::avg ? ncclAvg : ncclSum, comm_, stream_),
                     "allreduce");
    wait_stream("allreduce");
  }
  void broadcast(void* data, int64_t bytes, int root) override {
    EMBER_NCCL_CHECK(ncclBroadcast(data, data, size_t(bytes), ncclUint8, root, comm_, stream_), "broadcast");
    wait_stream("broadcast");
  }
  void allgather(const void* in, void* out, int64_t bytes) override {
    EMBER_NCCL_CHECK(ncclAllGather(in, out, size_t(bytes), ncclUint8, comm_, stream_), "allgather");
    wait_stream("allgather");
  }
  void barrier() override { (void)allreduce(0.0, ReduceOp::sum); }  // NCCL has no barrier: a 1-element allreduce

  double allreduce(double value, ReduceOp op) override {  // through one double of device memory
    double* d = nullptr;
    EMBER_CHECK(cudaMalloc(&d, sizeof(double)) == cudaSuccess, "allreduce: cudaMalloc of 8 bytes failed");
    try {
      cudaMemcpy(d, &value, sizeof(double), cudaMemcpyHostToDevice);
      allreduce(d, 1, DType::f64, op);
      cudaMemcpy(&value, d, sizeof(double), cudaMemcpyDeviceToHost);
    } catch (...) {
      cudaFree(d);
      throw;
    }
    cudaFree(d);
    return value;
  }
  using Communicator::allreduce;  // the tensor form

 private:
  void wait_comm(const char* op) {
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (state == ncclSuccess) return;
      if (state != ncclInProgress || Clock::now() > deadline) fail(op, state);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void wait_stream(const char* op) {
    const auto deadline = Clock::now() + timeout_;
    for (;;) {
      const cudaError_t q = cudaStreamQuery(stream_);
      if (q == cudaSuccess) return;
      ncclResult_t state = ncclSuccess;
      ncclCommGetAsyncError(comm_, &state);
      if (q != cudaErrorNotReady || (state != ncclSuccess && state != ncclInProgress) || Clock::now() > deadline)
        fail(op, state);
      std::this_thread::yield();
    }
  }
  [[noreturn]] void fail(const char* op, ncclResult_t state) {
    ncclCommAbort(comm_);
    comm_ = nullptr;
    EMBER_CHECK(false, "{}: rank {} of {} failed (a peer died or did not answer within {} ms; nccl: {})", op, rank_,
                world_, timeout_.count(), ncclGetErrorString(state));
    throw;  // unreachable
  }

  int rank_, world_;
  std::chrono::milliseconds timeout_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

CommunicatorPtr make_nccl_communicator(const DistEnv& env, const std::string& store_url,
                                       std::chrono::milliseconds timeout) {
  return std::make_shared<NcclCommunicator>(env, store_url, timeout);
}

}  // namespace ember::dist
