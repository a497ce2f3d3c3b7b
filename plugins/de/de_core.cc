// de_core.cc — SHADE and DE/rand/1/bin on the unit cube.
#include "plugins/de/de_core.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>
#include <stdexcept>

namespace bbo::de {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kMaxRedraws = 16;  // attempts to move a trial off its parent's decoded point

// JSON has no ±inf/NaN (nlohmann writes null), and a failed point's +inf or an unevaluated member's NaN must
// survive a round trip through storage.
json number_to_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}
double number_from_json(const json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "nan") return kNaN;
    if (s == "inf") return kInf;
    if (s == "-inf") return -kInf;
    throw std::invalid_argument("de: bad number '" + s + "' in state");
  }
  return j.get<double>();
}
json numbers_to_json(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(number_to_json(x));
  return a;
}
std::vector<double> numbers_from_json(const json& j) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(number_from_json(e));
  return v;
}

double uniform01(std::mt19937_64& rng) { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }
int uniform_int(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

double reflect01(double u) {
  if (!std::isfinite(u)) return 0.5;
  u = std::fmod(std::fabs(u), 2.0);
  return u > 1.0 ? 2.0 - u : u;
}

double as_value(double v) { return std::isnan(v) ? kInf : v; }

}  // namespace

int default_popsize(int dim) { return std::clamp(5 * dim, 10, 50); }

void DifferentialEvolution::validate() const {
  const DeOptions& o = options_;
  if (dim_ < 1) throw std::invalid_argument("de: dimension must be >= 1");
  if (o.popsize != 0 && o.popsize < 4) throw std::invalid_argument("de: popsize must be 0 (auto) or >= 4");
  if (o.variant != "shade" && o.variant != "rand1bin")
    throw std::invalid_argument("de: variant must be 'shade' or 'rand1bin', got '" + o.variant + "'");
  if (!(o.f > 0.0 && o.f <= 2.0)) throw std::invalid_argument("de: f must be in (0, 2]");
  if (!(o.cr >= 0.0 && o.cr <= 1.0)) throw std::invalid_argument("de: cr must be in [0, 1]");
  if (o.memory_size < 1) throw std::invalid_argument("de: memory_size must be >= 1");
  if (!(o.p_max > 0.0 && o.p_max <= 1.0)) throw std::invalid_argument("de: p_max must be in (0, 1]");
  if (!(o.archive_rate >= 0.0 && std::isfinite(o.archive_rate)))
    throw std::invalid_argument("de: archive_rate must be >= 0");
  if (o.bounds != "midpoint" && o.bounds != "reflect")
    throw std::invalid_argument("de: bounds must be 'midpoint' or 'reflect', got '" + o.bounds + "'");
}

DifferentialEvolution::DifferentialEvolution(const DeOptions& options, int dim, std::mt19937_64& rng,
                                             const std::vector<std::vector<double>>& warm_x,
                                             const std::vector<double>& warm_f)
    : options_(options), dim_(dim) {
  validate();
  const int n = options_.popsize > 0 ? options_.popsize : default_popsize(dim);
  m_f_.assign(static_cast<size_t>(options_.memory_size), 0.5);
  m_cr_.assign(static_cast<size_t>(options_.memory_size), 0.5);
  best_f_ = kInf;

  // Warm start: the best finite-valued points first.
  std::vector<size_t> order;
  for (size_t i = 0; i < warm_x.size() && i < warm_f.size(); ++i)
    if (std::isfinite(warm_f[i]) && warm_x[i].size() == static_cast<size_t>(dim)) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return warm_f[a] < warm_f[b]; });
  if (order.size() > static_cast<size_t>(n)) order.resize(static_cast<size_t>(n));
  for (size_t i : order) {
    std::vector<double> p = warm_x[i];
    for (double& u : p) u = std::clamp(u, 0.0, 1.0);
    x_.push_back(p);
    fx_.push_back(warm_f[i]);
    if (warm_f[i] < best_f_) {
      best_f_ = warm_f[i];
      best_x_ = p;
    }
  }
  // Latin hypercube for the rest: one point per stratum and dimension.
  const int rest = n - static_cast<int>(x_.size());
  if (rest > 0) {
    std::vector<std::vector<double>> lhs(static_cast<size_t>(rest), std::vector<double>(static_cast<size_t>(dim)));
    for (int j = 0; j < dim; ++j) {
      std::vector<int> perm(static_cast<size_t>(rest));
      std::iota(perm.begin(), perm.end(), 0);
      for (int i = rest - 1; i > 0; --i) std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(uniform_int(rng, 0, i))]);
      for (int i = 0; i < rest; ++i)
        lhs[static_cast<size_t>(i)][static_cast<size_t>(j)] = (perm[static_cast<size_t>(i)] + uniform01(rng)) / rest;
    }
    for (auto& p : lhs) {
      x_.push_back(std::move(p));
      fx_.push_back(kNaN);
    }
  }
}

double DifferentialEvolution::repair(double mutant, double parent) const {
  if (mutant >= 0.0 && mutant <= 1.0) return mutant;
  if (options_.bounds == "reflect") return reflect01(mutant);
  // SHADE: halfway between the parent and the bound it crossed.
  return mutant < 0.0 ? 0.5 * parent : 0.5 * (1.0 + parent);
}

std::vector<std::vector<double>> DifferentialEvolution::ask(std::mt19937_64& rng, const Canonical& canonical,
                                                            const std::vector<bool>& discrete) {
  const int n = popsize();
  pending_index_.clear();
  pending_x_.clear();
  pending_f_.clear();
  pending_cr_.clear();
  for (int i = 0; i < n; ++i)
    if (std::isnan(fx_[static_cast<size_t>(i)])) pending_index_.push_back(i);
  if (!pending_index_.empty()) {
    pending_init_ = true;
    for (int i : pending_index_) pending_x_.push_back(x_[static_cast<size_t>(i)]);
    return pending_x_;
  }
  pending_init_ = false;

  const bool shade = options_.variant == "shade";
  std::vector<int> rank(static_cast<size_t>(n));
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(),
                   [&](int a, int b) { return fx_[static_cast<size_t>(a)] < fx_[static_cast<size_t>(b)]; });
  std::vector<int> discrete_dims;
  for (size_t j = 0; j < discrete.size() && j < static_cast<size_t>(dim_); ++j)
    if (discrete[j]) discrete_dims.push_back(static_cast<int>(j));
  const int pool = n + static_cast<int>(archive_.size());
  auto member = [&](int k) -> const std::vector<double>& {
    return k < n ? x_[static_cast<size_t>(k)] : archive_[static_cast<size_t>(k - n)];
  };

  for (int i = 0; i < n; ++i) {
    const std::vector<double>& xi = x_[static_cast<size_t>(i)];
    double f = options_.f, cr = options_.cr;
    std::vector<double> v(static_cast<size_t>(dim_));
    if (shade) {
      const auto r = static_cast<size_t>(uniform_int(rng, 0, options_.memory_size - 1));
      cr = std::clamp(std::normal_distribution<double>(m_cr_[r], 0.1)(rng), 0.0, 1.0);
      do {
        f = m_f_[r] + 0.1 * std::tan(std::numbers::pi * (uniform01(rng) - 0.5));
      } while (!(f > 0.0));
      f = std::min(f, 1.0);
      const double p_min = std::min(2.0 / n, options_.p_max);
      const double p = p_min + (options_.p_max - p_min) * uniform01(rng);
      const int n_best = std::max(1, static_cast<int>(std::lround(p * n)));
      const int pbest = rank[static_cast<size_t>(uniform_int(rng, 0, n_best - 1))];
      int r1, r2;
      do r1 = uniform_int(rng, 0, n - 1); while (r1 == i);
      do r2 = uniform_int(rng, 0, pool - 1); while (r2 == i || r2 == r1);
      const auto& xp = x_[static_cast<size_t>(pbest)];
      const auto& x1 = x_[static_cast<size_t>(r1)];
      const auto& x2 = member(r2);
      for (size_t j = 0; j < v.size(); ++j) v[j] = xi[j] + f * (xp[j] - xi[j]) + f * (x1[j] - x2[j]);
    } else {
      int r1, r2, r3;
      do r1 = uniform_int(rng, 0, n - 1); while (r1 == i);
      do r2 = uniform_int(rng, 0, n - 1); while (r2 == i || r2 == r1);
      do r3 = uniform_int(rng, 0, n - 1); while (r3 == i || r3 == r1 || r3 == r2);
      const auto &x1 = x_[static_cast<size_t>(r1)], &x2 = x_[static_cast<size_t>(r2)], &x3 = x_[static_cast<size_t>(r3)];
      for (size_t j = 0; j < v.size(); ++j) v[j] = x1[j] + f * (x2[j] - x3[j]);
    }
    // Binomial crossover; j_rand guarantees one mutant coordinate.
    const int j_rand = uniform_int(rng, 0, dim_ - 1);
    std::vector<double> u = xi;
    for (int j = 0; j < dim_; ++j)
      if (j == j_rand || uniform01(rng) < cr) u[static_cast<size_t>(j)] = repair(v[static_cast<size_t>(j)], xi[static_cast<size_t>(j)]);
    if (canonical && !discrete_dims.empty()) {
      const std::vector<double> parent = canonical(xi);
      for (int k = 0; k < kMaxRedraws && canonical(u) == parent; ++k)
        u[static_cast<size_t>(discrete_dims[static_cast<size_t>(uniform_int(rng, 0, static_cast<int>(discrete_dims.size()) - 1))])] = uniform01(rng);
    }
    pending_index_.push_back(i);
    pending_x_.push_back(std::move(u));
    pending_f_.push_back(f);
    pending_cr_.push_back(cr);
  }
  return pending_x_;
}

void DifferentialEvolution::tell(const std::vector<double>& values, std::mt19937_64& rng) {
  if (values.size() != pending_x_.size() || pending_x_.empty())
    throw std::invalid_argument("de: tell got " + std::to_string(values.size()) + " values for a generation of " +
                                std::to_string(pending_x_.size()) + " points");
  for (size_t k = 0; k < values.size(); ++k) {
    const double y = as_value(values[k]);
    if (y < best_f_ || best_x_.empty()) {
      best_f_ = y;
      best_x_ = pending_x_[k];
    }
  }
  if (pending_init_) {
    for (size_t k = 0; k < values.size(); ++k) fx_[static_cast<size_t>(pending_index_[k])] = as_value(values[k]);
  } else {
    std::vector<double> s_f, s_cr, s_w;
    for (size_t k = 0; k < values.size(); ++k) {
      const auto i = static_cast<size_t>(pending_index_[k]);
      const double y = as_value(values[k]);
      if (!(y <= fx_[i])) continue;
      if (y < fx_[i]) {
        archive_.push_back(x_[i]);
        s_f.push_back(pending_f_[k]);
        s_cr.push_back(pending_cr_[k]);
        s_w.push_back(fx_[i] - y);  // +inf when the parent had failed
      }
      x_[i] = pending_x_[k];
      fx_[i] = y;
    }
    const auto capacity = static_cast<size_t>(std::lround(options_.archive_rate * popsize()));
    while (archive_.size() > capacity)
      archive_.erase(archive_.begin() + uniform_int(rng, 0, static_cast<int>(archive_.size()) - 1));
    if (options_.variant == "shade" && !s_f.empty()) {
      // An improvement over a failed parent is unmeasurable: weigh it like the largest finite one (1 if none).
      double w_max = 0.0;
      for (double w : s_w)
        if (std::isfinite(w)) w_max = std::max(w_max, w);
      if (w_max <= 0.0) w_max = 1.0;
      double sw = 0.0;
      for (double& w : s_w) {
        if (!std::isfinite(w)) w = w_max;
        sw += w;
      }
      if (!(sw > 0.0)) {
        for (double& w : s_w) w = 1.0;
        sw = static_cast<double>(s_w.size());
      }
      double num = 0.0, den = 0.0, mcr = 0.0;
      for (size_t k = 0; k < s_f.size(); ++k) {
        const double w = s_w[k] / sw;
        num += w * s_f[k] * s_f[k];
        den += w * s_f[k];
        mcr += w * s_cr[k];
      }
      const auto slot = static_cast<size_t>(memory_pos_);
      m_f_[slot] = den > 0.0 ? num / den : m_f_[slot];
      m_cr_[slot] = mcr;
      memory_pos_ = (memory_pos_ + 1) % options_.memory_size;
    }
  }
  ++generation_;
  pending_init_ = false;
  pending_index_.clear();
  pending_x_.clear();
  pending_f_.clear();
  pending_cr_.clear();
}

json DifferentialEvolution::to_json() const {
  json points = json::array();
  for (const auto& p : x_) points.push_back(p);
  json archive = json::array();
  for (const auto& p : archive_) archive.push_back(p);
  return {{"options",
           {{"popsize", options_.popsize},
            {"variant", options_.variant},
            {"f", options_.f},
            {"cr", options_.cr},
            {"memory_size", options_.memory_size},
            {"p_max", options_.p_max},
            {"archive_rate", options_.archive_rate},
            {"bounds", options_.bounds}}},
          {"dim", dim_},
          {"x", points},
          {"fx", numbers_to_json(fx_)},
          {"archive", archive},
          {"m_f", m_f_},
          {"m_cr", m_cr_},
          {"memory_pos", memory_pos_},
          {"generation", generation_},
          {"best_x", best_x_},
          {"best_f", number_to_json(best_f_)},
          {"pending_init", pending_init_},
          {"pending_index", pending_index_},
          {"pending_x", pending_x_},
          {"pending_f", pending_f_},
          {"pending_cr", pending_cr_}};
}

DifferentialEvolution DifferentialEvolution::from_json(const json& j) {
  DifferentialEvolution de;
  const json& o = j.at("options");
  de.options_.popsize = o.at("popsize").get<int>();
  de.options_.variant = o.at("variant").get<std::string>();
  de.options_.f = o.at("f").get<double>();
  de.options_.cr = o.at("cr").get<double>();
  de.options_.memory_size = o.at("memory_size").get<int>();
  de.options_.p_max = o.at("p_max").get<double>();
  de.options_.archive_rate = o.at("archive_rate").get<double>();
  de.options_.bounds = o.at("bounds").get<std::string>();
  de.dim_ = j.at("dim").get<int>();
  de.validate();
  de.x_ = j.at("x").get<std::vector<std::vector<double>>>();
  de.fx_ = numbers_from_json(j.at("fx"));
  de.archive_ = j.at("archive").get<std::vector<std::vector<double>>>();
  de.m_f_ = j.at("m_f").get<std::vector<double>>();
  de.m_cr_ = j.at("m_cr").get<std::vector<double>>();
  de.memory_pos_ = j.at("memory_pos").get<int>();
  de.generation_ = j.at("generation").get<int64_t>();
  de.best_x_ = j.at("best_x").get<std::vector<double>>();
  de.best_f_ = number_from_json(j.at("best_f"));
  de.pending_init_ = j.at("pending_init").get<bool>();
  de.pending_index_ = j.at("pending_index").get<std::vector<int>>();
  de.pending_x_ = j.at("pending_x").get<std::vector<std::vector<double>>>();
  de.pending_f_ = j.at("pending_f").get<std::vector<double>>();
  de.pending_cr_ = j.at("pending_cr").get<std::vector<double>>();
  const size_t n = de.x_.size();
  if (n < 4 || de.fx_.size() != n || de.m_f_.size() != static_cast<size_t>(de.options_.memory_size) ||
      de.m_cr_.size() != de.m_f_.size() || de.memory_pos_ < 0 || de.memory_pos_ >= de.options_.memory_size ||
      de.pending_x_.size() != de.pending_index_.size())
    throw std::invalid_argument("de: malformed state");
  for (const auto& p : de.x_)
    if (p.size() != static_cast<size_t>(de.dim_)) throw std::invalid_argument("de: malformed state (dimension)");
  for (int i : de.pending_index_)
    if (i < 0 || static_cast<size_t>(i) >= n) throw std::invalid_argument("de: malformed state (pending index)");
  return de;
}

}  // namespace bbo::de
