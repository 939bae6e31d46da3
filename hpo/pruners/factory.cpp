// make_pruner: pruners by name with default settings.
#include "hpo/pruners/curve.h"
#include "hpo/pruners/hyperband.h"
#include "hpo/pruners/median.h"
#include "hpo/pruners/successive_halving.h"
#include "tensor/error.h"

namespace ember::hpo {

std::shared_ptr<Pruner> make_pruner(const std::string& name) {
  if (name == "none") return std::make_shared<NopPruner>();
  if (name == "median") return std::make_shared<MedianPruner>();
  if (name == "asha" || name == "successive_halving") return std::make_shared<SuccessiveHalvingPruner>();
  if (name == "hyperband") return std::make_shared<HyperbandPruner>();
  if (name == "curve") return std::make_shared<CurvePruner>();
  EMBER_CHECK(false, "make_pruner: unknown pruner '{}' (expected none, median, asha, hyperband or curve)", name);
  return nullptr;
}

}  // namespace ember::hpo
