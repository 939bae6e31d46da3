// `ember study list|show|best|export|plot|delete`: inspect the studies in a storage, or delete one.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "hpo/plot.h"
#include "hpo/study.h"
#include "hpo/tuner.h"
#include "tensor/error.h"

namespace ember::cli {

namespace {

struct StudyArgs {
  std::string storage;
  std::string study;
  std::string format = "csv";
  std::string output;
};

std::shared_ptr<hpo::Storage> open(const StudyArgs& a) {
  const bool sqlite = a.storage.rfind("sqlite:", 0) == 0;
  EMBER_CHECK(sqlite || a.storage.rfind("postgresql://", 0) == 0,
              "study: --storage must be sqlite:PATH or postgresql://... (got '{}')", a.storage);
  // Every study subcommand only reads: a missing database is an error, never a new empty file.
  const std::string path = sqlite ? a.storage.substr(7) : "";
  EMBER_CHECK(!sqlite || std::filesystem::exists(path),
              "study: no database at '{}' (create one with `ember tune --storage {}`)", path, a.storage);
  return hpo::open_storage(a.storage);
}

hpo::StudyInfo find(hpo::Storage& s, const StudyArgs& a) {
  EMBER_CHECK(!a.study.empty(), "study: --study NAME is required");
  const auto info = s.find_study(a.study);
  if (!info) {
    std::vector<std::string> names;
    for (const auto& i : s.list_studies()) names.push_back(i.name);
    EMBER_CHECK(false, "study: no study '{}' in {} (studies: {})", a.study, a.storage,
                names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", ")));
  }
  return *info;
}

void list(const StudyArgs& a) {
  auto s = open(a);
  const auto studies = s->list_studies();
  if (studies.empty()) fmt::print("no studies in {}\n", a.storage);
  for (const auto& i : studies) {
    const hpo::History h(i.direction, s->get_trials(i.id));
    const auto best = h.best();
    fmt::print("{:<32} {:<9} {:5d} trials  best {}\n", i.name, hpo::to_string(i.direction), i.n_trials,
               best ? fmt::format("{:.9g}", *best->value) : "-");
  }
}

// "  | key=value key=value" for a trial's user attributes (values as JSON), or "".
std::string attrs_string(const hpo::FrozenTrial& t) {
  std::string out;
  for (const auto& [key, json] : t.user_attrs) out += (out.empty() ? "  | " : " ") + key + "=" + json;
  return out;
}

void show(const StudyArgs& a) {
  auto s = open(a);
  const auto info = find(*s, a);
  fmt::print("study {} ({}), {} trials\n", info.name, hpo::to_string(info.direction), info.n_trials);
  for (const auto& t : s->get_trials(info.id))
    fmt::print("{:5d}  {:<8}  {:>14}  {}{}{}\n", t->number, hpo::to_string(t->state),
               t->value ? fmt::format("{:.9g}", *t->value) : "-", t->params_string(), attrs_string(*t),
               t->message.empty() ? "" : "  (" + t->message + ")");
}

void best(const StudyArgs& a) {
  auto s = open(a);
  const auto info = find(*s, a);
  const hpo::History h(info.direction, s->get_trials(info.id));
  const auto b = h.best();
  EMBER_CHECK(b != nullptr, "study: '{}' has no complete trial yet", info.name);
  fmt::print("trial {}  value {:.9g}  {}{}\n", b->number, *b->value, b->params_string(), attrs_string(*b));
}

void export_trials(const StudyArgs& a) {
  auto s = open(a);
  const auto info = find(*s, a);
  EMBER_CHECK(a.format == "csv" || a.format == "json", "study export: --format must be csv or json (got '{}')",
              a.format);
  const auto trials = s->get_trials(info.id);
  const std::string text =
      a.format == "csv" ? hpo::trials_to_csv(trials) : hpo::trials_to_json(info.name, info.direction, trials);
  if (a.output.empty() || a.output == "-") {
    fmt::print("{}", text);
    return;
  }
  std::ofstream out(a.output);
  EMBER_CHECK(out.good(), "study export: cannot write '{}'", a.output);
  out << text;
  fmt::print("wrote {} trials to {}\n", trials.size(), a.output);
}

void plot(const StudyArgs& a) {
  auto s = open(a);
  const auto info = find(*s, a);
  EMBER_CHECK(!a.output.empty(), "study plot: --output PREFIX is required");
  const auto trials = s->get_trials(info.id);
  hpo::plot_history(trials, info.direction, a.output + "_history.png", info.name + ": optimization history");
  hpo::plot_params(trials, a.output + "_params.png", info.name + ": parameters vs value");
  std::string more;
  if (std::any_of(trials.begin(), trials.end(), [](const auto& t) { return !t->intermediate.empty(); })) {
    hpo::plot_intermediate(trials, a.output + "_intermediate.png", info.name + ": intermediate values");
    more += " " + a.output + "_intermediate.png";
  }
  if (const auto imp = hpo::param_importance(trials); !imp.empty()) {
    hpo::plot_importance(imp, a.output + "_importance.png", info.name + ": parameter importance");
    more += " " + a.output + "_importance.png";
  }
  fmt::print("plots: {}_history.png {}_params.png{}\n", a.output, a.output, more);
}

void remove(const StudyArgs& a) {
  auto s = open(a);
  const auto info = find(*s, a);  // the clear "no study 'x' (studies: ...)" error
  s->delete_study(info.name);
  fmt::print("deleted study '{}' ({} trials) from {}\n", info.name, info.n_trials, a.storage);
}

}  // namespace

void add_study_command(CLI::App& app) {
  auto args = std::make_shared<StudyArgs>();
  auto* cmd = app.add_subcommand("study", "inspect studies in a storage");
  cmd->require_subcommand(1);
  auto add = [&](const char* name, const char* help, bool needs_study, void (*fn)(const StudyArgs&)) {
    auto* sub = cmd->add_subcommand(name, help);
    sub->add_option("--storage", args->storage, "sqlite:PATH or postgresql://user@host/db")->required();
    if (needs_study) sub->add_option("--study", args->study, "study name")->required();
    return std::make_pair(sub, fn);
  };
  auto [ls, ls_fn] = add("list", "list the studies", false, list);
  ls->callback([args, f = ls_fn] { f(*args); });
  auto [sh, sh_fn] = add("show", "print every trial", true, show);
  sh->callback([args, f = sh_fn] { f(*args); });
  auto [bs, bs_fn] = add("best", "print the best trial", true, best);
  bs->callback([args, f = bs_fn] { f(*args); });
  auto [ex, ex_fn] = add("export", "export all trials as CSV or JSON", true, export_trials);
  ex->add_option("--format", args->format, "csv | json")->capture_default_str();
  ex->add_option("--output", args->output, "file (default: stdout)");
  ex->callback([args, f = ex_fn] { f(*args); });
  auto [pl, pl_fn] = add("plot", "write history and parameter PNG plots", true, plot);
  pl->add_option("--output", args->output, "PREFIX for PREFIX_history.png, _params.png, _intermediate.png, _importance.png")->required();
  pl->callback([args, f = pl_fn] { f(*args); });
  auto [dl, dl_fn] = add("delete", "delete a study and all its trials", true, remove);
  dl->callback([args, f = dl_fn] { f(*args); });
}

}  // namespace ember::cli
