#include "bbo/config.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "bbo/error.h"

namespace bbo {
namespace {

std::string where(const std::string& source, const YAML::Node& n) {
  return source + ":" + std::to_string(n.Mark().line + 1);
}

// A plain scalar is typed the way YAML 1.2's core schema types it; a quoted one stays a string.
json scalar_to_json(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return s;  // quoted
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  try {
    size_t pos = 0;
    long long i = std::stoll(s, &pos, 10);
    if (pos == s.size()) return static_cast<int64_t>(i);
  } catch (const std::exception&) {
  }
  try {
    size_t pos = 0;
    double d = std::stod(s, &pos);
    if (pos == s.size()) return d;
  } catch (const std::exception&) {
  }
  if (s == ".inf" || s == ".Inf" || s == "+.inf") return std::numeric_limits<double>::infinity();
  if (s == "-.inf" || s == "-.Inf") return -std::numeric_limits<double>::infinity();
  return s;
}

json node_to_json(const YAML::Node& n, const std::string& source) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& c : n) a.push_back(node_to_json(c, source));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n) {
        if (!kv.first.IsScalar()) throw ConfigError(where(source, kv.first) + ": mapping keys must be scalars");
        const std::string key = kv.first.Scalar();
        if (o.contains(key)) throw ConfigError(where(source, kv.first) + ": duplicate key '" + key + "'");
        o[key] = node_to_json(kv.second, source);
      }
      return o;
    }
  }
  return nullptr;
}

// yaml-cpp does not check the encoding; a string that is not UTF-8 would only fail later, when the study's
// JSON is written (nlohmann::json::dump throws a type_error). Found by tests/fuzz/fuzz_study_config, as was
// the NUL case: yaml-cpp guesses UTF-32 from "\x16\0\0\0" and decodes garbage code points.
// Offset of the first byte that is not valid UTF-8 (or is NUL) in `text`, or npos.
size_t invalid_utf8_at(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = n > 0 && i + n <= text.size() && !(n == 2 && c < 0xc2) && !(n == 4 && c > 0xf4);
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (ok && n == 3) {  // no overlong forms, no surrogates
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
    }
    if (ok && n == 4) {  // no overlong forms, nothing above U+10FFFF
      const auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
    }
    // A NUL byte is not allowed in YAML, and would make yaml-cpp take the text for UTF-16 or UTF-32.
    if (!ok || c == 0) return i;
    i += n;
  }
  return std::string::npos;
}

std::string describe_byte(unsigned char c) {
  if (c == 0) return "NUL byte";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", c);
  return "invalid UTF-8 byte " + std::string(hex);
}

void check_utf8(const std::string& text, const std::string& source) {
  size_t at = invalid_utf8_at(text);
  if (at == std::string::npos) return;
  size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
  throw ConfigError(source + ":" + std::to_string(line) + ": " + describe_byte(static_cast<unsigned char>(text[at])) +
                    " (study files must be UTF-8 text)");
}

// yaml-cpp decodes some escapes of double-quoted scalars to bytes that are not UTF-8 ("\N", NEL, becomes the
// single byte 0x85), so a valid file can still produce invalid strings; every decoded scalar is checked too.
// Found by tests/fuzz/fuzz_study_config.
void check_scalars(const YAML::Node& n, const std::string& source) {
  if (n.IsScalar()) {
    size_t at = invalid_utf8_at(n.Scalar());
    if (at != std::string::npos)
      throw ConfigError(where(source, n) + ": a quoted string decodes to " +
                        describe_byte(static_cast<unsigned char>(n.Scalar()[at])) +
                        " (escapes such as \\N or \\x85 are not UTF-8; write the character itself)");
  } else if (n.IsSequence()) {
    for (const auto& c : n) check_scalars(c, source);
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      check_scalars(kv.first, source);
      check_scalars(kv.second, source);
    }
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& source) {
  check_utf8(text, source);
  try {
    YAML::Node root = YAML::Load(text);
    check_scalars(root, source);
    return root;
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
}

std::string expect_string(const YAML::Node& n, const std::string& key, const std::string& source) {
  if (!n.IsScalar()) throw ConfigError(where(source, n) + ": " + key + ": expected a string");
  return n.Scalar();
}

// strategy: NAME | {name: NAME, params: {...}}
void plugin_ref(const YAML::Node& n, const std::string& key, const std::string& source, std::string& name,
                json& params) {
  if (n.IsScalar()) {
    name = n.Scalar();
    params = json::object();
    return;
  }
  if (!n.IsMap()) throw ConfigError(where(source, n) + ": " + key + ": expected a name or {name, params}");
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (k == "name") {
      name = expect_string(kv.second, key + ".name", source);
    } else if (k == "params") {
      params = node_to_json(kv.second, source);
      if (params.is_null()) params = json::object();
      if (!params.is_object()) throw ConfigError(where(source, kv.second) + ": " + key + ".params: expected a mapping");
    } else {
      throw ConfigError(where(source, kv.first) + ": " + key + ": unknown key '" + k + "' (name, params)");
    }
  }
  if (name.empty()) throw ConfigError(where(source, n) + ": " + key + ": missing 'name'");
}

}  // namespace

json yaml_to_json(const std::string& yaml_text, const std::string& source) {
  return node_to_json(parse_yaml(yaml_text, source), source);
}

StudyConfig parse_study_config(const std::string& text, const std::string& source) {
  YAML::Node root = parse_yaml(text, source);
  if (!root.IsMap()) throw ConfigError(source + ":1: a study file must be a mapping (name, directions, ...)");
  StudyConfig cfg;
  StudyOptions& o = cfg.options;
  bool has_direction = false;
  std::set<std::string> seen;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) throw ConfigError(where(source, kv.first) + ": duplicate key '" + key + "'");
    const YAML::Node& v = kv.second;
    if (key == "name") {
      o.name = expect_string(v, "name", source);
    } else if (key == "storage") {
      o.storage = expect_string(v, "storage", source);
    } else if (key == "direction" || key == "directions") {
      if (has_direction) throw ConfigError(where(source, kv.first) + ": give either direction or directions");
      has_direction = true;
      o.directions.clear();
      std::vector<YAML::Node> items;
      if (v.IsSequence()) for (const auto& d : v) items.push_back(d);
      else items.push_back(v);
      for (const auto& d : items) {
        try {
          o.directions.push_back(direction_from_string(expect_string(d, key, source)));
        } catch (const ValueError& e) {
          throw ConfigError(where(source, d) + ": " + key + ": " + e.what());
        }
      }
      if (o.directions.empty()) throw ConfigError(where(source, v) + ": directions: must not be empty");
    } else if (key == "seed") {
      json s = node_to_json(v, source);
      if (!s.is_number_integer() || s.get<int64_t>() < 0)
        throw ConfigError(where(source, v) + ": seed: expected a non-negative integer");
      o.seed = s.get<uint64_t>();
    } else if (key == "search_space") {
      if (!v.IsMap()) throw ConfigError(where(source, v) + ": search_space: expected a mapping of parameters");
      for (const auto& p : v) {
        const std::string pname = p.first.Scalar();
        if (o.search_space.has(pname))
          throw ConfigError(where(source, p.first) + ": search_space: duplicate parameter '" + pname + "'");
        try {
          o.search_space.add(pname, distribution_from_json(node_to_json(p.second, source), pname));
        } catch (const Error& e) {
          throw ConfigError(where(source, p.first) + ": search_space." + pname + ": " + e.what());
        }
      }
    } else if (key == "strategy") {
      plugin_ref(v, "strategy", source, o.strategy, o.strategy_params);
    } else if (key == "pruner") {
      plugin_ref(v, "pruner", source, o.pruner, o.pruner_params);
    } else if (key == "user_attrs") {
      o.user_attrs = node_to_json(v, source);
      if (!o.user_attrs.is_object()) throw ConfigError(where(source, v) + ": user_attrs: expected a mapping");
    } else if (key == "heartbeat_grace_seconds") {
      json g = node_to_json(v, source);
      if (!g.is_number() || g.get<double>() < 0)
        throw ConfigError(where(source, v) + ": heartbeat_grace_seconds: expected a number >= 0");
      o.heartbeat_grace_seconds = g.get<double>();
    } else if (key == "retry_failed_trials") {
      json r = node_to_json(v, source);
      if (!r.is_boolean()) throw ConfigError(where(source, v) + ": retry_failed_trials: expected true or false");
      o.retry_failed_trials = r.get<bool>();
    } else if (key == "run") {
      cfg.run = node_to_json(v, source);
      if (!cfg.run.is_object()) throw ConfigError(where(source, v) + ": run: expected a mapping");
    } else {
      throw ConfigError(where(source, kv.first) + ": unknown key '" + key +
                        "' (name, directions, seed, storage, search_space, strategy, pruner, user_attrs, "
                        "heartbeat_grace_seconds, retry_failed_trials, run)");
    }
  }
  if (o.name.empty()) throw ConfigError(source + ": missing 'name'");
  return cfg;
}

StudyConfig load_study_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read study file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_study_config(ss.str(), path);
}

}  // namespace bbo
