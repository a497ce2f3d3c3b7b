// bbo export: every trial of a study with its full record, as JSON or CSV, to stdout or a file.
#include <fstream>
#include <iostream>
#include <sstream>

#include "common.h"

namespace bbo::cli {
namespace {

struct ExportOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
  std::string output;
};

int run(const ExportOptions& o) {
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  std::vector<FrozenTrial> trials = s.storage->get_trials(s.info.id);
  std::ostringstream text;
  if (o.format.format() == Format::kCsv) {
    print_csv(text, trials_table(trials, s.info.directions.size(), /*full=*/true));
  } else {
    json dirs = json::array();
    for (auto d : s.info.directions) dirs.push_back(to_string(d));
    json arr = json::array();
    for (const auto& t : trials) arr.push_back(to_json(t));
    json doc = {{"study",
                 {{"name", s.info.name},
                  {"directions", dirs},
                  {"user_attrs", s.info.user_attrs},
                  {"system_attrs", s.info.system_attrs},
                  {"datetime_start", s.info.datetime_start_us ? json(format_time_us(s.info.datetime_start_us))
                                                              : json()}}},
                {"trials", arr}};
    text << doc.dump(2) << '\n';
  }
  if (o.output.empty() || o.output == "-") {
    std::cout << text.str();
    return kExitOk;
  }
  std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
  if (!out) throw ValueError("-o: cannot open '" + o.output + "' for writing");
  out << text.str();
  out.close();
  if (!out) throw ValueError("-o: failed writing '" + o.output + "'");
  std::cerr << "Exported " << trials.size() << " trials of study '" << o.study << "' to " << o.output << '\n';
  return kExitOk;
}

}  // namespace

Command register_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  o->format.name = "json";
  CLI::App* cmd = app.add_subcommand("export", "Export all trials of a study with full records");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"json", "csv"});
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("-o,--output", o->output, "Write to this file instead of stdout");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli
