// PyTorch-like printing: tensor([[ 0.1000, -2.0000], ...], dtype=f64, requires_grad=true).
// Floats print with 4 decimals (scientific when the range is very large or small); integer-valued
// float tensors print as "1.", integers plainly. Big tensors (> 1000 elements) are summarised with
// "..." keeping 3 entries at each end of every dim.
#include <cmath>
#include <ostream>
#include <sstream>

#include "tensor/tensor.h"

namespace ember {
namespace {

constexpr int64_t kSummariseAbove = 1000;
constexpr int64_t kEdgeItems = 3;

struct Fmt {
  bool floating = true, int_valued = false, sci = false;
  int width = 1;
  std::string format(double v) const {
    if (!floating) return fmt::format("{}", int64_t(v));
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci) return fmt::format("{:.4e}", v);
    if (int_valued) return fmt::format("{:.0f}.", v);
    return fmt::format("{:.4f}", v);
  }
};

void print_rec(std::ostringstream& os, const std::vector<double>& vals, const Shape& shape, const Strides& st,
               int64_t base, size_t d, const Fmt& f, bool summarise, int indent) {
  if (d == shape.size()) {
    std::string s = f.format(vals[size_t(base)]);
    os << std::string(size_t(std::max<int>(0, f.width - int(s.size()))), ' ') << s;
    return;
  }
  os << '[';
  int64_t n = shape[d];
  for (int64_t i = 0; i < n; ++i) {
    if (summarise && n > 2 * kEdgeItems && i == kEdgeItems) {
      os << (d + 1 == shape.size() ? "..., " : "...,\n" + std::string(size_t(indent + 1), ' '));
      i = n - kEdgeItems;
    }
    print_rec(os, vals, shape, st, base + i * st[d], d + 1, f, summarise, indent + 1);
    if (i + 1 < n) {
      if (d + 1 == shape.size()) {
        os << ", ";
      } else {
        os << ',' << std::string(shape.size() - d - 1, '\n') << std::string(size_t(indent + 1), ' ');
      }
    }
  }
  os << ']';
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  Tensor host = *this;
  EMBER_CHECK(device().is_cpu(), "print: tensor is on {}; move it to cpu to print", device());
  std::vector<double> vals = host.to_vector<double>();  // row-major
  Fmt f;
  f.floating = is_floating(dtype());
  double max_abs = 0, min_abs = INFINITY;
  bool all_int = true;
  for (double v : vals) {
    if (!std::isfinite(v)) continue;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0) min_abs = std::min(min_abs, std::abs(v));
    if (v != std::floor(v)) all_int = false;
  }
  f.int_valued = all_int && max_abs < 1e8;
  f.sci = f.floating && !f.int_valued && (max_abs >= 1e8 || (min_abs < 1e-4 && min_abs > 0));
  for (double v : vals) f.width = std::max<int>(f.width, int(f.format(v).size()));

  std::ostringstream os;
  os << "tensor(";
  if (dim() == 0) {
    os << f.format(vals.empty() ? 0 : vals[0]);
  } else if (numel() == 0) {
    os << "[], size=" << shape_str(shape());
  } else {
    print_rec(os, vals, shape(), contiguous_strides(shape()), 0, 0, f, numel() > kSummariseAbove, 7);
  }
  if (dtype() != DType::f32 && dtype() != DType::i64) os << ", dtype=" << dtype_name(dtype());
  if (!device().is_cpu()) os << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad=true";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace ember
