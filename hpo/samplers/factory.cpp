// make_sampler: samplers by name, for the CLI and the bench.
#include "hpo/samplers/blend.h"
#include "hpo/samplers/cfo/cfo.h"
#include "hpo/samplers/gp/gp.h"
#include "hpo/samplers/grid.h"
#include "hpo/samplers/random.h"
#include "hpo/samplers/tpe/tpe.h"
#include "tensor/error.h"

namespace ember::hpo {

std::shared_ptr<Sampler> make_sampler(const std::string& name, SamplerOptions opt) {
  if (name == "random") return std::make_shared<RandomSampler>(opt.seed);
  if (name == "grid") {
    EMBER_CHECK(opt.space.has_value(), "make_sampler: grid needs a search space");
    return std::make_shared<GridSampler>(*opt.space, opt.grid_values, opt.grid_budget, opt.seed);
  }
  if (name == "tpe" || name == "tpe-multivariate" || name == "tpe-independent") {
    // "tpe" is multivariate (measured better on the suite); "tpe-independent" is optuna's default mode.
    TpeOptions t{.seed = opt.seed, .multivariate = name != "tpe-independent", .space = opt.space};
    if (opt.n_startup_trials >= 0) t.n_startup_trials = opt.n_startup_trials;
    return std::make_shared<TpeSampler>(t);
  }
  if (name == "gp") {
    GpOptions g{.seed = opt.seed, .space = opt.space, .deterministic = opt.deterministic};
    if (opt.n_startup_trials >= 0) g.n_startup_trials = opt.n_startup_trials;
    if (opt.gp_trust_region_dims >= 0) g.trust_region_dims = opt.gp_trust_region_dims;
    if (opt.gp_trust_region_on_stall >= 0) g.trust_region_on_stall = opt.gp_trust_region_on_stall != 0;
    return std::make_shared<GpSampler>(g);
  }
  if (name == "cfo") return std::make_shared<CfoSampler>(CfoOptions{.seed = opt.seed, .space = opt.space});
  if (name == "blend") return std::make_shared<BlendSampler>(BlendOptions{.seed = opt.seed, .space = opt.space});
  EMBER_CHECK(false,
              "make_sampler: unknown sampler '{}' (expected random, grid, tpe, tpe-independent, gp, cfo or blend)",
              name);
  return nullptr;
}

}  // namespace ember::hpo
