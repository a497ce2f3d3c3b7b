#include "bbo/study.h"

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/pruner.h"
#include "bbo/strategy.h"
#include "bbo/study_view.h"

namespace bbo {

// Shared state of one Study object and the Trials it handed out. All access goes through mu_.
class StudyImpl : public std::enable_shared_from_this<StudyImpl> {
 public:
  std::shared_ptr<Storage> storage;
  StudyView view;
  std::shared_ptr<Strategy> strategy;
  std::shared_ptr<Pruner> pruner;
  double grace_seconds = 0.0;
  bool retry_failed = false;
  std::recursive_mutex mu;

  StudyImpl(std::shared_ptr<Storage> s, StudyInfo info)
      : storage(std::move(s)), view(*storage, std::move(info)) {
    const json& sys = view.info().system_attrs;
    if (sys.contains("search_space")) view.set_declared_space(SearchSpace::from_json(sys["search_space"]));
    std::string sname = "auto", pname = "none";
    json sparams = json::object(), pparams = json::object();
    if (sys.contains("strategy")) {
      sname = sys["strategy"].value("name", "auto");
      sparams = sys["strategy"].value("params", json::object());
    }
    if (sys.contains("pruner")) {
      pname = sys["pruner"].value("name", "none");
      pparams = sys["pruner"].value("params", json::object());
    }
    grace_seconds = sys.value("heartbeat_grace_seconds", 0.0);
    retry_failed = sys.value("retry_failed_trials", false);
    strategy = PluginRegistry::global().make_strategy(sname, sparams);
    pruner = make_pruner(pname, pparams);
  }

  static std::shared_ptr<Pruner> make_pruner(const std::string& name, const json& params) {
    if (name.empty() || name == "none" || name == "nop") return std::make_shared<NopPruner>();
    return PluginRegistry::global().make_pruner(name, params);
  }

  const StudyInfo& info() const { return view.info(); }
  int64_t id() const { return view.info().id; }

  Trial start_trial();
  // Adds a WAITING trial whose suggestions take the values in `fixed` (a JSON object of external values),
  // with `extra_system_attrs` merged into its system attrs. Returns its number.
  int64_t enqueue_fixed(const json& fixed, const json& extra_system_attrs = json::object());
  // storage->fail_stale_trials, then (with retry) one WAITING copy of each trial this call failed.
  std::vector<int64_t> fail_stale(double grace);
  static void check_writable(const Trial::State& s);
  double suggest(Trial::State& t, const std::string& name, const Distribution& d);
  TrialState finish(FrozenTrial& rec, TrialState state, std::vector<double> values,
                    const std::vector<double>& constraints);
};

struct Trial::State {
  State(std::shared_ptr<StudyImpl> s, FrozenTrial r, uint64_t seed)
      : study(std::move(s)), record(std::move(r)), rng(seed) {}
  std::shared_ptr<StudyImpl> study;
  FrozenTrial record;  // local copy: params and distributions as suggested
  std::mt19937_64 rng;
  SearchSpace relative_space;
  std::map<std::string, double> relative;
  json fixed_params = json::object();  // from enqueue()
  std::vector<double> constraints;
  bool finished = false;
};

void StudyImpl::check_writable(const Trial::State& s) {
  if (s.finished)
    throw TrialStateError("trial " + std::to_string(s.record.number) + " is already finished");
}

Trial StudyImpl::start_trial() {
  std::lock_guard lock(mu);
  if (grace_seconds > 0) fail_stale(grace_seconds);
  std::optional<FrozenTrial> claimed = storage->claim_waiting_trial(id());
  FrozenTrial record = claimed ? std::move(*claimed) : storage->create_trial(id());
  const uint64_t seed = trial_seed(view.seed(), record.number);
  auto st = std::make_unique<Trial::State>(shared_from_this(), std::move(record), seed);
  if (st->record.system_attrs.contains("fixed_params")) st->fixed_params = st->record.system_attrs["fixed_params"];
  view.invalidate();
  st->relative_space = strategy->relative_space(view);
  if (!st->relative_space.empty()) {
    SampleContext ctx{view, st->record, st->rng};
    st->relative = strategy->sample_relative(ctx, st->relative_space);
  }
  return Trial(std::move(st));
}

int64_t StudyImpl::enqueue_fixed(const json& fixed, const json& extra_system_attrs) {
  std::lock_guard lock(mu);
  FrozenTrial tmpl;
  tmpl.state = TrialState::kWaiting;
  tmpl.system_attrs = extra_system_attrs;
  tmpl.system_attrs["fixed_params"] = fixed;
  int64_t number = storage->create_trial(id(), &tmpl).number;
  view.invalidate();
  return number;
}

std::vector<int64_t> StudyImpl::fail_stale(double grace) {
  std::lock_guard lock(mu);
  // The storage fails each stale trial in exactly one caller and returns it only there, so re-enqueueing
  // what this call returned gives exactly one retry per failed trial however many workers race.
  std::vector<int64_t> failed = storage->fail_stale_trials(id(), grace);
  if (!failed.empty()) view.invalidate();
  if (!retry_failed) return failed;
  for (int64_t number : failed) {
    FrozenTrial t = storage->get_trial_by_number(id(), number);
    // The values it had been given win over what it was enqueued with; enqueued values it never reached
    // (the worker died first) are kept so the retry runs the same configuration.
    json fixed = t.system_attrs.contains("fixed_params") && t.system_attrs["fixed_params"].is_object()
                     ? t.system_attrs["fixed_params"]
                     : json::object();
    for (const auto& [name, value] : t.external_params()) fixed[name] = param_value_to_json(value);
    enqueue_fixed(fixed, {{"retry_of", number}});
  }
  return failed;
}

double StudyImpl::suggest(Trial::State& t, const std::string& name, const Distribution& dist) {
  std::lock_guard lock(mu);
  check_writable(t);
  Distribution d = validated(dist, name);
  if (auto it = t.record.params.find(name); it != t.record.params.end()) {
    if (!same_distribution(t.record.distributions.at(name), d))
      throw ValueError("parameter '" + name + "' was already suggested in trial " +
                       std::to_string(t.record.number) + " with another distribution " +
                       distribution_to_json(t.record.distributions.at(name)).dump());
    return it->second;
  }
  if (view.declared_space().has(name) && !same_distribution(view.declared_space().at(name), d))
    throw ValueError("parameter '" + name + "': distribution " + distribution_to_json(d).dump() +
                     " differs from the study's search space " +
                     distribution_to_json(view.declared_space().at(name)).dump());
  double v;
  if (t.fixed_params.contains(name)) {
    try {
      v = to_internal(d, param_value_from_json(t.fixed_params[name]));
    } catch (const ValueError& e) {
      throw ValueError("parameter '" + name + "': enqueued " + e.what());
    }
  } else if (auto it = t.relative.find(name);
             it != t.relative.end() && t.relative_space.has(name) && same_distribution(t.relative_space.at(name), d)) {
    v = it->second;
  } else {
    SampleContext ctx{view, t.record, t.rng};
    v = strategy->sample_independent(ctx, name, d);
  }
  if (!contains(d, v)) v = from_unit(d, to_unit(d, v));  // snap a strategy's value onto the grid
  if (!contains(d, v))
    throw Error("strategy proposed " + std::to_string(v) + " outside the distribution of '" + name + "'");
  storage->set_trial_param(t.record.id, name, v, d);
  t.record.params[name] = v;
  t.record.distributions[name] = d;
  return v;
}

TrialState StudyImpl::finish(FrozenTrial& rec, TrialState state, std::vector<double> values,
                             const std::vector<double>& constraints) {
  std::lock_guard lock(mu);
  const size_t n_obj = info().directions.size();
  if (state == TrialState::kRunning || state == TrialState::kWaiting)
    throw ValueError("a trial can only be finished as COMPLETE, PRUNED or FAIL");
  if (state == TrialState::kComplete) {
    if (values.size() != n_obj)
      throw ValueError("trial " + std::to_string(rec.number) + ": got " + std::to_string(values.size()) +
                       " value(s), the study has " + std::to_string(n_obj) + " direction(s)");
  } else if (state == TrialState::kPruned) {
    if (!values.empty() && values.size() != n_obj)
      throw ValueError("trial " + std::to_string(rec.number) + ": got " + std::to_string(values.size()) +
                       " value(s), the study has " + std::to_string(n_obj) + " direction(s)");
  } else {
    values.clear();
  }
  FrozenTrial stored = storage->get_trial(rec.id);
  if (stored.state != TrialState::kRunning)
    throw TrialStateError("trial " + std::to_string(rec.number) + " is already finished (" +
                          to_string(stored.state) + ")");
  if (state == TrialState::kPruned && values.empty() && n_obj == 1) {
    // Like Optuna: a pruned trial carries its last reported value, so models can use it.
    if (auto last = stored.last_step(); last && std::isfinite(last->second)) values = {last->second};
  }
  for (double v : values) {
    if (std::isnan(v)) {
      storage->set_trial_system_attr(rec.id, "fail_reason", "objective value is NaN");
      state = TrialState::kFail;
      values.clear();
      break;
    }
  }
  storage->finish_trial(rec.id, state, values, constraints);
  view.invalidate();
  FrozenTrial done = storage->get_trial(rec.id);
  strategy->on_trial_finished(view, done);
  rec = std::move(done);
  return state;
}

// ---------------------------------------------------------------------------------------------- Trial

Trial::Trial(std::unique_ptr<State> s) : s_(std::move(s)) {}
Trial::Trial(Trial&&) noexcept = default;
Trial& Trial::operator=(Trial&&) noexcept = default;
Trial::~Trial() = default;

int64_t Trial::number() const { return s_->record.number; }
int64_t Trial::id() const { return s_->record.id; }

double Trial::suggest(const std::string& name, const Distribution& d) { return s_->study->suggest(*s_, name, d); }

double Trial::suggest_float(const std::string& name, double low, double high, bool log, std::optional<double> step) {
  return suggest(name, FloatDistribution{low, high, log, step});
}

int64_t Trial::suggest_int(const std::string& name, int64_t low, int64_t high, bool log, int64_t step) {
  return static_cast<int64_t>(std::llround(suggest(name, IntDistribution{low, high, log, step})));
}

std::string Trial::suggest_categorical(const std::string& name, const std::vector<std::string>& choices) {
  CategoricalDistribution c;
  for (const auto& s : choices) c.choices.emplace_back(s);
  return choices.at(static_cast<size_t>(std::llround(suggest(name, c))));
}

ParamValue Trial::suggest_choice(const std::string& name, const std::vector<ParamValue>& choices) {
  CategoricalDistribution c{choices};
  return choices.at(static_cast<size_t>(std::llround(suggest(name, c))));
}

void Trial::report(int64_t step, double value, int objective) {
  std::lock_guard lock(s_->study->mu);
  StudyImpl::check_writable(*s_);
  if (step < 0) throw ValueError("report: step must be >= 0, got " + std::to_string(step));
  if (objective < 0 || static_cast<size_t>(objective) >= s_->study->info().directions.size())
    throw ValueError("report: objective index " + std::to_string(objective) + " out of range");
  s_->study->storage->set_trial_intermediate_value(s_->record.id, step, objective, value);
  s_->record.intermediate_values[{step, objective}] = value;
}

bool Trial::should_prune() {
  std::lock_guard lock(s_->study->mu);
  StudyImpl::check_writable(*s_);
  s_->study->view.invalidate();
  FrozenTrial current = s_->study->storage->get_trial(s_->record.id);
  return s_->study->pruner->should_prune(s_->study->view, current);
}

void Trial::set_constraints(std::vector<double> constraints) {
  StudyImpl::check_writable(*s_);
  s_->constraints = std::move(constraints);
}
const std::vector<double>& Trial::constraints() const { return s_->constraints; }

void Trial::set_user_attr(const std::string& key, const json& value) {
  std::lock_guard lock(s_->study->mu);
  StudyImpl::check_writable(*s_);
  s_->study->storage->set_trial_user_attr(s_->record.id, key, value);
  s_->record.user_attrs[key] = value;
}

void Trial::heartbeat() {
  StudyImpl::check_writable(*s_);
  s_->study->storage->heartbeat(s_->record.id);
}

std::map<std::string, ParamValue> Trial::params() const { return s_->record.external_params(); }

FrozenTrial Trial::frozen() const { return s_->study->storage->get_trial(s_->record.id); }

std::mt19937_64& Trial::rng() { return s_->rng; }

// ---------------------------------------------------------------------------------------------- Study

Study::Study(std::shared_ptr<StudyImpl> impl) : impl_(std::move(impl)) {}
Study::Study(Study&&) noexcept = default;
Study& Study::operator=(Study&&) noexcept = default;
Study::~Study() = default;

Study Study::create(const StudyOptions& options) { return create(options, std::shared_ptr<Storage>(open_storage(options.storage))); }

Study Study::create(const StudyOptions& o, std::shared_ptr<Storage> storage) {
  if (o.name.empty()) throw ValueError("a study needs a name");
  if (o.directions.empty()) throw ValueError("study '" + o.name + "': at least one direction is needed");
  if (o.heartbeat_grace_seconds < 0) throw ValueError("heartbeat_grace_seconds must be >= 0");
  if (auto existing = storage->find_study(o.name)) {
    if (!o.load_if_exists) throw DuplicateError("study '" + o.name + "' already exists in " + storage->url());
    if (existing->directions != o.directions)
      throw ValueError("study '" + o.name + "' exists with other directions");
    return Study(std::make_shared<StudyImpl>(storage, *existing));
  }
  // Build (and so validate) the strategy and pruner before anything is written.
  PluginRegistry::global().make_strategy(o.strategy, o.strategy_params);
  StudyImpl::make_pruner(o.pruner, o.pruner_params);
  uint64_t seed = o.seed ? *o.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  json sys = {{"seed", seed},
              {"strategy", {{"name", o.strategy}, {"params", o.strategy_params.is_null() ? json::object() : o.strategy_params}}},
              {"pruner", {{"name", o.pruner}, {"params", o.pruner_params.is_null() ? json::object() : o.pruner_params}}},
              {"heartbeat_grace_seconds", o.heartbeat_grace_seconds},
              {"retry_failed_trials", o.retry_failed_trials}};
  if (!o.search_space.empty()) sys["search_space"] = o.search_space.to_ordered_json();
  int64_t id;
  try {
    id = storage->create_study(o.name, o.directions, sys);
  } catch (const DuplicateError&) {
    if (!o.load_if_exists) throw;
    return load(o.name, storage);  // another process created it first
  }
  for (const auto& [k, v] : o.user_attrs.items()) storage->set_study_user_attr(id, k, v);
  return Study(std::make_shared<StudyImpl>(storage, storage->get_study(id)));
}

Study Study::load(const std::string& name, const std::string& storage_url) {
  return load(name, std::shared_ptr<Storage>(open_storage(storage_url)));
}

Study Study::load(const std::string& name, std::shared_ptr<Storage> storage) {
  auto info = storage->find_study(name);
  if (!info) throw NotFoundError("study '" + name + "' not found in " + storage->url());
  return Study(std::make_shared<StudyImpl>(storage, *info));
}

const std::string& Study::name() const { return impl_->info().name; }
int64_t Study::id() const { return impl_->id(); }
const std::vector<Direction>& Study::directions() const { return impl_->info().directions; }
uint64_t Study::seed() const { return impl_->view.seed(); }
Storage& Study::storage() { return *impl_->storage; }
const SearchSpace& Study::search_space() const { return impl_->view.declared_space(); }

Trial Study::ask() {
  Trial t = impl_->start_trial();
  const SearchSpace& declared = impl_->view.declared_space();
  for (size_t i = 0; i < declared.size(); ++i) t.suggest(declared.names()[i], declared.distributions()[i]);
  return t;
}

Trial Study::ask(const SearchSpace& space) {
  Trial t = ask();
  for (size_t i = 0; i < space.size(); ++i) t.suggest(space.names()[i], space.distributions()[i]);
  return t;
}

std::vector<Trial> Study::ask(int n) {
  if (n < 1) throw ValueError("ask: batch size must be >= 1, got " + std::to_string(n));
  std::vector<Trial> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out.push_back(ask());
  return out;
}

TrialState Study::tell(Trial& trial, double value) { return tell(trial, TrialState::kComplete, {value}); }
TrialState Study::tell(Trial& trial, const std::vector<double>& values) {
  return tell(trial, TrialState::kComplete, values);
}

TrialState Study::tell(Trial& trial, TrialState state, const std::vector<double>& values) {
  StudyImpl::check_writable(*trial.s_);
  if (trial.s_->study.get() != impl_.get() && trial.s_->record.study_id != id())
    throw ValueError("trial " + std::to_string(trial.number()) + " belongs to another study");
  TrialState result = impl_->finish(trial.s_->record, state, values, trial.s_->constraints);
  trial.s_->finished = true;
  return result;
}

TrialState Study::tell(int64_t number, TrialState state, const std::vector<double>& values,
                       const std::vector<double>& constraints) {
  FrozenTrial rec = impl_->storage->get_trial_by_number(id(), number);
  return impl_->finish(rec, state, values, constraints);
}

void Study::optimize(const std::function<double(Trial&)>& fn, const OptimizeOptions& options) {
  if (directions().size() != 1)
    throw ValueError("optimize: a single-value objective was given to a study with " +
                     std::to_string(directions().size()) + " directions");
  optimize([&fn](Trial& t) { return std::vector<double>{fn(t)}; }, options);
}

void Study::optimize(const std::function<std::vector<double>(Trial&)>& fn, const OptimizeOptions& options) {
  if (options.n_trials && *options.n_trials < 0) throw ValueError("optimize: n_trials must be >= 0");
  const auto start = std::chrono::steady_clock::now();
  for (int64_t done = 0;; ++done) {
    if (options.n_trials && done >= *options.n_trials) break;
    if (options.timeout && std::chrono::steady_clock::now() - start >= *options.timeout) break;
    Trial trial = ask();
    // Optional background heartbeat while the objective runs.
    std::mutex hb_mu;
    std::condition_variable hb_cv;
    bool hb_stop = false;
    std::thread hb;
    if (options.heartbeat_interval_seconds > 0) {
      int64_t tid = trial.id();
      auto storage = impl_->storage;
      hb = std::thread([&, tid, storage] {
        std::unique_lock lk(hb_mu);
        while (!hb_cv.wait_for(lk, std::chrono::duration<double>(options.heartbeat_interval_seconds),
                               [&] { return hb_stop; })) {
          try {
            storage->heartbeat(tid);
          } catch (const std::exception&) {
            return;  // the trial was finished or failed elsewhere: nothing left to keep alive
          }
        }
      });
    }
    auto stop_heartbeat = [&] {
      if (!hb.joinable()) return;
      {
        std::lock_guard lk(hb_mu);
        hb_stop = true;
      }
      hb_cv.notify_all();
      hb.join();
    };
    std::exception_ptr failure;
    try {
      std::vector<double> values = fn(trial);
      stop_heartbeat();
      tell(trial, values);
    } catch (const TrialPruned&) {
      stop_heartbeat();
      if (!trial.s_->finished) tell(trial, TrialState::kPruned);
    } catch (const std::exception& e) {
      stop_heartbeat();
      if (!trial.s_->finished) {
        impl_->storage->set_trial_system_attr(trial.id(), "fail_reason", std::string(e.what()));
        tell(trial, TrialState::kFail);
      }
      if (!options.catch_failures) failure = std::current_exception();
    } catch (...) {
      stop_heartbeat();
      if (!trial.s_->finished) {
        impl_->storage->set_trial_system_attr(trial.id(), "fail_reason", "unknown exception");
        tell(trial, TrialState::kFail);
      }
      if (!options.catch_failures) failure = std::current_exception();
    }
    if (failure) std::rethrow_exception(failure);
    FrozenTrial finished = impl_->storage->get_trial(trial.id());
    bool go_on = true;
    for (const auto& cb : options.callbacks) go_on = cb(*this, finished) && go_on;
    if (!go_on) break;
  }
}

void Study::enqueue(const std::map<std::string, ParamValue>& params) {
  json fixed = json::object();
  for (const auto& [k, v] : params) {
    if (k.empty()) throw ValueError("enqueue: parameter names must not be empty");
    if (const auto* d = std::get_if<double>(&v); d && !std::isfinite(*d))
      throw ValueError("enqueue: parameter '" + k + "' is not finite");
    fixed[k] = param_value_to_json(v);
  }
  // Values that fit the declared space are checked now, the others when the objective suggests them.
  const SearchSpace& declared = impl_->view.declared_space();
  for (const auto& [k, v] : params)
    if (declared.has(k)) {
      try {
        to_internal(declared.at(k), v);
      } catch (const ValueError& e) {
        throw ValueError("enqueue: parameter '" + k + "': " + e.what());
      }
    }
  impl_->enqueue_fixed(fixed);
}

FrozenTrial Study::add_trial(const FrozenTrial& trial) {
  if (!is_finished(trial.state)) throw ValueError("add_trial: the trial must be COMPLETE, PRUNED or FAIL");
  if (trial.state == TrialState::kComplete && trial.values.size() != directions().size())
    throw ValueError("add_trial: got " + std::to_string(trial.values.size()) + " value(s), the study has " +
                     std::to_string(directions().size()) + " direction(s)");
  for (double v : trial.values)
    if (std::isnan(v)) throw ValueError("add_trial: a value is NaN");
  FrozenTrial tmpl = trial;
  for (const auto& [name, v] : trial.params) {
    auto it = trial.distributions.find(name);
    if (it == trial.distributions.end()) throw ValueError("add_trial: parameter '" + name + "' has no distribution");
    tmpl.distributions[name] = validated(it->second, name);
    if (!contains(tmpl.distributions[name], v))
      throw ValueError("add_trial: parameter '" + name + "' = " + std::to_string(v) + " is outside its distribution");
  }
  if (trial.distributions.size() != trial.params.size())
    throw ValueError("add_trial: every distribution needs a parameter value");
  if (!tmpl.datetime_start_us) tmpl.datetime_start_us = now_us();
  if (!tmpl.datetime_complete_us) tmpl.datetime_complete_us = tmpl.datetime_start_us;
  std::lock_guard lock(impl_->mu);
  FrozenTrial stored = impl_->storage->create_trial(id(), &tmpl);
  impl_->view.invalidate();
  return stored;
}

std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& points,
                                 const std::vector<Direction>& directions) {
  auto better_or_equal = [&](const std::vector<double>& a, const std::vector<double>& b, bool& strictly) {
    strictly = false;
    for (size_t k = 0; k < directions.size(); ++k) {
      double x = directions[k] == Direction::kMinimize ? a[k] : -a[k];
      double y = directions[k] == Direction::kMinimize ? b[k] : -b[k];
      if (x > y) return false;
      if (x < y) strictly = true;
    }
    return true;
  };
  std::vector<size_t> front;
  for (size_t i = 0; i < points.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.size() && !dominated; ++j) {
      bool strictly;
      if (j != i && better_or_equal(points[j], points[i], strictly) && strictly) dominated = true;
    }
    if (!dominated) front.push_back(i);
  }
  return front;
}

std::vector<FrozenTrial> Study::best_trials() {
  std::vector<FrozenTrial> complete;
  for (auto& t : trials({TrialState::kComplete}))
    if (t.feasible()) complete.push_back(std::move(t));
  std::vector<std::vector<double>> pts;
  for (const auto& t : complete) pts.push_back(t.values);
  std::vector<FrozenTrial> out;
  for (size_t i : pareto_front(pts, directions())) out.push_back(complete[i]);
  return out;
}

FrozenTrial Study::best_trial() {
  if (directions().size() != 1)
    throw ValueError("best_trial: study '" + name() + "' has several directions; use best_trials()");
  std::optional<FrozenTrial> best;
  const bool minimize = directions()[0] == Direction::kMinimize;
  for (auto& t : trials({TrialState::kComplete})) {
    if (!t.feasible()) continue;
    if (!best || (minimize ? t.values[0] < best->values[0] : t.values[0] > best->values[0])) best = std::move(t);
  }
  if (!best) throw NotFoundError("study '" + name() + "' has no complete feasible trial yet");
  return *best;
}

std::vector<FrozenTrial> Study::trials(const std::vector<TrialState>& states) {
  return impl_->storage->get_trials(id(), states);
}

FrozenTrial Study::trial(int64_t number) { return impl_->storage->get_trial_by_number(id(), number); }

bool Study::should_prune(int64_t number) {
  std::lock_guard lock(impl_->mu);
  FrozenTrial t = impl_->storage->get_trial_by_number(id(), number);
  if (t.state != TrialState::kRunning)
    throw TrialStateError("trial " + std::to_string(number) + " is not running (" + to_string(t.state) + ")");
  impl_->view.invalidate();
  return impl_->pruner->should_prune(impl_->view, t);
}

void Study::report(int64_t number, int64_t step, double value, int objective) {
  if (step < 0) throw ValueError("report: step must be >= 0, got " + std::to_string(step));
  if (objective < 0 || static_cast<size_t>(objective) >= directions().size())
    throw ValueError("report: objective index " + std::to_string(objective) + " out of range");
  FrozenTrial t = impl_->storage->get_trial_by_number(id(), number);
  impl_->storage->set_trial_intermediate_value(t.id, step, objective, value);
}

void Study::set_user_attr(const std::string& key, const json& value) {
  impl_->storage->set_study_user_attr(id(), key, value);
}

json Study::user_attrs() { return impl_->storage->get_study(id()).user_attrs; }

std::vector<int64_t> Study::fail_stale_trials(double grace_seconds) {
  if (!(grace_seconds >= 0)) throw ValueError("fail_stale_trials: grace_seconds must be >= 0");
  return impl_->fail_stale(grace_seconds);
}

}  // namespace bbo
