// neural_sa.cc — the policy network, the proposals, the annealer and the four problems of neural_sa.h.
#include "plugins/neural_sa/neural_sa.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace bbo::neural_sa {

// ---- policy ----------------------------------------------------------------------------------------------

Mlp::Mlp(int in_, int hidden_) : in(in_), hidden(hidden_), w1(in_ * hidden_), b1(hidden_), w2(hidden_) {}

double Mlp::score(const double* x) const {
  double out = b2;
  const double* w = w1.data();
  for (int h = 0; h < hidden; ++h, w += in) {
    double a = b1[h];
    for (int k = 0; k < in; ++k) a += w[k] * x[k];
    if (a > 0.0) out += w2[h] * a;
  }
  return out;
}

Policy::Policy(std::string problem, const std::vector<int>& in_sizes, int hidden, std::mt19937_64& rng)
    : problem_(std::move(problem)) {
  for (int in : in_sizes) {
    Mlp m(in, hidden);
    const double a1 = std::sqrt(6.0 / (in + hidden)), a2 = std::sqrt(6.0 / (hidden + 1));
    std::uniform_real_distribution<double> u1(-a1, a1), u2(-a2, a2);
    for (double& w : m.w1) w = u1(rng);
    for (double& b : m.b1) b = 0.01;
    for (double& w : m.w2) w = u2(rng);
    m.b2 = 0.01;
    mlps_.push_back(std::move(m));
  }
}

int Policy::num_params() const {
  int n = 0;
  for (const Mlp& m : mlps_) n += m.num_params();
  return n;
}

std::vector<double> Policy::params() const {
  std::vector<double> p;
  for (const Mlp& m : mlps_) {
    p.insert(p.end(), m.w1.begin(), m.w1.end());
    p.insert(p.end(), m.b1.begin(), m.b1.end());
    p.insert(p.end(), m.w2.begin(), m.w2.end());
    p.push_back(m.b2);
  }
  return p;
}

void Policy::set_params(const std::vector<double>& p) {
  if (static_cast<int>(p.size()) != num_params())
    throw std::invalid_argument("neural_sa: policy expects " + std::to_string(num_params()) + " parameters, got " +
                                std::to_string(p.size()));
  size_t k = 0;
  for (Mlp& m : mlps_) {
    for (double& w : m.w1) w = p[k++];
    for (double& b : m.b1) b = p[k++];
    for (double& w : m.w2) w = p[k++];
    m.b2 = p[k++];
  }
}

std::string Policy::to_text() const {
  std::ostringstream os;
  os << "neural_sa-policy 1\nproblem " << problem_ << "\nstages " << mlps_.size() << "\n";
  char buf[40];
  for (const Mlp& m : mlps_) {
    os << "mlp " << m.in << " " << m.hidden << "\n";
    Policy one;
    one.mlps_ = {m};
    bool first = true;
    for (double v : one.params()) {
      std::snprintf(buf, sizeof buf, "%.17g", v);
      os << (first ? "" : " ") << buf;
      first = false;
    }
    os << "\n";
  }
  return os.str();
}

Policy Policy::from_text(const std::string& text) {
  std::istringstream is(text);
  std::string tag, key;
  int version = 0, stages = 0;
  Policy p;
  if (!(is >> tag >> version) || tag != "neural_sa-policy" || version != 1)
    throw std::invalid_argument("neural_sa: policy text does not start with 'neural_sa-policy 1'");
  if (!(is >> key >> p.problem_) || key != "problem")
    throw std::invalid_argument("neural_sa: policy text lacks the 'problem' line");
  if (!(is >> key >> stages) || key != "stages" || stages < 1 || stages > 2)
    throw std::invalid_argument("neural_sa: policy text needs 'stages 1' or 'stages 2'");
  for (int s = 0; s < stages; ++s) {
    int in = 0, hidden = 0;
    if (!(is >> key >> in >> hidden) || key != "mlp" || in < 1 || hidden < 1 || in > 1000 || hidden > 1000)
      throw std::invalid_argument("neural_sa: policy stage " + std::to_string(s) + " has no valid 'mlp IN HIDDEN'");
    Mlp m(in, hidden);
    std::vector<double> v(m.num_params());
    for (double& x : v)
      if (!(is >> x) || !std::isfinite(x))
        throw std::invalid_argument("neural_sa: policy stage " + std::to_string(s) + " has too few or non-finite parameters");
    Policy one;
    one.mlps_ = {m};
    one.set_params(v);
    p.mlps_.push_back(one.mlps_[0]);
  }
  if (is >> key) throw std::invalid_argument("neural_sa: policy text has trailing data '" + key + "'");
  return p;
}

Policy Policy::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("neural_sa: cannot read policy file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return from_text(ss.str());
}

void Policy::scores(int stage, const double* features, int n, double* out) const {
  const Mlp& m = mlps_.at(stage);
  for (int k = 0; k < n; ++k) out[k] = m.score(features + static_cast<size_t>(k) * m.in);
}

// ---- proposals -------------------------------------------------------------------------------------------

int sample_softmax(const std::vector<double>& scores, const std::vector<char>& legal, bool greedy,
                   std::mt19937_64& rng) {
  const int n = static_cast<int>(scores.size());
  int best = -1;
  for (int k = 0; k < n; ++k)
    if (legal[k] && (best < 0 || scores[k] > scores[best])) best = k;
  if (best < 0 || greedy) return best;
  const double mx = scores[best];
  double total = 0.0;
  thread_local std::vector<double> p;
  p.assign(n, 0.0);
  for (int k = 0; k < n; ++k)
    if (legal[k]) total += (p[k] = std::exp(scores[k] - mx));
  double u = std::uniform_real_distribution<double>(0.0, total)(rng);
  int last = best;
  for (int k = 0; k < n; ++k) {
    if (!legal[k]) continue;
    last = k;
    if (u < p[k]) return k;
    u -= p[k];
  }
  return last;  // rounding
}

namespace {
// Uniform over the legal candidates: rejection sampling (cheap when most are legal), then an exact scan.
template <class Legal>
int uniform_legal(int n, Legal legal, std::mt19937_64& rng) {
  if (n <= 0) return -1;
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int t = 0; t < 8; ++t) {
    const int k = pick(rng);
    if (legal(k)) return k;
  }
  thread_local std::vector<int> ok;
  ok.clear();
  for (int k = 0; k < n; ++k)
    if (legal(k)) ok.push_back(k);
  if (ok.empty()) return -1;
  return ok[std::uniform_int_distribution<size_t>(0, ok.size() - 1)(rng)];
}
}  // namespace

Move VanillaProposal::propose(const Problem& p, double, std::mt19937_64& rng) const {
  Move m;
  m.i = uniform_legal(p.num_items(), [&](int i) { return p.legal1(i); }, rng);
  if (m.i < 0) return m;
  if (p.stages() == 2) {
    m.j = uniform_legal(p.num_second(m.i), [&](int j) { return p.legal2(m.i, j); }, rng);
    if (m.j < 0) m.i = -1;
  }
  if (m.i >= 0 && p.continuous()) m.z = std::normal_distribution<double>(0.0, 1.0)(rng);
  return m;
}

Move PolicyProposal::propose(const Problem& p, double temperature, std::mt19937_64& rng) const {
  if (policy_.stages() != p.stages() || policy_.mlp(0).in != p.num_features1() ||
      (p.stages() == 2 && policy_.mlp(1).in != p.num_features2()))
    throw std::invalid_argument("neural_sa: policy for '" + policy_.problem() + "' does not fit problem '" +
                                p.name() + "' (stages or feature counts differ)");
  thread_local std::vector<double> feat, sc;
  thread_local std::vector<char> legal;
  Move m;
  const int n = p.num_items();
  feat.resize(static_cast<size_t>(n) * p.num_features1());
  sc.resize(n);
  legal.resize(n);
  p.features1(temperature, feat.data());
  const Mlp& m1 = policy_.mlp(0);
  for (int i = 0; i < n; ++i)  // masked candidates are not scored
    sc[i] = (legal[i] = p.legal1(i)) ? m1.score(feat.data() + static_cast<size_t>(i) * m1.in) : 0.0;
  m.i = sample_softmax(sc, legal, greedy_, rng);
  if (m.i < 0) return m;
  if (p.stages() == 2) {
    const int n2 = p.num_second(m.i);
    feat.resize(static_cast<size_t>(n2) * p.num_features2());
    sc.resize(n2);
    legal.resize(n2);
    p.features2(m.i, temperature, feat.data());
    const Mlp& m2 = policy_.mlp(1);
    for (int j = 0; j < n2; ++j)
      sc[j] = (legal[j] = p.legal2(m.i, j)) ? m2.score(feat.data() + static_cast<size_t>(j) * m2.in) : 0.0;
    m.j = sample_softmax(sc, legal, greedy_, rng);
    if (m.j < 0) m.i = -1;
  }
  if (m.i >= 0 && p.continuous()) m.z = std::normal_distribution<double>(0.0, 1.0)(rng);
  return m;
}

// ---- annealer --------------------------------------------------------------------------------------------

AnnealResult anneal(Problem& problem, const Proposal& proposal, const AnnealOptions& o, std::mt19937_64& rng) {
  if (o.steps < 0) throw std::invalid_argument("neural_sa: anneal steps must be >= 0");
  if (!(o.t0 > 0.0) || !(o.t_end > 0.0) || o.t_end > o.t0)
    throw std::invalid_argument("neural_sa: anneal needs 0 < t_end <= t0");
  AnnealResult r;
  double cost = problem.cost();
  r.initial_cost = r.best_cost = cost;
  const double log_alpha = o.steps > 0 ? std::log(o.t_end / o.t0) / static_cast<double>(o.steps) : 0.0;
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  for (int64_t k = 0; k < o.steps; ++k) {
    const double t = o.t0 * std::exp(log_alpha * static_cast<double>(k));
    const Move m = proposal.propose(problem, t, rng);
    if (m.i < 0) continue;
    const double d = problem.delta(m);
    // One uniform draw per proposed move, accepted or not, so runs stay aligned across proposals' outcomes.
    const double u = u01(rng);
    const bool accept = d <= 0.0 || u < std::exp(-d / t);
    problem.observe(m, d, accept);
    if (accept) {
      problem.apply(m);
      cost += d;
      ++r.accepted;
      if (cost < r.best_cost) r.best_cost = cost;
    }
  }
  r.steps = o.steps;
  r.final_cost = problem.cost();
  r.best_cost = std::min(r.best_cost, r.final_cost);
  return r;
}

AnnealOptions default_schedule(const std::string& problem, int64_t steps) {
  AnnealOptions o;
  o.steps = steps;
  if (problem == "knapsack") {
    o.t0 = 1.0, o.t_end = 0.1;
  } else if (problem == "bin_packing") {
    o.t0 = 0.1, o.t_end = 1e-4;  // the paper's ES schedule
  } else if (problem == "tsp") {
    o.t0 = 1.0, o.t_end = 1e-4;  // the paper's ES schedule
  } else if (problem == "rosenbrock") {
    o.t0 = 10.0, o.t_end = 1e-4;
  } else if (problem == "space") {
    // The sa annealer's defaults: T0 from initial_acceptance 0.8 on normalised costs, T *= 0.95 per step.
    o.t0 = 1.0 / std::log(1.25);
    o.t_end = o.t0 * std::max(1e-6, std::pow(0.95, static_cast<double>(steps)));
  } else {
    throw std::invalid_argument("neural_sa: unknown problem '" + problem + "'");
  }
  return o;
}

// ---- knapsack --------------------------------------------------------------------------------------------

Knapsack::Knapsack(std::vector<double> weights, std::vector<double> values, double capacity)
    : w_(std::move(weights)), v_(std::move(values)), capacity_(capacity) {
  if (w_.empty() || w_.size() != v_.size())
    throw std::invalid_argument("neural_sa: knapsack needs as many values as weights (at least one)");
  if (!(capacity_ > 0.0)) throw std::invalid_argument("neural_sa: knapsack capacity must be > 0");
  for (size_t i = 0; i < w_.size(); ++i) {
    if (!(w_[i] > 0.0) || !(v_[i] >= 0.0))
      throw std::invalid_argument("neural_sa: knapsack weights must be > 0 and values >= 0");
    log_ratio_.push_back(std::clamp(std::log(std::max(v_[i], 1e-12) / w_[i]), -5.0, 5.0));
  }
  x_.assign(w_.size(), 0);
}

double Knapsack::paper_capacity(int n) { return n == 50 ? 12.5 : (n == 100 ? 25.0 : n / 8.0); }

Knapsack Knapsack::random(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> w(n), v(n);
  for (int i = 0; i < n; ++i) {
    w[i] = std::max(u(rng), 1e-9);
    v[i] = u(rng);
  }
  return Knapsack(std::move(w), std::move(v), paper_capacity(n));
}

void Knapsack::reset(std::mt19937_64&) {
  std::fill(x_.begin(), x_.end(), 0);
  load_ = value_ = 0.0;
  count_ = 0;
}

// Features of item i: [x_i, w_i, v_i, log(v_i/w_i) clipped to [-5, 5], free capacity / C, T].
void Knapsack::features1(double t, double* out) const {
  const double free_frac = (capacity_ - load_) / capacity_;
  for (size_t i = 0; i < w_.size(); ++i, out += 6) {
    out[0] = x_[i];
    out[1] = w_[i];
    out[2] = v_[i];
    out[3] = log_ratio_[i];
    out[4] = free_frac;
    out[5] = t;
  }
}

bool Knapsack::legal1(int i) const { return x_[i] || load_ + w_[i] <= capacity_ + 1e-12; }

double Knapsack::delta(const Move& m) const { return x_[m.i] ? v_[m.i] : -v_[m.i]; }

void Knapsack::apply(const Move& m) {
  const int i = m.i;
  if (x_[i]) {
    load_ -= w_[i], value_ -= v_[i];
  } else {
    load_ += w_[i], value_ += v_[i];
  }
  count_ += x_[i] ? -1 : 1;
  x_[i] = !x_[i];
  if (count_ == 0) load_ = value_ = 0.0;  // no rounding drift when empty
}

// ---- bin packing -----------------------------------------------------------------------------------------

BinPacking::BinPacking(std::vector<double> sizes) : w_(std::move(sizes)) {
  if (w_.size() < 2) throw std::invalid_argument("neural_sa: bin packing needs at least two items");
  for (double w : w_)
    if (!(w > 0.0 && w <= 1.0)) throw std::invalid_argument("neural_sa: bin packing sizes must be in (0, 1]");
  std::mt19937_64 unused(0);
  reset(unused);
}

BinPacking BinPacking::random(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> w(n);
  for (double& x : w) x = std::max(u(rng), 1e-9);
  return BinPacking(std::move(w));
}

void BinPacking::reset(std::mt19937_64&) {
  const int n = num_items();
  bin_.resize(n);
  std::iota(bin_.begin(), bin_.end(), 0);
  load_ = w_;
  count_.assign(n, 1);
  used_ = n;
  refresh_top2();
}

void BinPacking::refresh_top2() {
  top_free_ = second_free_ = -1.0;
  top_bin_ = 0;
  for (int b = 0; b < num_items(); ++b) {
    const double f = 1.0 - load_[b];
    if (f > top_free_) {
      second_free_ = top_free_;
      top_free_ = f, top_bin_ = b;
    } else if (f > second_free_) {
      second_free_ = f;
    }
  }
}

double BinPacking::max_free_except(int bin) const { return bin == top_bin_ ? second_free_ : top_free_; }

// Features of item i: [w_i, free room of i's bin, 1 if i is alone in its bin else 0, T].
void BinPacking::features1(double t, double* out) const {
  for (int i = 0; i < num_items(); ++i, out += 4) {
    const int b = bin_[i];
    out[0] = w_[i];
    out[1] = 1.0 - load_[b];
    out[2] = count_[b] == 1 ? 1.0 : 0.0;
    out[3] = t;
  }
}

bool BinPacking::legal1(int i) const { return max_free_except(bin_[i]) >= w_[i] - 1e-12; }

// Features of bin j for item i: [w_i, free room of j, room left after the move, 1 if j is empty, T].
void BinPacking::features2(int i, double t, double* out) const {
  for (int j = 0; j < num_items(); ++j, out += 5) {
    const double f = 1.0 - load_[j];
    out[0] = w_[i];
    out[1] = f;
    out[2] = f - w_[i];
    out[3] = count_[j] == 0 ? 1.0 : 0.0;
    out[4] = t;
  }
}

bool BinPacking::legal2(int i, int j) const { return j != bin_[i] && 1.0 - load_[j] >= w_[i] - 1e-12; }

double BinPacking::delta(const Move& m) const {
  return (count_[bin_[m.i]] == 1 ? -1.0 : 0.0) + (count_[m.j] == 0 ? 1.0 : 0.0);
}

void BinPacking::apply(const Move& m) {
  const int from = bin_[m.i], to = m.j;
  used_ += static_cast<int>(delta(m));
  load_[from] -= w_[m.i];
  if (--count_[from] == 0) load_[from] = 0.0;
  load_[to] += w_[m.i];
  ++count_[to];
  bin_[m.i] = to;
  refresh_top2();
}

// ---- TSP -------------------------------------------------------------------------------------------------

Tsp::Tsp(std::vector<double> xy) : n_(static_cast<int>(xy.size() / 2)), xy_(std::move(xy)) {
  if (xy_.size() % 2 != 0 || n_ < 5) throw std::invalid_argument("neural_sa: TSP needs at least 5 (x, y) cities");
  tour_.resize(n_);
  std::iota(tour_.begin(), tour_.end(), 0);
  length_ = tour_length(tour_);
}

Tsp Tsp::random(int n, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> xy(2 * static_cast<size_t>(n));
  for (double& v : xy) v = u(rng);
  return Tsp(std::move(xy));
}

double Tsp::dist(int a, int b) const { return std::hypot(xy_[2 * a] - xy_[2 * b], xy_[2 * a + 1] - xy_[2 * b + 1]); }

double Tsp::tour_length(const std::vector<int>& t) const {
  double len = 0.0;
  for (size_t k = 0; k < t.size(); ++k) len += dist(t[k], t[(k + 1) % t.size()]);
  return len;
}

void Tsp::set_tour(std::vector<int> tour) {
  std::vector<int> s = tour;
  std::sort(s.begin(), s.end());
  for (int k = 0; k < n_; ++k)
    if (static_cast<int>(s.size()) != n_ || s[k] != k)
      throw std::invalid_argument("neural_sa: TSP tour must be a permutation of the cities");
  tour_ = std::move(tour);
  length_ = tour_length(tour_);
}

void Tsp::reset(std::mt19937_64& rng) {
  std::iota(tour_.begin(), tour_.end(), 0);
  std::shuffle(tour_.begin(), tour_.end(), rng);
  length_ = tour_length(tour_);
}

// Features of tour position i (city b between a and c): [|ab|, |bc|, a - b (x, y), c - b (x, y), T].
void Tsp::features1(double t, double* out) const {
  for (int i = 0; i < n_; ++i, out += 7) {
    const int a = city(i - 1), b = tour_[i], c = city(i + 1);
    out[0] = dist(a, b);
    out[1] = dist(b, c);
    out[2] = xy_[2 * a] - xy_[2 * b];
    out[3] = xy_[2 * a + 1] - xy_[2 * b + 1];
    out[4] = xy_[2 * c] - xy_[2 * b];
    out[5] = xy_[2 * c + 1] - xy_[2 * b + 1];
    out[6] = t;
  }
}

// Features of position j for the 2-opt move with position i (a = t_i, b = t_i+1, c = t_j, d = t_j+1):
// [|ab|, |cd|, |ac|, |bd|, delta = |ac| + |bd| - |ab| - |cd|, c - a (x, y), d - b (x, y), |t_j-1 c|,
//  |t_i-1 a|, |ad|, T].
void Tsp::features2(int i, double t, double* out) const {
  const int a = tour_[i], b = city(i + 1), ap = city(i - 1);
  const double ab = dist(a, b), apa = dist(ap, a);
  for (int j = 0; j < n_; ++j, out += 13) {
    const int c = tour_[j], d = city(j + 1), cp = city(j - 1);
    const double cd = dist(c, d), ac = dist(a, c), bd = dist(b, d);
    out[0] = ab;
    out[1] = cd;
    out[2] = ac;
    out[3] = bd;
    out[4] = ac + bd - ab - cd;
    out[5] = xy_[2 * c] - xy_[2 * a];
    out[6] = xy_[2 * c + 1] - xy_[2 * a + 1];
    out[7] = xy_[2 * d] - xy_[2 * b];
    out[8] = xy_[2 * d + 1] - xy_[2 * b + 1];
    out[9] = dist(cp, c);
    out[10] = apa;
    out[11] = dist(a, d);
    out[12] = t;
  }
}

bool Tsp::legal2(int i, int j) const {
  const int dj = ((j - i) % n_ + n_) % n_;
  return dj != 0 && dj != 1 && dj != n_ - 1;
}

double Tsp::delta(const Move& m) const {
  const int a = tour_[m.i], b = city(m.i + 1), c = tour_[m.j], d = city(m.j + 1);
  return dist(a, c) + dist(b, d) - dist(a, b) - dist(c, d);
}

void Tsp::apply(const Move& m) {
  const double d = delta(m);
  const int p = std::min(m.i, m.j), q = std::max(m.i, m.j);
  // Reverse positions p+1..q, or equivalently (the same cycle, mirrored) the complement q+1..p+n: the shorter.
  int lo, hi;
  if (q - p <= n_ - (q - p)) {
    lo = p + 1, hi = q;
  } else {
    lo = q + 1, hi = p + n_;
  }
  while (lo < hi) {
    std::swap(tour_[lo % n_], tour_[hi % n_]);
    ++lo, --hi;
  }
  length_ += d;
}

// ---- Rosenbrock ------------------------------------------------------------------------------------------

Rosenbrock::Rosenbrock(double a, double b) : a_(a), b_(b) {
  if (!std::isfinite(a) || !(b >= 0.0)) throw std::invalid_argument("neural_sa: Rosenbrock needs finite a and b >= 0");
  set_x(0.0, 0.0);
}

Rosenbrock Rosenbrock::random(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double a = u(rng);
  const double b = 100.0 * u(rng);
  return Rosenbrock(a, b);
}

double Rosenbrock::scale(int k) { return std::pow(10.0, -3.0 + 0.5 * k); }

double Rosenbrock::energy(double x0, double x1) const {
  return (a_ - x0) * (a_ - x0) + b_ * (x1 - x0 * x0) * (x1 - x0 * x0);
}

void Rosenbrock::set_x(double x0, double x1) {
  x_[0] = x0, x_[1] = x1;
  value_ = energy(x0, x1);
}

void Rosenbrock::reset(std::mt19937_64& rng) {
  std::normal_distribution<double> n(0.0, 1.0);
  const double x0 = n(rng);
  set_x(x0, n(rng));
}

// Features of coordinate i: [x_i, x_other, log10(1 + E), T].
void Rosenbrock::features1(double t, double* out) const {
  const double le = std::log10(1.0 + value_);
  for (int i = 0; i < 2; ++i, out += 4) {
    out[0] = x_[i];
    out[1] = x_[1 - i];
    out[2] = le;
    out[3] = t;
  }
}

// Features of step scale k for coordinate i: [log10 s_k, x_i, log10(1 + E), T].
void Rosenbrock::features2(int i, double t, double* out) const {
  const double le = std::log10(1.0 + value_);
  for (int k = 0; k < kRosenbrockScales; ++k, out += 4) {
    out[0] = -3.0 + 0.5 * k;
    out[1] = x_[i];
    out[2] = le;
    out[3] = t;
  }
}

double Rosenbrock::delta(const Move& m) const {
  double y[2] = {x_[0], x_[1]};
  y[m.i] += scale(m.j) * m.z;
  return energy(y[0], y[1]) - value_;
}

void Rosenbrock::apply(const Move& m) {
  double y[2] = {x_[0], x_[1]};
  y[m.i] += scale(m.j) * m.z;
  set_x(y[0], y[1]);
}

// ---- search-space proposals -------------------------------------------------------------------------------

double space_scale(int k) { return std::pow(10.0, -6.0 + 0.75 * k); }

void SpaceStats::observe(int i, double moved, bool success) {
  ++t;
  last[i] = t;
  succ[i] = 0.8 * succ[i] + 0.2 * (success ? 1.0 : 0.0);
  if (success) lstep[i] = 0.7 * lstep[i] + 0.3 * std::log10(std::max(moved, 1e-9));
}

double space_tlog(double temperature, double initial_temperature) {
  if (!(initial_temperature > 0.0)) return 0.0;
  if (!(temperature > 0.0)) return -1.0;
  return std::clamp(std::log10(temperature / initial_temperature), -6.0, 0.0) / 6.0;
}

void space_features1(const SpaceStats& s, const std::vector<char>& categorical, double tlog, double* out) {
  const int d = s.size();
  for (int i = 0; i < d; ++i, out += kSpaceFeatures1) {
    out[0] = s.succ[i];
    out[1] = s.lstep[i] / 3.0;
    out[2] = std::min(1.0, static_cast<double>(s.t - s.last[i]) / (2.0 * d));
    out[3] = tlog;
    out[4] = categorical[i] ? 1.0 : 0.0;
  }
}

void space_features2(const SpaceStats& s, int i, double tlog, double* out) {
  for (int k = 0; k < kSpaceScales; ++k, out += kSpaceFeatures2) {
    const double ls = -6.0 + 0.75 * k;
    out[0] = ls / 3.0;
    out[1] = s.lstep[i] / 3.0;
    out[2] = s.succ[i];
    out[3] = tlog;
    out[4] = (ls - s.lstep[i]) / 3.0;
  }
}

namespace {
double reflect01(double u) {
  if (!std::isfinite(u)) return 0.5;
  double r = std::fmod(std::fabs(u), 2.0);
  return r > 1.0 ? 2.0 - r : r;
}
}  // namespace

SpaceProblem SpaceProblem::random(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SpaceProblem p;
  const int d = std::uniform_int_distribution<int>(2, 10)(rng);
  p.shape_ = std::uniform_int_distribution<int>(0, 4)(rng);
  bool any = false;
  for (int i = 0; i < d; ++i) {
    p.c_.push_back(0.1 + 0.8 * u(rng));
    const double a = std::pow(10.0, -1.5 + 2.5 * u(rng));
    const bool irrelevant = u(rng) < 0.3;
    p.a_.push_back(irrelevant ? 0.0 : a);
    any = any || !irrelevant;
  }
  if (!any) p.a_[0] = 1.0;
  p.u_.assign(d, 0.5);
  p.categorical_.assign(d, 0);
  p.stats_ = SpaceStats(d);
  // Normalisation: mean |difference| of 5 uniform points.
  std::vector<double> ys;
  for (int k = 0; k < 5; ++k) {
    std::vector<double> x(d);
    for (double& v : x) v = u(rng);
    ys.push_back(p.f(x));
  }
  double s = 0.0;
  for (int a = 0; a < 5; ++a)
    for (int b = a + 1; b < 5; ++b) s += std::abs(ys[a] - ys[b]);
  p.norm_ = std::max(s / 10.0, 1e-12);
  return p;
}

double SpaceProblem::f(const std::vector<double>& u) const {
  const int d = static_cast<int>(u.size());
  double s = 0.0;
  for (int i = 0; i < d; ++i) {
    const double x = u[i] - c_[i];
    switch (shape_) {
      case 0: s += a_[i] * x * x; break;
      case 1: s += a_[i] * std::abs(x); break;
      case 2: s += a_[i] * (x * x + 0.02 * (1.0 - std::cos(2.0 * M_PI * 5.0 * x))); break;
      case 3: {
        const double y = i + 1 < d ? u[i + 1] - c_[i + 1] : 0.0;
        s += a_[i] * ((y - 4.0 * x * x) * (y - 4.0 * x * x) + 0.1 * x * x);
        break;
      }
      default: s += a_[i] * x * x; break;
    }
  }
  if (shape_ == 4) s = std::log1p(100.0 * s);
  return s / norm_;
}

void SpaceProblem::reset(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  double best = std::numeric_limits<double>::infinity();
  std::vector<double> x(u_.size());
  for (int k = 0; k < 5; ++k) {
    for (double& v : x) v = u(rng);
    const double y = f(x);
    if (y < best) best = y, u_ = x;
  }
  value_ = best;
  stats_ = SpaceStats(static_cast<int>(u_.size()));
}

void SpaceProblem::features1(double temperature, double* out) const {
  space_features1(stats_, categorical_, space_tlog(temperature, default_schedule("space", 1).t0), out);
}

void SpaceProblem::features2(int i, double temperature, double* out) const {
  space_features2(stats_, i, space_tlog(temperature, default_schedule("space", 1).t0), out);
}

double SpaceProblem::moved_to(const Move& m) const { return reflect01(u_[m.i] + space_scale(m.j) * m.z); }

double SpaceProblem::delta(const Move& m) const {
  std::vector<double> x = u_;
  x[m.i] = moved_to(m);
  return f(x) - value_;
}

void SpaceProblem::observe(const Move& m, double delta, bool) {
  stats_.observe(m.i, std::abs(moved_to(m) - u_[m.i]), delta < 0.0);
}

void SpaceProblem::apply(const Move& m) {
  u_[m.i] = moved_to(m);
  value_ = f(u_);
}

std::unique_ptr<Problem> make_instance(const std::string& problem, int n, std::mt19937_64& rng) {
  if (problem == "knapsack") return std::make_unique<Knapsack>(Knapsack::random(n, rng));
  if (problem == "bin_packing") return std::make_unique<BinPacking>(BinPacking::random(n, rng));
  if (problem == "tsp") return std::make_unique<Tsp>(Tsp::random(n, rng));
  if (problem == "rosenbrock") return std::make_unique<Rosenbrock>(Rosenbrock::random(rng));
  if (problem == "space") return std::make_unique<SpaceProblem>(SpaceProblem::random(rng));
  throw std::invalid_argument("neural_sa: unknown problem '" + problem +
                              "' (knapsack, bin_packing, tsp, rosenbrock)");
}

}  // namespace bbo::neural_sa
