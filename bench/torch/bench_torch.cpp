// The PyTorch peer of bench_workloads: WORKLOADS.md W1, W2, W3, W4 and W6 (training steps), W5
// (greedy generation with and without a KV cache) and W6 inference at batch 1 and 16 written against libtorch (Debian libtorch-dev, PyTorch 1.13), timed
// the same way (one wall-clock interval per step, median after the warm-up) and printed in
// bench_workloads' row format so scripts/bench-vs-torch.sh can put the two side by side.
// Built only by that script, when libtorch is installed (never by the default set-up).
//
// usage: bench_torch [--threads N] [W1 W2 W3 W4 W5 W6 W6inf ...]   (default: all)
// Threads: torch::set_num_threads(N); the script also sets OMP_NUM_THREADS / OPENBLAS_NUM_THREADS.
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace {

using torch::Tensor;
namespace nn = torch::nn;
namespace F = torch::nn::functional;

uint64_t splitmix64(uint64_t s, uint64_t k) {
  uint64_t z = s + (k + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
Tensor uniform_stream(uint64_t seed, std::vector<int64_t> shape) {
  Tensor t = torch::empty(shape, torch::kFloat32);
  float* p = t.data_ptr<float>();
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = float(double(splitmix64(seed, uint64_t(k)) >> 40) / 16777216.0);
  return t;
}
Tensor bytes_stream(uint64_t seed, std::vector<int64_t> shape) {
  Tensor t = torch::empty(shape, torch::kInt64);
  int64_t* p = t.data_ptr<int64_t>();
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = int64_t(splitmix64(seed, uint64_t(k)) >> 56);
  return t;
}

// Fashion-MNIST training split (Debian dataset-fashion-mnist): the first n images / 255 and labels.
std::pair<Tensor, Tensor> fashion_mnist(int64_t n) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  auto read = [&](const std::string& name, int64_t header, int64_t bytes) {
    gzFile f = gzopen((dir + name).c_str(), "rb");
    if (!f) throw std::runtime_error("bench_torch: cannot open " + dir + name);
    std::vector<uint8_t> buf(size_t(header + bytes));
    const int got = gzread(f, buf.data(), unsigned(buf.size()));
    gzclose(f);
    if (got != int(buf.size())) throw std::runtime_error("bench_torch: short read in " + name);
    return std::vector<uint8_t>(buf.begin() + header, buf.end());
  };
  const auto img = read("train-images-idx3-ubyte.gz", 16, n * 784), lab = read("train-labels-idx1-ubyte.gz", 8, n);
  Tensor x = torch::empty({n, 1, 28, 28}), y = torch::empty({n}, torch::kInt64);
  for (int64_t i = 0; i < n * 784; ++i) x.data_ptr<float>()[i] = float(img[size_t(i)]) / 255.0f;
  for (int64_t i = 0; i < n; ++i) y.data_ptr<int64_t>()[i] = lab[size_t(i)];
  return {x, y};
}

double cpu_ms() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t i = size_t(pos);
  return i + 1 < v.size() ? v[i] + (pos - double(i)) * (v[i + 1] - v[i]) : v[i];
}

// Times `timed` calls after `warmup`; prints the row (scale 1000 = microseconds).
void run(const char* name, int warmup, int timed, const std::function<void(int)>& step, double scale = 1,
         const char* unit = "ms") {
  std::vector<double> ms, cpu;
  for (int i = 0; i < warmup + timed; ++i) {
    const double c0 = cpu_ms();
    const auto t0 = std::chrono::steady_clock::now();
    step(i);
    const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= warmup) {
      ms.push_back(dt * scale);
      cpu.push_back((cpu_ms() - c0) * scale);
    }
  }
  double mean = 0;
  for (double v : ms) mean += v / double(ms.size());
  std::printf("%-18s %8.3f%-2s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f\n", name, quantile(ms, 0.5), unit, quantile(ms, 0),
              quantile(ms, 0.1), quantile(ms, 0.9), quantile(ms, 1), mean, quantile(cpu, 0.5));
  std::fflush(stdout);
}

void w1(const Tensor& images, const Tensor& labels) {
  torch::manual_seed(1);
  nn::Sequential net(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 256), nn::ReLU(), nn::Linear(256, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t B = 128;
  run("W1 mlp train", 20, 200, [&](int i) {
    Tensor x = images.narrow(0, i * B, B).reshape({B, 784}), y = labels.narrow(0, i * B, B);
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net->forward(x), y);
    loss.backward();
    opt.step();
  });
}

void w2(const Tensor& images, const Tensor& labels) {
  torch::manual_seed(2);
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                     nn::Flatten(), nn::Linear(3136, 128), nn::ReLU(), nn::Linear(128, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t B = 64;
  run("W2 cnn train", 10, 60, [&](int i) {
    Tensor x = images.narrow(0, i * B, B), y = labels.narrow(0, i * B, B);
    opt.zero_grad();
    Tensor loss = F::cross_entropy(net->forward(x), y);
    loss.backward();
    opt.step();
  });
}

nn::Sequential conv_bn_relu(int64_t cin, int64_t cout, int64_t k) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(cin, cout, k).padding(k / 2).bias(false)),
                        nn::BatchNorm2d(cout), nn::ReLU());
}

struct UNetImpl : nn::Module {
  std::vector<nn::Sequential> down, up_conv;
  std::vector<nn::ConvTranspose2d> up;
  nn::Conv2d head{nullptr};
  UNetImpl() {
    const int64_t w[] = {1, 32, 64, 128, 256};
    for (int i = 0; i < 4; ++i) {
      nn::Sequential dc;
      dc->extend(*conv_bn_relu(w[i], w[i + 1], 3));
      dc->extend(*conv_bn_relu(w[i + 1], w[i + 1], 3));
      down.push_back(register_module("down" + std::to_string(i), dc));
    }
    for (int i = 4; i > 1; --i) {
      up.push_back(register_module("up" + std::to_string(i),
                                   nn::ConvTranspose2d(nn::ConvTranspose2dOptions(w[i], w[i - 1], 2).stride(2))));
      nn::Sequential dc;
      dc->extend(*conv_bn_relu(w[i], w[i - 1], 3));
      dc->extend(*conv_bn_relu(w[i - 1], w[i - 1], 3));
      up_conv.push_back(register_module("upc" + std::to_string(i), dc));
    }
    head = register_module("head", nn::Conv2d(nn::Conv2dOptions(32, 3, 1)));
  }
  Tensor forward(Tensor x) {
    std::vector<Tensor> skips;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) x = F::max_pool2d(x, F::MaxPool2dFuncOptions(2));
      x = down[size_t(i)]->forward(x);
      skips.push_back(x);
    }
    for (int i = 0; i < 3; ++i) x = up_conv[size_t(i)]->forward(torch::cat({up[size_t(i)]->forward(x), skips[size_t(2 - i)]}, 1));
    return torch::sigmoid(head->forward(x));
  }
};
TORCH_MODULE(UNet);

int64_t count(const std::vector<Tensor>& ps) {
  int64_t n = 0;
  for (const auto& p : ps) n += p.numel();
  return n;
}

void w3() {
  torch::manual_seed(3);
  UNet net;
  if (count(net->parameters()) != 1926499) std::printf("WARNING W3: %lld parameters\n", (long long)count(net->parameters()));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const Tensor x = uniform_stream(3001, {16, 1, 64, 64}), t = uniform_stream(3002, {16, 3, 64, 64});
  run("W3 unet train", 5, 30, [&](int) {
    opt.zero_grad();
    Tensor loss = F::l1_loss(net->forward(x), t);
    loss.backward();
    opt.step();
  });
}

// W4: Llama-style GQA LM (pre-norm RMSNorm, RoPE rotate-half, GQA 8/2 heads, SwiGLU 688, untied head).
struct LmImpl : nn::Module {
  nn::Embedding emb{nullptr};
  std::vector<Tensor> norm1, norm2;
  std::vector<nn::Linear> wq, wk, wv, wo, w1, w2, w3;
  Tensor norm_f;
  nn::Linear head{nullptr};
  Tensor cos_t, sin_t;
  LmImpl() {
    emb = register_module("emb", nn::Embedding(256, 256));
    auto lin = [&](const std::string& n, int64_t i, int64_t o) {
      return register_module(n, nn::Linear(nn::LinearOptions(i, o).bias(false)));
    };
    for (int l = 0; l < 4; ++l) {
      const std::string s = std::to_string(l);
      norm1.push_back(register_parameter("n1_" + s, torch::ones({256})));
      norm2.push_back(register_parameter("n2_" + s, torch::ones({256})));
      wq.push_back(lin("wq" + s, 256, 256));
      wk.push_back(lin("wk" + s, 256, 64));
      wv.push_back(lin("wv" + s, 256, 64));
      wo.push_back(lin("wo" + s, 256, 256));
      w1.push_back(lin("w1" + s, 256, 688));
      w3.push_back(lin("w3" + s, 256, 688));
      w2.push_back(lin("w2" + s, 688, 256));
    }
    norm_f = register_parameter("nf", torch::ones({256}));
    head = lin("head", 256, 256);
    std::vector<float> c(256 * 32), sn(256 * 32);  // positions 0..255 (W5 generates up to 256)
    for (int t = 0; t < 256; ++t)
      for (int i = 0; i < 32; ++i) {
        const double th = t * std::pow(10000.0, -2.0 * (i % 16) / 32.0);
        c[size_t(t * 32 + i)] = float(std::cos(th));
        sn[size_t(t * 32 + i)] = float(std::sin(th));
      }
    cos_t = torch::from_blob(c.data(), {256, 32}).clone();
    sin_t = torch::from_blob(sn.data(), {256, 32}).clone();
  }
  static Tensor rms(const Tensor& x, const Tensor& w) { return x * torch::rsqrt(x.pow(2).mean(-1, true) + 1e-5) * w; }
  // x [B, H, T, 32] at positions pos .. pos+T-1.
  Tensor rope(const Tensor& x, int64_t pos = 0) const {
    const int64_t T = x.size(2);
    Tensor rot = torch::cat({-x.narrow(-1, 16, 16), x.narrow(-1, 0, 16)}, -1);
    return x * cos_t.narrow(0, pos, T) + rot * sin_t.narrow(0, pos, T);
  }
  Tensor forward(const Tensor& tok) {
    const int64_t B = tok.size(0), T = tok.size(1);
    Tensor x = emb->forward(tok);
    Tensor mask = torch::full({T, T}, -INFINITY).triu(1);
    for (size_t l = 0; l < 4; ++l) {
      Tensor h = rms(x, norm1[l]);
      Tensor q = rope(wq[l]->forward(h).view({B, T, 8, 32}).transpose(1, 2));
      Tensor k = rope(wk[l]->forward(h).view({B, T, 2, 32}).transpose(1, 2)).repeat_interleave(4, 1);
      Tensor v = wv[l]->forward(h).view({B, T, 2, 32}).transpose(1, 2).repeat_interleave(4, 1);
      Tensor att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(32.0) + mask, -1);
      x = x + wo[l]->forward(torch::matmul(att, v).transpose(1, 2).reshape({B, T, 256}));
      h = rms(x, norm2[l]);
      x = x + w2[l]->forward(torch::silu(w1[l]->forward(h)) * w3[l]->forward(h));
    }
    return head->forward(rms(x, norm_f));
  }
  // W5's cached forward (batch 1): tok [1, T] at positions pos.., post-RoPE keys and values written
  // into kc / vc [1, 2, 256, 32] per layer; attention over the cached 0 .. pos+T-1 (causal mask
  // for a multi-token prefill). Returns the last position's logits [1, 256].
  Tensor forward_cached(const Tensor& tok, int64_t pos, std::vector<Tensor>& kc, std::vector<Tensor>& vc) {
    const int64_t T = tok.size(1), S = pos + T;
    Tensor x = emb->forward(tok);
    Tensor mask = T > 1 ? torch::full({T, S}, -INFINITY).triu(1 + pos) : torch::zeros({1, S});
    for (size_t l = 0; l < 4; ++l) {
      Tensor h = rms(x, norm1[l]);
      Tensor q = rope(wq[l]->forward(h).view({1, T, 8, 32}).transpose(1, 2), pos);
      kc[l].narrow(2, pos, T).copy_(rope(wk[l]->forward(h).view({1, T, 2, 32}).transpose(1, 2), pos));
      vc[l].narrow(2, pos, T).copy_(wv[l]->forward(h).view({1, T, 2, 32}).transpose(1, 2));
      Tensor k = kc[l].narrow(2, 0, S).repeat_interleave(4, 1), v = vc[l].narrow(2, 0, S).repeat_interleave(4, 1);
      Tensor att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(32.0) + mask, -1);
      x = x + wo[l]->forward(torch::matmul(att, v).transpose(1, 2).reshape({1, T, 256}));
      h = rms(x, norm2[l]);
      x = x + w2[l]->forward(torch::silu(w1[l]->forward(h)) * w3[l]->forward(h));
    }
    return head->forward(rms(x.narrow(1, T - 1, 1), norm_f)).reshape({1, 256});
  }
};
TORCH_MODULE(Lm);

void w4() {
  torch::manual_seed(4);
  Lm model;
  if (count(model->parameters()) != 2902272)
    std::printf("WARNING W4: %lld parameters\n", (long long)count(model->parameters()));
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-4).weight_decay(0.1));
  const Tensor tok = bytes_stream(4001, {16, 129});
  const Tensor in = tok.narrow(1, 0, 128).contiguous(), target = tok.narrow(1, 1, 128).contiguous().reshape({2048});
  run("W4 gqa-lm train", 5, 30, [&](int) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy(model->forward(in).reshape({2048, 256}), target);
    loss.backward();
    opt.step();
  });
}

// W5: greedy generation of 240 bytes after the 16-byte prompt bytes(5001), eval mode, no grad:
// with a hand-written KV cache (1 prefill + 239 one-token forwards) and without (240 full
// forwards). Rows in ms per generation, then tokens/s as bench_workloads prints them.
void w5() {
  torch::manual_seed(0);
  Lm model;
  model->eval();
  torch::NoGradGuard no_grad;
  const Tensor prompt = bytes_stream(5001, {1, 16});
  std::vector<int64_t> cached, full;
  auto tokens_per_s = [](const char* name, std::vector<double> ms) {
    std::sort(ms.begin(), ms.end());
    std::printf("%-18s %8.0f tokens/s (min %.0f, max %.0f)\n", name, 240e3 / ms[ms.size() / 2], 240e3 / ms.back(),
                240e3 / ms.front());
  };
  std::vector<double> times;  // the timed generations (run() prints the same intervals as its row)
  auto timed = [&](const std::function<void()>& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  };
  auto gen_cached = [&] {
    std::vector<Tensor> kc, vc;
    for (int l = 0; l < 4; ++l) kc.push_back(torch::zeros({1, 2, 256, 32})), vc.push_back(torch::zeros({1, 2, 256, 32}));
    cached.clear();
    Tensor next = model->forward_cached(prompt, 0, kc, vc).argmax(-1);
    for (int64_t i = 0; i < 240; ++i) {
      cached.push_back(next.item<int64_t>());
      if (i + 1 < 240) next = model->forward_cached(next.reshape({1, 1}), 16 + i, kc, vc).argmax(-1);
    }
  };
  auto gen_full = [&] {
    full.clear();
    Tensor seq = prompt;
    for (int64_t i = 0; i < 240; ++i) {
      Tensor next = model->forward(seq).select(1, seq.size(1) - 1).argmax(-1);
      full.push_back(next.item<int64_t>());
      seq = torch::cat({seq, next.reshape({1, 1})}, 1);
    }
  };
  run("W5 gen kv-cache", 1, 7, [&](int i) {
    if (i == 0) gen_cached();  // the warm-up
    else timed(gen_cached);
  });
  tokens_per_s("", times);
  times.clear();
  run("W5 gen no-cache", 0, 4, [&](int) { timed(gen_full); });
  tokens_per_s("", times);
  if (cached != full) std::printf("WARNING W5: cached and uncached generation produced different tokens\n");
}

struct AzImpl : nn::Module {
  nn::Sequential stem{nullptr}, policy{nullptr}, value{nullptr};
  std::vector<nn::Sequential> a, b;
  AzImpl() {
    stem = register_module("stem", conv_bn_relu(3, 64, 3));
    for (int i = 0; i < 4; ++i) {
      a.push_back(register_module("a" + std::to_string(i), conv_bn_relu(64, 64, 3)));
      b.push_back(register_module("b" + std::to_string(i),
                                  nn::Sequential(nn::Conv2d(nn::Conv2dOptions(64, 64, 3).padding(1).bias(false)),
                                                 nn::BatchNorm2d(64))));
    }
    policy = register_module("policy", conv_bn_relu(64, 2, 1));
    policy->push_back(nn::Flatten());
    policy->push_back(nn::Linear(84, 7));
    value = register_module("value", conv_bn_relu(64, 1, 1));
    value->push_back(nn::Flatten());
    value->push_back(nn::Linear(42, 64));
    value->push_back(nn::ReLU());
    value->push_back(nn::Linear(64, 1));
    value->push_back(nn::Tanh());
  }
  std::pair<Tensor, Tensor> forward(Tensor x) {
    x = stem->forward(x);
    for (size_t i = 0; i < 4; ++i) x = torch::relu(b[i]->forward(a[i]->forward(x)) + x);
    return {policy->forward(x), value->forward(x)};
  }
};
TORCH_MODULE(Az);

Tensor binary_planes(uint64_t seed, int64_t b) { return (uniform_stream(seed, {b, 3, 6, 7}) < 0.5).to(torch::kFloat32); }

void w6_train() {
  torch::manual_seed(6);
  Az net;
  if (count(net->parameters()) != 301402) std::printf("WARNING W6: %lld parameters\n", (long long)count(net->parameters()));
  net->train();
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-3));
  const Tensor x = binary_planes(6001, 256);
  Tensor pi = uniform_stream(6002, {256, 7});
  pi = pi / pi.sum(1, true);
  const Tensor z = uniform_stream(6003, {256}) * 2 - 1;
  run("W6 az train b256", 10, 50, [&](int) {
    opt.zero_grad();
    auto [p, v] = net->forward(x);
    Tensor loss = (-(pi * torch::log_softmax(p, 1)).sum(1)).mean() + F::mse_loss(v.reshape({256}), z);
    loss.backward();
    opt.step();
  });
}

void w6_infer() {
  torch::manual_seed(6);
  Az net;
  net->eval();
  torch::NoGradGuard no_grad;
  for (int64_t b : {1, 16}) {
    const Tensor x = binary_planes(b == 1 ? 6101 : 6116, b);
    run(b == 1 ? "W6 infer b1" : "W6 infer b16", 50, 1000, [&](int) { auto r = net->forward(x); }, 1000, "us");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::set<std::string> want;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (std::strncmp(argv[i], "W", 1) == 0) want.insert(argv[i]);
    else {
      std::fprintf(stderr, "usage: bench_torch [--threads N] [W1 W2 W3 W4 W5 W6 W6inf ...]\n");
      return 1;
    }
  }
  if (threads > 0) torch::set_num_threads(threads);
  auto on = [&](const char* w) { return want.empty() || want.count(w) > 0; };
  std::printf("pytorch %s workloads: %d threads, ATEN_CPU_CAPABILITY=%s\n", TORCH_VERSION, torch::get_num_threads(),
              std::getenv("ATEN_CPU_CAPABILITY") ? std::getenv("ATEN_CPU_CAPABILITY") : "(default)");
  try {
    if (on("W1") || on("W2")) {
      auto [x, y] = fashion_mnist(220 * 128);
      if (on("W1")) w1(x, y);
      if (on("W2")) w2(x, y);
    }
    if (on("W3")) w3();
    if (on("W4")) w4();
    if (on("W5")) w5();
    if (on("W6")) w6_train();
    if (on("W6inf")) w6_infer();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_torch: %s\n", e.what());
    return 1;
  }
  return 0;
}
