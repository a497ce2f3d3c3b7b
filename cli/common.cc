#include "common.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <ostream>
#include <set>

namespace bbo::cli {

std::string StorageOption::resolve(const std::string& fallback) const {
  if (!url.empty()) return url;
  // BBO_STORAGE is an ambient default; a study file that names its storage is more specific.
  if (!fallback.empty()) return fallback;
  if (const char* env = std::getenv("BBO_STORAGE"); env != nullptr && *env != '\0') return env;
  throw UsageError("no storage given: pass --storage URL or set BBO_STORAGE");
}

Format FormatOption::format() const {
  if (name == "json") return Format::kJson;
  if (name == "csv") return Format::kCsv;
  return Format::kTable;
}

void add_storage_option(CLI::App* cmd, StorageOption& opt) {
  cmd->add_option("--storage", opt.url,
                  "Storage URL: sqlite:///path.db, postgresql://..., memory: (default: $BBO_STORAGE)");
}

void add_format_option(CLI::App* cmd, FormatOption& opt, const std::vector<std::string>& allowed) {
  std::string names;
  for (const auto& a : allowed) names += (names.empty() ? "" : "|") + a;
  cmd->add_option("--format", opt.name, "Output format: " + names)
      ->check(CLI::IsMember(allowed))
      ->capture_default_str();
}

json parse_json_option(const std::string& text, const std::string& option) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] "; keep the informative part.
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    throw ConfigError(option + ": invalid JSON: " + what);
  }
}

SearchSpace parse_search_space_option(const std::string& text, const std::string& option) {
  json j = parse_json_option(text, option);
  if (!j.is_object()) throw ConfigError(option + ": expected a JSON object of name -> distribution");
  try {
    // Keep the order the user wrote the parameters in (it is the dimension order of the encoding).
    json pairs = json::array();
    const nlohmann::ordered_json ordered = nlohmann::ordered_json::parse(text);
    for (const auto& [name, d] : ordered.items()) pairs.push_back({name, json::parse(d.dump())});
    return SearchSpace::from_json(pairs);
  } catch (const ValueError& e) {
    throw ValueError(option + ": " + e.what());
  } catch (const ConfigError& e) {
    throw ConfigError(option + ": " + e.what());
  } catch (const json::exception& e) {
    throw ConfigError(option + ": malformed distribution: " + e.what());
  }
}

double parse_double(const std::string& text, const std::string& option) {
  std::string l = text;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "inf" || l == "+inf" || l == "infinity" || l == "+infinity")
    return std::numeric_limits<double>::infinity();
  if (l == "-inf" || l == "-infinity") return -std::numeric_limits<double>::infinity();
  if (l == "nan" || l == "+nan" || l == "-nan") return std::numeric_limits<double>::quiet_NaN();
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') ++first;
  double v = 0.0;
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last || first == last)
    throw ValueError(option + ": '" + text + "' is not a number (use a decimal number, inf, -inf or nan)");
  return v;
}

OpenStudy open_study(const std::string& url, const std::string& name) {
  std::shared_ptr<Storage> storage = open_storage(url);
  auto info = storage->find_study(name);
  if (!info) throw NotFoundError("study '" + name + "' not found in " + url);
  return {std::move(storage), std::move(*info)};
}

std::vector<FrozenTrial> best_trials(Storage& storage, const StudyInfo& info) {
  std::vector<FrozenTrial> candidates;
  for (auto& t : storage.get_trials(info.id, {TrialState::kComplete})) {
    if (!t.feasible() || t.values.size() != info.directions.size()) continue;
    if (std::any_of(t.values.begin(), t.values.end(), [](double v) { return std::isnan(v); })) continue;
    candidates.push_back(std::move(t));
  }
  if (candidates.empty()) return {};
  if (info.directions.size() == 1) {
    bool maximize = info.directions[0] == Direction::kMaximize;
    size_t best = 0;
    for (size_t i = 1; i < candidates.size(); ++i) {
      double v = candidates[i].values[0], b = candidates[best].values[0];
      if (maximize ? v > b : v < b) best = i;
    }
    return {candidates[best]};
  }
  std::vector<std::vector<double>> points;
  for (const auto& t : candidates) points.push_back(t.values);
  std::vector<size_t> front = pareto_front(points, info.directions);
  std::sort(front.begin(), front.end());
  std::vector<FrozenTrial> out;
  for (size_t i : front) out.push_back(candidates[i]);
  return out;
}

void print_table(std::ostream& out, const Table& t) {
  std::vector<size_t> width(t.header.size(), 0);
  for (size_t c = 0; c < t.header.size(); ++c) width[c] = t.header[c].size();
  for (const auto& row : t.rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string& cell = c < cells.size() ? cells[c] : std::string();
      s += cell;
      if (c + 1 < width.size()) s += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << '\n';
  };
  line(t.header);
  std::vector<std::string> rule;
  for (size_t w : width) rule.emplace_back(w, '-');
  line(rule);
  for (const auto& row : t.rows) line(row);
}

std::string csv_escape(const std::string& cell) {
  if (cell.find_first_of(",\"\n\r") == std::string::npos) return cell;
  std::string s = "\"";
  for (char c : cell) {
    if (c == '"') s += '"';
    s += c;
  }
  return s + "\"";
}

void print_csv(std::ostream& out, const Table& t) {
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) out << (c ? "," : "") << csv_escape(cells[c]);
    out << '\n';
  };
  line(t.header);
  for (const auto& row : t.rows) line(row);
}

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, ptr);
}


std::string json_cell(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  if (j.is_number_float()) return format_double(j.get<double>());
  return j.dump();
}

std::string format_directions(const std::vector<Direction>& d) {
  std::string s;
  for (auto x : d) s += (s.empty() ? "" : ",") + to_string(x);
  return s;
}

json number_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

Table trials_table(const std::vector<FrozenTrial>& trials, size_t n_objectives, bool full) {
  // Columns are the union over trials (define-by-run: trials may have different parameters), sorted by name.
  std::set<std::string> params, user_keys, system_keys;
  size_t n_constraints = 0;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params) params.insert(k);
    if (full) {
      for (const auto& [k, v] : t.user_attrs.items()) user_keys.insert(k);
      for (const auto& [k, v] : t.system_attrs.items()) system_keys.insert(k);
      n_constraints = std::max(n_constraints, t.constraints.size());
    }
  }
  Table table;
  table.header = {"number", "state"};
  if (n_objectives <= 1) {
    table.header.push_back("value");
  } else {
    for (size_t i = 0; i < n_objectives; ++i) table.header.push_back("values_" + std::to_string(i));
  }
  for (const auto& p : params) table.header.push_back("params_" + p);
  if (full) {
    for (size_t i = 0; i < n_constraints; ++i) table.header.push_back("constraints_" + std::to_string(i));
    for (const auto& k : user_keys) table.header.push_back("user_attrs_" + k);
    for (const auto& k : system_keys) table.header.push_back("system_attrs_" + k);
    table.header.push_back("intermediate_values");
  }
  table.header.insert(table.header.end(), {"datetime_start", "datetime_complete", "duration_s"});

  const size_t n_value_cols = std::max<size_t>(n_objectives, 1);
  for (const auto& t : trials) {
    std::vector<std::string> row = {std::to_string(t.number), to_string(t.state)};
    for (size_t i = 0; i < n_value_cols; ++i)
      row.push_back(t.state == TrialState::kComplete && i < t.values.size() ? format_double(t.values[i]) : "");
    for (const auto& p : params) {
      auto it = t.params.find(p);
      if (it == t.params.end()) {
        row.emplace_back();
        continue;
      }
      // Full precision (tables are also CSV): param_value_to_string shortens doubles for display.
      ParamValue v = to_external(t.distributions.at(p), it->second);
      row.push_back(std::holds_alternative<double>(v) ? format_double(std::get<double>(v)) : param_value_to_string(v));
    }
    if (full) {
      for (size_t i = 0; i < n_constraints; ++i)
        row.push_back(i < t.constraints.size() ? format_double(t.constraints[i]) : "");
      for (const auto& k : user_keys) row.push_back(t.user_attrs.contains(k) ? json_cell(t.user_attrs[k]) : "");
      for (const auto& k : system_keys)
        row.push_back(t.system_attrs.contains(k) ? json_cell(t.system_attrs[k]) : "");
      json iv = to_json(t)["intermediate_values"];
      row.push_back(iv.empty() ? "" : iv.dump());
    }
    row.push_back(format_time_us(t.datetime_start_us));
    row.push_back(format_time_us(t.datetime_complete_us));
    row.push_back(t.datetime_start_us && t.datetime_complete_us
                      ? format_double(static_cast<double>(*t.datetime_complete_us - *t.datetime_start_us) / 1e6)
                      : "");
    table.rows.push_back(std::move(row));
  }
  return table;
}

void print_trials(std::ostream& out, const std::vector<FrozenTrial>& trials, size_t n_objectives, Format f,
                  bool full) {
  if (f == Format::kJson) {
    json arr = json::array();
    for (const auto& t : trials) arr.push_back(to_json(t));
    out << arr.dump(2) << '\n';
  } else if (f == Format::kCsv) {
    print_csv(out, trials_table(trials, n_objectives, full));
  } else {
    print_table(out, trials_table(trials, n_objectives, full));
  }
}

}  // namespace bbo::cli
