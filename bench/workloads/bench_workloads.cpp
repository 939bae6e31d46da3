// Whole-step workload benches, exactly as WORKLOADS.md specifies W1, W2, W3, W4 and W6: shapes,
// inputs, loss, optimizer, warm-up and timed steps. A training step is zero_grad -> forward -> loss
// -> backward -> optimizer step, one wall-clock interval each; the median is the headline figure.
// cpu-med is the median process CPU time per step (all threads; with 1 thread on a shared
// machine it is what the step costs with a core to itself). "ref" is PyTorch 1.13 (Debian, best configuration, 2 threads) on this machine, from the issue;
// ref/ours > 1 means ember is faster. Peak MB is the CPU allocator's peak during the timed steps
// above what was live before them (so the step's own tensors, not the data set, weights or process
// RSS); sys/step counts allocations per step that reached the system allocator.
//
// usage: bench_workloads [--threads N] [--composite-adam] [--matmul-precision highest|bf16]
//                        [W1 W2 W3 W4 W5 W6 W6inf ...]  (default: all; --help)
// --matmul-precision bf16 runs every f32 GEMM with bf16 operands and f32 sums (tensor/matmul_precision.h).
// --busy-loop forks a process that spins on one core for the whole run (a shared machine); the
// pool's late/solo counters (tensor/parallel.h) are printed at the end. bench/threads.sh runs
// W1/W2 at 1 and 2 threads, idle and busy.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <csignal>

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "bench/workloads/common.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/matmul_precision.h"
#include "tensor/parallel.h"

namespace ember::bench {
void run_w3(bool fused_adam);  // w3_colorize.cpp: the zoo/colorize U-Net
namespace {

bool g_fused_adam = true;

// x [..., in] @ w^T + b with PyTorch-default init of w [out, in] and b [out].
struct Linear {
  Tensor w, b;
  Linear(Params& p, int64_t in, int64_t out, Generator& g, bool bias = true) {
    w = p.add(init_uniform({out, in}, in, g));
    if (bias) b = p.add(init_uniform({out}, in, g));
  }
  Tensor operator()(const Tensor& x) const { return linear(x, w, b); }
};

struct Conv {
  Tensor w, b;
  int64_t pad;
  Conv(Params& p, int64_t cin, int64_t cout, int64_t k, Generator& g, bool bias) : pad(k / 2) {
    w = p.add(init_uniform({cout, cin, k, k}, cin * k * k, g));
    if (bias) b = p.add(init_uniform({cout}, cin * k * k, g));
  }
  Tensor operator()(const Tensor& x) const { return conv2d(x, w, b, {.pad_h = pad, .pad_w = pad}); }
};

// BatchNorm2d: weight 1, bias 0, running mean 0 / var 1, momentum 0.1, eps 1e-5.
struct BatchNorm {
  Tensor w, b, rm, rv;
  BatchNorm(Params& p, int64_t c) {
    w = p.add(Tensor::ones({c}));
    b = p.add(Tensor::zeros({c}));
    rm = Tensor::zeros({c});
    rv = Tensor::ones({c});
  }
  Tensor operator()(const Tensor& x, bool training = true) const {
    return batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5);
  }
};

void check_count(const char* name, const Params& p, int64_t want) {
  if (p.count() != want)
    std::printf("WARNING %s: %lld parameters, WORKLOADS.md says %lld\n", name, (long long)p.count(), (long long)want);
}

// ---- W1: MLP 784-256-256-10 on Fashion-MNIST, batch 128, 20 warm-up + 200 timed ----
void run_w1(const Mnist& data) {
  Generator gen(1);
  Params p;
  Linear l1(p, 784, 256, gen), l2(p, 256, 256, gen), l3(p, 256, 10, gen);
  check_count("W1", p, 269322);
  nn::Adam opt(p.list, {.fused = g_fused_adam});
  const int64_t B = 128;
  StepStats s = time_steps(20, 200, [&](int i) {
    Tensor x = data.images.narrow(0, i * B, B).reshape({B, 784});
    Tensor y = data.labels.narrow(0, i * B, B);
    p.zero_grad();
    Tensor h = relu(l1(x));
    h = relu(l2(h));
    Tensor loss = cross_entropy(l3(h), y);
    loss.backward();
    opt.step();
  });
  print_row("W1 mlp train", s, 1.74);
}

// ---- W2: CNN on Fashion-MNIST, batch 64, 10 warm-up + 60 timed ----
void run_w2(const Mnist& data) {
  Generator gen(2);
  Params p;
  Conv c1(p, 1, 32, 3, gen, true), c2(p, 32, 64, 3, gen, true);
  Linear f1(p, 3136, 128, gen), f2(p, 128, 10, gen);
  check_count("W2", p, 421642);
  nn::Adam opt(p.list, {.fused = g_fused_adam});
  const int64_t B = 64;
  StepStats s = time_steps(10, 60, [&](int i) {
    Tensor x = data.images.narrow(0, i * B, B);
    Tensor y = data.labels.narrow(0, i * B, B);
    p.zero_grad();
    Tensor h = max_pool2d(relu(c1(x)));
    h = max_pool2d(relu(c2(h)));
    h = relu(f1(flatten(h, 1)));
    Tensor loss = cross_entropy(f2(h), y);
    loss.backward();
    opt.step();
  });
  print_row("W2 cnn train", s, 17.9);
}

}  // namespace
// ---- W4 / W5: the zoo's Llama-style GQA LM (w4_lm.cpp) ----
void run_w4_lm();
void run_w5_lm();
// ---- W6: zoo/alphazero's policy/value net (bench/workloads/w6_alphazero.cpp) ----
void run_w6_train(bool fused_adam);
void run_w6_infer();
}  // namespace ember::bench

int main(int argc, char** argv) {
  using namespace ember;
  using namespace ember::bench;
  std::vector<std::string> wanted;
  int threads = 0;
  std::string precision;  // "": $EMBER_MATMUL_PRECISION or highest
  bool composite_adam = false, busy_loop = false;
  CLI::App app{"bench_workloads: whole training steps (and W5 generation, W6 inference) of the WORKLOADS.md "
               "workloads, median per step beside the PyTorch 1.13 reference measured on the development machine",
               "bench_workloads"};
  app.add_option("--threads", threads, "CPU threads (default: EMBER_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_flag("--composite-adam", composite_adam, "Adam from elementwise ops instead of the fused kernel");
  app.add_option("--matmul-precision", precision, "highest, or bf16 operands with f32 sums in every GEMM")
      ->check(CLI::IsMember({"highest", "bf16"}));
  app.add_flag("--busy-loop", busy_loop, "fork a process that keeps one core busy while the workloads run");
  app.add_option("workloads", wanted, "any of W1 W2 W3 W4 W5 W6 W6inf (default: all)")
      ->check(CLI::IsMember({"W1", "W2", "W3", "W4", "W5", "W6", "W6inf"}));
  CLI11_PARSE(app, argc, argv);
  g_fused_adam = !composite_adam;
  const std::set<std::string> want(wanted.begin(), wanted.end());
  if (threads > 0) set_num_threads(threads);
  try {  // a bad flag value or EMBER_MATMUL_PRECISION: one line, exit 1
    if (!precision.empty()) set_matmul_precision(parse_matmul_precision(precision));
    (void)matmul_precision();
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_workloads: %s\n", e.what());
    return 1;
  }
  auto on = [&](const char* w) { return want.empty() || want.count(w) > 0; };
  std::printf("ember workloads: isa %s, %d threads, %s Adam, matmul precision %s%s\n",
              std::string(cpu::isa_name(cpu::active_isa())).c_str(), get_num_threads(),
              g_fused_adam ? "fused" : "composite", std::string(matmul_precision_name(matmul_precision())).c_str(),
              matmul_precision() == MatmulPrecision::bf16 && !cpu::has_avx512_bf16() ? " (portable kernel)" : "");
  // The stream definitions' check values (WORKLOADS.md).
  const std::vector<float> u = uniform_stream(3001, {4}).to_vector<float>();
  const std::vector<int64_t> by = bytes_stream(4001, {8}).to_vector<int64_t>();
  if (std::fabs(u[0] - 0.2765f) > 1e-4f || std::fabs(u[3] - 0.5038f) > 1e-4f || by[0] != 163 || by[7] != 138)
    std::printf("WARNING: splitmix64 streams do not match the WORKLOADS.md check values\n");
  pid_t busy = -1;
  if (busy_loop && (busy = fork()) == 0) {
    for (;;) asm volatile("" ::: "memory");  // spin until killed
  }
  struct StopBusy {
    pid_t pid;
    ~StopBusy() {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  } stop_busy{busy};
  if (busy_loop) std::printf("busy loop: process %d spins during the run\n", int(busy));
  print_header();
  try {
    if (on("W1") || on("W2")) {
      const Mnist data = load_fashion_mnist(220 * 128);
      if (on("W1")) run_w1(data);
      if (on("W2")) run_w2(data);
    }
    if (on("W3")) run_w3(g_fused_adam);
    if (on("W4")) run_w4_lm();
    if (on("W5")) run_w5_lm();
    if (on("W6")) run_w6_train(g_fused_adam);
    if (on("W6inf")) run_w6_infer();
    const PoolStats ps = pool_stats();
    std::printf("thread pool: %lld jobs, %lld late, %lld run solo\n", (long long)ps.jobs, (long long)ps.late,
                (long long)ps.solo);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_workloads: %s\n", e.what());
    return 1;
  }
  return 0;
}
