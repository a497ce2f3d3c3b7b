// bbo/config.h — study files (YAML) to StudyOptions, and the `run:` section used by `bbo run`.
//
// Schema (DESIGN §1):
//   name: mlp-tuning
//   directions: [minimize]            # or direction: minimize
//   seed: 42
//   storage: sqlite:///study.db       # optional; the CLI's --storage wins
//   search_space: {lr: {type: float, low: 1e-5, high: 1e-1, log: true}, ...}
//   strategy: gp                      # or {name: gp, params: {...}}
//   pruner: {name: median, params: {...}}
//   run: {...}                        # kept as JSON for `bbo run`
// Errors are ConfigError naming the key and the line: "study.yaml:7: search_space.lr: low > high".
// Unknown top-level keys are errors.
#pragma once

#include <string>

#include "bbo/study.h"

namespace bbo {

struct StudyConfig {
  StudyOptions options;
  json run = json::object();  // the `run:` section, as JSON (empty when absent)
};

// Parses YAML text; `source` names the file in messages.
StudyConfig parse_study_config(const std::string& yaml_text, const std::string& source = "<string>");
// Reads and parses a file; throws ConfigError when it cannot be read.
StudyConfig load_study_config(const std::string& path);

// Converts a YAML node tree (as text) to JSON; throws ConfigError with the line of a syntax error.
json yaml_to_json(const std::string& yaml_text, const std::string& source = "<string>");

}  // namespace bbo
