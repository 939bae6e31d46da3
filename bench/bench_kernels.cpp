// CPU kernels other than GEMM: conv2d (forward + both backward passes), fused vs composite
// attention, softmax cross-entropy, layer/RMS norm, fused vs composite Adam, and the AVX2 vs
// scalar transcendental rows. One thread, timed on CPU time (the machine is shared; see
// bench_gemm.cpp). Counters, with the napkin math beside each:
//   conv:  FLOP/s with 2*N*M*L*K per pass (L = OH*OW, K = C*kh*kw), 3 passes for fwd+bwd
//   sdpa:  FLOP/s with 2*B*H*T*S*(D+Dv) per forward (halved when causal), backward counted 2.5x
//   memory-bound kernels: bytes/s from the tensors each pass must read and write once.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/qgemm.h"
#include "tensor/cpu/winograd.h"
#include "tensor/matmul_precision.h"
#include "tensor/parallel.h"

namespace {
using namespace ember;

Tensor leaf(const Shape& s, Generator& g) {
  Tensor t = (Tensor::rand(s, {}, &g) - 0.5).detach();
  t.requires_grad_(true);
  return t;
}

void rate(benchmark::State& st, const char* name, double per_iter) {
  st.counters[name] = benchmark::Counter(per_iter * double(st.iterations()), benchmark::Counter::kIsRate);
}

// Args: N, C, H, W, M (3x3, pad 1), Winograd (0: im2col + GEMM; 2, 4 or 64: the CPU's Winograd
// lowering forced to F(2x2,3x3), F(4x4,3x3) or F(6x4,3x3) where it applies; 1: its own choice).
// Shapes: W2 conv2, W6 residual conv, W3's four levels.
void BM_conv2d_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  const int64_t n = st.range(0), c = st.range(1), h = st.range(2), w = st.range(3), m = st.range(4);
  const bool prev = cpu::conv_winograd_enabled();
  cpu::set_conv_winograd(st.range(5) != 0);
  cpu::set_conv_winograd_tile(st.range(5) >= 2 ? int(st.range(5)) : 0);
  Generator g(1);
  Tensor x = leaf({n, c, h, w}, g), wt = leaf({m, c, 3, 3}, g);
  for (auto _ : st) {
    Tensor y = conv2d(x, wt, {}, {.pad_h = 1, .pad_w = 1});
    y.backward(Tensor::ones(y.shape()));
    x.zero_grad();
    wt.zero_grad();
  }
  cpu::set_conv_winograd(prev);
  cpu::set_conv_winograd_tile(0);
  rate(st, "FLOP/s", 3 * 2.0 * double(n * m * h * w * c * 9));
}
BENCHMARK(BM_conv2d_fwd_bwd)
    ->ArgsProduct({{64}, {32}, {14}, {14}, {64}, {0, 2, 4}})
    ->ArgsProduct({{256}, {64}, {6}, {7}, {64}, {0, 2, 4, 64}})
    ->ArgsProduct({{16}, {32}, {64}, {64}, {32}, {0, 2, 4}})
    ->ArgsProduct({{16}, {64}, {32}, {32}, {64}, {0, 2, 4}})
    ->ArgsProduct({{16}, {128}, {16}, {16}, {128}, {0, 2, 4}})
    ->ArgsProduct({{16}, {256}, {8}, {8}, {256}, {0, 2, 4}})
    ->ArgNames({"N", "C", "H", "W", "M", "winograd"})
    ->Unit(benchmark::kMillisecond);

// W4 attention: B 16, H 8, Hkv 2, T = S = 128, D 32, causal. Arg 0: fused; 1: composite (the same
// call with an all-ones mask, which composes matmul/where/softmax).
void BM_sdpa_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  const bool composite = st.range(0) == 1;
  const int64_t b = 16, h = 8, hkv = 2, t = 128, d = 32;
  Generator g(2);
  Tensor q = leaf({b, h, t, d}, g), k = leaf({b, hkv, t, d}, g), v = leaf({b, hkv, t, d}, g);
  Tensor mask = composite ? Tensor::ones({t, t}, {.dtype = DType::u8}) : Tensor();
  for (auto _ : st) {
    Tensor y = scaled_dot_product_attention(q, k, v, true, mask);
    y.backward(Tensor::ones(y.shape()));
    q.zero_grad();
    k.zero_grad();
    v.zero_grad();
  }
  rate(st, "FLOP/s", 3.5 * 2.0 * double(b * h * t * t * (2 * d)) / 2);
  st.SetLabel(composite ? "composite" : "fused");
}
BENCHMARK(BM_sdpa_fwd_bwd)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// W4 loss: logits [2048, 256]; fwd reads the logits, bwd reads them and writes the gradient.
void BM_cross_entropy_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  const int64_t n = 2048, c = 256;
  Generator g(3);
  Tensor x = leaf({n, c}, g), y = Tensor::randint(0, c, {n}, {.dtype = DType::i64}, &g);
  for (auto _ : st) {
    cross_entropy(x, y).backward();
    x.zero_grad();
  }
  rate(st, "bytes/s", 3.0 * double(n * c) * 4);
}
BENCHMARK(BM_cross_entropy_fwd_bwd)->Unit(benchmark::kMicrosecond);

// W4 norms: x [2048, 256]; fwd reads x, writes y; bwd reads x and dy, writes dx (5 passes).
void BM_norm_fwd_bwd(benchmark::State& st) {
  set_num_threads(1);
  const bool rms = st.range(0) == 1;
  const int64_t n = 2048, d = 256;
  Generator g(4);
  Tensor x = leaf({n, d}, g), w = leaf({d}, g), bias = leaf({d}, g);
  for (auto _ : st) {
    Tensor y = rms ? rms_norm(x, w) : layer_norm(x, {d}, w, bias);
    y.backward(Tensor::ones(y.shape()));
    x.zero_grad();
    w.zero_grad();
    bias.zero_grad();
  }
  rate(st, "bytes/s", 5.0 * double(n * d) * 4);
  st.SetLabel(rms ? "rms_norm" : "layer_norm");
}
BENCHMARK(BM_norm_fwd_bwd)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// One Adam step over W4's 2.9M parameters: 4 tensors read, 3 written (28 bytes per element).
// Arg 0: fused backend kernel; 1: the composite formula from tensor ops.
void BM_adam(benchmark::State& st) {
  set_num_threads(1);
  const bool fused = st.range(0) == 0;
  const int64_t n = 2902272;
  Generator g(5);
  Tensor p = Tensor::rand({n}, {}, &g), gr = Tensor::rand({n}, {}, &g), m = Tensor::zeros({n}), v = Tensor::zeros({n});
  int64_t step = 0;
  for (auto _ : st) {
    ++step;
    if (fused) {
      backend_for(Device::cpu()).adam_update(p, gr, m, v, {.step = step});
    } else {
      const double bc1 = 1 - std::pow(0.9, double(step)), bc2 = 1 - std::pow(0.999, double(step));
      m.mul_(0.9).add_(gr, 0.1);
      v.mul_(0.999).add_(gr * gr, 0.001);
      p.add_(m / (sqrt(v / bc2) + 1e-8), -1e-3 / bc1);
    }
  }
  rate(st, "bytes/s", 28.0 * double(n));
  st.SetLabel(fused ? "fused" : "composite");
}
BENCHMARK(BM_adam)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Transcendental unary forward over 1M f32 (8 bytes per element). Args: op, isa (0 scalar libm,
// 1 AVX2 rows).
void BM_unary(benchmark::State& st) {
  set_num_threads(1);
  const UnaryOp ops[] = {UnaryOp::exp, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::silu, UnaryOp::gelu_tanh,
                         UnaryOp::gelu_erf};
  const char* names[] = {"exp", "tanh", "sigmoid", "silu", "gelu_tanh", "gelu_erf"};
  const UnaryOp op = ops[st.range(0)];
  const bool avx2 = st.range(1) == 1;
  if (avx2 && cpu::best_isa() == cpu::Isa::scalar) {
    st.SkipWithError("no AVX2");
    return;
  }
  const cpu::Isa prev = cpu::active_isa();
  cpu::set_isa(avx2 ? cpu::Isa::avx2 : cpu::Isa::scalar);
  const int64_t n = 1 << 20;
  Generator g(6);
  Tensor x = Tensor::rand({n}, {}, &g) * 8.0 - 4.0, y = Tensor::empty({n});
  for (auto _ : st) backend_for(Device::cpu()).unary(op, x, y, {});
  cpu::set_isa(prev);
  rate(st, "bytes/s", 8.0 * double(n));
  st.SetLabel(std::string(names[st.range(0)]) + (avx2 ? " avx2" : " scalar"));
}
BENCHMARK(BM_unary)->ArgsProduct({{0, 1, 2, 3, 4, 5}, {0, 1}})->Unit(benchmark::kMicrosecond);

// Memory roofline for the bandwidth counters below: copy (b = a) and triad (a = b + s c) with
// 16 MiB per array (the size BM_elementwise uses; part of it stays in the L3) and 64 MiB (DRAM).
// copy moves 8 bytes per element, triad 12 (write-allocate traffic not counted, as for every
// kernel here). Args: triad, MiB per array.
void BM_bandwidth(benchmark::State& st) {
  const bool triad = st.range(0) == 1;
  const int64_t n = st.range(1) << 18;
  std::vector<float> a(size_t(n), 1.0f), b(size_t(n), 2.0f), c(size_t(n), 3.0f);
  for (auto _ : st) {
    if (triad) {
      for (int64_t i = 0; i < n; ++i) a[size_t(i)] = b[size_t(i)] + 0.5f * c[size_t(i)];
    } else {
      std::memcpy(b.data(), a.data(), size_t(n) * sizeof(float));
    }
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(b.data());
  }
  rate(st, "bytes/s", (triad ? 12.0 : 8.0) * double(n));
  st.SetLabel(triad ? "triad" : "copy");
}
BENCHMARK(BM_bandwidth)->ArgsProduct({{0, 1}, {16, 64}})->ArgNames({"triad", "MiB"})->Unit(benchmark::kMillisecond);

// Runs the body with the ISA forced to isas[arg] (0 scalar, 1 avx2, 2 avx512); false if the CPU
// lacks it.
bool force_isa(benchmark::State& st, int64_t arg) {
  const cpu::Isa isa = arg == 0 ? cpu::Isa::scalar : arg == 1 ? cpu::Isa::avx2 : cpu::Isa::avx512;
  if (static_cast<int>(isa) > static_cast<int>(cpu::best_isa())) {
    st.SkipWithError("ISA not supported here");
    return false;
  }
  cpu::set_isa(isa);
  return true;
}

// W2's pools: [64,32,28,28] and [64,64,14,14], 2x2 stride 2. Args: C, H, isa. Bytes: fwd reads x
// and writes y (4 B) + indices (8 B) per output; bwd reads grad_y + indices, writes grad_x.
void BM_max_pool(benchmark::State& st) {
  set_num_threads(1);
  const cpu::Isa prev = cpu::active_isa();
  if (!force_isa(st, st.range(2))) return;
  const bool bwd = st.range(3) == 1;
  const int64_t n = 64, c = st.range(0), h = st.range(1), oh = h / 2;
  Generator g(7);
  Tensor x = Tensor::randn({n, c, h, h}, {}, &g), y = Tensor::empty({n, c, oh, oh});
  Tensor idx = Tensor::empty({n, c, oh, oh}, {.dtype = DType::i64}), gx = Tensor::empty({n, c, h, h});
  Backend& be = backend_for(Device::cpu());
  be.max_pool2d_fwd(x, {}, y, idx);
  for (auto _ : st) {
    if (bwd)
      be.max_pool2d_bwd(y, idx, gx);
    else
      be.max_pool2d_fwd(x, {}, y, idx);
  }
  rate(st, "bytes/s", 4.0 * double(n * c * h * h) + 12.0 * double(n * c * oh * oh));
  st.SetLabel(std::string(cpu::isa_name(cpu::active_isa())) + (bwd ? " bwd" : " fwd"));
  cpu::set_isa(prev);
}
BENCHMARK(BM_max_pool)->ArgsProduct({{32}, {28}, {0, 1, 2}, {0, 1}})->ArgsProduct({{64}, {14}, {0, 1, 2}, {0, 1}})
    ->ArgNames({"C", "H", "isa", "bwd"})->Unit(benchmark::kMicrosecond);

// The DARTS search's pools: 3x3, stride 1, pad 1, forward + backward, on [64, C, H, H]. Args: C, H,
// isa (0 = the generic loops, 1 avx2, 2 avx512), kind (0 max, 1 avg). Bytes: x and grad_x once,
// y and grad_y once (+ 8-byte indices twice for max).
void BM_pool3x3_s1(benchmark::State& st) {
  set_num_threads(1);
  const cpu::Isa prev = cpu::active_isa();
  if (!force_isa(st, st.range(2))) return;
  const bool avg = st.range(3) == 1;
  const int64_t n = 64, c = st.range(0), h = st.range(1);
  const Pool2dGeom geo{.kh = 3, .kw = 3, .sh = 1, .sw = 1, .ph = 1, .pw = 1};
  Generator g(7);
  Tensor x = Tensor::randn({n, c, h, h}, {}, &g), y = Tensor::empty({n, c, h, h}), gx = Tensor::empty({n, c, h, h});
  Tensor idx = Tensor::empty({n, c, h, h}, {.dtype = DType::i64});
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    if (avg) {
      be.avg_pool2d_fwd(x, geo, y);
      be.avg_pool2d_bwd(y, geo, gx);
    } else {
      be.max_pool2d_fwd(x, geo, y, idx);
      be.max_pool2d_bwd(y, idx, gx);
    }
  }
  rate(st, "bytes/s", (avg ? 16.0 : 32.0) * double(n * c * h * h));
  st.SetLabel(std::string(cpu::isa_name(cpu::active_isa())) + (avg ? " avg" : " max"));
  cpu::set_isa(prev);
}
BENCHMARK(BM_pool3x3_s1)->ArgsProduct({{2, 16}, {28}, {0, 1, 2}, {0, 1}})
    ->ArgNames({"C", "H", "isa", "avg"})->Unit(benchmark::kMicrosecond);

// Backend cross-entropy, forward + backward, on W1's [128, 10], W4's [2048, 256] and LLM-style
// [1024, 32000] logits. Args: N, C, isa (0 = the scalar loops, 1 avx2, 2 avx512). Bytes: forward reads the logits
// twice (max, exp-sum), backward reads them once and writes the gradient: 16 bytes per logit.
void BM_cross_entropy_rows(benchmark::State& st) {
  set_num_threads(1);
  const cpu::Isa prev = cpu::active_isa();
  if (!force_isa(st, st.range(2))) return;
  const int64_t n = st.range(0), c = st.range(1);
  Generator g(8);
  Tensor x = Tensor::randn({n, c}, {}, &g), t = Tensor::randint(0, c, {n}, {.dtype = DType::i64}, &g);
  Tensor loss = Tensor::empty({n}), lse = Tensor::empty({n}), gl = Tensor::ones({n}), dx = Tensor::empty({n, c});
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    be.cross_entropy_fwd(x, t, -100, 0.0, loss, lse);
    be.cross_entropy_bwd(x, t, lse, gl, -100, 0.0, dx);
  }
  rate(st, "bytes/s", 16.0 * double(n * c));
  st.SetLabel(std::string(cpu::isa_name(cpu::active_isa())));
  cpu::set_isa(prev);
}
BENCHMARK(BM_cross_entropy_rows)->ArgsProduct({{128}, {10}, {0, 1, 2}})->ArgsProduct({{2048}, {256}, {0, 1, 2}})
    ->ArgsProduct({{1024}, {32000}, {0, 1, 2}})->ArgNames({"N", "C", "isa"})->Unit(benchmark::kMicrosecond);

// Backend layer norm / RMS norm, forward + backward with weight (and bias) grads, on [2048, 256]
// (W4) and [8192, 512]. Args: N, D, rms, isa (0 = the scalar loops). Bytes: each tensor touched
// once: fwd reads x, writes y; bwd reads x and grad_y, writes grad_x (20 bytes per element).
void BM_norm_rows(benchmark::State& st) {
  set_num_threads(1);
  const cpu::Isa prev = cpu::active_isa();
  if (!force_isa(st, st.range(3))) return;
  const int64_t n = st.range(0), d = st.range(1);
  const bool rms = st.range(2) == 1;
  Generator g(9);
  Tensor x = Tensor::randn({n, d}, {}, &g), w = Tensor::randn({d}, {}, &g), b = Tensor::randn({d}, {}, &g);
  Tensor y = Tensor::empty({n, d}), gy = Tensor::randn({n, d}, {}, &g), gx = Tensor::empty({n, d});
  Tensor mean = Tensor::empty({n}), rstd = Tensor::empty({n}), gw = Tensor::empty({d}), gb = Tensor::empty({d});
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    if (rms) {
      be.rms_norm_fwd(x, w, 1e-5, y, rstd);
      be.rms_norm_bwd(x, w, rstd, gy, gx, gw);
    } else {
      be.layer_norm_fwd(x, w, b, 1e-5, y, mean, rstd);
      be.layer_norm_bwd(x, w, mean, rstd, gy, gx, gw, gb);
    }
  }
  rate(st, "bytes/s", 20.0 * double(n * d));
  st.SetLabel(std::string(rms ? "rms_norm " : "layer_norm ") + std::string(cpu::isa_name(cpu::active_isa())));
  cpu::set_isa(prev);
}
BENCHMARK(BM_norm_rows)->ArgsProduct({{2048}, {256}, {0, 1}, {0, 1}})->ArgsProduct({{8192}, {512}, {0, 1}, {0, 1}})
    ->ArgNames({"N", "D", "rms", "isa"})->Unit(benchmark::kMicrosecond);

// Backend im2col and col2im (3x3, pad 1, stride 1) into the contiguous [N, C*9, L] layout. Args:
// N, C, H, op (0 im2col, 1 col2im). Shapes: W2 conv1 (N 64, C 1, 28x28) and conv2 (C 32, 14x14)
// with N as in one ~1 MiB wide chunk of the conv op (37 and 4 images, so col stays in L2), and
// W3's level-2 conv with its whole batch. Bytes: im2col reads x, writes col (9 per pixel): 40 B
// per input pixel; col2im reads col and updates x: 44 B. (Neither an AVX-512 masked-load version
// nor fixed-size block copies for the short rows beat these loops here; see RESULTS-cpu.md.)
void BM_im2col(benchmark::State& st) {
  set_num_threads(1);
  const int64_t n = st.range(0), c = st.range(1), h = st.range(2);
  const bool col2im = st.range(3) == 1;
  const Conv2dGeom geo{.n = n, .c = c, .h = h, .w = h, .kh = 3, .kw = 3, .ph = 1, .pw = 1};
  Generator g(10);
  Tensor x = Tensor::randn({n, c, h, h}, {}, &g), col = Tensor::randn({n, c * 9, h * h}, {}, &g);
  Backend& be = backend_for(Device::cpu());
  for (auto _ : st) {
    if (col2im)
      be.col2im(col, geo, x);
    else
      be.im2col(x, geo, col);
  }
  rate(st, "bytes/s", (col2im ? 44.0 : 40.0) * double(n * c * h * h));
  st.SetLabel(col2im ? "col2im" : "im2col");
}
BENCHMARK(BM_im2col)->ArgsProduct({{37}, {1}, {28}, {0, 1}})->ArgsProduct({{4}, {32}, {14}, {0, 1}})
    ->ArgsProduct({{16}, {64}, {32}, {0, 1}})->ArgNames({"N", "C", "H", "op"})->Unit(benchmark::kMicrosecond);

// Backend elementwise and reduction kernels over 4M f32 (16 MiB per tensor, past the LLC), as
// GB/s to hold against BM_bandwidth. Arg: which kernel. Bytes: each operand read or written once.
//  0 add [4M] + [4M]            12 B/elem     5 relu backward (x, g -> gx)   12 B/elem
//  1 add [4096,1024] + [1024]    8 B/elem     6 copy                           8 B/elem
//  2 mul by a scalar tensor      8 B/elem     7 broadcast-row copy (bias fill)  4 B/elem
//  3 relu                        8 B/elem     8 sum over the last dim [4096,1024]   4 B/elem
//  4 exp (AVX2 rows)             8 B/elem     9 sum over dim 0 [4096,1024] (linear bias grad) 4 B/elem
//                                            10 sum over {0,2,3} of [64,64,32,32] (conv bias grad) 4 B/elem
void BM_elementwise(benchmark::State& st) {
  set_num_threads(1);
  const int64_t which = st.range(0), rows = 4096, cols = 1024, n = rows * cols;
  const char* names[] = {"add", "add_row_bcast", "mul_scalar_bcast", "relu", "exp", "relu_bwd",
                         "copy", "copy_bcast_row", "sum_inner", "sum_outer", "sum_conv_bias"};
  const double bytes[] = {12, 8, 8, 8, 8, 12, 8, 4, 4, 4, 4};
  Generator g(11);
  Tensor a = Tensor::randn({rows, cols}, {}, &g), b = Tensor::randn({rows, cols}, {}, &g), out = Tensor::empty({rows, cols});
  Tensor row = Tensor::randn({cols}, {}, &g), one = Tensor::randn({1}, {}, &g);
  Backend& be = backend_for(Device::cpu());
  const Tensor row_b = row.as_strided({rows, cols}, {0, 1}, 0), one_b = one.as_strided({rows, cols}, {0, 0}, 0);
  const Tensor bias_b = row.as_strided({64, 64, 32, 32}, {0, 1, 0, 0}, 0);
  const Tensor a4 = a.reshape({64, 64, 32, 32}), out4 = out.reshape({64, 64, 32, 32});
  Tensor sum_in = Tensor::empty({rows, 1}), sum_out = Tensor::empty({1, cols}), sum_c = Tensor::empty({1, 64, 1, 1});
  for (auto _ : st) {
    switch (which) {
      case 0: be.binary(BinaryOp::add, a, b, out); break;
      case 1: be.binary(BinaryOp::add, a, row_b, out); break;
      case 2: be.binary(BinaryOp::mul, a, one_b, out); break;
      case 3: be.unary(UnaryOp::relu, a, out, {}); break;
      case 4: be.unary(UnaryOp::exp, a, out, {}); break;
      case 5: be.unary_backward(UnaryOp::relu, a, b, out, {}); break;
      case 6: be.copy(a, out); break;
      case 7: be.copy(bias_b.reshape({64, 64, 32, 32}), out4); break;
      case 8: be.reduce(ReduceOp::sum, a, {1}, sum_in); break;
      case 9: be.reduce(ReduceOp::sum, a, {0}, sum_out); break;
      case 10: be.reduce(ReduceOp::sum, a4, {0, 2, 3}, sum_c); break;
    }
  }
  rate(st, "bytes/s", bytes[which] * double(n));
  st.SetLabel(names[which]);
}
BENCHMARK(BM_elementwise)->DenseRange(0, 10)->Unit(benchmark::kMicrosecond);

}  // namespace

// Decode-time row products (tensor/cpu/qgemm.h), one activation row (M = 1) against an N x K
// weight: the per-token cost of a projection in generation. Args: format (0 f32, 1 bf16 weights x
// f32, 2 bf16 x bf16 under matmul precision bf16, 3 int8 weights x f32, 4 int8 x int8), K = N,
// isa (1 avx2, 2 avx512: VNNI / AVX512-BF16 where the CPU has them). Counters: weight bytes/s
// (decode reads each weight once per token) and MAC/s. K = 1024 (4 MiB of f32 weights: in the L2/L3)
// and 4096 (64 MiB: DRAM).
void BM_decode_rows(benchmark::State& st) {
  set_num_threads(1);
  const int form = static_cast<int>(st.range(0));
  const int64_t k = st.range(1), n = k;
  if (!force_isa(st, st.range(2))) return;
  std::vector<float> x(static_cast<size_t>(k)), wf(static_cast<size_t>(n * k)), y(static_cast<size_t>(n)),
      scale(static_cast<size_t>(n), 0.01f);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 17) - 8) * 0.1f;
  for (size_t i = 0; i < wf.size(); ++i) wf[i] = float(int(i % 23) - 11) * 0.01f;
  std::vector<uint16_t> wb(wf.size());
  std::vector<int8_t> wq(wf.size());
  for (size_t i = 0; i < wf.size(); ++i) wb[i] = cpu::bf16_bits(wf[i]), wq[i] = int8_t(int(i % 23) - 11);
  MatmulPrecisionGuard precision(form == 2 ? MatmulPrecision::bf16 : MatmulPrecision::highest);
  for (auto _ : st) {
    switch (form) {
      case 0: cpu::gemm_rows_f32(1, n, k, x.data(), wf.data(), y.data()); break;
      case 1:
      case 2: cpu::gemm_rows_bf16(1, n, k, x.data(), wb.data(), y.data()); break;
      case 3: cpu::qgemm_f32_i8(1, n, k, x.data(), wq.data(), scale.data(), y.data()); break;
      default: cpu::qgemm_i8_i8(1, n, k, x.data(), wq.data(), scale.data(), y.data()); break;
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes_per_weight = form == 0 ? 4 : form <= 2 ? 2 : 1;
  rate(st, "bytes/s", bytes_per_weight * double(n * k));
  rate(st, "MAC/s", double(n * k));
  static const char* names[] = {"f32", "bf16 x f32", "bf16 x bf16", "int8 x f32", "int8 x int8"};
  st.SetLabel(std::string(names[form]) + (st.range(2) == 2 ? " avx512" : " avx2"));
  cpu::set_isa(cpu::best_isa());
}
BENCHMARK(BM_decode_rows)->ArgsProduct({{0, 1, 2, 3, 4}, {1024, 4096}, {1, 2}})->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
