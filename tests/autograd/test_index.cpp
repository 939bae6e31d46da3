// Tests for embedding, index_select, gather, scatter_add: hand-derived values, gradcheck
// (repeated indices, every dim), strided inputs, f32 vs f64, and the validation errors.
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::f64}); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::i64}); }
Tensor rand_index(int64_t high, const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randint(0, high, s, {.dtype = DType::i64}, &g);
}

// ---- index_select ----------------------------------------------------------------------------
TEST(IndexSelect, ValuesDim0AndDim1) {
  Tensor x = Tensor::arange(0, 12, 1, {.dtype = DType::f64}).reshape({3, 4});  // x[r][c] = 4r + c
  EXPECT_TRUE(all_close(index_select(x, 0, i64({2, 0, 2}, {3})), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_TRUE(all_close(index_select(x, 1, i64({3, 1}, {2})), {3, 1, 7, 5, 11, 9}));
  EXPECT_TRUE(all_close(index_select(x, -1, i64({0}, {1})), {0, 4, 8}));
  EXPECT_EQ(index_select(x, 1, i64({3, 1}, {2})).shape(), Shape({3, 2}));
}

TEST(IndexSelect, StridedInputMatchesContiguous) {
  Tensor x = rand64({5, 7, 3}, 1).detach();
  Tensor xt = x.transpose(0, 2);  // [3, 7, 5], not contiguous
  Tensor idx = i64({6, 0, 6, 2}, {4});
  EXPECT_TRUE(all_close(index_select(xt, 1, idx), index_select(xt.contiguous(), 1, idx), 0, 0));
}

TEST(IndexSelect, GradcheckDim0And1WithRepeats) {
  Tensor x = rand64({4, 5}, 2);
  Tensor i0 = i64({3, 1, 3, 3, 0}, {5});
  Tensor i1 = i64({4, 4, 0}, {3});
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return index_select(in[0], 0, i0); }, {x}));
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return index_select(in[0], 1, i1); }, {x}));
}

TEST(IndexSelect, RepeatedIndicesAccumulate) {
  Tensor x = rand64({3, 2}, 3);
  index_select(x, 0, i64({2, 2, 2, 0}, {4})).sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {1, 1, 0, 0, 3, 3}));  // row i gets its number of picks
}

TEST(IndexSelect, F32MatchesF64) {
  Tensor x = rand64({6, 33}, 4).detach();
  Tensor idx = rand_index(33, {17}, 5);
  EXPECT_TRUE(all_close(index_select(x.to(DType::f32), 1, idx), index_select(x, 1, idx), 1e-6, 1e-7));
}

// ---- embedding -------------------------------------------------------------------------------
TEST(Embedding, ValuesShapeAndGrad) {
  Tensor w = Tensor::arange(0, 15, 1, {.dtype = DType::f64}).reshape({5, 3}).detach();  // w[v][d] = 3v + d
  w.requires_grad_(true);
  Tensor idx = i64({1, 4, 1, 0, 1, 2}, {2, 3});
  Tensor y = embedding(w, idx);
  EXPECT_EQ(y.shape(), Shape({2, 3, 3}));
  EXPECT_TRUE(all_close(y, {3, 4, 5, 12, 13, 14, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8}));
  y.sum().backward();
  // d sum / d w[v][d] = number of times v occurs: counts 1, 3, 1, 0, 1.
  EXPECT_TRUE(all_close(w.grad(), {1, 1, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1}));
}

TEST(Embedding, GradcheckRepeatedIndices) {
  Tensor w = rand64({7, 4}, 6);
  Tensor idx = i64({6, 2, 2, 0, 6, 6}, {3, 2});
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return embedding(in[0], idx); }, {w}));
  Tensor scalar_idx = i64({3}, {});
  EXPECT_EQ(embedding(w, scalar_idx).shape(), Shape({4}));
}

// ---- gather ----------------------------------------------------------------------------------
TEST(Gather, ValuesLikePyTorchDocs) {
  // torch.gather(t=[[1,2],[3,4]], 1, [[0,0],[1,0]]) = [[1,1],[4,3]] (PyTorch documentation).
  Tensor t = f64({1, 2, 3, 4}, {2, 2});
  EXPECT_TRUE(all_close(gather(t, 1, i64({0, 0, 1, 0}, {2, 2})), {1, 1, 4, 3}));
  // dim 0: out[i][j] = t[idx[i][j]][j]
  EXPECT_TRUE(all_close(gather(t, 0, i64({1, 0, 1, 1, 0, 0}, {3, 2})), {3, 2, 3, 4, 1, 2}));
}

TEST(Gather, GradcheckDims) {
  Tensor x = rand64({3, 4, 5}, 7);
  // index may be smaller than x off `dim`, any size along it.
  Tensor i0 = rand_index(3, {5, 3, 4}, 8);
  Tensor i1 = rand_index(4, {2, 6, 5}, 9);
  Tensor i2 = rand_index(5, {3, 4, 7}, 10);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return gather(in[0], 0, i0); }, {x}));
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return gather(in[0], 1, i1); }, {x}));
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return gather(in[0], -1, i2); }, {x}));
}

TEST(Gather, StridedInputAndIndex) {
  Tensor x = rand64({6, 5}, 11).detach();
  Tensor idx = rand_index(6, {4, 3}, 12);  // transposed: [3, 4] gathering along dim 1 of x^T [5, 6]
  Tensor got = gather(x.t(), 1, idx.t());
  Tensor want = gather(x.t().contiguous(), 1, idx.t().contiguous());
  EXPECT_TRUE(all_close(got, want, 0, 0));
  EXPECT_EQ(got.shape(), Shape({3, 4}));
}

TEST(Gather, F32MatchesF64) {
  Tensor x = rand64({7, 31}, 13).detach();
  Tensor idx = rand_index(31, {7, 40}, 14);
  EXPECT_TRUE(all_close(gather(x.to(DType::f32), 1, idx), gather(x, 1, idx), 1e-6, 1e-7));
}

// ---- scatter_add -----------------------------------------------------------------------------
TEST(ScatterAdd, ValuesHandComputed) {
  // out[idx[i][j]][j] += src[i][j]; result worked out by hand (and with a python3 loop).
  Tensor x = Tensor::zeros({3, 5}, {.dtype = DType::f64});
  Tensor src = Tensor::arange(1, 11, 1, {.dtype = DType::f64}).reshape({2, 5});
  Tensor idx = i64({0, 1, 2, 0, 0, 2, 0, 0, 1, 2}, {2, 5});
  EXPECT_TRUE(all_close(scatter_add(x, 0, idx, src), {1, 7, 8, 4, 5, 0, 2, 0, 9, 0, 6, 0, 3, 0, 10}));
  EXPECT_TRUE(all_close(x, std::vector<double>(15, 0.0)));  // out of place
}

TEST(ScatterAdd, GradcheckDims) {
  Tensor x = rand64({3, 4, 5}, 15);
  Tensor s0 = rand64({6, 3, 4}, 16), s1 = rand64({2, 7, 5}, 17), s2 = rand64({3, 4, 6}, 18);
  Tensor i0 = rand_index(3, {6, 3, 4}, 19), i1 = rand_index(4, {2, 7, 5}, 20), i2 = rand_index(5, {3, 4, 6}, 21);
  auto fn = [](int64_t dim, const Tensor& idx) {
    return [dim, idx](const std::vector<Tensor>& in) { return scatter_add(in[0], dim, idx, in[1]); };
  };
  EXPECT_TRUE(grad_ok(fn(0, i0), {x, s0}));
  EXPECT_TRUE(grad_ok(fn(1, i1), {x, s1}));
  EXPECT_TRUE(grad_ok(fn(-1, i2), {x, s2}));
}

TEST(ScatterAdd, SrcLargerThanIndex) {
  // Only index's extent of src is read; the rest of src gets zero gradient.
  Tensor x = rand64({4, 3}, 22), src = rand64({3, 3}, 23);
  Tensor idx = i64({3, 3, 0, 1}, {2, 2});
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, idx, in[1]); }, {x, src}));
  src.zero_grad();  // gradcheck's backward left a .grad behind
  scatter_add(x, 0, idx, src).sum().backward();
  EXPECT_TRUE(all_close(src.grad(), {1, 1, 0, 1, 1, 0, 0, 0, 0}));
}

TEST(ScatterAdd, GatherAdjoint) {
  // <gather(x, idx), g> == <x, scatter_add(0, idx, g)>: the two ops are adjoint.
  Tensor x = rand64({5, 6}, 24).detach(), g = rand64({8, 6}, 25).detach();
  Tensor idx = rand_index(5, {8, 6}, 26);
  double lhs = (gather(x, 0, idx) * g).sum().item();
  double rhs = (x * scatter_add(Tensor::zeros({5, 6}, {.dtype = DType::f64}), 0, idx, g)).sum().item();
  EXPECT_NEAR(lhs, rhs, 1e-12);
}

// ---- validation ------------------------------------------------------------------------------
TEST(IndexErrors, OutOfRangeValues) {
  Tensor x = rand64({5, 3}, 27);
  EXPECT_TRUE(throws_with(
      [&] {
        index_select(x, 0, i64({1, 5}, {2}));
      },
      {"index_select", "index 5", "dim 0", "size 5", "[5,3]"}));
  EXPECT_TRUE(throws_with([&] { index_select(x, 1, i64({-1}, {1})); }, {"index_select", "index -1", "size 3"}));
  EXPECT_TRUE(throws_with([&] { embedding(x, i64({0, 9}, {2})); }, {"embedding", "index 9", "size 5", "[5,3]"}));
  EXPECT_TRUE(throws_with([&] { gather(x, 1, i64({0, 3}, {1, 2})); }, {"gather", "index 3", "dim 1", "size 3"}));
  EXPECT_TRUE(throws_with(
      [&] {
        scatter_add(x, -1, i64({-2}, {1, 1}), rand64({1, 1}, 28));
      },
      {"scatter_add", "index -2", "dim 1", "size 3"}));
}

TEST(IndexErrors, BadIndexTensor) {
  Tensor x = rand64({5, 3}, 29);
  Tensor i32 = Tensor::from_vector<int32_t>({0, 1}, {2}, {.dtype = DType::i32});
  EXPECT_TRUE(throws_with([&] { index_select(x, 0, i32); }, {"index_select", "i64", "i32"}));
  EXPECT_TRUE(throws_with([&] { embedding(x, i32); }, {"embedding", "i64"}));
  EXPECT_TRUE(throws_with([&] { index_select(x, 0, i64({0, 1}, {1, 2})); }, {"index_select", "1-D", "[1,2]"}));
  EXPECT_TRUE(throws_with([&] { index_select(x, 2, i64({0}, {1})); }, {"index_select", "dim 2"}));
  EXPECT_TRUE(throws_with([&] { embedding(rand64({5}, 30), i64({0}, {1})); }, {"embedding", "2-D", "[5]"}));
}

TEST(IndexErrors, BadShapes) {
  Tensor x = rand64({4, 3}, 31);
  EXPECT_TRUE(throws_with([&] { gather(x, 0, i64({0, 1}, {2})); }, {"gather", "dims", "[2]", "[4,3]"}));
  EXPECT_TRUE(throws_with(
      [&] {
        gather(x, 0, i64(std::vector<int64_t>(8, 0), {2, 4}));
      },
      {"gather", "index size 4 exceeds input size 3 at dim 1", "[2,4]", "[4,3]"}));
  EXPECT_TRUE(throws_with(
      [&] {
        scatter_add(x, 0, i64({0, 0, 0, 0}, {2, 2}), rand64({1, 2}, 32));
      },
      {"scatter_add", "exceeds src size", "[2,2]", "[1,2]"}));
  EXPECT_TRUE(throws_with(
      [&] {
        scatter_add(x, 0, i64({0}, {1, 1}), rand64({1, 1}, 33).to(DType::f32));
      },
      {"scatter_add"}));
}

}  // namespace
}  // namespace ember
