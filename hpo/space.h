// Search spaces: one Distribution per parameter (float / int / categorical, log and step), the
// maps between a value and the unit interval that model-based samplers work in, and a
// declarative Space (ordered parameters, some conditional on another's value) for samplers that
// need the space up front (grid, CFO, GP).
//
// Internal representation: every parameter value is a double. Floats are themselves, ints are
// exact integers stored as doubles, categoricals are the index of the choice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace ember::hpo {

enum class ParamKind { kFloat, kInt, kCategorical };

struct FloatOptions {
  bool log = false;
  double step = 0.0;  // 0: continuous; > 0: values low + k*step (not with log)
};

struct IntOptions {
  bool log = false;
  int64_t step = 1;  // values low + k*step (step must be 1 with log)
};

// A user-facing parameter value (enqueue, best params, CLI).
using ParamValue = std::variant<double, int64_t, std::string>;

struct Distribution {
  ParamKind kind = ParamKind::kFloat;
  double low = 0.0;
  double high = 0.0;
  bool log = false;
  double step = 0.0;                 // float: 0 or > 0; int: >= 1
  std::vector<std::string> choices;  // categorical only

  // Validating constructors: throw ember::Error naming the parameter on bad ranges
  // (low > high, log with low <= 0, step <= 0, empty or repeated choices, non-finite bounds).
  static Distribution make_float(const std::string& name, double low, double high, FloatOptions opt = {});
  static Distribution make_int(const std::string& name, int64_t low, int64_t high, IntOptions opt = {});
  static Distribution make_categorical(const std::string& name, std::vector<std::string> choices);

  bool is_numeric() const { return kind != ParamKind::kCategorical; }
  size_t n_choices() const { return choices.size(); }
  // Whether the internal value v is a legal value of this distribution (in range, on the step grid).
  bool contains(double v) const;
  // Number of distinct values (0 = continuous).
  uint64_t cardinality() const;

  // Unit-interval maps. to_unit is affine in the (log-)value; for ints and stepped floats the
  // cell [v - step/2, v + step/2] maps to the unit interval so every value gets equal width.
  // Categoricals map index i to (i + 0.5) / n. from_unit clamps and rounds to a legal value.
  double to_unit(double v) const;
  double from_unit(double u) const;

  // Internal value <-> user value.
  ParamValue to_param_value(double v) const;
  double from_param_value(const std::string& name, const ParamValue& p) const;  // throws if illegal
  std::string format_value(double v) const;

  std::string describe() const;  // e.g. "float[1e-05, 1] log"
  std::string to_json() const;
  static Distribution from_json(const std::string& text);

  bool operator==(const Distribution&) const = default;
};

// A parameter exists only when `parent` takes one of `values` (categorical choice names, or the
// decimal form of an int).
struct Condition {
  std::string parent;
  std::vector<std::string> values;
};

struct ParamSpec {
  std::string name;
  Distribution dist;
  std::optional<Condition> condition;
};

class Trial;

class Space {
 public:
  Space& add_float(const std::string& name, double low, double high, FloatOptions opt = {},
                   std::optional<Condition> when = {});
  Space& add_int(const std::string& name, int64_t low, int64_t high, IntOptions opt = {},
                 std::optional<Condition> when = {});
  Space& add_categorical(const std::string& name, std::vector<std::string> choices,
                         std::optional<Condition> when = {});

  const std::vector<ParamSpec>& params() const { return params_; }
  size_t size() const { return params_.size(); }
  bool empty() const { return params_.empty(); }
  const ParamSpec* find(const std::string& name) const;

  // Whether `spec` is active given the values already chosen for earlier parameters.
  bool is_active(const ParamSpec& spec, const std::map<std::string, double>& values) const;
  // Suggests every active parameter on `trial`, in declaration order; returns the chosen values.
  std::map<std::string, double> suggest_all(Trial& trial) const;
  // Whether the space has no conditional parameters.
  bool is_flat() const;

 private:
  Space& add(ParamSpec spec);
  std::vector<ParamSpec> params_;
};

}  // namespace ember::hpo
