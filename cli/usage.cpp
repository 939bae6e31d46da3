// The `ember` command's answers to mistakes (usage.h): validators with readable messages,
// "did you mean" for commands and flags, exit codes, bash completion and --version.
#include "cli/usage.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <set>

#include <fmt/format.h>

#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"
#ifdef EMBER_HAVE_CUDA
#include "cuda/device.h"
#endif

namespace ember::cli {

namespace {

// A numeric check as a CLI11 validator: `ok(x)` or the message "must be <what> (got <text>)".
template <class Ok>
CLI::Validator number_check(std::string what, Ok ok) {
  return CLI::Validator(
      [what, ok](std::string& text) -> std::string {
        double x = 0;
        size_t used = 0;
        try {
          x = std::stod(text, &used);
        } catch (const std::exception&) {
          return fmt::format("expected a number, got '{}'", text);
        }
        if (used != text.size()) return fmt::format("expected a number, got '{}'", text);
        if (!ok(x)) return fmt::format("must be {} (got {})", what, text);
        return {};
      },
      "", what);
}

std::string command_path(const CLI::App* app) {
  std::vector<std::string> names;
  for (; app != nullptr; app = app->get_parent()) names.push_back(app->get_name());
  std::reverse(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, " "));
}

std::vector<const CLI::App*> children(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

std::vector<std::string> long_option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

const CLI::App* deepest_parsed(const CLI::App& app) {
  const CLI::App* cur = &app;
  for (;;) {
    auto parsed = cur->get_subcommands();
    if (parsed.empty()) return cur;
    cur = parsed.front();
  }
}

}  // namespace

CLI::Validator positive() { return number_check("> 0", [](double x) { return x > 0; }); }
CLI::Validator non_negative() { return number_check(">= 0", [](double x) { return x >= 0; }); }
CLI::Validator at_least(double lo) {
  return number_check(fmt::format(">= {}", lo), [lo](double x) { return x >= lo; });
}
CLI::Validator in_range(double lo, double hi) {
  return number_check(fmt::format("between {} and {}", lo, hi), [lo, hi](double x) { return x >= lo && x <= hi; });
}

int edit_distance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diag = row[0];  // row[i-1][j-1]
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  int best_d = 1 << 30;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    const int d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
    if (word.size() >= 3 && c.rfind(word, 0) == 0) prefixed.push_back(c);
  }
  if (best_d <= 2 || best_d * 3 <= static_cast<int>(word.size())) return best;
  if (prefixed.size() == 1) return prefixed[0];
  return {};
}

std::string suggestion(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* cur = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-') {
      const std::string name = a.substr(0, a.find('='));
      const CLI::Option* opt = cur->get_option_no_throw(name);
      if (opt == nullptr) {
        const std::string c = closest(name, long_option_names(*cur));
        return c.empty() ? fmt::format("'{}' has no option {}", command_path(cur), name)
                         : fmt::format("'{}' has no option {}; did you mean {}?", command_path(cur), name, c);
      }
      if (a.find('=') == std::string::npos && opt->get_type_size_max() > 0 && opt->get_expected_max() > 0) ++i;
      continue;
    }
    std::vector<std::string> names;
    const CLI::App* next = nullptr;
    for (const CLI::App* sub : children(*cur)) {
      names.push_back(sub->get_name());
      if (sub->get_name() == a) next = sub;
    }
    if (next != nullptr) {
      cur = next;
      continue;
    }
    if (names.empty()) continue;  // a positional argument of a leaf command
    const std::string c = closest(a, names);
    return c.empty() ? fmt::format("'{}' has no command '{}' (commands: {})", command_path(cur), a,
                                   fmt::join(names, ", "))
                     : fmt::format("'{}' has no command '{}'; did you mean '{}'?", command_path(cur), a, c);
  }
  return {};
}

int run(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --help-all, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const std::string hint = suggestion(app, args);
    const CLI::App* where = deepest_parsed(app);
    if (!hint.empty()) std::fprintf(stderr, "ember: error: %s\n", hint.c_str());
    else std::fprintf(stderr, "%s: error: %s\n", command_path(where).c_str(), e.what());
    std::fprintf(stderr, "Run '%s --help' for usage.\n", command_path(where).c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

std::string bash_completion(const CLI::App& app) {
  // One case entry per command path: its subcommands and its flags.
  std::string table;
  std::vector<const CLI::App*> todo{&app};
  while (!todo.empty()) {
    const CLI::App* cur = todo.back();
    todo.pop_back();
    std::vector<std::string> subs;
    for (const CLI::App* sub : children(*cur)) {
      subs.push_back(sub->get_name());
      todo.push_back(sub);
    }
    std::vector<std::string> opts = long_option_names(*cur);
    opts.push_back("--help");
    table += fmt::format("    \"{}\") subs=\"{}\"; opts=\"{}\";;\n", command_path(cur), fmt::join(subs, " "),
                         fmt::join(std::set<std::string>(opts.begin(), opts.end()), " "));
  }
  return fmt::format(R"(# bash completion for ember, generated by `ember completion bash`.
# Load it now with:  source <(ember completion bash)
_ember_table() {{
  case "$1" in
{}    *) subs=""; opts="";;
  esac
}}
_ember_complete() {{
  local cur="${{COMP_WORDS[COMP_CWORD]}}" path="ember" subs opts i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="${{COMP_WORDS[i]}}"
    [[ "$w" == -* ]] && continue
    _ember_table "$path"
    [[ " $subs " == *" $w "* ]] && path="$path $w"
  done
  _ember_table "$path"
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    [[ ${{#COMPREPLY[@]}} -eq 0 ]] && COMPREPLY=($(compgen -f -- "$cur"))
  fi
}}
complete -F _ember_complete ember
)",
                     table);
}

std::string version_text() {
  std::string cuda = "not built into this binary (configure with nvcc present, EMBER_CUDA=ON)";
#ifdef EMBER_HAVE_CUDA
  try {
    const int n = ember::cuda::device_count();
    cuda = n > 0 ? fmt::format("built in, {} device(s)", n) : "built in, no device found";
  } catch (const std::exception& e) {
    cuda = fmt::format("built in, unavailable ({})", e.what());
  }
#endif
  return fmt::format("ember {} (commit {})\nCPU kernels: {} (best on this CPU: {}), {} threads\nCUDA: {}",
                     EMBER_VERSION, EMBER_GIT_COMMIT, cpu::isa_name(cpu::active_isa()),
                     cpu::isa_name(cpu::best_isa()), get_num_threads(), cuda);
}

}  // namespace ember::cli
