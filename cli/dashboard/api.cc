// cli/dashboard/api.cc — the dashboard's request handling (see api.h).
#include "cli/dashboard/api.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <string_view>
#include <vector>

#include "bbo/error.h"
#include "bbo/study.h"
#include "cli/common.h"
#include "cli/dashboard/assets.h"

#ifdef BBO_DASHBOARD_HAVE_VIZ
#include "cli/viz/plot.h"
#endif

namespace bbo::cli::dashboard {
namespace {

// An answer other than 200, carried out of the route by exception so handlers stay linear.
struct HttpError {
  int status;
  std::string message;
};

constexpr std::size_t kMaxLimit = 10000;
constexpr std::size_t kMaxLogBytes = 1 << 20;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response json_response(const json& j, int status = 200) {
  Response r;
  r.status = status;
  r.body = dump(j);
  return r;
}

Response error_response(int status, const std::string& message) {
  std::string line = message;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return json_response({{"error", line}}, status);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string_view::npos) end = s.size();
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

using Query = std::map<std::string, std::string>;

Query parse_query(std::string_view q) {
  Query out;
  if (q.empty()) return out;
  for (const std::string& part : split(q, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string key = url_decode(part.substr(0, eq));
    out[key] = eq == std::string::npos ? "" : url_decode(std::string_view(part).substr(eq + 1));
  }
  return out;
}

// A non-negative integer query parameter in [0, max]; 400 naming it otherwise.
int64_t query_int(const Query& q, const std::string& key, int64_t fallback, int64_t max) {
  auto it = q.find(key);
  if (it == q.end() || it->second.empty()) return fallback;
  const std::string& s = it->second;
  if (s.size() > 12 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw HttpError{400, "query parameter '" + key + "': expected a non-negative integer, got '" + s + "'"};
  int64_t v = std::stoll(s);
  if (v > max)
    throw HttpError{400, "query parameter '" + key + "': " + s + " is larger than " + std::to_string(max)};
  return v;
}

// A path segment that must be a number (study id, trial number); 404 otherwise.
int64_t path_int(const std::string& s, const std::string& what) {
  if (s.empty() || s.size() > 15 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw HttpError{404, "no " + what + " '" + s + "'"};
  return std::stoll(s);
}

std::optional<double> duration_s(const FrozenTrial& t) {
  if (!t.datetime_start_us || !t.datetime_complete_us) return std::nullopt;
  return static_cast<double>(*t.datetime_complete_us - *t.datetime_start_us) / 1e6;
}

json optional_number(const std::optional<double>& v) { return v ? number_json(*v) : json(nullptr); }

// The line the text filter searches: "#12 complete x=0.5 act=relu" (lower case).
std::string search_text(const FrozenTrial& t) {
  std::string s = "#" + std::to_string(t.number) + " " + to_string(t.state);
  for (const auto& [name, v] : t.external_params()) s += " " + name + "=" + param_value_to_string(v);
  return lower(s);
}

json trial_row(const FrozenTrial& t) {
  json values = nullptr;
  if (t.state == TrialState::kComplete) {
    values = json::array();
    for (double v : t.values) values.push_back(number_json(v));
  }
  return {{"number", t.number},
          {"state", to_string(t.state)},
          {"values", values},
          {"params", params_to_json(t)},
          {"datetime_start", t.datetime_start_us ? json(format_time_us(t.datetime_start_us)) : json(nullptr)},
          {"datetime_complete",
           t.datetime_complete_us ? json(format_time_us(t.datetime_complete_us)) : json(nullptr)},
          {"duration_s", optional_number(duration_s(t))},
          {"n_steps", t.intermediate_values.size()}};
}

// One sort key per trial: missing keys always sort last; numbers before strings.
struct SortKey {
  bool missing = true;
  bool is_string = false;
  double num = 0;
  std::string str;
};

int compare_keys(const SortKey& a, const SortKey& b) {
  if (a.is_string != b.is_string) return a.is_string ? 1 : -1;
  if (a.is_string) return a.str.compare(b.str) < 0 ? -1 : (a.str == b.str ? 0 : 1);
  return a.num < b.num ? -1 : (a.num > b.num ? 1 : 0);
}

SortKey make_key(const FrozenTrial& t, const std::string& sort, int objective) {
  SortKey k;
  if (sort == "number") {
    k.missing = false;
    k.num = static_cast<double>(t.number);
  } else if (sort == "state") {
    k.missing = false;
    k.is_string = true;
    k.str = to_string(t.state);
  } else if (sort == "value") {
    if (t.state == TrialState::kComplete && objective < static_cast<int>(t.values.size()) &&
        !std::isnan(t.values[static_cast<size_t>(objective)])) {
      k.missing = false;
      k.num = t.values[static_cast<size_t>(objective)];
    }
  } else if (sort == "duration") {
    if (auto d = duration_s(t)) {
      k.missing = false;
      k.num = *d;
    }
  } else {  // "param:<name>"
    const std::string name = sort.substr(6);
    auto it = t.distributions.find(name);
    if (it != t.distributions.end()) {
      ParamValue v = to_external(it->second, t.params.at(name));
      k.missing = false;
      if (const auto* d = std::get_if<double>(&v)) k.num = *d;
      else if (const auto* i = std::get_if<int64_t>(&v)) k.num = static_cast<double>(*i);
      else if (const auto* b = std::get_if<bool>(&v)) k.num = *b ? 1 : 0;
      else if (const auto* s = std::get_if<std::string>(&v)) k.is_string = true, k.str = *s;
      else k.is_string = true;  // null choice: after the numbers, before no value at all
      if (!k.is_string && std::isnan(k.num)) k.missing = true;
    }
  }
  return k;
}

// The parameter space enqueue validates against: the declared space, else the most recent distribution of
// each parameter among the study's trials.
std::map<std::string, Distribution> known_space(const StudyInfo& info, const std::vector<FrozenTrial>& trials) {
  std::map<std::string, Distribution> space;
  if (info.system_attrs.contains("search_space")) {
    SearchSpace declared = SearchSpace::from_json(info.system_attrs["search_space"]);
    for (size_t i = 0; i < declared.size(); ++i) space[declared.names()[i]] = declared.distributions()[i];
    if (!space.empty()) return space;
  }
  for (const FrozenTrial& t : trials)
    for (const auto& [name, d] : t.distributions) space[name] = d;  // later trials win
  return space;
}

// The tail of the log `bbo run` recorded for a trial (system attr "log_file"). Only a regular file whose
// name is the one `bbo run` gives it (trial_<number>.log) is read, and at most `max_bytes` of its end, so the
// attribute cannot be used to read arbitrary files.
json log_tail(const FrozenTrial& t, size_t max_bytes) {
  if (!t.system_attrs.contains("log_file")) return nullptr;
  const json& attr = t.system_attrs["log_file"];
  json out = {{"path", attr}};
  if (!attr.is_string()) {
    out["error"] = "the log_file attribute is not a path";
    return out;
  }
  const std::string path = attr.get<std::string>();
  const std::string expected = "trial_" + std::to_string(t.number) + ".log";
  const size_t slash = path.rfind('/');
  if (path.empty() || path[0] != '/' || slash == std::string::npos || path.substr(slash + 1) != expected ||
      path.find("/../") != std::string::npos) {
    out["error"] = "not a log path recorded by bbo run (expected an absolute path ending in /" + expected + ")";
    return out;
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    out["error"] = "the log file no longer exists";
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out["error"] = "the log path is not a regular file";
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out["error"] = "the log file cannot be read";
    return out;
  }
  const auto size = static_cast<size_t>(st.st_size);
  const size_t start = size > max_bytes ? size - max_bytes : 0;
  in.seekg(static_cast<std::streamoff>(start));
  std::string text(size - start, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  // Start at a character boundary when the tail cut a UTF-8 sequence.
  size_t skip = 0;
  while (start > 0 && skip < text.size() && skip < 4 && (static_cast<unsigned char>(text[skip]) & 0xC0) == 0x80)
    ++skip;
  out["size"] = size;
  out["truncated"] = start > 0;
  out["text"] = text.substr(skip);
  return out;
}

}  // namespace

// ---- the per-study trial cache

struct Api::StudyCache {
  std::mutex mu;
  int64_t version = 0;
  std::vector<FrozenTrial> trials;  // index = trial number (numbers have no gaps)
  std::vector<std::string> text;    // search_text per trial
  std::set<std::string> param_names;
  // The last order served: rows (trial numbers) for (rows_key, rows_version).
  std::string rows_key;
  int64_t rows_version = -1;
  std::vector<int64_t> rows;
  // Summary (counts, best) for summary_version.
  int64_t summary_version = -1;
  json summary;

  // Pulls what changed since the last read. Caller holds mu.
  void refresh(Storage& storage, int64_t study_id) {
    TrialsDelta delta = storage.get_trials_since(study_id, version);
    for (FrozenTrial& t : delta.trials) {
      if (t.number < 0) continue;
      const auto n = static_cast<size_t>(t.number);
      if (n >= trials.size()) {
        trials.resize(n + 1);
        text.resize(n + 1);
      }
      for (const auto& [name, d] : t.params) param_names.insert(name);
      text[n] = search_text(t);
      trials[n] = std::move(t);
    }
    version = delta.version;
  }
};

Api::Api(std::shared_ptr<Storage> storage, ApiOptions options)
    : storage_(std::move(storage)), options_(options) {}
Api::~Api() = default;

Api::StudyCache& Api::cache(int64_t study_id) {
  std::lock_guard lock(mu_);
  auto& slot = caches_[study_id];
  if (!slot) slot = std::make_unique<StudyCache>();
  return *slot;
}

Response Api::handle(const Request& request) {
  try {
    return route(request);
  } catch (const HttpError& e) {
    return error_response(e.status, e.message);
  } catch (const NotFoundError& e) {
    return error_response(404, e.what());
  } catch (const TrialStateError& e) {
    return error_response(409, e.what());
  } catch (const ValueError& e) {
    return error_response(400, e.what());
  } catch (const ConfigError& e) {
    return error_response(400, e.what());
  } catch (const json::exception& e) {
    return error_response(400, std::string("invalid JSON: ") + e.what());
  } catch (const std::exception& e) {
    return error_response(500, e.what());
  } catch (...) {
    return error_response(500, "internal error");
  }
}

Response Api::route(const Request& req) {
  const size_t qpos = req.target.find('?');
  const std::string path = url_decode(std::string_view(req.target).substr(0, qpos));
  const Query query = parse_query(qpos == std::string::npos ? "" : std::string_view(req.target).substr(qpos + 1));
  const bool get = req.method == "GET" || req.method == "HEAD";

  // ---- the page
  if (path.rfind("/api/", 0) != 0 && path != "/api") {
    if (!get) throw HttpError{405, "method " + req.method + " not allowed on " + path};
    const std::string file = path == "/" ? "/index.html" : path;
    for (const Asset& a : assets())
      if (file == a.path) {
        Response r;
        r.content_type = a.content_type;
        r.body.assign(reinterpret_cast<const char*>(a.data), a.size);
        r.cacheable = true;
        return r;
      }
    throw HttpError{404, "no page " + path};
  }

  std::vector<std::string> seg = split(std::string_view(path).substr(5), '/');  // after "/api/"
  while (!seg.empty() && seg.back().empty()) seg.pop_back();
  auto require_get = [&] {
    if (!get) throw HttpError{405, "method " + req.method + " not allowed on " + path + " (use GET)"};
  };
  auto require_write = [&] {
    if (req.method != "POST") throw HttpError{405, "method " + req.method + " not allowed on " + path + " (use POST)"};
    if (!options_.allow_write)
      throw HttpError{403, "the dashboard is read-only (start it with --allow-write to change studies)"};
    // A JSON content type cannot be sent cross-site without a CORS preflight, which this server never grants.
    if (req.content_type.rfind("application/json", 0) != 0)
      throw HttpError{415, "POST bodies must be JSON (Content-Type: application/json)"};
  };

  if (seg.empty() || seg[0] != "studies") throw HttpError{404, "no API endpoint " + path};

  // GET /api/studies
  if (seg.size() == 1) {
    require_get();
    json studies = json::array();
    for (const StudyInfo& s : storage_->list_studies()) {
      json dirs = json::array();
      for (Direction d : s.directions) dirs.push_back(to_string(d));
      json strategy = s.system_attrs.contains("strategy") ? s.system_attrs["strategy"].value("name", "") : "";
      studies.push_back({{"id", s.id},
                         {"name", s.name},
                         {"directions", dirs},
                         {"n_trials", s.n_trials},
                         {"strategy", strategy},
                         {"datetime_start", s.datetime_start_us ? json(format_time_us(s.datetime_start_us))
                                                                : json(nullptr)}});
    }
    json kinds = json::array();
#ifdef BBO_DASHBOARD_HAVE_VIZ
    for (const std::string& k : viz::plot_kinds()) kinds.push_back(k);
#endif
    return json_response({{"studies", studies}, {"allow_write", options_.allow_write}, {"plot_kinds", kinds}});
  }

  const int64_t study_id = path_int(seg[1], "study");
  StudyInfo info;
  try {
    info = storage_->get_study(study_id);
  } catch (const NotFoundError&) {
    throw HttpError{404, "no study with id " + seg[1]};
  }
  StudyCache& c = cache(study_id);
  const size_t n_obj = info.directions.size();

  // GET /api/studies/{id}
  if (seg.size() == 2) {
    require_get();
    std::lock_guard lock(c.mu);
    c.refresh(*storage_, study_id);
    if (c.summary_version != c.version) {
      std::map<std::string, int64_t> counts;
      for (TrialState s : {TrialState::kRunning, TrialState::kWaiting, TrialState::kComplete, TrialState::kPruned,
                           TrialState::kFail})
        counts[to_string(s)] = 0;
      std::vector<std::vector<double>> points;
      std::vector<int64_t> numbers;
      for (const FrozenTrial& t : c.trials) {
        if (t.number < 0) continue;
        ++counts[to_string(t.state)];
        if (t.state != TrialState::kComplete || t.values.size() != n_obj || !t.feasible()) continue;
        if (std::any_of(t.values.begin(), t.values.end(), [](double v) { return std::isnan(v); })) continue;
        points.push_back(t.values);
        numbers.push_back(t.number);
      }
      json best = json::array();
      if (n_obj == 1) {
        size_t bi = points.size();
        const bool maximize = info.directions[0] == Direction::kMaximize;
        for (size_t i = 0; i < points.size(); ++i)
          if (bi == points.size() || (maximize ? points[i][0] > points[bi][0] : points[i][0] < points[bi][0]))
            bi = i;
        if (bi < points.size()) best.push_back({{"number", numbers[bi]}, {"values", {number_json(points[bi][0])}}});
      } else if (!points.empty()) {
        std::vector<size_t> front = pareto_front(points, info.directions);
        std::sort(front.begin(), front.end());
        for (size_t i : front) {
          json values = json::array();
          for (double v : points[i]) values.push_back(number_json(v));
          best.push_back({{"number", numbers[i]}, {"values", values}});
          if (best.size() >= 100) break;  // a long front: the table (sorted by value) shows the rest
        }
      }
      json space = json::object();
      for (const auto& [name, d] : known_space(info, c.trials)) space[name] = distribution_to_json(d);
      c.summary = {{"counts", counts},
                   {"best", best},
                   {"param_names", std::vector<std::string>(c.param_names.begin(), c.param_names.end())},
                   {"space", space}};
      c.summary_version = c.version;
    }
    json dirs = json::array();
    for (Direction d : info.directions) dirs.push_back(to_string(d));
    const json& sys = info.system_attrs;
    json out = {{"id", info.id},
                {"name", info.name},
                {"directions", dirs},
                {"n_trials", c.trials.size()},
                {"version", c.version},
                {"datetime_start",
                 info.datetime_start_us ? json(format_time_us(info.datetime_start_us)) : json(nullptr)},
                {"user_attrs", info.user_attrs},
                {"system_attrs", sys},
                {"strategy", sys.contains("strategy") ? sys["strategy"] : json(nullptr)},
                {"pruner", sys.contains("pruner") ? sys["pruner"] : json(nullptr)},
                {"strategy_choice", sys.contains("strategy_choice") ? sys["strategy_choice"] : json(nullptr)},
                // As text: a 64-bit seed does not survive JavaScript's doubles.
                {"seed", sys.contains("seed") ? json(sys["seed"].dump()) : json(nullptr)},
                {"allow_write", options_.allow_write}};
    out.update(c.summary);
    return json_response(out);
  }

  // GET /api/studies/{id}/trials
  if (seg[2] == "trials" && seg.size() == 3) {
    require_get();
    const auto offset = static_cast<size_t>(query_int(query, "offset", 0, int64_t{1} << 40));
    const auto limit = static_cast<size_t>(query_int(query, "limit", 50, kMaxLimit));
    std::string sort = query.count("sort") ? query.at("sort") : "number";
    if (sort.empty()) sort = "number";
    int objective = 0;
    if (sort.rfind("value:", 0) == 0) {
      const std::string k = sort.substr(6);
      if (k.empty() || k.size() > 3 || !std::all_of(k.begin(), k.end(), ::isdigit) ||
          std::stoul(k) >= n_obj)
        throw HttpError{400, "sort '" + sort + "': the study has " + std::to_string(n_obj) + " objective(s)"};
      objective = std::stoi(k);
      sort = "value";
    }
    if (sort != "number" && sort != "value" && sort != "state" && sort != "duration" &&
        !(sort.rfind("param:", 0) == 0 && sort.size() > 6))
      throw HttpError{400, "sort '" + sort +
                               "': expected number, value, value:<objective>, state, duration or param:<name>"};
    const std::string order = query.count("order") ? query.at("order") : "asc";
    if (order != "asc" && order != "desc") throw HttpError{400, "order '" + order + "': expected asc or desc"};
    std::vector<bool> want_state(5, true);
    std::string states_key;
    if (query.count("state") && !query.at("state").empty()) {
      want_state.assign(5, false);
      for (const std::string& s : split(query.at("state"), ',')) {
        if (s.empty()) continue;
        TrialState st = trial_state_from_string(s);  // ValueError → 400
        want_state[static_cast<size_t>(st)] = true;
        states_key += to_string(st) + ",";
      }
    }
    const std::string filter = query.count("filter") ? lower(query.at("filter")) : "";
    std::vector<std::string> terms;
    for (const std::string& t : split(filter, ' '))
      if (!t.empty()) terms.push_back(t);

    std::lock_guard lock(c.mu);
    c.refresh(*storage_, study_id);
    const std::string key = sort + ":" + std::to_string(objective) + "|" + order + "|" + states_key + "|" + filter;
    const std::string etag = "\"" + std::to_string(study_id) + "-" + std::to_string(c.version) + "-" +
                             std::to_string(std::hash<std::string>{}(key + "|" + std::to_string(offset) + "|" +
                                                                     std::to_string(limit))) +
                             "\"";
    if (!req.if_none_match.empty() && req.if_none_match == etag) {
      Response r;
      r.status = 304;
      r.etag = etag;
      return r;
    }
    if (c.rows_version != c.version || c.rows_key != key) {
      std::vector<int64_t> rows;
      rows.reserve(c.trials.size());
      for (const FrozenTrial& t : c.trials) {
        if (t.number < 0 || !want_state[static_cast<size_t>(t.state)]) continue;
        const std::string& text = c.text[static_cast<size_t>(t.number)];
        if (std::all_of(terms.begin(), terms.end(),
                        [&](const std::string& term) { return text.find(term) != std::string::npos; }))
          rows.push_back(t.number);
      }
      if (!(sort == "number" && order == "asc")) {
        std::vector<SortKey> keys(c.trials.size());
        for (int64_t n : rows) keys[static_cast<size_t>(n)] = make_key(c.trials[static_cast<size_t>(n)], sort, objective);
        const bool desc = order == "desc";
        std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
          const SortKey& ka = keys[static_cast<size_t>(a)];
          const SortKey& kb = keys[static_cast<size_t>(b)];
          if (ka.missing != kb.missing) return kb.missing;  // missing last in both orders
          if (!ka.missing) {
            int cmp = compare_keys(ka, kb);
            if (cmp != 0) return desc ? cmp > 0 : cmp < 0;
          }
          return a < b;  // ties: by number, ascending
        });
      }
      c.rows = std::move(rows);
      c.rows_key = key;
      c.rows_version = c.version;
    }
    json page = json::array();
    for (size_t i = offset; i < c.rows.size() && i < offset + limit; ++i)
      page.push_back(trial_row(c.trials[static_cast<size_t>(c.rows[i])]));
    Response r = json_response({{"study_id", study_id},
                                {"version", c.version},
                                {"total", c.trials.size()},
                                {"matched", c.rows.size()},
                                {"offset", offset},
                                {"limit", limit},
                                {"n_objectives", n_obj},
                                {"param_names", std::vector<std::string>(c.param_names.begin(), c.param_names.end())},
                                {"trials", page}});
    r.etag = etag;
    return r;
  }

  // GET /api/studies/{id}/trials/{number}, POST .../stop
  if (seg[2] == "trials" && (seg.size() == 4 || (seg.size() == 5 && seg[4] == "stop"))) {
    const int64_t number = path_int(seg[3], "trial");
    FrozenTrial t;
    try {
      t = storage_->get_trial_by_number(study_id, number);
    } catch (const NotFoundError&) {
      throw HttpError{404, "study " + std::to_string(study_id) + " has no trial " + seg[3]};
    }
    if (seg.size() == 4) {
      require_get();
      json out = to_json(t);
      out["duration_s"] = optional_number(duration_s(t));
      out["heartbeat"] = t.heartbeat_us ? json(format_time_us(t.heartbeat_us)) : json(nullptr);
      json values = json::array();
      for (double v : t.values) values.push_back(number_json(v));
      out["stored_values"] = values;  // also a PRUNED trial's last value
      // Learning curves per objective, as [step, value] pairs (easier to draw than the "step:k" keys).
      json curves = json::object();
      for (const auto& [k, v] : t.intermediate_values)
        curves[std::to_string(k.objective)].push_back({k.step, number_json(v)});
      out["curves"] = curves;
      const size_t log_bytes =
          static_cast<size_t>(query_int(query, "log_bytes", static_cast<int64_t>(options_.log_tail_bytes),
                                        static_cast<int64_t>(kMaxLogBytes)));
      out["log"] = log_tail(t, log_bytes);
      return json_response(out);
    }
    // POST /api/studies/{id}/trials/{number}/stop: finishes a RUNNING trial in storage. The worker is not
    // signalled: its later report is rejected by the storage (TrialStateError), which `bbo run` records as
    // "could not be recorded".
    require_write();
    json body = req.body.empty() ? json::object() : json::parse(req.body);
    if (!body.is_object()) throw HttpError{400, "stop: the body must be a JSON object"};
    const std::string state_name = body.value("state", std::string("FAIL"));
    const TrialState state = trial_state_from_string(state_name);
    if (state != TrialState::kFail && state != TrialState::kPruned)
      throw HttpError{400, "stop: state must be FAIL or PRUNED, got '" + state_name + "'"};
    if (t.state != TrialState::kRunning)
      throw HttpError{409, "trial " + std::to_string(number) + " is " + to_string(t.state) + ", not RUNNING"};
    std::vector<double> values;
    if (state == TrialState::kFail) {
      storage_->set_trial_system_attr(t.id, "fail_reason", "stopped from the dashboard");
    } else if (n_obj == 1) {
      if (auto last = t.last_step()) values = {last->second};  // as Study::tell does for PRUNED
    }
    storage_->finish_trial(t.id, state, values, {});
    return json_response({{"number", number}, {"state", to_string(state)}});
  }

  // POST /api/studies/{id}/enqueue
  if (seg[2] == "enqueue" && seg.size() == 3) {
    require_write();
    json body = json::parse(req.body.empty() ? "null" : req.body);
    if (!body.is_object() || !body.contains("params") || !body["params"].is_object() || body["params"].empty())
      throw HttpError{400, "enqueue: expected a body {\"params\": {\"name\": value, ...}} with at least one parameter"};
    std::map<std::string, Distribution> space;
    {
      std::lock_guard lock(c.mu);
      c.refresh(*storage_, study_id);
      space = known_space(info, c.trials);
    }
    if (space.empty())
      throw HttpError{400, "enqueue: the study declares no search space and has no trials to check the "
                           "parameters against"};
    json fixed = json::object();
    for (const auto& [name, value] : body["params"].items()) {
      auto it = space.find(name);
      if (it == space.end()) {
        std::string names;
        for (const auto& [n, d] : space) names += (names.empty() ? "" : ", ") + n;
        throw HttpError{400, "enqueue: unknown parameter '" + name + "' (the study's parameters: " + names + ")"};
      }
      if (!(value.is_number() || value.is_string() || value.is_boolean() || value.is_null()))
        throw HttpError{400, "enqueue: parameter '" + name + "': expected a number, string, boolean or null"};
      ParamValue v = param_value_from_json(value);
      try {
        to_internal(it->second, v);
      } catch (const ValueError& e) {
        throw HttpError{400, "enqueue: parameter '" + name + "': " + e.what()};
      }
      fixed[name] = value;
    }
    // The same record Study::enqueue writes: a WAITING trial whose fixed_params the next ask claims.
    FrozenTrial tmpl;
    tmpl.state = TrialState::kWaiting;
    tmpl.system_attrs["fixed_params"] = fixed;
    const int64_t number = storage_->create_trial(study_id, &tmpl).number;
    return json_response({{"number", number}, {"state", "WAITING"}, {"params", fixed}}, 201);
  }

  // GET /api/studies/{id}/plot/{kind}
  if (seg[2] == "plot" && seg.size() == 4) {
    require_get();
#ifdef BBO_DASHBOARD_HAVE_VIZ
    viz::PlotOptions po;
    if (query.count("params") && !query.at("params").empty())
      for (const std::string& p : split(query.at("params"), ','))
        if (!p.empty()) po.params.push_back(p);
    po.objective = static_cast<int>(query_int(query, "objective", 0, 63));
    po.width = static_cast<int>(query_int(query, "width", 0, 4000));
    po.height = static_cast<int>(query_int(query, "height", 0, 4000));
    const auto& kinds = viz::plot_kinds();
    if (std::find(kinds.begin(), kinds.end(), seg[3]) == kinds.end()) {
      std::string names;
      for (const auto& k : kinds) names += (names.empty() ? "" : ", ") + k;
      throw HttpError{404, "no plot kind '" + seg[3] + "' (kinds: " + names + ")"};
    }
    std::lock_guard lock(c.mu);
    c.refresh(*storage_, study_id);
    const std::string etag = "\"plot-" + std::to_string(study_id) + "-" + std::to_string(c.version) + "-" +
                             std::to_string(std::hash<std::string>{}(req.target)) + "\"";
    if (!req.if_none_match.empty() && req.if_none_match == etag) {
      Response r;
      r.status = 304;
      r.etag = etag;
      return r;
    }
    Response r;
    if (std::all_of(c.trials.begin(), c.trials.end(), [](const FrozenTrial& t) { return t.number >= 0; })) {
      r.body = viz::render_svg(seg[3], info, c.trials, po);
    } else {
      std::vector<FrozenTrial> known;
      for (const FrozenTrial& t : c.trials)
        if (t.number >= 0) known.push_back(t);
      r.body = viz::render_svg(seg[3], info, known, po);
    }
    r.content_type = "image/svg+xml";
    r.etag = etag;
    return r;
#else
    throw HttpError{404, "this bbo was built without plots (cli/viz)"};
#endif
  }

  throw HttpError{404, "no API endpoint " + path};
}

}  // namespace bbo::cli::dashboard
