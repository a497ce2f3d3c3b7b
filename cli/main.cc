// bbo — the command-line front end of the framework. One file per command; this one parses, dispatches and
// turns every error into one line on stderr and a documented exit code (docs/cli.md).
#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "common.h"
#include "optuna_rdb.h"
#include "run_cmd.h"

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

int report_error(const std::string& message, int code) {
  std::cerr << "bbo: error: " << one_line(message) << std::endl;
  return code;
}

bool looks_like_number(const std::string& s) {
  try {
    bbo::cli::parse_double(s, "");
    return true;
  } catch (const bbo::Error&) {
    return false;
  }
}

// CLI11 reads "-inf" (and "-nan") as the short option -i; numbers options take negative values, so join such
// values to their option ("--value=-inf") before parsing. Only options whose values are numbers are touched.
std::vector<std::string> join_negative_values(int argc, char** argv) {
  static const std::set<std::string> kNumericOptions = {"--value", "--constraint"};
  std::vector<std::string> out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) out.emplace_back(argv[i]);
      break;
    }
    out.push_back(arg);
    if (kNumericOptions.count(arg) == 0) continue;
    // Every number that follows becomes its own "--opt=value" (CLI11 accumulates repeated vector options),
    // so "--value 1 -inf" keeps both values.
    out.pop_back();
    bool any = false;
    while (i + 1 < argc && looks_like_number(argv[i + 1])) {
      out.push_back(arg + "=" + argv[i + 1]);
      any = true;
      ++i;
    }
    if (!any) out.push_back(arg);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace bbo::cli;
  CLI::App app{"bbo: Bayesian and black-box optimization from the command line.\n"
               "Every command takes --storage URL (or $BBO_STORAGE). See docs/cli.md.",
               "bbo"};
  app.set_version_flag("--version", "bbo 0.1.0");
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::simple);

  std::vector<Command> commands = {
      register_create_study(app), register_studies(app), register_delete_study(app), register_trials(app),
      register_best(app),         register_ask(app),     register_tell(app),         register_report(app),
      register_should_prune(app), register_export(app),  register_plugins(app),
      register_heartbeat(app),    register_fail_stale(app),  register_run(app),
      register_import(app),       register_dashboard(app),   register_importance(app),
      register_plot(app)};

  std::vector<std::string> args = join_negative_values(argc, argv);
  take_run_command(args);  // `bbo run ... -- COMMAND ARGS...`: the command is not bbo's to parse
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    bool known = false;
    for (const auto& c : commands) known = known || c.app->check_name(args[0]);
    if (!known) return report_error("unknown command '" + args[0] + "' (run 'bbo --help' for the list)",
                                    bbo::kExitUsage);
  }

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 consumes from the back
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::string where = "bbo";
    for (const auto& c : commands)
      if (c.app->parsed()) where += " " + c.app->get_name();
    std::string msg = e.what();
    if (msg == "A subcommand is required") msg = "a command is required";
    return report_error(msg + " (run '" + where + " --help' for usage)", bbo::kExitUsage);
  }

  for (const auto& c : commands) {
    if (!c.app->parsed()) continue;
    try {
      int code = c.run();
      std::cout.flush();
      return code;
    } catch (const UsageError& e) {
      return report_error(std::string(e.what()) + " (run 'bbo " + c.app->get_name() + " --help' for usage)",
                          bbo::kExitUsage);
    } catch (const bbo::Error& e) {
      return report_error(e.what(), bbo::exit_code(e));
    } catch (const std::exception& e) {
      return report_error(e.what(), bbo::kExitError);
    }
  }
  return report_error("a command is required (run 'bbo --help')", bbo::kExitUsage);
}
