// CUDA GEMM vs the CPU backend: our tiled SIMT kernel (f32 and f64) on awkward shapes, strides
// (transposed operands, broadcast batch), accumulate; the tensor-core kernels (bf16, tf32) and
// cuBLAS; matmul's autograd through each EMBER_GEMM implementation.
// Tolerances: f32 |d| <= 1e-5 sqrt(K) + 1e-5 |ref| (inputs in [-1, 1]; summation order differs).
// bf16 / tf32 kernels are compared with a CPU GEMM of the *rounded* inputs (rounded here with the
// same rule: bf16 round-to-nearest-even, tf32 round-half-away), so only the f32 accumulation order
// differs and the same tight tolerance applies; against unrounded inputs tf32 gets 2e-3 sqrt(K).
#include <gtest/gtest.h>

#include <cstring>

#include "cuda/gemm/gemm.h"
#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

struct Mnk {
  int64_t m, n, k;
};
const std::vector<Mnk> kShapes = {{1, 1, 1},     {1, 7, 1},     {7, 1, 13},      {2, 3, 4},     {127, 129, 131},
                                  {128, 128, 128}, {257, 63, 1000}, {1000, 999, 1}, {3, 4097, 17}, {130, 2, 4100}};

Tol gemm_tol(int64_t k, double per = 1e-5) { return {1e-5, per * std::sqrt(double(k))}; }

TEST(CudaGemm, TiledKernelAwkwardShapes) {
  EMBER_REQUIRE_CUDA();
  for (const auto& s : kShapes) {
    Tensor a = test::randu({s.m, s.k}, 81), b = test::randu({s.k, s.n}, 82);
    EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return matmul(in[0], in[1]); }, {a, b}, gemm_tol(s.k),
                                gemm_tol(std::max({s.m, s.n, s.k}))))
        << s.m << "x" << s.n << "x" << s.k;
  }
}

TEST(CudaGemm, StridesBatchBroadcastAccumulate) {
  EMBER_REQUIRE_CUDA();
  Backend& be = backend_for(Device::cuda());
  Backend& cb = backend_for(Device::cpu());
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const int64_t bt = 3, m = 67, n = 45, k = 29;
      Tensor a = ta ? test::randu({bt, k, m}, 83).transpose(1, 2) : test::randu({bt, m, k}, 83);
      Tensor b = tb ? test::randu({1, n, k}, 84).transpose(1, 2).expand({bt, k, n}) : test::randu({1, k, n}, 84).expand({bt, k, n});
      Tensor c0 = test::randu({bt, m, n}, 85);
      for (bool acc : {false, true}) {
        Tensor cc = c0.clone(), gc = gpu(c0);
        cb.gemm(a, b, cc, acc);
        be.gemm(gpu(a.contiguous()).as_strided(a.shape(), a.contiguous().strides(), 0), gpu(b.contiguous()), gc, acc);
        EXPECT_TRUE(test::all_close(test::cpu(gc), cc, 1e-5, 1e-4)) << "ta " << ta << " tb " << tb << " acc " << acc;
        // Truly strided device operands (transposed views of device memory, zero batch stride).
        Tensor ga = ta ? gpu(test::randu({bt, k, m}, 83)).transpose(1, 2) : gpu(test::randu({bt, m, k}, 83));
        Tensor gb = tb ? gpu(test::randu({1, n, k}, 84)).transpose(1, 2).expand({bt, k, n})
                       : gpu(test::randu({1, k, n}, 84)).expand({bt, k, n});
        Tensor gc2 = gpu(c0);
        be.gemm(ga, gb, gc2, acc);
        EXPECT_TRUE(test::all_close(test::cpu(gc2), cc, 1e-5, 1e-4)) << "strided ta " << ta << " tb " << tb;
      }
    }
  Tensor a = test::randu({4, 33, 65}, 86, -1, 1, DType::f64), b = test::randu({4, 65, 17}, 87, -1, 1, DType::f64);
  EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return matmul(in[0], in[1]); }, {a, b}, Tol{1e-12, 1e-12}, Tol{1e-12, 1e-12}));
}

// Rounds f32 values as the tensor-core path does: bf16 (nearest even) or tf32 (half away from 0).
Tensor round_like(const Tensor& x, bool bf16) {
  std::vector<float> v = x.to_vector<float>();
  for (float& f : v) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if (bf16) u = (u + 0x7FFFu + ((u >> 16) & 1u)) & 0xFFFF0000u;
    else u = (u + 0x1000u) & 0xFFFFE000u;
    std::memcpy(&f, &u, 4);
  }
  return Tensor::from_vector(v, x.shape());
}

TEST(CudaGemm, TensorCoreKernelsMatchRoundedReference) {
  EMBER_REQUIRE_CUDA();
  struct Case {
    Mnk s;
    int64_t ldb, batch;  // ldb > n leaves a ragged right edge inside a 16-byte chunk
  };
  const std::vector<Case> cases = {{{16, 8, 8}, 8, 1},      {{1, 16, 8}, 16, 1},      {{128, 128, 32}, 128, 1},
                                   {{129, 200, 72}, 200, 1}, {{255, 257, 1000}, 264, 1}, {{64, 9, 40}, 16, 3},
                                   {{77, 136, 40}, 136, 3}};
  for (bool bf16 : {true, false})
    for (const auto& [s, ldb, bt] : cases) {
      Tensor a = test::randu({bt, s.m, s.k}, 88), bfull = test::randu({bt, s.k, ldb}, 89);
      Tensor b = bfull.slice(2, 0, s.n);
      Tensor ref = matmul(round_like(a, bf16), round_like(b.contiguous(), bf16));
      Tensor ga = gpu(a), gb = gpu(bfull), c = Tensor::full({bt, s.m, s.n}, 0.5, {.device = Device::cuda()});
      Tensor abf = Tensor::empty({a.numel()}, {.dtype = DType::i32, .device = Device::cuda()});  // >= 2 B/elem
      Tensor bbf = Tensor::empty({bfull.numel()}, {.dtype = DType::i32, .device = Device::cuda()});
      if (bf16) {
        cuda::launch_f32_to_bf16(static_cast<const float*>(ga.raw_data()), static_cast<__nv_bfloat16*>(abf.raw_data()), a.numel());
        cuda::launch_f32_to_bf16(static_cast<const float*>(gb.raw_data()), static_cast<__nv_bfloat16*>(bbf.raw_data()),
                                 bfull.numel());
      }
      for (bool acc : {false, true}) {
        const cuda::TcGemm g{bf16 ? abf.raw_data() : ga.raw_data(), s.k, s.m * s.k, bf16 ? bbf.raw_data() : gb.raw_data(),
                             ldb, s.k * ldb, static_cast<float*>(c.raw_data()), s.n, s.m * s.n, bt, s.m, s.n, s.k, acc};
        ASSERT_TRUE(bf16 ? cuda::launch_gemm_bf16_tc(g) : cuda::launch_gemm_tf32_tc(g));
        Tensor want = acc ? ref + ref : ref;  // the accumulating pass adds onto the first result
        EXPECT_TRUE(test::all_close(test::cpu(c), want, 1e-5, 1e-5 * std::sqrt(double(s.k)) * (acc ? 2 : 1)))
            << (bf16 ? "bf16 " : "tf32 ") << s.m << "x" << s.n << "x" << s.k << " ldb " << ldb << " batch " << bt
            << " acc " << acc;
      }
    }
  // Unsupported layouts are declined, not miscomputed.
  Tensor x = Tensor::zeros({64}, {.device = Device::cuda()});
  EXPECT_FALSE(cuda::launch_gemm_bf16_tc({x.raw_data(), 12, 0, x.raw_data(), 8, 0, static_cast<float*>(x.raw_data()),
                                          8, 0, 1, 2, 2, 12, false}));
}

TEST(CudaGemm, EveryImplementationThroughMatmul) {
  EMBER_REQUIRE_CUDA();
  const cuda::GemmImpl saved = cuda::gemm_impl();
  for (auto impl : {cuda::GemmImpl::own, cuda::GemmImpl::tf32, cuda::GemmImpl::cublas, cuda::GemmImpl::cublas_tf32}) {
    cuda::set_gemm_impl(impl);
    const bool tf32 = impl == cuda::GemmImpl::tf32 || impl == cuda::GemmImpl::cublas_tf32;
    for (const auto& s : std::vector<Mnk>{{33, 65, 96}, {128, 256, 512}, {5, 3, 7}}) {
      Tensor a = test::randu({2, s.m, s.k}, 90), b = test::randu({s.k, s.n}, 91);
      const double per = tf32 ? 2e-3 : 1e-5;
      EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return matmul(in[0], in[1]); }, {a, b}, gemm_tol(s.k, per),
                                  gemm_tol(std::max({s.m, s.n, s.k}) * 2, per)))
          << "impl " << int(impl) << " " << s.m << "x" << s.n << "x" << s.k;
    }
  }
  cuda::set_gemm_impl(saved);
}

}  // namespace
}  // namespace ember
