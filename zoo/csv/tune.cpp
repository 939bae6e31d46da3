// CSV parsing and encoding, and the MLP Trainable over a CSV file (see tune.h).
#include "zoo/csv/tune.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "data/dataset.h"
#include "data/loader.h"
#include "hpo/rng.h"
#include "nn/container.h"
#include "nn/layers.h"
#include "nn/optim/adam.h"
#include "tensor/error.h"

namespace ember::zoo::csv {

namespace {

std::optional<double> as_number(const std::string& s) {
  std::string t = s;
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t\r") + 1);
  double v = 0;
  const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || p != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool is_missing(const std::string& s) {
  std::string t = s;
  t.erase(0, t.find_first_not_of(" \t"));
  t.erase(t.find_last_not_of(" \t\r") + 1);
  return t.empty() || t == "NA" || t == "N/A" || t == "NaN" || t == "nan" || t == "?" || t == "null";
}

}  // namespace

Table parse(const std::string& text, bool header, int64_t skip, const std::string& what) {
  Table t;
  std::vector<std::string> row;
  std::string field;
  int64_t line = 1, row_line = 1;
  size_t i = 0;
  for (int64_t k = 0; k < skip && i < text.size(); ++line) {  // skipped lines are not parsed
    const size_t nl = text.find('\n', i);
    i = nl == std::string::npos ? text.size() : nl + 1;
    ++k;
  }
  row_line = line;
  bool quoted_field = false;
  auto end_row = [&] {
    row.push_back(field);
    field.clear();
    const bool blank = row.size() == 1 && row[0].find_first_not_of(" \t\r") == std::string::npos && !quoted_field;
    if (!blank) {
      if (header && t.header.empty()) {
        t.header = row;
      } else {
        t.rows.push_back(row);
        t.line.push_back(row_line);
      }
    }
    row.clear();
    quoted_field = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"' && field.find_first_not_of(" \t") == std::string::npos) {
      // A quoted field: up to the closing quote; "" is a literal quote; commas and newlines inside.
      field.clear();
      quoted_field = true;
      const int64_t start = line;
      ++i;
      for (;;) {
        EMBER_CHECK(i < text.size(), "{}: line {}: unterminated quoted field (a \" without its closing quote)", what,
                    start);
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') ++line;
        field.push_back(text[i++]);
      }
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) ++i;
      EMBER_CHECK(i >= text.size() || text[i] == ',' || text[i] == '\n',
                  "{}: line {}: unexpected text after a closing quote", what, line);
      continue;
    }
    if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      end_row();
      ++line;
      row_line = line;
    } else {
      field.push_back(c);
    }
    ++i;
  }
  if (!field.empty() || !row.empty()) end_row();
  EMBER_CHECK(!t.rows.empty(), "{}: no data rows", what);
  if (!header)
    for (size_t c = 0; c < t.rows[0].size(); ++c) t.header.push_back(fmt::format("c{}", c));
  for (auto& h : t.header) {
    h.erase(0, h.find_first_not_of(" \t"));
    h.erase(h.find_last_not_of(" \t\r") + 1);
  }
  for (size_t r = 0; r < t.rows.size(); ++r)
    EMBER_CHECK(t.rows[r].size() == t.header.size(), "{}: line {} has {} fields, the header has {}", what, t.line[r],
                t.rows[r].size(), t.header.size());
  return t;
}

Task parse_task(const std::string& name) {
  if (name == "classification") return Task::classification;
  if (name == "regression") return Task::regression;
  EMBER_CHECK(false, "tune csv: --task must be classification or regression (got '{}')", name);
  return Task::classification;
}

Dataset encode(const Table& t, const std::string& target, Task task, const std::string& what) {
  const auto it = std::find(t.header.begin(), t.header.end(), target);
  EMBER_CHECK(it != t.header.end(), "{}: no column '{}' (columns: {})", what, target,
              fmt::format("{}", fmt::join(t.header.size() > 12 ? std::vector<std::string>(t.header.begin(), t.header.begin() + 12)
                                                               : t.header, ", ")) + (t.header.size() > 12 ? ", ..." : ""));
  const size_t tc = size_t(it - t.header.begin());
  const size_t n = t.rows.size(), cols = t.header.size();
  for (size_t r = 0; r < n; ++r)
    for (size_t c = 0; c < cols; ++c)
      EMBER_CHECK(!is_missing(t.rows[r][c]),
                  "{}: line {}: column '{}' has a missing value ('{}'); drop or fill such rows first", what, t.line[r],
                  t.header[c], t.rows[r][c]);
  Dataset d;
  // Per column: numeric (every value parses) or text (one-hot over its sorted distinct values).
  std::vector<std::vector<float>> feats;
  for (size_t c = 0; c < cols; ++c) {
    if (c == tc) continue;
    std::vector<std::optional<double>> v(n);
    bool numeric = true;
    for (size_t r = 0; r < n && numeric; ++r) numeric = (v[r] = as_number(t.rows[r][c])).has_value();
    if (numeric) {
      d.features.push_back(t.header[c]);
      feats.emplace_back(n);
      for (size_t r = 0; r < n; ++r) feats.back()[r] = float(*v[r]);
      continue;
    }
    std::set<std::string> levels;
    for (size_t r = 0; r < n; ++r) levels.insert(t.rows[r][c]);
    EMBER_CHECK(levels.size() <= 1000, "{}: text column '{}' has {} distinct values (more than 1000 to one-hot)", what,
                t.header[c], levels.size());
    for (const auto& l : levels) {
      d.features.push_back(t.header[c] + "=" + l);
      feats.emplace_back(n);
      for (size_t r = 0; r < n; ++r) feats.back()[r] = t.rows[r][c] == l ? 1.f : 0.f;
    }
  }
  EMBER_CHECK(!feats.empty(), "{}: no feature columns besides the target '{}'", what, target);
  std::vector<float> x(n * feats.size());
  for (size_t r = 0; r < n; ++r)
    for (size_t f = 0; f < feats.size(); ++f) x[r * feats.size() + f] = feats[f][r];
  d.x = Tensor::from_vector(x, {int64_t(n), int64_t(feats.size())});
  if (task == Task::regression) {
    std::vector<float> y(n);
    for (size_t r = 0; r < n; ++r) {
      const auto v = as_number(t.rows[r][tc]);
      EMBER_CHECK(v.has_value(), "{}: line {}: target '{}' is '{}', not a number (regression)", what, t.line[r], target,
                  t.rows[r][tc]);
      y[r] = float(*v);
    }
    d.y = Tensor::from_vector(y, {int64_t(n), 1});
  } else {
    std::set<std::string> labels;
    for (size_t r = 0; r < n; ++r) labels.insert(t.rows[r][tc]);
    d.classes.assign(labels.begin(), labels.end());
    // Numeric labels in numeric order (2 < 10).
    if (std::all_of(d.classes.begin(), d.classes.end(), [](const std::string& s) { return as_number(s).has_value(); }))
      std::sort(d.classes.begin(), d.classes.end(), [](const auto& a, const auto& b) { return *as_number(a) < *as_number(b); });
    EMBER_CHECK(d.classes.size() >= 2, "{}: target '{}' has a single class", what, target);
    EMBER_CHECK(d.classes.size() <= 1000, "{}: target '{}' has {} classes; use --task regression for a numeric target",
                what, target, d.classes.size());
    std::map<std::string, int64_t> index;
    for (size_t k = 0; k < d.classes.size(); ++k) index[d.classes[k]] = int64_t(k);
    std::vector<int64_t> y(n);
    for (size_t r = 0; r < n; ++r) y[r] = index.at(t.rows[r][tc]);
    d.y = Tensor::from_vector(y, {int64_t(n)}, {.dtype = DType::i64});
  }
  return d;
}

namespace {

class CsvTrainable final : public hpo::Trainable {
 public:
  bool deterministic() const override { return true; }  // seeded: a configuration always scores the same
  explicit CsvTrainable(TuneConfig c) : cfg_(std::move(c)) {
    std::ifstream in(cfg_.file, std::ios::binary);
    EMBER_CHECK(in.good(), "tune csv: cannot read '{}'", cfg_.file);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    EMBER_CHECK(text.size() < 2 || !(uint8_t(text[0]) == 0x1f && uint8_t(text[1]) == 0x8b),
                "tune csv: '{}' is gzip-compressed; decompress it first (zcat)", cfg_.file);
    const Dataset d = encode(parse(text, cfg_.header, cfg_.skip, cfg_.file), cfg_.target, cfg_.task, cfg_.file);
    features_ = d.features.size();
    classes_ = d.classes.size();
    const int64_t n = d.x.size(0);
    EMBER_CHECK(n >= 20, "tune csv: '{}' has {} rows; at least 20 are needed for a train/validation/test split",
                cfg_.file, n);
    // The fixed seeded split: a Fisher-Yates permutation from hpo's generator.
    std::vector<int64_t> perm(static_cast<size_t>(n));
    std::iota(perm.begin(), perm.end(), 0);
    hpo::Rng rng(hpo::mix_seed(cfg_.seed, 0x637376));
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[size_t(i)], perm[size_t(rng.below(uint64_t(i) + 1))]);
    const int64_t n_test = std::max<int64_t>(1, n * 15 / 100), n_val = std::max<int64_t>(1, n * 15 / 100);
    auto part = [&](int64_t from, int64_t len) {
      return Tensor::from_vector(std::vector<int64_t>(perm.begin() + from, perm.begin() + from + len), {len}, {.dtype = DType::i64});
    };
    const Tensor i_test = part(0, n_test), i_val = part(n_test, n_val), i_train = part(n_test + n_val, n - n_test - n_val);
    // Standardize with the training split's statistics only.
    Tensor xtr = index_select(d.x, 0, i_train);
    const Tensor mu = mean(xtr, {0}, true);
    const Tensor sd = add(sqrt(mean(square(sub(xtr, mu)), {0}, true)), 1e-6);
    auto norm_x = [&](const Tensor& idx) { return div(sub(index_select(d.x, 0, idx), mu), sd).contiguous(); };
    x_train_ = norm_x(i_train), x_val_ = norm_x(i_val), x_test_ = norm_x(i_test);
    y_train_ = index_select(d.y, 0, i_train), y_val_ = index_select(d.y, 0, i_val), y_test_ = index_select(d.y, 0, i_test);
    if (cfg_.task == Task::regression) {
      y_mu_ = mean(y_train_).item();
      const Tensor centred = add(y_train_, -y_mu_);
      y_sd_ = std::max(1e-12, std::sqrt(mean(square(centred)).item()));
      y_train_ = mul(centred, 1.0 / y_sd_).contiguous();
    }
  }

  std::string name() const override { return "csv"; }
  std::string metric() const override { return cfg_.task == Task::regression ? "val_rmse" : "val_accuracy"; }
  hpo::Direction direction() const override {
    return cfg_.task == Task::regression ? hpo::Direction::kMinimize : hpo::Direction::kMaximize;
  }
  std::string describe() const override {
    return fmt::format("MLP on {} ({} of '{}' from {} features{}), {} train / {} validation / {} test rows", cfg_.file,
                       cfg_.task == Task::regression ? "regression" : "classification", cfg_.target, features_,
                       classes_ ? fmt::format(", {} classes", classes_) : "", x_train_.size(0), x_val_.size(0),
                       x_test_.size(0));
  }
  hpo::Space space() const override {
    hpo::Space s;
    s.add_float("lr", 1e-4, 3e-2, {.log = true})
        .add_float("weight_decay", 1e-6, 0.1, {.log = true})
        .add_int("width", 16, 256, {.log = true})
        .add_int("depth", 1, 3)
        .add_float("dropout", 0.0, 0.5)
        .add_categorical("batch", {"16", "32", "64", "128"});
    return s;
  }

  hpo::RunResult run(hpo::Trial& trial, const hpo::RunContext& ctx) override {
    const hpo::Space sp = space();
    const auto v = sp.suggest_all(trial);
    const int64_t width = int64_t(v.at("width")), depth = int64_t(v.at("depth"));
    const int64_t batch = std::stoll(sp.find("batch")->dist.choices.at(size_t(v.at("batch"))));
    // The trial's own stream: parallel trials (--jobs) do not interleave draws.
    Generator gen(cfg_.seed);
    GeneratorScope gen_scope(gen);
    auto model = std::make_shared<nn::Sequential>();
    int64_t in = int64_t(features_);
    for (int64_t l = 0; l < depth; ++l) {
      model->push_back(std::make_shared<nn::Linear>(in, width));
      model->push_back(std::make_shared<nn::ReLU>());
      model->push_back(std::make_shared<nn::Dropout>(v.at("dropout")));
      in = width;
    }
    model->push_back(std::make_shared<nn::Linear>(in, classes_ ? int64_t(classes_) : 1));
    nn::AdamW opt(model->parameters(), {.lr = v.at("lr"), .weight_decay = v.at("weight_decay")});
    auto train = std::make_shared<data::TensorDataset>(x_train_, y_train_);
    data::DataLoader loader(train, {.batch_size = batch, .shuffle = true, .seed = cfg_.seed, .prefetch = false});
    hpo::RunResult r;
    for (int64_t epoch = 1; epoch <= ctx.max_resource; ++epoch) {
      loader.set_epoch(epoch - 1);
      for (data::Batch& b : loader) {
        opt.zero_grad();
        Tensor out = model->forward(b.input);
        Tensor loss = classes_ ? cross_entropy(out, b.target) : mse_loss(out, b.target);
        EMBER_CHECK(std::isfinite(loss.item()), "tune csv: the loss diverged in epoch {} (lr {:.3g})", epoch, v.at("lr"));
        loss.backward();
        opt.step();
      }
      r.value = evaluate(*model, x_val_, y_val_);
      r.resource = epoch;
      hpo::report_epoch(trial, ctx, epoch, r.value);
    }
    if (ctx.measure_test) r.test = evaluate(*model, x_test_, y_test_);
    return r;
  }

 private:
  // Accuracy, or RMSE in the target's units.
  double evaluate(nn::Module& model, const Tensor& x, const Tensor& y) {
    model.eval();
    NoGradGuard no_grad;
    const Tensor out = model.forward(x);
    model.train(true);
    if (classes_) return sum(eq(argmax(out, 1), y)).item() / double(y.numel());
    const Tensor pred = add(mul(out, y_sd_), y_mu_);
    return std::sqrt(mean(square(sub(pred, y))).item());
  }

  TuneConfig cfg_;
  size_t features_ = 0, classes_ = 0;
  Tensor x_train_, x_val_, x_test_, y_train_, y_val_, y_test_;
  double y_mu_ = 0, y_sd_ = 1;
};

}  // namespace

std::unique_ptr<hpo::Trainable> make_trainable(const TuneConfig& config) {
  return std::make_unique<CsvTrainable>(config);
}

}  // namespace ember::zoo::csv
