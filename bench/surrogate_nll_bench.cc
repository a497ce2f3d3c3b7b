// bench/surrogate_nll_bench.cc — held-out predictive NLL of the surrogates (gp with MAP hyper-parameters, pfn,
// and bnn when its plugin is built) and the wall time of one suggestion with each.
//
// usage: bbo_bench_surrogate-nll [--ns 10,20,50] [--dims 2,6] [--datasets 20] [--test 50]
//                                [--time-ns 20,50,100] [--time-dim 6] [--reps 3] [--surrogates gp,pfn,bnn] [--quick]
// NLL: for each n, --datasets datasets drawn from the GP prior the pfn was trained on (Matérn-5/2 ARD,
// Gamma(3, 6)·sqrt(d) lengthscales, 20% irrelevant dimensions, half of the datasets Kumaraswamy-warped,
// LogNormal output scale, LogUniform noise; surrogates/pfn/train/pfn_train.py) at each d of --dims, and the
// public functions (bench/functions.h, uniform points in their box); n training points and --test held-out
// points; y standardized by the training points. The NLL of the held-out y is the mean of -log p(y): Gaussian
// (mean, variance + noise_variance) for gp and bnn, the bar-distribution density for pfn (column pfn), and
// for reference the pfn's Gaussian moment match (column pfn-gauss). Lower is better.
// Suggestion time: one `bo` ask at d = --time-dim as gp-scaling measures it (fit, warm-started from the fit
// at n - 1 for models with state, then LogEI maximized over 2,048 Sobol candidates + 5 local starts),
// median of --reps (wall time, and CPU time of the calling thread). The last line of output is one JSON object.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include "bbo/acquisition.h"
#include "bbo/plugin.h"
#include "bbo/surrogate.h"
#include "bench/bench_util.h"
#include "bench/suggestion_workload.h"
#include "bench/functions.h"
#include "surrogates/pfn/pfn_core.h"

using json = nlohmann::json;
using namespace bbo::bench;

namespace {

struct Dataset {
  bbo::Matrix X;  // (n + test) × d in [0,1]
  std::vector<double> y;
};

// One dataset from the pfn's training prior (pfn_train.py sample_prior, reimplemented).
Dataset gp_prior_dataset(size_t d, size_t N, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> z(0.0, 1.0);
  std::gamma_distribution<double> gamma(3.0, 1.0 / 6.0);
  Dataset ds;
  ds.X = bbo::Matrix(N, d);
  for (double& v : ds.X.data) v = u(rng);
  const bool warp = u(rng) < 0.5;
  std::vector<double> a(d), b(d), ls(d);
  for (size_t j = 0; j < d; ++j) {
    a[j] = std::exp(0.5 * z(rng));
    b[j] = std::exp(0.5 * z(rng));
    ls[j] = std::max(0.02, gamma(rng) * std::sqrt(static_cast<double>(d)));
    if (d > 1 && u(rng) < 0.2) ls[j] = 1e4;
  }
  const double s = std::exp(0.5 * z(rng));
  const double noise = s * std::exp(std::log(1e-5) + (std::log(0.3) - std::log(1e-5)) * u(rng));
  bbo::Matrix W = ds.X;
  if (warp)
    for (size_t i = 0; i < N; ++i)
      for (size_t j = 0; j < d; ++j) W(i, j) = 1.0 - std::pow(1.0 - std::pow(ds.X(i, j), a[j]), b[j]);
  Eigen::MatrixXd K(N, N);
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k <= i; ++k) {
      double r2 = 0;
      for (size_t j = 0; j < d; ++j) r2 += std::pow((W(i, j) - W(k, j)) / ls[j], 2);
      const double r = std::sqrt(r2);
      K(i, k) = K(k, i) = s * (1 + std::sqrt(5.0) * r + 5.0 / 3.0 * r2) * std::exp(-std::sqrt(5.0) * r);
    }
  K.diagonal().array() += noise + 1e-8 * s;
  Eigen::LLT<Eigen::MatrixXd> llt(K);
  Eigen::VectorXd e(N);
  for (size_t i = 0; i < N; ++i) e(i) = z(rng);
  const Eigen::VectorXd y = llt.matrixL() * e;
  ds.y.assign(y.data(), y.data() + N);
  return ds;
}

Dataset function_dataset(const BenchFunction& fn, size_t N, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t d = fn.bounds.size();
  Dataset ds;
  ds.X = bbo::Matrix(N, d);
  ds.y.resize(N);
  std::vector<double> x(d);
  for (size_t i = 0; i < N; ++i) {
    for (size_t j = 0; j < d; ++j) {
      ds.X(i, j) = u(rng);
      x[j] = fn.bounds[j].first + ds.X(i, j) * (fn.bounds[j].second - fn.bounds[j].first);
    }
    ds.y[i] = fn.f(x);
  }
  return ds;
}

struct Nll {
  std::map<std::string, double> sum;
  std::map<std::string, size_t> count;
  void add(const std::string& k, double v) {
    sum[k] += v;
    count[k] += 1;
  }
  double mean(const std::string& k) const {
    auto it = sum.find(k);
    return it == sum.end() ? NAN : it->second / static_cast<double>(count.at(k));
  }
};

// Mean held-out NLL of each surrogate on one dataset split into n training and the rest held out.
void score(const Dataset& ds, size_t n, const std::vector<std::string>& surrogates, uint64_t seed, Nll& out) {
  const size_t d = ds.X.cols, m = ds.X.rows - n;
  bbo::FitInput in;
  in.X = bbo::Matrix(n, d);
  std::copy(ds.X.data.begin(), ds.X.data.begin() + static_cast<long>(n * d), in.X.data.begin());
  double mu = 0, sd = 0;
  for (size_t i = 0; i < n; ++i) mu += ds.y[i];
  mu /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) sd += (ds.y[i] - mu) * (ds.y[i] - mu);
  sd = std::sqrt(sd / static_cast<double>(n - 1));
  if (!(sd > 0)) sd = 1;
  for (size_t i = 0; i < n; ++i) in.y.push_back((ds.y[i] - mu) / sd);
  in.seed = seed;
  bbo::Matrix T(m, d);
  std::copy(ds.X.data.begin() + static_cast<long>(n * d), ds.X.data.end(), T.data.begin());
  std::vector<double> yt(m);
  for (size_t i = 0; i < m; ++i) yt[i] = (ds.y[n + i] - mu) / sd;
  for (const std::string& name : surrogates) {
    if (name == "pfn") {
      bbo::pfn::PfnSurrogate s({});
      s.fit(in);
      const bbo::pfn::RowMatrix p = s.probabilities(T);
      const bbo::Prediction g = s.predict(T);
      // The bar density in standardized units of the pfn's own scaling, mapped back to y.
      double yscale = 1, ymean = 0;
      {
        double a = 0, b = 0;
        for (double v : in.y) a += v;
        a /= static_cast<double>(n);
        for (double v : in.y) b += (v - a) * (v - a);
        ymean = a;
        yscale = std::sqrt(b / static_cast<double>(n - 1));
      }
      double nll = 0, gnll = 0;
      for (size_t i = 0; i < m; ++i) {
        const double dens = s.bar().pdf(p.row(static_cast<Eigen::Index>(i)).data(), (yt[i] - ymean) / yscale) / yscale;
        nll += -std::log(std::max(dens, 1e-300));
        const double v = std::max(g.variance[i], 1e-300);
        gnll += 0.5 * std::log(2 * M_PI * v) + 0.5 * (yt[i] - g.mean[i]) * (yt[i] - g.mean[i]) / v;
      }
      out.add("pfn", nll / static_cast<double>(m));
      out.add("pfn-gauss", gnll / static_cast<double>(m));
      continue;
    }
    auto s = bbo::PluginRegistry::global().make_surrogate(name, json::object());
    s->fit(in);
    const bbo::Prediction g = s->predict(T);
    const double noise = s->noise_variance();
    double nll = 0;
    for (size_t i = 0; i < m; ++i) {
      const double v = std::max(g.variance[i] + noise, 1e-300);
      nll += 0.5 * std::log(2 * M_PI * v) + 0.5 * (yt[i] - g.mean[i]) * (yt[i] - g.mean[i]) / v;
    }
    out.add(name, nll / static_cast<double>(m));
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Milliseconds (wall, and CPU of this thread in cpu_ms) of one suggestion (fit + LogEI optimization) with
// `name` at n observations in d dimensions.
double suggestion_ms(const std::string& name, int n, int d, int rep, double& cpu_ms) {
  SuggestionWorkload w = suggestion_workload(n, d, rep);
  auto model = bbo::PluginRegistry::global().make_surrogate(name, json::object());
  model->fit(w.previous);
  w.in.warm_start = model->state();
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = thread_cpu_seconds();
  model->fit(w.in);
  optimize_logei(*model, w);
  const double ms = seconds_since(t0) * 1e3;
  cpu_ms = (thread_cpu_seconds() - c0) * 1e3;
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const auto ns = split_ints(arg_value(argc, argv, "--ns").value_or("10,20,50"));
    const auto dims = split_ints(arg_value(argc, argv, "--dims").value_or("2,6"));
    const int n_datasets = std::stoi(arg_value(argc, argv, "--datasets").value_or(quick ? "5" : "20"));
    const int n_test = std::stoi(arg_value(argc, argv, "--test").value_or("50"));
    const auto time_ns = split_ints(arg_value(argc, argv, "--time-ns").value_or(quick ? "50" : "20,50,100"));
    const int time_dim = std::stoi(arg_value(argc, argv, "--time-dim").value_or("6"));
    const int reps = std::stoi(arg_value(argc, argv, "--reps").value_or(quick ? "1" : "3"));
    std::vector<std::string> wanted;
    {
      const std::string s = arg_value(argc, argv, "--surrogates").value_or("gp,pfn,bnn");
      size_t a = 0;
      while (a <= s.size()) {
        const size_t b = std::min(s.find(',', a), s.size());
        if (b > a) wanted.push_back(s.substr(a, b - a));
        a = b + 1;
      }
    }
    std::vector<std::string> surrogates;
    for (const auto& w : wanted) {
      bool found = false;
      for (const auto& p : bbo::PluginRegistry::global().list())
        if (p.kind == bbo::PluginKind::kSurrogate && p.name == w) found = true;
      if (found) surrogates.push_back(w);
      else std::printf("(surrogate '%s' is not built: left out)\n", w.c_str());
    }
    std::vector<std::string> columns;
    for (const auto& s : surrogates) {
      columns.push_back(s);
      if (s == "pfn") columns.push_back("pfn-gauss");
    }

    std::printf("surrogate-nll: mean held-out NLL (standardized y; lower is better), %d datasets x %d test points\n",
                n_datasets, n_test);
    std::printf("%-22s %4s", "data", "n");
    for (const auto& c : columns) std::printf(" %10s", c.c_str());
    std::printf("\n");
    json nll_rows = json::array();
    auto report = [&](const std::string& data, int n, const Nll& nll) {
      std::printf("%-22s %4d", data.c_str(), n);
      json row = {{"data", data}, {"n", n}};
      for (const auto& c : columns) {
        std::printf(" %10.3f", nll.mean(c));
        row[c] = nll.mean(c);
      }
      std::printf("\n");
      std::fflush(stdout);
      nll_rows.push_back(row);
    };
    for (int d : dims)
      for (int n : ns) {
        Nll nll;
        for (int k = 0; k < n_datasets; ++k) {
          std::mt19937_64 rng(7919 * static_cast<uint64_t>(k) + 31 * static_cast<uint64_t>(d) + static_cast<uint64_t>(n));
          const Dataset ds = gp_prior_dataset(static_cast<size_t>(d), static_cast<size_t>(n + n_test), rng);
          score(ds, static_cast<size_t>(n), surrogates, static_cast<uint64_t>(k), nll);
        }
        report("gp-prior d=" + std::to_string(d), n, nll);
      }
    for (const auto& fn : public_functions())
      for (int n : ns) {
        Nll nll;
        const int reps_fn = std::max(1, n_datasets / 4);
        for (int k = 0; k < reps_fn; ++k) {
          std::mt19937_64 rng(104729 * static_cast<uint64_t>(k) + static_cast<uint64_t>(n));
          const Dataset ds = function_dataset(fn, static_cast<size_t>(n + n_test), rng);
          score(ds, static_cast<size_t>(n), surrogates, static_cast<uint64_t>(k), nll);
        }
        report(fn.name, n, nll);
      }

    std::printf("\nsuggestion time (ms, median of %d; wall / CPU of the calling thread): fit + LogEI optimization, d = %d\n",
                reps, time_dim);
    std::printf("%6s", "n");
    for (const auto& s : surrogates) std::printf(" %19s", s.c_str());
    std::printf("\n");
    json time_rows = json::array();
    for (int n : time_ns) {
      std::printf("%6d", n);
      json row = {{"n", n}, {"d", time_dim}};
      for (const auto& s : surrogates) {
        std::vector<double> ms, cpu;
        for (int r = 0; r < reps; ++r) {
          double c = 0;
          ms.push_back(suggestion_ms(s, n, time_dim, r, c));
          cpu.push_back(c);
        }
        std::printf(" %9.1f / %7.1f", median(ms), median(cpu));
        row[s + "_ms"] = median(ms);
        row[s + "_cpu_ms"] = median(cpu);
      }
      std::printf("\n");
      std::fflush(stdout);
      time_rows.push_back(row);
    }
    std::printf("targets (issue 8): pfn NLL <= gp on gp-prior data at n = 10, 20; pfn suggestion >= 5x faster than gp at n = 50, d = 6\n");
    json summary = {{"benchmark", "surrogate-nll"}, {"surrogates", surrogates}, {"datasets", n_datasets},
                    {"test_points", n_test}, {"nll", nll_rows}, {"suggestion_time", time_rows}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_bench_surrogate-nll: %s\n", e.what());
    return 1;
  }
}
