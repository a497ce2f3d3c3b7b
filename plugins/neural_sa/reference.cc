// reference.cc — the reference solvers the neural_sa gaps are measured against (neural_sa.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "plugins/neural_sa/neural_sa.h"

namespace bbo::neural_sa {

namespace {

struct KnapsackBnb {
  std::vector<double> w, v;  // sorted by value/weight, descending
  double capacity;
  double best = 0.0;
  std::vector<char> take, best_take;

  // Dantzig bound: the LP relaxation of the remaining items k.. with `room` left.
  double bound(size_t k, double room) const {
    double b = 0.0;
    for (; k < w.size(); ++k) {
      if (w[k] <= room) {
        room -= w[k], b += v[k];
      } else {
        return b + v[k] * room / w[k];
      }
    }
    return b;
  }

  void search(size_t k, double room, double value) {
    if (value > best) best = value, best_take = take;
    if (k == w.size()) return;
    if (value + bound(k, room) <= best + 1e-12) return;
    if (w[k] <= room) {
      take[k] = 1;
      search(k + 1, room - w[k], value + v[k]);
      take[k] = 0;
    }
    search(k + 1, room, value);
  }
};

std::vector<size_t> ratio_order(const std::vector<double>& w, const std::vector<double>& v) {
  std::vector<size_t> order(w.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] * w[b] > v[b] * w[a]; });
  return order;
}

}  // namespace

double knapsack_optimum(const std::vector<double>& w, const std::vector<double>& v, double capacity,
                        std::vector<char>* chosen) {
  if (w.size() != v.size()) throw std::invalid_argument("neural_sa: knapsack_optimum needs as many values as weights");
  const auto order = ratio_order(w, v);
  KnapsackBnb s;
  s.capacity = capacity;
  for (size_t k : order) s.w.push_back(w[k]), s.v.push_back(v[k]);
  s.take.assign(w.size(), 0);
  s.best_take = s.take;
  s.search(0, capacity + 1e-12, 0.0);
  if (chosen) {
    chosen->assign(w.size(), 0);
    for (size_t k = 0; k < order.size(); ++k) (*chosen)[order[k]] = s.best_take[k];
  }
  return s.best;
}

double knapsack_greedy(const std::vector<double>& w, const std::vector<double>& v, double capacity) {
  double room = capacity, value = 0.0;
  for (size_t k : ratio_order(w, v))
    if (w[k] <= room) room -= w[k], value += v[k];
  return value;
}

int bin_lower_bound(const std::vector<double>& sizes) {
  const double s = std::accumulate(sizes.begin(), sizes.end(), 0.0);
  return static_cast<int>(std::ceil(s - 1e-9));
}

int first_fit_decreasing(const std::vector<double>& sizes) {
  std::vector<double> s = sizes;
  std::sort(s.begin(), s.end(), std::greater<>());
  std::vector<double> load;
  for (double w : s) {
    bool placed = false;
    for (double& l : load)
      if (l + w <= 1.0 + 1e-12) {
        l += w, placed = true;
        break;
      }
    if (!placed) load.push_back(w);
  }
  return static_cast<int>(load.size());
}

namespace {

// 2-opt (first improvement) and Or-opt passes until neither improves the tour.
void local_search(const Tsp& inst, std::vector<int>& t) {
  const int n = static_cast<int>(t.size());
  auto d = [&](int a, int b) { return inst.dist(a, b); };
  bool improved = true;
  while (improved) {
    improved = false;
    // 2-opt: edges (p, p+1) and (q, q+1).
    for (int p = 0; p < n - 1; ++p) {
      for (int q = p + 2; q < n; ++q) {
        if (p == 0 && q == n - 1) continue;
        const int a = t[p], b = t[p + 1], c = t[q], e = t[(q + 1) % n];
        if (d(a, c) + d(b, e) < d(a, b) + d(c, e) - 1e-12) {
          std::reverse(t.begin() + p + 1, t.begin() + q + 1);
          improved = true;
        }
      }
    }
    // Or-opt: move a segment of 1..3 consecutive cities elsewhere, either orientation.
    for (int len = 1; len <= 3 && len < n - 2; ++len) {
      for (int s = 0; s < n; ++s) {
        const int first = t[s], last = t[(s + len - 1) % n];
        const int prev = t[(s - 1 + n) % n], next = t[(s + len) % n];
        const double gain = d(prev, first) + d(last, next) - d(prev, next);
        if (gain <= 1e-12) continue;
        // The rest of the tour, starting at `next` and ending at `prev`.
        std::vector<int> rest;
        rest.reserve(n - len);
        for (int k = 0; k < n - len; ++k) rest.push_back(t[(s + len + k) % n]);
        int best_k = -1;
        bool best_rev = false;
        double best_cost = gain - 1e-12;
        for (int k = 0; k + 1 < static_cast<int>(rest.size()) + 1; ++k) {
          const int u = rest[k], w = rest[(k + 1) % rest.size()];
          if (u == prev && w == next) continue;  // its own place
          const double fwd = d(u, first) + d(last, w) - d(u, w);
          const double rev = d(u, last) + d(first, w) - d(u, w);
          if (fwd < best_cost) best_cost = fwd, best_k = k, best_rev = false;
          if (rev < best_cost) best_cost = rev, best_k = k, best_rev = true;
        }
        if (best_k < 0) continue;
        std::vector<int> seg;
        for (int k = 0; k < len; ++k) seg.push_back(t[(s + k) % n]);
        if (best_rev) std::reverse(seg.begin(), seg.end());
        std::vector<int> nt;
        nt.reserve(n);
        for (int k = 0; k <= best_k; ++k) nt.push_back(rest[k]);
        nt.insert(nt.end(), seg.begin(), seg.end());
        for (int k = best_k + 1; k < static_cast<int>(rest.size()); ++k) nt.push_back(rest[k]);
        t = std::move(nt);
        improved = true;
      }
    }
  }
}

}  // namespace

double tsp_local_search(const Tsp& inst, int starts, std::mt19937_64& rng, std::vector<int>* best_tour) {
  const int n = inst.num_items();
  double best = std::numeric_limits<double>::infinity();
  std::vector<int> t(n);
  for (int s = 0; s <= starts; ++s) {
    if (s == 0) {  // nearest neighbour from city 0
      std::vector<char> used(n, 0);
      t[0] = 0, used[0] = 1;
      for (int k = 1; k < n; ++k) {
        int bestc = -1;
        for (int c = 0; c < n; ++c)
          if (!used[c] && (bestc < 0 || inst.dist(t[k - 1], c) < inst.dist(t[k - 1], bestc))) bestc = c;
        t[k] = bestc, used[bestc] = 1;
      }
    } else {
      std::iota(t.begin(), t.end(), 0);
      std::shuffle(t.begin(), t.end(), rng);
    }
    local_search(inst, t);
    const double len = inst.tour_length(t);
    if (len < best) {
      best = len;
      if (best_tour) *best_tour = t;
    }
  }
  return best;
}

double tsp_kool_optimum(int n) {
  switch (n) {
    case 20: return 3.84;
    case 50: return 5.70;
    case 100: return 7.76;
    default: return 0.0;
  }
}

}  // namespace bbo::neural_sa
