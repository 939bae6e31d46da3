// gradcheck: analytic gradients from one backward of sum(g * fn(x)) against central differences
// (f(x+eps) - f(x-eps)) / 2eps of the same scalar, element by element, in f64.
#include "autograd/gradcheck.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember {

GradcheckResult gradcheck(const GradFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opts) {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].defined() && inputs[i].requires_grad())
      EMBER_CHECK(inputs[i].dtype() == DType::f64, "gradcheck: input {} is {}, use f64 for finite differences", i,
                  inputs[i].dtype());
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) t.zero_grad();

  Tensor out = fn(inputs);
  EMBER_CHECK(out.defined() && is_floating(out.dtype()), "gradcheck: fn must return a floating tensor");
  Generator gen(opts.seed);
  Tensor g = Tensor::rand(out.shape(), {.dtype = out.dtype()}, &gen) + 0.5;  // avoid near-zero weights
  auto scalar_of = [&](const Tensor& y) { return sum(mul(y, g)).item(); };

  if (out.requires_grad()) sum(mul(out, g)).backward();

  GradcheckResult result;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor analytic = x.grad().defined() ? x.grad().contiguous() : Tensor::zeros(x.shape(), x.options());
    std::vector<double> an = analytic.to_vector<double>();
    // Perturb through a contiguous view of x's storage when possible.
    EMBER_CHECK(x.is_contiguous(), "gradcheck: input {} must be contiguous", i);
    double* p = x.data<double>();
    NoGradGuard no_grad;
    for (int64_t j = 0; j < x.numel(); ++j) {
      double orig = p[j];
      p[j] = orig + opts.eps;
      double fp = scalar_of(fn(inputs));
      p[j] = orig - opts.eps;
      double fm = scalar_of(fn(inputs));
      p[j] = orig;
      double numeric = (fp - fm) / (2 * opts.eps);
      double diff = std::abs(an[j] - numeric);
      if (!(diff <= opts.atol + opts.rtol * std::abs(numeric))) {
        result.ok = false;
        result.message = fmt::format(
            "gradcheck: input {} {} flat index {}: analytic {:.10g} vs numeric {:.10g} (abs err {:.3g})", i,
            shape_str(x.shape()), j, an[j], numeric, diff);
        return result;
      }
    }
  }
  return result;
}

}  // namespace ember
