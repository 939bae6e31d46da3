// Tests for cat, stack, split and chunk: hand-derived values, gradcheck (3 inputs, every dim,
// uneven pieces feeding a downstream op), views, strided inputs and the validation errors.
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::f64}); }

// ---- cat -------------------------------------------------------------------------------------
TEST(Cat, ValuesEveryDim) {
  Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6}, {1, 2}), c = f64({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor y = cat({a, b, c}, 0);
  EXPECT_EQ(y.shape(), Shape({6, 2}));
  EXPECT_TRUE(all_close(y, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  Tensor d = f64({5, 6}, {2, 1}), e = f64({7, 8, 9, 10, 11, 12}, {2, 3});
  EXPECT_TRUE(all_close(cat({a, d, e}, 1), {1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12}));
  EXPECT_TRUE(all_close(cat({a, d, e}, -1), cat({a, d, e}, 1), 0, 0));
}

TEST(Cat, GradcheckThreeInputsDims) {
  auto fn = [](int64_t dim) { return [dim](const std::vector<Tensor>& in) { return cat(in, dim); }; };
  EXPECT_TRUE(grad_ok(fn(0), {rand64({2, 3, 4}, 1), rand64({1, 3, 4}, 2), rand64({3, 3, 4}, 3)}));
  EXPECT_TRUE(grad_ok(fn(1), {rand64({2, 1, 4}, 4), rand64({2, 5, 4}, 5), rand64({2, 2, 4}, 6)}));
  EXPECT_TRUE(grad_ok(fn(-1), {rand64({2, 3, 3}, 7), rand64({2, 3, 1}, 8), rand64({2, 3, 7}, 9)}));
}

TEST(Cat, GradOnlyWhereRequired) {
  Tensor a = rand64({2, 2}, 10), b = rand64({3, 2}, 11).detach();
  (cat({a, b}, 0) * 3.0).sum().backward();
  EXPECT_TRUE(all_close(a.grad(), {3, 3, 3, 3}));
  EXPECT_FALSE(b.grad().defined());
}

TEST(Cat, StridedInputsAndEmptyPiece) {
  Tensor a = rand64({4, 3}, 12).detach();
  Tensor at = a.t();  // [3, 4], not contiguous
  Tensor b = rand64({3, 2}, 13).detach();
  Tensor empty = Tensor::zeros({3, 0}, {.dtype = DType::f64});
  EXPECT_TRUE(all_close(cat({at, empty, b}, 1), cat({at.contiguous(), b}, 1), 0, 0));
  EXPECT_TRUE(all_close(narrow(cat({at, b}, 1), 1, 0, 4), at, 0, 0));
}

TEST(Cat, F32) {
  Tensor a = rand64({5, 7}, 14).detach(), b = rand64({5, 2}, 15).detach();
  EXPECT_TRUE(all_close(cat({a.to(DType::f32), b.to(DType::f32)}, 1), cat({a, b}, 1), 1e-6, 1e-7));
}

TEST(Cat, Errors) {
  Tensor a = rand64({2, 3}, 16), b = rand64({2, 4}, 17);
  EXPECT_TRUE(throws_with([] { cat({}, 0); }, {"cat", "non-empty"}));
  EXPECT_TRUE(throws_with([&] { cat({a, b}, 0); }, {"cat", "[2,4]", "[2,3]", "dim 0"}));
  EXPECT_TRUE(throws_with([&] { cat({a, rand64({2, 3, 1}, 18)}, 1); }, {"cat", "[2,3,1]"}));
  EXPECT_TRUE(throws_with([&] { cat({a, a.to(DType::f32)}, 0); }, {"cat"}));
  EXPECT_TRUE(throws_with([&] { cat({a, b}, 2); }, {"cat", "dim 2"}));
}

// ---- stack -----------------------------------------------------------------------------------
TEST(Stack, ValuesAndGradcheck) {
  Tensor a = f64({1, 2, 3}, {3}), b = f64({4, 5, 6}, {3});
  EXPECT_TRUE(all_close(stack({a, b}, 0), {1, 2, 3, 4, 5, 6}));
  Tensor y = stack({a, b}, -1);
  EXPECT_EQ(y.shape(), Shape({3, 2}));
  EXPECT_TRUE(all_close(y, {1, 4, 2, 5, 3, 6}));
  auto fn = [](int64_t dim) { return [dim](const std::vector<Tensor>& in) { return stack(in, dim); }; };
  EXPECT_TRUE(grad_ok(fn(0), {rand64({2, 3}, 19), rand64({2, 3}, 20), rand64({2, 3}, 21)}));
  EXPECT_TRUE(grad_ok(fn(1), {rand64({2, 3}, 22), rand64({2, 3}, 23), rand64({2, 3}, 24)}));
  EXPECT_TRUE(grad_ok(fn(-1), {rand64({2, 3}, 25), rand64({2, 3}, 26)}));
}

TEST(Stack, Errors) {
  EXPECT_TRUE(throws_with([] { stack({}, 0); }, {"stack", "non-empty"}));
  EXPECT_TRUE(throws_with([] { stack({rand64({2, 3}, 27), rand64({3, 2}, 28)}, 0); }, {"stack", "[3,2]", "[2,3]"}));
  EXPECT_TRUE(throws_with([] { stack({rand64({2, 3}, 29)}, 3); }, {"stack", "dim 3"}));
}

// ---- split / chunk ---------------------------------------------------------------------------
// A downstream op that uses every piece differently, so a mixed-up gradient slice shows.
Tensor combine(const std::vector<Tensor>& pieces) {
  std::vector<Tensor> parts;
  for (size_t i = 0; i < pieces.size(); ++i) parts.push_back(square(pieces[i]) * static_cast<double>(i + 1));
  return cat(parts, 0);
}

TEST(Split, BySizeUneven) {
  Tensor x = Tensor::arange(0, 7, 1, {.dtype = DType::f64});
  auto pieces = split(x, 3);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_TRUE(all_close(pieces[0], {0, 1, 2}));
  EXPECT_TRUE(all_close(pieces[1], {3, 4, 5}));
  EXPECT_TRUE(all_close(pieces[2], {6}));
  // Views: same storage, offset by the start of each piece.
  EXPECT_EQ(pieces[1].impl()->storage, x.impl()->storage);
  EXPECT_EQ(pieces[2].offset(), x.offset() + 6);
  EXPECT_EQ(split(x, 7).size(), 1u);
  EXPECT_EQ(split(x, 100).size(), 1u);
}

TEST(Split, GradcheckBySizeAndSizes) {
  Tensor x = rand64({7, 3}, 30);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return combine(split(in[0], 3, 0)); }, {x}));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        auto p = split(in[0], std::vector<int64_t>{1, 2}, -1);  // [7,1] and [7,2]
        return combine({p[0].reshape({-1}), p[1].reshape({-1})});
      },
      {x}));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        return combine(split(in[0], std::vector<int64_t>{2, 0, 5}, 0));
      },
      {x}));
}

TEST(Split, Errors) {
  Tensor x = rand64({7, 3}, 31);
  EXPECT_TRUE(throws_with([&] { split(x, std::vector<int64_t>{3, 3}, 0); }, {"split", "sum to 6", "[7,3]", "size 7"}));
  EXPECT_TRUE(throws_with([&] { split(x, std::vector<int64_t>{8, -1}, 0); }, {"split", "non-negative"}));
  EXPECT_TRUE(throws_with([&] { split(x, 0, 0); }, {"split", "positive", "[7,3]"}));
  EXPECT_TRUE(throws_with([&] { split(x, 2, 2); }, {"split", "dim 2"}));
}

TEST(Chunk, CeilDivisionLikePyTorch) {
  Tensor x = rand64({7, 2}, 32).detach();
  auto c3 = chunk(x, 3);  // ceil(7/3) = 3 -> 3, 3, 1
  ASSERT_EQ(c3.size(), 3u);
  EXPECT_EQ(c3[0].size(0), 3);
  EXPECT_EQ(c3[2].size(0), 1);
  auto c4 = chunk(rand64({6}, 33), 4);  // ceil(6/4) = 2 -> 2, 2, 2: fewer than 4 pieces, as in PyTorch
  ASSERT_EQ(c4.size(), 3u);
  EXPECT_EQ(c4[2].size(0), 2);
  EXPECT_EQ(chunk(x, 10).size(), 7u);  // ceil(7/10) = 1
  EXPECT_EQ(chunk(x, 1, -1).size(), 1u);
  EXPECT_TRUE(all_close(chunk(x, 2, 1)[1], narrow(x, 1, 1, 1), 0, 0));
}

TEST(Chunk, GradcheckUneven) {
  Tensor x = rand64({5, 3}, 34);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return combine(chunk(in[0], 2, 0)); }, {x}));
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        auto p = chunk(in[0], 2, 1);  // [5,2] and [5,1]
        return combine({p[0].reshape({-1}), p[1].reshape({-1})});
      },
      {x}));
}

TEST(Chunk, Errors) {
  EXPECT_TRUE(throws_with([] { chunk(rand64({4}, 35), 0); }, {"chunk", "positive", "[4]"}));
  EXPECT_TRUE(throws_with([] { chunk(Tensor::scalar(1.0), 2); }, {"chunk", "zero-dimensional"}));
}

}  // namespace
}  // namespace ember
