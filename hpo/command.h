// An external program as a black-box Trainable (`ember tune command -- prog args {lr} {width}`):
// each trial substitutes its parameter values for the {name} placeholders, runs the program, and
// reads the metric from its standard output: every line `NAME=VALUE` (or `NAME: VALUE`) is one
// report (step 1, 2, ...; the pruner may stop the program between them), the last one is the
// trial's value. A non-zero exit status, a missing metric line, a non-numeric value or running
// past the timeout fail the trial with a message that says which (and the program's last
// stderr line). Parameters: `NAME=float:LO:HI[:log]`, `NAME=int:LO:HI[:log]`, `NAME=cat:A,B,C`.
#pragma once

#include <string>
#include <vector>

#include "hpo/trainable.h"

namespace ember::hpo {

struct CommandOptions {
  std::vector<std::string> argv;  // program and arguments, with {name} placeholders
  Space space{};
  std::string metric = "metric";  // the NAME of the NAME=VALUE lines
  Direction direction = Direction::kMinimize;
  double timeout_s = 0;           // per trial; 0: none
};

class CommandTrainable final : public Trainable {
 public:
  explicit CommandTrainable(CommandOptions opt);
  std::string name() const override { return "command"; }
  std::string metric() const override { return opt_.metric; }
  Direction direction() const override { return opt_.direction; }
  Space space() const override { return opt_.space; }
  std::string describe() const override;
  RunResult run(Trial& trial, const RunContext& ctx) override;

 private:
  CommandOptions opt_;
};

// Adds one parameter from its text form (see above); throws a one-line error naming the spec.
void add_param_spec(Space& space, const std::string& spec);

}  // namespace ember::hpo
