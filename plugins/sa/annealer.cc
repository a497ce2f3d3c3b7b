// annealer.cc — simulated annealing on the unit cube (see annealer.h).
#include "plugins/sa/annealer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace bbo::sa {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kAdaptGain = 0.5;  // Robbins–Monro gain on log T (adaptive schedule)
// T stays in [T0 / kTemperatureRange, T0 * kTemperatureRange], far from underflow and overflow.
constexpr double kTemperatureRange = 1e100;

double clean(double y) { return std::isnan(y) ? kInf : y; }

// JSON has no infinity: non-finite values are stored as null.
json value_json(double y) { return std::isfinite(y) ? json(y) : json(nullptr); }
double value_from(const json& j) { return j.is_number() ? j.get<double>() : kInf; }

std::vector<double> uniform_point(const SearchSpace& space, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::vector<double> u(space.size());
  for (size_t k = 0; k < u.size(); ++k) u[k] = snap_unit(space.distributions()[k], unif(rng));
  return u;
}

// The smallest multiple of batch that is >= init_points: every generation then keeps `batch` workers busy.
int initial_generation_size(const AnnealerOptions& o) {
  return (std::max(o.init_points, 1) + o.batch - 1) / o.batch * o.batch;
}

}  // namespace

void validate(const AnnealerOptions& o) {
  if (o.batch < 1) throw std::invalid_argument("'batch' must be >= 1, got " + std::to_string(o.batch));
  if (o.init_points < 1)
    throw std::invalid_argument("'init_points' must be >= 1, got " + std::to_string(o.init_points));
  if (!(o.cooling > 0.0 && o.cooling <= 1.0))
    throw std::invalid_argument("'cooling' must be in (0, 1], got " + std::to_string(o.cooling));
  if (!(o.target_acceptance > 0.0 && o.target_acceptance < 1.0))
    throw std::invalid_argument("'target_acceptance' must be in (0, 1), got " + std::to_string(o.target_acceptance));
  if (!(o.initial_acceptance > 0.0 && o.initial_acceptance < 1.0))
    throw std::invalid_argument("'initial_acceptance' must be in (0, 1), got " + std::to_string(o.initial_acceptance));
  if (o.t0 && !(*o.t0 > 0.0 && std::isfinite(*o.t0)))
    throw std::invalid_argument("'t0' must be > 0, got " + std::to_string(*o.t0));
  if (o.restart_after < 0)
    throw std::invalid_argument("'restart_after' must be >= 0, got " + std::to_string(o.restart_after));
}

Annealer::Annealer(SearchSpace space, AnnealerOptions options, std::unique_ptr<Proposal> proposal)
    : space_(std::move(space)), options_(options), proposal_(std::move(proposal)), current_value_(kInf),
      best_value_(kInf) {
  validate(options_);
  if (space_.empty()) throw std::invalid_argument("annealer: empty search space");
  if (!proposal_) throw std::invalid_argument("annealer: no proposal");
  init_size_ = initial_generation_size(options_);
}

std::optional<double> Annealer::mean_abs_difference(std::vector<double> values) {
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  const size_t n = values.size();
  if (n < 2) return std::nullopt;
  std::sort(values.begin(), values.end());
  // sum_{i<j} (y_(j) - y_(i)) = sum_k (2k - n + 1) y_(k) over the sorted values.
  double sum = 0.0;
  for (size_t k = 0; k < n; ++k) sum += (2.0 * static_cast<double>(k) - static_cast<double>(n) + 1.0) * values[k];
  return sum / (0.5 * static_cast<double>(n) * static_cast<double>(n - 1));
}

void Annealer::set_initial_temperature(double typical_uphill) {
  t0_ = typical_uphill / -std::log(options_.initial_acceptance);
  temperature_ = t0_;
}

void Annealer::start(const std::vector<std::vector<double>>& xs, const std::vector<double>& ys) {
  if (xs.size() != ys.size()) throw std::invalid_argument("annealer: xs and ys differ in length");
  phase_ = Phase::kInit;
  init_size_ = initial_generation_size(options_);
  current_.clear();
  best_.clear();
  current_value_ = best_value_ = kInf;
  steps_ = accepted_ = stall_ = 0;
  restarts_ = 0;
  proposal_->reset();
  t0_ = temperature_ = 0.0;
  if (options_.t0) t0_ = temperature_ = *options_.t0;

  std::vector<double> finite;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i].size() != space_.size()) throw std::invalid_argument("annealer: warm-start point of wrong dimension");
    const double y = clean(ys[i]);
    if (std::isfinite(y)) finite.push_back(y);
    if (best_.empty() || y < best_value_) {
      best_ = xs[i];
      best_value_ = y;
    }
  }
  for (size_t k = 0; k < best_.size(); ++k) best_[k] = snap_unit(space_.distributions()[k], best_[k]);
  if (finite.size() >= 2) {
    current_ = best_;
    current_value_ = best_value_;
    phase_ = Phase::kMove;
    if (t0_ == 0.0) {
      auto spread = mean_abs_difference(finite);
      if (spread && *spread > 0.0) set_initial_temperature(*spread);
    }
  }
}

std::vector<std::vector<double>> Annealer::ask(std::mt19937_64& rng) const {
  std::vector<std::vector<double>> out;
  if (phase_ == Phase::kInit) {
    for (int i = 0; i < init_size_; ++i) out.push_back(uniform_point(space_, rng));
    return out;
  }
  const ProposalInput input{current_, current_value_, temperature_, t0_, steps_};
  for (int i = 0; i < options_.batch; ++i) {
    std::vector<double> c = proposal_->propose(space_, input, rng);
    if (c.size() != space_.size()) throw std::logic_error("proposal '" + proposal_->name() + "': wrong dimension");
    for (double& u : c) u = std::clamp(std::isnan(u) ? 0.5 : u, 0.0, 1.0);
    out.push_back(std::move(c));
  }
  return out;
}

void Annealer::tell(const std::vector<std::vector<double>>& x, const std::vector<double>& y_in,
                    std::mt19937_64& rng) {
  if (x.empty() || x.size() != y_in.size()) throw std::invalid_argument("annealer: tell needs one value per point");
  std::vector<double> y(y_in.size());
  std::transform(y_in.begin(), y_in.end(), y.begin(), clean);
  const size_t ib = static_cast<size_t>(std::min_element(y.begin(), y.end()) - y.begin());
  const bool improved = best_.empty() || y[ib] < best_value_;
  if (improved) {
    best_ = x[ib];
    best_value_ = y[ib];
  }

  if (phase_ == Phase::kInit) {
    // The first chain starts at the best point known (a warm-start point may beat the initial ones); a
    // random restart starts at the best of its new points.
    current_ = restarts_ == 0 ? best_ : x[ib];
    current_value_ = restarts_ == 0 ? best_value_ : y[ib];
    if (t0_ == 0.0) {
      std::vector<double> values = y;
      if (!improved) values.push_back(best_value_);  // a warm-start value counts towards the spread
      auto spread = mean_abs_difference(values);
      if (spread && *spread > 0.0) set_initial_temperature(*spread);
    }
    phase_ = Phase::kMove;
    return;
  }

  const std::vector<double> from = current_;
  const double from_value = current_value_;
  const double t_decision = temperature_;
  const double delta = y[ib] - current_value_;
  bool accept;
  if (!(delta > 0.0) && !std::isnan(delta)) {
    accept = true;  // downhill or level (inf - inf is NaN: a failed candidate never replaces a failed state)
  } else if (std::isnan(delta)) {
    accept = false;
  } else {
    if (t0_ == 0.0 && std::isfinite(delta)) set_initial_temperature(delta);  // first uphill delta sets T0
    const double p = (temperature_ > 0.0 && std::isfinite(delta)) ? std::exp(-delta / temperature_) : 0.0;
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    accept = unif(rng) < p;
    if (options_.schedule == Schedule::kAdaptive && std::isfinite(delta) && temperature_ > 0.0) {
      const double target = options_.target_acceptance * std::pow(options_.cooling, static_cast<double>(steps_));
      temperature_ *= std::exp(kAdaptGain * (target - p));
      temperature_ = std::clamp(temperature_, t0_ / kTemperatureRange, t0_ * kTemperatureRange);
    }
  }
  if (accept) {
    current_ = x[ib];
    current_value_ = y[ib];
    ++accepted_;
  }
  for (size_t i = 0; i < x.size(); ++i)
    proposal_->observe(space_, ProposalFeedback{from, from_value, x[i], y[i], accept && i == ib, t_decision});
  if (options_.schedule == Schedule::kExponential && temperature_ > 0.0)
    temperature_ = std::max(temperature_ * options_.cooling, t0_ / kTemperatureRange);
  ++steps_;
  stall_ = improved ? 0 : stall_ + 1;
  if (options_.restart_after > 0 && stall_ >= options_.restart_after) restart();
}

void Annealer::restart() {
  // The temperature is left to the schedule: re-heating to T0 on every restart would keep a chain that
  // stalls while hot (best not improving for restart_after generations) hot forever.
  ++restarts_;
  stall_ = 0;
  proposal_->reset();
  if (options_.restart_from == RestartFrom::kBest) {
    current_ = best_;
    current_value_ = best_value_;
  } else {
    phase_ = Phase::kInit;
    init_size_ = options_.batch;
  }
}

json Annealer::to_json() const {
  return {{"phase", phase_ == Phase::kInit ? "init" : "move"},
          {"init_size", init_size_},
          {"current", current_},
          {"current_value", value_json(current_value_)},
          {"best", best_},
          {"best_value", value_json(best_value_)},
          {"temperature", temperature_},
          {"t0", t0_},
          {"steps", steps_},
          {"accepted", accepted_},
          {"stall", stall_},
          {"restarts", restarts_},
          {"proposal", {{"name", proposal_->name()}, {"state", proposal_->to_json()}}}};
}

void Annealer::load_json(const json& s) {
  try {
    const std::string phase = s.at("phase").get<std::string>();
    if (phase != "init" && phase != "move") throw std::invalid_argument("unknown phase '" + phase + "'");
    auto current = s.at("current").get<std::vector<double>>();
    auto best = s.at("best").get<std::vector<double>>();
    if ((!current.empty() && current.size() != space_.size()) || (!best.empty() && best.size() != space_.size()))
      throw std::invalid_argument("points of the wrong dimension");
    if (phase == "move" && current.empty()) throw std::invalid_argument("move phase without a current point");
    const json& p = s.at("proposal");
    if (p.at("name").get<std::string>() != proposal_->name())
      throw std::invalid_argument("state of proposal '" + p.at("name").get<std::string>() + "', not '" +
                                  proposal_->name() + "'");
    proposal_->load_json(p.at("state"));
    phase_ = phase == "init" ? Phase::kInit : Phase::kMove;
    init_size_ = s.at("init_size").get<int>();
    current_ = std::move(current);
    best_ = std::move(best);
    current_value_ = value_from(s.at("current_value"));
    best_value_ = value_from(s.at("best_value"));
    temperature_ = s.at("temperature").get<double>();
    t0_ = s.at("t0").get<double>();
    steps_ = s.at("steps").get<int64_t>();
    accepted_ = s.at("accepted").get<int64_t>();
    stall_ = s.at("stall").get<int64_t>();
    restarts_ = s.at("restarts").get<int>();
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("annealer: malformed state: ") + e.what());
  }
}

}  // namespace bbo::sa
