// zoo/csv/tune.h: CSV parsing (quotes, blank lines, ragged rows, missing values), encoding (text
// columns one-hot, class labels), and the MLP Trainable on scikit-learn's real wine and diabetes
// files (python3-sklearn; skipped without them) with pruning.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpo/tuner.h"
#include "tests/common/sanitizer.h"
#include "zoo/csv/tune.h"

namespace ember::zoo::csv {
namespace {
namespace fs = std::filesystem;

const std::string kSk = "/usr/lib/python3/dist-packages/sklearn/datasets/data/";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CsvTune, ParsesQuotesAndBlankLines) {
  const Table t = parse("a, \"b,c\" ,d\n1,\"say \"\"hi\"\"\",x\n\n2,\"two\nlines\",y\n", true, 0, "t.csv");
  ASSERT_EQ(t.header, (std::vector<std::string>{"a", "b,c", "d"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][1], "say \"hi\"");
  EXPECT_EQ(t.rows[1][1], "two\nlines");
  EXPECT_EQ(t.line[1], 4);
  const Table n = parse("3,1\n1,2\n5,6", false, 1, "t.csv");  // skip a count line, no header
  EXPECT_EQ(n.header, (std::vector<std::string>{"c0", "c1"}));
  EXPECT_EQ(n.rows.size(), 2u);
}

TEST(CsvTune, BadFilesGiveClearErrors) {
  EXPECT_NE(error_of([] { parse("a,b\n1,\"open\n2,3\n", true, 0, "f.csv"); })
                .find("f.csv: line 2: unterminated quoted field"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("a,b\n1,2\n3\n", true, 0, "f.csv"); }).find("f.csv: line 3 has 1 fields, the header has 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse("a,b\n", true, 0, "f.csv"); }).find("f.csv: no data rows"), std::string::npos);
  const Table t = parse("a,b,y\n1,,0\n2,3,1\n", true, 0, "f.csv");
  EXPECT_NE(error_of([&] { encode(t, "y", Task::classification, "f.csv"); })
                .find("f.csv: line 2: column 'b' has a missing value"),
            std::string::npos);
  const Table u = parse("a,y\n1,NA\n2,3\n", true, 0, "f.csv");
  EXPECT_NE(error_of([&] { encode(u, "y", Task::regression, "f.csv"); }).find("missing value ('NA')"), std::string::npos);
  const Table v = parse("a,y\n1,x\n2,3\n", true, 0, "f.csv");
  EXPECT_NE(error_of([&] { encode(v, "z", Task::regression, "f.csv"); }).find("no column 'z' (columns: a, y)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { encode(v, "y", Task::regression, "f.csv"); }).find("line 2: target 'y' is 'x', not a number"),
            std::string::npos);
  EXPECT_THROW(parse_task("clustering"), Error);
}

TEST(CsvTune, OneHotsTextColumnsAndIndexesClasses) {
  const Table t = parse("size,color,label\n1.5,red,10\n2,blue,2\n3,red,10\n", true, 0, "t.csv");
  const Dataset d = encode(t, "label", Task::classification, "t.csv");
  EXPECT_EQ(d.features, (std::vector<std::string>{"size", "color=blue", "color=red"}));
  EXPECT_EQ(d.classes, (std::vector<std::string>{"2", "10"}));  // numeric labels in numeric order
  EXPECT_EQ(d.x.to_vector<float>(), (std::vector<float>{1.5f, 0, 1, 2, 1, 0, 3, 0, 1}));
  EXPECT_EQ(d.y.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
}

hpo::TuneOptions quiet(hpo::TuneOptions o) {
  o.print = [](const std::string&) {};
  return o;
}

TEST(CsvTune, TunesWineClassificationWithPruning) {
  if (!fs::exists(kSk + "wine_data.csv")) GTEST_SKIP() << "python3-sklearn not installed";
  auto t = make_trainable({.file = kSk + "wine_data.csv", .target = "c13", .header = false, .skip = 1});
  EXPECT_EQ(t->metric(), "val_accuracy");
  const auto rep = hpo::tune(*t, quiet({.sampler = "tpe", .pruner = "median", .trials = EMBER_ASAN ? 4 : 10,
                                        .max_resource = EMBER_ASAN ? 4 : 15}));
  ASSERT_TRUE(rep.best && rep.final && rep.final->test);
  EXPECT_GT(*rep.best->value, 0.85);  // 178 wines, 3 cultivars: an MLP separates them well
  EXPECT_GT(*rep.final->test, 0.75);
}

// Parallel trials (--jobs 2) give each configuration exactly the result it gets alone: every
// trial draws its initial weights and dropout masks from its own generator (GeneratorScope).
TEST(CsvTune, ParallelTrialsReproduceSequentialOnes) {
  if (!fs::exists(kSk + "wine_data.csv")) GTEST_SKIP() << "python3-sklearn not installed";
  auto t = make_trainable({.file = kSk + "wine_data.csv", .target = "c13", .header = false, .skip = 1});
  auto run = [&](int jobs) {
    hpo::Study study(hpo::StudyOptions{.name = "p", .direction = hpo::Direction::kMaximize});
    for (int i = 0; i < 8; ++i)
      study.enqueue({{"lr", 3e-3 * (1 + i)}, {"weight_decay", 1e-4}, {"width", int64_t(32 + 16 * i)},
                     {"depth", int64_t(1 + i % 2)}, {"dropout", 0.3}, {"batch", std::string("16")}});
    study.optimize([&](hpo::Trial& tr) { return t->run(tr, {.max_resource = 6}).value; },
                   {.n_trials = 8, .n_jobs = jobs, .log = false});
    std::map<double, std::vector<double>> curves;  // lr -> validation curve
    for (const auto& tr : study.trials()) {
      EXPECT_EQ(tr->state, hpo::TrialState::kComplete) << tr->message;
      for (const auto& [step, v] : tr->intermediate) curves[tr->params.at("lr")].push_back(v);
    }
    return curves;
  };
  const auto alone = run(1), together = run(2);
  ASSERT_EQ(alone.size(), 8u);
  EXPECT_EQ(alone, together);
  EXPECT_TRUE(t->deterministic());  // what the tuner tells the GP sampler
}

TEST(CsvTune, TunesDiabetesRegressionInTheTargetsUnits) {
  if (!fs::exists(kSk + "diabetes_data_raw.csv.gz")) GTEST_SKIP() << "python3-sklearn not installed";
  // The file pair (space-separated features, one target per line) joined into one CSV.
  const fs::path csv = fs::temp_directory_path() / ("ember_diabetes_" + std::to_string(::getpid()) + ".csv");
  const std::string cmd = "paste -d' ' <(zcat " + kSk + "diabetes_data_raw.csv.gz) <(zcat " + kSk +
                          "diabetes_target.csv.gz) | tr ' ' ',' > " + csv.string();
  ASSERT_EQ(std::system(("bash -c \"" + cmd + "\"").c_str()), 0);
  auto t = make_trainable({.file = csv.string(), .target = "c10", .task = Task::regression, .header = false});
  EXPECT_EQ(t->direction(), hpo::Direction::kMinimize);
  const auto rep = hpo::tune(*t, quiet({.sampler = "random", .pruner = "none", .trials = EMBER_ASAN ? 2 : 6,
                                        .max_resource = EMBER_ASAN ? 3 : 20}));
  ASSERT_TRUE(rep.best && rep.final && rep.final->test);
  // RMSE in the target's units: the target's deviation is about 77; a linear model gets about 54.
  EXPECT_LT(*rep.best->value, 75);
  EXPECT_GT(*rep.best->value, 30);
  EXPECT_LT(*rep.final->test, 80);
  EXPECT_THROW(make_trainable({.file = kSk + "diabetes_target.csv.gz", .target = "c0", .header = false}), Error);  // gzip
  fs::remove(csv);
}

}  // namespace
}  // namespace ember::zoo::csv
