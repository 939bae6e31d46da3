// CUDA convolution (im2col + GEMM through autograd, forward and both gradients; our implicit-GEMM
// forward and cuDNN's), pooling and upsampling vs CPU, on odd sizes, strides, padding, dilation.
// Tolerance f32: conv outputs and grads rtol 1e-4 / atol 1e-4 (sums of up to C*kh*kw = 288 terms
// per output); pooling exact up to 1e-6; bilinear 1e-5.
#include <gtest/gtest.h>

#include "cuda/conv.h"
#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

struct ConvCase {
  Shape x, w;
  Conv2dOptions o;
};

std::vector<ConvCase> conv_cases() {
  return {{{1, 1, 1, 1}, {1, 1, 1, 1}, {}},
          {{2, 3, 7, 9}, {5, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}},
          {{3, 4, 13, 11}, {7, 4, 3, 5}, {.stride_h = 2, .stride_w = 3, .pad_h = 2, .pad_w = 1}},
          {{2, 2, 17, 15}, {3, 2, 3, 3}, {.pad_h = 2, .pad_w = 2, .dilation_h = 2, .dilation_w = 2}},
          {{4, 32, 14, 14}, {64, 32, 3, 3}, {.pad_h = 1, .pad_w = 1}},   // W2 second conv
          {{2, 64, 6, 7}, {64, 64, 3, 3}, {.pad_h = 1, .pad_w = 1}}};    // W6 residual conv
}

TEST(CudaConv, Conv2dForwardAndBackward) {
  EMBER_REQUIRE_CUDA();
  for (const auto& c : conv_cases()) {
    Tensor x = test::randu(c.x, 51), w = test::randu(c.w, 52, -0.3, 0.3), b = test::randu({c.w[0]}, 53);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return conv2d(in[0], in[1], in[2], c.o); }, {x, w, b},
                                Tol{1e-4, 1e-4}, Tol{1e-4, 1e-4}))
        << shape_str(c.x) << " * " << shape_str(c.w);
  }
  Tensor x = test::randu({2, 4, 9, 9}, 54), w = test::randu({4, 3, 2, 2}, 55);  // transposed conv (col2im path)
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return conv_transpose2d(in[0], in[1], {}, {.stride_h = 2, .stride_w = 2}); },
                              {x, w}, Tol{1e-4, 1e-4}, Tol{1e-4, 1e-4}));
}

TEST(CudaConv, ImplicitGemmAndCudnnForward) {
  EMBER_REQUIRE_CUDA();
  for (const auto& c : conv_cases()) {
    Tensor x = test::randu(c.x, 56), w = test::randu(c.w, 57, -0.3, 0.3);
    Tensor ref = conv2d(x, w, {}, c.o);
    Conv2dGeom g{c.x[0], c.x[1], c.x[2], c.x[3], c.w[2], c.w[3], c.o.stride_h, c.o.stride_w, c.o.pad_h, c.o.pad_w,
                 c.o.dilation_h, c.o.dilation_w};
    for (auto impl : {cuda::ConvImpl::own, cuda::ConvImpl::cudnn}) {
      if (impl == cuda::ConvImpl::cudnn && !cuda::have_cudnn()) continue;
      Tensor y = Tensor::empty(ref.shape(), {.device = Device::cuda()});
      cuda::conv2d_forward(gpu(x), gpu(w), g, y, impl);
      EXPECT_TRUE(test::all_close(test::cpu(y), ref, 1e-4, 1e-4)) << shape_str(c.x) << " impl " << int(impl);
    }
    // A non-contiguous x (channels-last storage viewed as NCHW) through the implicit GEMM.
    Tensor xl = gpu(x.permute({0, 2, 3, 1}).contiguous()).permute({0, 3, 1, 2});
    Tensor y = Tensor::empty(ref.shape(), {.device = Device::cuda()});
    cuda::conv2d_forward(xl, gpu(w), g, y, cuda::ConvImpl::own);
    EXPECT_TRUE(test::all_close(test::cpu(y), ref, 1e-4, 1e-4)) << "strided x";
  }
}

TEST(CudaConv, ImplicitGemmAndCudnnBackward) {
  EMBER_REQUIRE_CUDA();
  for (const auto& c : conv_cases()) {
    Tensor x = test::randu(c.x, 60).detach(), w = test::randu(c.w, 61, -0.3, 0.3).detach();
    x.requires_grad_(true);
    w.requires_grad_(true);
    Tensor y = conv2d(x, w, {}, c.o);
    Tensor gy = test::randu(y.shape(), 62);
    sum(y * gy).backward();  // CPU reference: x.grad() = dL/dx, w.grad() = dL/dw
    Conv2dGeom g{c.x[0], c.x[1], c.x[2], c.x[3], c.w[2], c.w[3], c.o.stride_h, c.o.stride_w, c.o.pad_h, c.o.pad_w,
                 c.o.dilation_h, c.o.dilation_w};
    for (auto impl : {cuda::ConvImpl::own, cuda::ConvImpl::cudnn}) {
      if (impl == cuda::ConvImpl::cudnn && !cuda::have_cudnn()) continue;
      Tensor dx = Tensor::full(c.x, 7.0, {.device = Device::cuda()}), dw = Tensor::full(c.w, 7.0, {.device = Device::cuda()});
      cuda::conv2d_backward_data(gpu(gy), gpu(w), g, dx, impl);
      cuda::conv2d_backward_weight(gpu(x), gpu(gy), g, dw, impl);
      EXPECT_TRUE(test::all_close(test::cpu(dx), x.grad(), 1e-4, 1e-4)) << "dx " << shape_str(c.x) << " impl " << int(impl);
      EXPECT_TRUE(test::all_close(test::cpu(dw), w.grad(), 1e-4, 1e-3)) << "dw " << shape_str(c.w) << " impl " << int(impl);
    }
  }
}

TEST(CudaPool, MaxAvgAdaptive) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({3, 5, 13, 11}, 58);
  const std::vector<Pool2dOptions> opts = {{}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
                                           {.kernel_h = 2, .kernel_w = 3, .stride_h = 1, .stride_w = 2},
                                           {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                                            .count_include_pad = false}};
  for (const auto& o : opts) {
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return max_pool2d(in[0], o); }, {x}, Tol{0, 0}, Tol{1e-6, 1e-6}));
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return avg_pool2d(in[0], o); }, {x}, Tol{1e-6, 1e-6}, Tol{1e-6, 1e-6}));
  }
  for (const auto& [oh, ow] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {5, 3}, {13, 11}, {20, 17}, {4, 7}})
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return adaptive_avg_pool2d(in[0], oh, ow); }, {x}, Tol{1e-6, 1e-6},
                                Tol{1e-6, 1e-6}))
        << oh << "x" << ow;
}

TEST(CudaPool, Upsample) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({2, 3, 7, 5}, 59);
  for (const auto& [oh, ow] : std::vector<std::pair<int64_t, int64_t>>{{14, 10}, {9, 13}, {3, 2}, {1, 1}})
    for (auto mode : {UpsampleMode::nearest, UpsampleMode::bilinear})
      for (bool align : {false, true})
        EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return upsample(in[0], oh, ow, mode, align); }, {x},
                                    Tol{1e-5, 1e-6}, Tol{1e-5, 1e-5}))
            << oh << "x" << ow << " mode " << int(mode) << " align " << align;
}

}  // namespace
}  // namespace ember
