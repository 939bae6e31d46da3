// libFuzzer target: the `ember` argument parser. The input's lines are argv[1..]; the commands
// are registered as in cli/main.cpp; parsing and the option validators run, the commands do not
// (no training, no files).
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tensor/error.h"

namespace {

// Parsing and validation finish before CLI11 runs any callback; the top-level app's pre_callback
// (called first) ends the run there, so no command executes and every option's storage (owned by
// the callbacks) stays alive.
struct ParsedOnly {};
class ParseOnlyApp : public CLI::App {
 public:
  using CLI::App::App;
  void pre_callback() override { throw ParsedOnly{}; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::vector<std::string> args = {"ember"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(char(data[i]));
    }
  }
  if (!cur.empty()) args.push_back(cur);
  ParseOnlyApp app{"ember"};
  app.require_subcommand(1);
  ember::cli::add_tune_command(app);
  ember::cli::add_study_command(app);
  ember::cli::ZooCommands zoo{.app = &app,
                              .train = app.add_subcommand("train", "train a zoo model"),
                              .eval = app.add_subcommand("eval", "evaluate a zoo checkpoint"),
                              .data = app.add_subcommand("data", "build a data set")};
  ember::cli::add_fmnist_commands(zoo);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  try {
    app.parse(int(argv.size()), argv.data());
  } catch (const ParsedOnly&) {
  } catch (const CLI::Error&) {
  } catch (const ember::Error&) {
  }
  return 0;
}
