// make_pruner: pruners by name, with the settings PrunerOptions gives.
#include "hpo/pruners/curve.h"
#include "hpo/pruners/hyperband.h"
#include "hpo/pruners/median.h"
#include "hpo/pruners/successive_halving.h"
#include "tensor/error.h"

namespace ember::hpo {

std::shared_ptr<Pruner> make_pruner(const std::string& name, const PrunerOptions& o) {
  if (name == "none") return std::make_shared<NopPruner>();
  if (name == "median") {
    MedianPrunerOptions m;
    if (o.n_startup_trials >= 0) m.n_startup_trials = o.n_startup_trials;
    if (o.n_warmup_steps >= 0) m.n_warmup_steps = o.n_warmup_steps;
    return std::make_shared<MedianPruner>(m);
  }
  if (name == "asha" || name == "successive_halving") {
    SuccessiveHalvingOptions a;
    if (o.min_resource > 0) a.min_resource = o.min_resource;
    if (o.reduction_factor > 0) a.reduction_factor = o.reduction_factor;
    return std::make_shared<SuccessiveHalvingPruner>(a);
  }
  if (name == "hyperband") {
    HyperbandOptions h{.seed = o.seed};
    if (o.min_resource > 0) h.min_resource = o.min_resource;
    if (o.max_resource > 0) h.max_resource = o.max_resource;
    if (o.reduction_factor > 0) h.reduction_factor = o.reduction_factor;
    return std::make_shared<HyperbandPruner>(h);
  }
  if (name == "curve") {
    CurvePrunerOptions c;
    if (o.n_startup_trials >= 0) c.n_startup_trials = o.n_startup_trials;
    return std::make_shared<CurvePruner>(c);
  }
  EMBER_CHECK(false, "make_pruner: unknown pruner '{}' (expected none, median, asha, hyperband or curve)", name);
  return nullptr;
}

}  // namespace ember::hpo
