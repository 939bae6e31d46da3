// The CPU reduction kernels (tensor/cpu/reduce.cpp) against a naive reference that folds every
// element of x into its output cell in f64: sum/prod/max/min over dim sets that take the inner
// path ({last}, {0, 2, 3} for a conv bias gradient, all dims) and the outer path ({0} for a linear
// bias gradient), prime sizes and row lengths around the 16-accumulator block, strided views, NaN
// propagation for max/min, and sentinels around the output.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "tensor/backend.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::Guarded;

Tensor naive_reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims) {
  Shape os = x.shape();
  for (int64_t d : dims) os[size_t(d)] = 1;
  const double init = op == ReduceOp::sum ? 0 : op == ReduceOp::prod ? 1
                      : op == ReduceOp::max ? -std::numeric_limits<double>::infinity()
                                            : std::numeric_limits<double>::infinity();
  std::vector<double> acc(size_t(numel_of(os)), init);
  const std::vector<double> v = x.contiguous().to_vector<double>();
  const Strides ost = contiguous_strides(os);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t rem = i, o = 0;
    for (int64_t d = x.dim() - 1; d >= 0; --d) {
      const int64_t c = rem % x.size(d);
      rem /= x.size(d);
      if (os[size_t(d)] != 1) o += c * ost[size_t(d)];
    }
    double& a = acc[size_t(o)];
    const double e = v[size_t(i)];
    if (op == ReduceOp::sum) a += e;
    if (op == ReduceOp::prod) a *= e;
    if (op == ReduceOp::max) a = (e > a || std::isnan(e)) ? e : a;
    if (op == ReduceOp::min) a = (e < a || std::isnan(e)) ? e : a;
  }
  return Tensor::from_vector(acc, os, {.dtype = DType::f64});
}

TEST(CpuReduce, MatchesNaiveReference) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
  };
  const Case cases[] = {{{7, 33}, {1}},          {{5, 16}, {1}},         {{3, 1}, {1}},
                        {{4, 3, 5, 7}, {0, 2, 3}}, {{2, 13, 4, 4}, {0, 2, 3}}, {{17, 31}, {0}},
                        {{3, 5, 19}, {0, 2}},     {{6, 37}, {0, 1}},      {{1, 1}, {0}}};
  Generator g(21);
  for (const Case& c : cases)
    for (bool strided : {false, true})
      for (ReduceOp op : {ReduceOp::sum, ReduceOp::prod, ReduceOp::max, ReduceOp::min}) {
        // values near 1 keep the products finite
        Tensor x = Tensor::rand(c.shape, {}, &g) * 0.5 + 0.75;
        if (strided) x = x.transpose(0, 1).contiguous().transpose(0, 1);  // same values, dims 0/1 stored swapped
        if ((op == ReduceOp::max || op == ReduceOp::min) && !strided) {  // NaN in the middle element
          std::vector<float> v = x.to_vector<float>();
          v[v.size() / 2] = std::numeric_limits<float>::quiet_NaN();
          x = Tensor::from_vector(v, c.shape);
        }
        const Tensor ref = naive_reduce(op, x, c.dims);
        Guarded out(ref.shape(), DType::f32, 33);
        backend_for(Device::cpu()).reduce(op, x, c.dims, out.view);
        SCOPED_TRACE(shape_str(c.shape) + " op " + std::to_string(int(op)) + (strided ? " strided" : ""));
        EXPECT_TRUE(out.guards_intact(33));
        EXPECT_TRUE(test::all_close(out.view, ref, 1e-5, 1e-6));
      }
}

// Outside review (PyTorch comparison): a full f32 sum over 2^20 elements had ~4e-7 relative
// error (PyTorch 5e-8) and var 6e-6 (PyTorch 3e-9). Pairwise-added blocks bring both down.
TEST(CpuReduce, FullFloatSumsAreAccurate) {
  manual_seed(7);
  Tensor x = add(Tensor::rand({int64_t(1) << 20}), 1.0);  // U[1, 2): no cancellation, error is all rounding
  const std::vector<float> v = x.to_vector<float>();
  long double ref = 0, ref_sq = 0;
  for (float f : v) ref += f;
  const long double mu = ref / v.size();
  for (float f : v) ref_sq += (f - mu) * (f - mu);
  const double rel_sum = std::abs(double((sum(x).item() - ref) / ref));
  const double rel_mean = std::abs(double((mean(x).item() - mu) / mu));
  const double ref_var = double(ref_sq / (v.size() - 1));
  const double rel_var = std::abs(var(x).item() - ref_var) / ref_var;
  EXPECT_LT(rel_sum, 1e-7) << "sum";
  EXPECT_LT(rel_mean, 1e-7) << "mean";
  EXPECT_LT(rel_var, 1e-6) << "var";
  // A strided row and a sum over several dims take the same path.
  Tensor y = x.reshape({1024, 1024}).t();
  EXPECT_LT(std::abs(double((sum(y).item() - ref) / ref)), 1e-7) << "strided";
}

}  // namespace
}  // namespace ember
