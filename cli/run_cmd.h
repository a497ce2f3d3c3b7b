// cli/run_cmd.h — `bbo run` (cli/run.cc): HPO of an external command. Its registration is declared here
// rather than in common.h because the command line after "--" belongs to the user's command, not to the
// argument parser: main() hands it over with take_run_command before parsing.
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace bbo::cli {

Command register_run(CLI::App& app);

// When `args` (argv without the program name) is a `run` command, removes the first "--" and everything
// after it from `args` and keeps it as the command to run. Other commands are left alone.
void take_run_command(std::vector<std::string>& args);

}  // namespace bbo::cli
