// Any numeric CSV as an hpo::Trainable (`ember tune csv --file F --target COL --task ...`): an MLP
// from ember's nn (width, depth, dropout, lr, weight decay, batch tuned; epochs the resource) on
// the other columns, with text columns one-hot encoded and numeric ones standardized with the
// training split's mean and deviation. The rows are split once by a seeded permutation into
// train / validation / test (70/15/15); the study sees only the validation metric (accuracy for
// classification, RMSE in the target's units for regression), the test metric is measured once
// for the best configuration.
//
// CSV: comma-separated, the first line a header (unless header = false: columns c0, c1, ...),
// fields may be double-quoted ("" is a quote inside), blank lines are skipped. Bad files give a
// one-line error with the line number: an unterminated quote, a row with the wrong number of
// fields, a missing value (empty, NA, NaN, ?), a target column that does not exist.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpo/trainable.h"
#include "tensor/tensor.h"

namespace ember::zoo::csv {

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> line;  // the file line each row starts on (for errors)
};

// Parses CSV text; `skip` leading lines are ignored (scikit-learn's files start with a count line).
Table parse(const std::string& text, bool header = true, int64_t skip = 0, const std::string& what = "csv");

enum class Task { classification, regression };
Task parse_task(const std::string& name);

struct Dataset {
  Tensor x;  // f32 [n, features] (raw: numeric values and one-hot columns, not yet standardized)
  Tensor y;  // classification: i64 [n] class indices; regression: f32 [n, 1]
  std::vector<std::string> features;  // column names after one-hot ("color=red")
  std::vector<std::string> classes;   // classification: the label of each class index
};

// The target column (a name, or c<k> without a header) against all other columns.
Dataset encode(const Table& table, const std::string& target, Task task, const std::string& what = "csv");

struct TuneConfig {
  std::string file;
  std::string target;
  Task task = Task::classification;
  bool header = true;
  int64_t skip = 0;
  uint64_t seed = 0;  // the split and every trial's initialization
};

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config);

}  // namespace ember::zoo::csv
