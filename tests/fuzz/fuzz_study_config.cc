// fuzz_study_config — the YAML study parser (bbo/config.h: parse_study_config, yaml_to_json) on arbitrary text.
//
// Properties: only bbo::Error escapes (a malformed file is a ConfigError naming the line); an accepted study
// has a name and at least one direction, a `run:` section that is an object, and a declared search space that
// survives to_ordered_json → from_json unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "bbo/config.h"
#include "tests/fuzz/fuzz_util.h"

using bbo::fuzz::check;
using bbo::fuzz::only_bbo_errors;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  only_bbo_errors("yaml_to_json", [&] { (void)bbo::yaml_to_json(text, "fuzz.yaml").dump(); });

  bbo::StudyConfig cfg;
  if (!only_bbo_errors("parse_study_config", [&] { cfg = bbo::parse_study_config(text, "fuzz.yaml"); })) return 0;
  const bbo::StudyOptions& o = cfg.options;
  check(!o.name.empty(), "accepted a study without a name");
  check(!o.directions.empty(), "accepted a study without directions");
  check(cfg.run.is_object(), "run: section is not an object");
  check(o.strategy_params.is_object() && o.pruner_params.is_object(), "plugin params are not objects");
  bbo::SearchSpace back;
  check(only_bbo_errors("from_json(to_ordered_json)",
                        [&] { back = bbo::SearchSpace::from_json(o.search_space.to_ordered_json()); }),
        "the parsed search space does not read back");
  check(back == o.search_space, "the parsed search space changed in a JSON round trip");
  return 0;
}
