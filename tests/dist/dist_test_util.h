// Helpers for the dist tests: temp folders, free loopback ports, error-message assertions.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "dist/ddp.h"
#include "nn/container.h"
#include "nn/layers.h"
#include "nn/optim/sgd.h"

// Expects `stmt` to throw a std::exception whose message contains `text`.
#define EXPECT_THROW_MSG(stmt, text)                                                   \
  do {                                                                                 \
    try {                                                                              \
      stmt;                                                                            \
      ADD_FAILURE() << #stmt " did not throw";                                         \
    } catch (const std::exception& e_) {                                               \
      EXPECT_NE(std::string(e_.what()).find(text), std::string::npos) << e_.what();   \
    }                                                                                  \
  } while (0)

namespace ember::dist::testing {

inline std::filesystem::path make_temp_dir(const std::string& stem) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + "_" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

// A port that was free a moment ago on 127.0.0.1 (the OS picks it).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The tiny training problem of the DDP tests: an MLP 16-32-5 on 64 fixed random samples.
inline std::shared_ptr<nn::Sequential> tiny_model(uint64_t seed) {
  manual_seed(seed);
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Linear>(16, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 5)});
}

// `steps` SGD steps (lr 0.1, momentum 0.9) of cross-entropy over the 64 samples; with a
// communicator, rank r of W takes rows [r*64/W, (r+1)*64/W) and DDP averages the gradients. Returns
// the loss of each step (averaged over the ranks).
inline std::vector<double> tiny_train(nn::ModulePtr model, CommunicatorPtr comm, int steps,
                                      int64_t bucket_bytes = int64_t(25) << 20, bool overlap = true) {
  Generator gen(123);
  Tensor x = Tensor::randn({64, 16}, {}, &gen), y = Tensor::randint(0, 5, {64}, {.dtype = DType::i64}, &gen);
  std::optional<DistributedDataParallel> ddp;
  if (comm) {
    ddp.emplace(model, comm, DdpOptions{.bucket_bytes = bucket_bytes, .overlap = overlap});
    const int64_t n = 64 / comm->world_size();
    x = x.narrow(0, comm->rank() * n, n);
    y = y.narrow(0, comm->rank() * n, n);
  }
  nn::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(model->forward(x), y);
    loss.backward();
    if (ddp) ddp->sync_gradients();
    opt.step();
    losses.push_back(comm ? comm->allreduce(loss.item(), ReduceOp::avg) : loss.item());
  }
  return losses;
}

inline double max_relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-30));
  return worst;
}

}  // namespace ember::dist::testing
