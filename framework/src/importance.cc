#include "bbo/importance.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <numeric>
#include <random>
#include <set>
#include <thread>

#include "bbo/error.h"

namespace bbo {
namespace {

// A modelled parameter: numeric ones live in [0, 1] (the unit cube), categoricals are choice indices.
struct Feature {
  std::string name;
  int n_cat = 0;  // > 0: categorical with that many choices
};

struct Data {
  size_t n = 0;
  std::vector<Feature> features;
  std::vector<std::vector<double>> x;         // x[f][i]
  std::vector<double> y;                      // standardised (the importances do not depend on the scale)
  std::vector<std::vector<uint32_t>> sorted;  // sorted[f]: trial indices by increasing x[f]
};

struct Node {
  int feature = -1;      // -1: leaf
  double threshold = 0;  // numeric split: left iff x <= threshold
  size_t mask = 0;       // categorical split: offset of n_cat bytes in Tree::masks, 1 = goes left
  int left = -1;
  int right = -1;
  double value = 0;      // mean of the node's (bootstrap-weighted) values
};

struct Tree {
  std::vector<Node> nodes;
  std::vector<uint8_t> masks;
};

struct ForestOptions {
  int max_depth;
  int min_samples_split;
  int min_samples_leaf;
  size_t max_features;
};

// Grows one regression tree on a bootstrap sample: variance-reduction splits, numeric thresholds halfway
// between consecutive distinct values, categorical splits by subsets of choices. For squared error the best
// subset is a prefix of the choices sorted by their mean value (Breiman et al. 1984, §9.4), so the search is
// exact at the cost of one sort of the choices. The per-feature orders are sorted once for all trees and kept
// sorted inside each node by stable partitioning, so a tree costs O(features × samples × depth).
class TreeBuilder {
 public:
  TreeBuilder(const Data& data, const ForestOptions& opt, uint64_t seed)
      : data_(data), opt_(opt), rng_(seed), w_(data.n, 0.0), go_left_(data.n, 0) {}

  Tree build() {
    size_t n = data_.n;
    std::uniform_int_distribution<size_t> pick(0, n - 1);
    for (size_t i = 0; i < n; ++i) w_[pick(rng_)] += 1.0;
    size_t d = data_.features.size();
    order_.assign(d, {});
    for (size_t f = 0; f < d; ++f) {
      order_[f].reserve(n);
      for (uint32_t i : data_.sorted[f])
        if (w_[i] > 0) order_[f].push_back({data_.x[f][i], w_[i], w_[i] * data_.y[i], i});
    }
    size_t m = order_.empty() ? 0 : order_[0].size();
    buffer_.resize(m);
    perm_.resize(d);
    std::iota(perm_.begin(), perm_.end(), size_t{0});

    tree_.nodes.clear();
    tree_.nodes.push_back({});
    struct Item {
      int node;
      size_t begin, end;
      int depth;
    };
    std::vector<Item> stack = {{0, 0, m, 0}};
    while (!stack.empty()) {
      Item it = stack.back();
      stack.pop_back();
      auto [nl, split] = split_node(it.node, it.begin, it.end, it.depth);
      if (!split) continue;
      int left = static_cast<int>(tree_.nodes.size());
      tree_.nodes.push_back({});
      tree_.nodes.push_back({});
      tree_.nodes[it.node].left = left;
      tree_.nodes[it.node].right = left + 1;
      stack.push_back({left + 1, it.begin + nl, it.end, it.depth + 1});
      stack.push_back({left, it.begin, it.begin + nl, it.depth + 1});
    }
    return std::move(tree_);
  }

 private:
  struct Best {
    double score = -std::numeric_limits<double>::infinity();
    int feature = -1;
    double threshold = 0;
    std::vector<uint8_t> mask;
  };

  // Sets the node's value and, when a split improves the squared error, its split; partitions the orders.
  // Returns (number of samples going left, whether it split).
  std::pair<size_t, bool> split_node(int id, size_t b, size_t e, int depth) {
    const std::vector<Entry>& any = order_[0];
    double W = 0, S = 0, Q = 0;
    for (size_t k = b; k < e; ++k) {
      const Entry& en = any[k];
      W += en.w;
      S += en.wy;
      Q += en.wy * data_.y[en.idx];
    }
    tree_.nodes[id].value = S / W;
    size_t n = e - b;
    double sse = Q - S * S / W;
    if (depth >= opt_.max_depth || n < static_cast<size_t>(opt_.min_samples_split) ||
        n < 2 * static_cast<size_t>(opt_.min_samples_leaf) || sse <= 1e-12 * W)
      return {0, false};

    // Features in a random order (ties go to the first one tried); constant ones do not count towards
    // max_features, as in scikit-learn.
    size_t d = perm_.size();
    Best best;
    size_t tried = 0;
    for (size_t k = 0; k < d && tried < opt_.max_features; ++k) {
      std::uniform_int_distribution<size_t> pick(k, d - 1);
      std::swap(perm_[k], perm_[pick(rng_)]);
      size_t f = perm_[k];
      const std::vector<Entry>& ord = order_[f];
      if (ord[b].x == ord[e - 1].x) continue;
      ++tried;
      if (data_.features[f].n_cat > 0)
        best_categorical(f, b, e, W, S, best);
      else
        best_numeric(f, b, e, W, S, best);
    }
    if (best.feature < 0 || best.score - S * S / W <= 1e-12 * W) return {0, false};

    Node& node = tree_.nodes[id];
    node.feature = best.feature;
    const std::vector<Entry>& split_ord = order_[static_cast<size_t>(best.feature)];
    size_t nl = 0;
    if (data_.features[static_cast<size_t>(best.feature)].n_cat > 0) {
      node.mask = tree_.masks.size();
      tree_.masks.insert(tree_.masks.end(), best.mask.begin(), best.mask.end());
      for (size_t k = b; k < e; ++k) {
        const Entry& en = split_ord[k];
        go_left_[en.idx] = best.mask[static_cast<size_t>(en.x)];
        nl += go_left_[en.idx];
      }
    } else {
      node.threshold = best.threshold;
      for (size_t k = b; k < e; ++k) {
        const Entry& en = split_ord[k];
        go_left_[en.idx] = en.x <= best.threshold;
        nl += go_left_[en.idx];
      }
    }
    for (auto& ord : order_) {
      size_t l = b, r = 0;
      for (size_t k = b; k < e; ++k) {
        const Entry& en = ord[k];
        if (go_left_[en.idx])
          ord[l++] = en;
        else
          buffer_[r++] = en;
      }
      std::copy(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(r),
                ord.begin() + static_cast<std::ptrdiff_t>(l));
    }
    return {nl, true};
  }

  void best_numeric(size_t f, size_t b, size_t e, double W, double S, Best& best) {
    const std::vector<Entry>& ord = order_[f];
    size_t min_leaf = static_cast<size_t>(opt_.min_samples_leaf);
    size_t n = e - b;
    double wl = 0, sl = 0;
    for (size_t k = b; k + 1 < e; ++k) {
      wl += ord[k].w;
      sl += ord[k].wy;
      size_t cl = k - b + 1;
      if (cl < min_leaf) continue;
      if (n - cl < min_leaf) break;
      double xa = ord[k].x, xb = ord[k + 1].x;
      if (xa == xb) continue;
      double wr = W - wl, sr = S - sl;
      double score = sl * sl / wl + sr * sr / wr;
      if (score > best.score) {
        best.score = score;
        best.feature = static_cast<int>(f);
        // Halfway, unless rounding lands on the upper value (the split must separate xa from xb).
        double t = xa + (xb - xa) / 2;
        best.threshold = t < xb ? t : xa;
      }
    }
  }

  void best_categorical(size_t f, size_t b, size_t e, double W, double S, Best& best) {
    const std::vector<Entry>& ord = order_[f];  // sorted by choice, so each choice is one run
    struct Run {
      int cat;
      size_t count;
      double w, s;
    };
    std::vector<Run> runs;
    for (size_t k = b; k < e; ++k) {
      int c = static_cast<int>(ord[k].x);
      if (runs.empty() || runs.back().cat != c) runs.push_back({c, 0, 0, 0});
      runs.back().count += 1;
      runs.back().w += ord[k].w;
      runs.back().s += ord[k].wy;
    }
    std::stable_sort(runs.begin(), runs.end(),
                     [](const Run& a, const Run& b) { return a.s / a.w < b.s / b.w; });
    size_t min_leaf = static_cast<size_t>(opt_.min_samples_leaf);
    size_t n = e - b;
    size_t cl = 0;
    double wl = 0, sl = 0;
    size_t best_prefix = 0;
    bool found = false;
    for (size_t r = 0; r + 1 < runs.size(); ++r) {
      cl += runs[r].count;
      wl += runs[r].w;
      sl += runs[r].s;
      if (cl < min_leaf) continue;
      if (n - cl < min_leaf) break;
      double wr = W - wl, sr = S - sl;
      double score = sl * sl / wl + sr * sr / wr;
      if (score > best.score) {
        best.score = score;
        best_prefix = r + 1;
        found = true;
      }
    }
    if (!found) return;
    best.feature = static_cast<int>(f);
    // Choices absent from the node go with the heavier side: nothing here says where they belong, and the
    // heavier side's mean is the better guess. (fANOVA needs every choice of the node's region on one side.)
    double w_left = 0;
    for (size_t r = 0; r < best_prefix; ++r) w_left += runs[r].w;
    uint8_t absent = w_left >= W - w_left ? 1 : 0;
    best.mask.assign(static_cast<size_t>(data_.features[f].n_cat), absent);
    for (size_t r = 0; r < runs.size(); ++r) best.mask[static_cast<size_t>(runs[r].cat)] = r < best_prefix;
  }

  const Data& data_;
  const ForestOptions& opt_;
  std::mt19937_64 rng_;
  std::vector<double> w_;  // bootstrap multiplicity of each trial
  std::vector<uint8_t> go_left_;
  // Per feature, the node's samples sorted by that feature, with what the split search reads, side by side
  // (so scans and partitions walk memory in order).
  struct Entry {
    double x;   // the feature's value
    double w;   // bootstrap multiplicity
    double wy;  // w × value
    uint32_t idx;
  };
  std::vector<std::vector<Entry>> order_;
  std::vector<Entry> buffer_;
  std::vector<size_t> perm_;
  Tree tree_;
};

// The functional ANOVA of one tree. The tree is constant on each leaf's box, so the main-effect marginal of
// a numeric feature is constant between consecutive split thresholds on that feature, and the marginal of a
// categorical feature is one number per choice: each leaf adds value × (its volume / its extent along the
// feature) to the pieces its box covers (a difference array for numeric features). Volumes are taken in the
// unit cube, a categorical's extent being the fraction of its choices in the box. Returns the total variance
// and, per feature, the variance of its marginal (both under the uniform measure on the space).
struct TreeAnova {
  double variance = 0;
  std::vector<double> marginal_variance;
};

TreeAnova analyse(const Tree& tree, const Data& data) {
  size_t d = data.features.size();
  // Edges per numeric feature: 0, the sorted distinct thresholds, 1. Each node's threshold by edge index.
  std::vector<std::vector<double>> edges(d);
  for (const Node& nd : tree.nodes)
    if (nd.feature >= 0 && data.features[static_cast<size_t>(nd.feature)].n_cat == 0)
      edges[static_cast<size_t>(nd.feature)].push_back(nd.threshold);
  for (size_t f = 0; f < d; ++f) {
    auto& ed = edges[f];
    if (data.features[f].n_cat > 0) continue;
    ed.push_back(0.0);
    ed.push_back(1.0);
    std::sort(ed.begin(), ed.end());
    ed.erase(std::unique(ed.begin(), ed.end()), ed.end());
  }
  std::vector<size_t> edge_of(tree.nodes.size(), 0);
  for (size_t k = 0; k < tree.nodes.size(); ++k) {
    const Node& nd = tree.nodes[k];
    if (nd.feature < 0 || data.features[static_cast<size_t>(nd.feature)].n_cat > 0) continue;
    const auto& ed = edges[static_cast<size_t>(nd.feature)];
    edge_of[k] = static_cast<size_t>(std::lower_bound(ed.begin(), ed.end(), nd.threshold) - ed.begin());
  }

  // Categorical boxes as per-choice flags, stored back to back (offset per feature).
  std::vector<size_t> cat_offset(d, 0);
  size_t n_flags = 0;
  for (size_t f = 0; f < d; ++f) {
    cat_offset[f] = n_flags;
    n_flags += static_cast<size_t>(data.features[f].n_cat);
  }
  struct Box {
    std::vector<size_t> lo, hi;  // edge indices (numeric)
    std::vector<uint8_t> in;     // choice flags (categorical)
  };
  struct Leaf {
    double value, volume;
  };
  std::vector<Leaf> leaves;
  // Marginal accumulators: numeric features a difference array over edges, categoricals one slot per choice.
  std::vector<std::vector<double>> acc(d);
  for (size_t f = 0; f < d; ++f)
    acc[f].assign(data.features[f].n_cat > 0 ? static_cast<size_t>(data.features[f].n_cat) : edges[f].size(),
                  0.0);

  Box root;
  root.lo.assign(d, 0);
  root.hi.resize(d);
  for (size_t f = 0; f < d; ++f) root.hi[f] = data.features[f].n_cat > 0 ? 0 : edges[f].size() - 1;
  root.in.assign(n_flags, 1);
  std::vector<std::pair<int, Box>> stack;
  stack.emplace_back(0, std::move(root));
  while (!stack.empty()) {
    auto [id, box] = std::move(stack.back());
    stack.pop_back();
    const Node& nd = tree.nodes[static_cast<size_t>(id)];
    if (nd.feature >= 0) {
      size_t f = static_cast<size_t>(nd.feature);
      Box right = box;
      if (data.features[f].n_cat > 0) {
        for (int c = 0; c < data.features[f].n_cat; ++c) {
          uint8_t left_side = tree.masks[nd.mask + static_cast<size_t>(c)];
          box.in[cat_offset[f] + static_cast<size_t>(c)] &= left_side;
          right.in[cat_offset[f] + static_cast<size_t>(c)] &= static_cast<uint8_t>(1 - left_side);
        }
      } else {
        box.hi[f] = edge_of[static_cast<size_t>(id)];
        right.lo[f] = edge_of[static_cast<size_t>(id)];
      }
      stack.emplace_back(nd.right, std::move(right));
      stack.emplace_back(nd.left, std::move(box));
      continue;
    }
    // extent[f]: the leaf's length along f (a fraction of the choices for a categorical).
    double volume = 1;
    std::vector<double> extent(d);
    for (size_t f = 0; f < d; ++f) {
      int nc = data.features[f].n_cat;
      if (nc > 0) {
        int cnt = 0;
        for (int c = 0; c < nc; ++c) cnt += box.in[cat_offset[f] + static_cast<size_t>(c)];
        extent[f] = static_cast<double>(cnt) / nc;
      } else {
        extent[f] = edges[f][box.hi[f]] - edges[f][box.lo[f]];
      }
      volume *= extent[f];
    }
    if (volume <= 0) continue;  // a choice set emptied by a split that no training choice reached
    leaves.push_back({nd.value, volume});
    for (size_t f = 0; f < d; ++f) {
      double add = nd.value * volume / extent[f];
      if (data.features[f].n_cat > 0) {
        for (int c = 0; c < data.features[f].n_cat; ++c)
          if (box.in[cat_offset[f] + static_cast<size_t>(c)]) acc[f][static_cast<size_t>(c)] += add;
      } else {
        acc[f][box.lo[f]] += add;
        acc[f][box.hi[f]] -= add;
      }
    }
  }

  TreeAnova out;
  out.marginal_variance.assign(d, 0.0);
  double total_volume = 0, mean = 0;
  for (const Leaf& l : leaves) {
    total_volume += l.volume;
    mean += l.volume * l.value;
  }
  mean /= total_volume;
  for (const Leaf& l : leaves) out.variance += l.volume * (l.value - mean) * (l.value - mean);
  out.variance /= total_volume;
  for (size_t f = 0; f < d; ++f) {
    // Pieces of the marginal and their widths.
    std::vector<double> value, width;
    if (data.features[f].n_cat > 0) {
      value = acc[f];
      width.assign(value.size(), 1.0 / data.features[f].n_cat);
    } else {
      if (edges[f].size() <= 2) continue;  // never split on: the marginal is constant
      double running = 0;
      for (size_t k = 0; k + 1 < edges[f].size(); ++k) {
        running += acc[f][k];
        value.push_back(running);
        width.push_back(edges[f][k + 1] - edges[f][k]);
      }
    }
    double wsum = 0, m = 0;
    for (size_t k = 0; k < value.size(); ++k) {
      wsum += width[k];
      m += width[k] * value[k];
    }
    m /= wsum;
    double v = 0;
    for (size_t k = 0; k < value.size(); ++k) v += width[k] * (value[k] - m) * (value[k] - m);
    out.marginal_variance[f] = std::max(0.0, v / wsum);
  }
  return out;
}

[[noreturn]] void fail(const std::string& what) { throw ValueError("param_importances: " + what); }

std::string objective_label(int objective) { return "objective " + std::to_string(objective); }

}  // namespace

std::vector<ParamImportance> param_importances(const std::vector<FrozenTrial>& trials,
                                               const ImportanceOptions& options) {
  if (options.objective < 0) fail("objective must be >= 0 (got " + std::to_string(options.objective) + ")");
  if (options.n_trees < 1) fail("n_trees must be >= 1 (got " + std::to_string(options.n_trees) + ")");
  if (options.max_depth < 1) fail("max_depth must be >= 1 (got " + std::to_string(options.max_depth) + ")");
  if (options.min_samples_split < 1 || options.min_samples_leaf < 1)
    fail("min_samples_split and min_samples_leaf must be >= 1");
  if (!(options.max_features > 0 && options.max_features <= 1))
    fail("max_features must be in (0, 1] (got " + std::to_string(options.max_features) + ")");
  size_t obj = static_cast<size_t>(options.objective);

  // COMPLETE trials with a finite value, in number order (so the result does not depend on the input order).
  std::vector<const FrozenTrial*> complete;
  bool objective_exists = false;
  for (const FrozenTrial& t : trials) {
    if (t.state != TrialState::kComplete) continue;
    if (t.values.size() <= obj) continue;
    objective_exists = true;
    if (std::isfinite(t.values[obj])) complete.push_back(&t);
  }
  std::stable_sort(complete.begin(), complete.end(), [](const FrozenTrial* a, const FrozenTrial* b) {
    return a->number != b->number ? a->number < b->number : a->id < b->id;
  });
  if (!objective_exists && !trials.empty() &&
      std::any_of(trials.begin(), trials.end(), [](const FrozenTrial& t) {
        return t.state == TrialState::kComplete && !t.values.empty();
      }))
    fail(objective_label(options.objective) + " does not exist: the COMPLETE trials have fewer values");
  if (complete.size() < 2)
    fail("needs at least 2 COMPLETE trials with a finite value of " + objective_label(options.objective) +
         " (found " + std::to_string(complete.size()) + ")");

  // The parameters analysed and the trials that have all of them.
  std::vector<std::string> names;
  std::vector<const FrozenTrial*> used;
  if (options.params.empty()) {
    for (const auto& param : complete[0]->params) {
      const std::string& name = param.first;  // not a structured binding: clang 14 cannot capture those
      bool everywhere = std::all_of(complete.begin(), complete.end(),
                                    [&](const FrozenTrial* t) { return t->params.count(name) > 0; });
      if (everywhere) names.push_back(name);
    }
    if (names.empty()) fail("no parameter is present in every COMPLETE trial");
    used = complete;
  } else {
    std::set<std::string> seen;
    for (const std::string& name : options.params) {
      if (!seen.insert(name).second) fail("parameter '" + name + "' is requested twice");
      bool anywhere = std::any_of(complete.begin(), complete.end(),
                                  [&](const FrozenTrial* t) { return t->params.count(name) > 0; });
      if (!anywhere) fail("parameter '" + name + "' is not in any COMPLETE trial");
    }
    names = options.params;
    for (const FrozenTrial* t : complete)
      if (std::all_of(names.begin(), names.end(), [&](const std::string& p) { return t->params.count(p) > 0; }))
        used.push_back(t);
    if (used.size() < 2)
      fail("needs at least 2 COMPLETE trials with all the requested parameters (found " +
           std::to_string(used.size()) + ")");
  }

  // One distribution per parameter (Optuna refuses dynamic spaces likewise: the unit cube would differ).
  std::vector<Distribution> dists;
  for (const std::string& name : names) {
    auto first = used[0]->distributions.find(name);
    if (first == used[0]->distributions.end())
      fail("trial " + std::to_string(used[0]->number) + " has no distribution for parameter '" + name + "'");
    for (const FrozenTrial* t : used) {
      auto it = t->distributions.find(name);
      if (it == t->distributions.end() || !same_distribution(first->second, it->second))
        fail("parameter '" + name + "' has different distributions in trials " +
             std::to_string(used[0]->number) + " and " + std::to_string(t->number));
    }
    dists.push_back(first->second);
  }

  Data data;
  data.n = used.size();
  std::vector<size_t> modelled;  // index into names of each feature
  for (size_t p = 0; p < names.size(); ++p) {
    if (is_single(dists[p])) continue;
    Feature feat{names[p], n_choices(dists[p])};
    std::vector<double> x(data.n);
    for (size_t i = 0; i < data.n; ++i) {
      double internal = used[i]->params.at(names[p]);
      if (!contains(dists[p], internal))
        fail("trial " + std::to_string(used[i]->number) + ": parameter '" + names[p] + "' value " +
             std::to_string(internal) + " is outside its distribution");
      x[i] = feat.n_cat > 0 ? std::round(internal) : to_unit(dists[p], internal);
    }
    data.features.push_back(feat);
    data.x.push_back(std::move(x));
    modelled.push_back(p);
  }

  std::vector<ParamImportance> result(names.size());
  for (size_t p = 0; p < names.size(); ++p) result[p].name = names[p];
  if (data.features.empty()) return result;  // only single-valued parameters: nothing is explained

  data.y.resize(data.n);
  double mean = 0;
  for (size_t i = 0; i < data.n; ++i) mean += used[i]->values[obj] / static_cast<double>(data.n);
  double var = 0;
  for (size_t i = 0; i < data.n; ++i) {
    data.y[i] = used[i]->values[obj] - mean;
    var += data.y[i] * data.y[i] / static_cast<double>(data.n);
  }
  double first_value = used[0]->values[obj];
  if (std::all_of(used.begin(), used.end(), [&](const FrozenTrial* t) { return t->values[obj] == first_value; }))
    fail("the " + std::to_string(data.n) + " trials used all have the same value of " +
         objective_label(options.objective) + ": there is no variation to explain");
  double sd = std::sqrt(var);
  if (sd > 0 && std::isfinite(sd))
    for (double& v : data.y) v /= sd;

  size_t d = data.features.size();
  data.sorted.resize(d);
  for (size_t f = 0; f < d; ++f) {
    auto& s = data.sorted[f];
    s.resize(data.n);
    std::iota(s.begin(), s.end(), uint32_t{0});
    const auto& x = data.x[f];
    std::stable_sort(s.begin(), s.end(), [&](uint32_t a, uint32_t b) { return x[a] < x[b]; });
  }

  ForestOptions fopt{options.max_depth, options.min_samples_split, options.min_samples_leaf,
                     std::max<size_t>(1, static_cast<size_t>(std::lround(options.max_features *
                                                                         static_cast<double>(d))))};
  size_t n_trees = static_cast<size_t>(options.n_trees);
  std::vector<TreeAnova> anova(n_trees);
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(n_trees);  // e.g. bad_alloc, re-thrown on the calling thread
  auto worker = [&] {
    for (size_t t = next++; t < n_trees; t = next++) {
      try {
        TreeBuilder builder(data, fopt, trial_seed(options.seed, static_cast<int64_t>(t), 0x666f766eULL));
        anova[t] = analyse(builder.build(), data);
      } catch (...) {
        errors[t] = std::current_exception();
      }
    }
  };
  size_t n_threads = options.n_threads > 0 ? static_cast<size_t>(options.n_threads)
                                           : std::max(1u, std::thread::hardware_concurrency());
  n_threads = std::min(n_threads, n_trees);
  // Small problems are not worth a thread.
  if (data.n * d * n_trees < 20000) n_threads = 1;
  std::vector<std::thread> threads;
  for (size_t k = 1; k < n_threads; ++k) threads.emplace_back(worker);
  worker();
  for (auto& th : threads) th.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);

  // Per feature: mean and (population) standard deviation over the trees that vary at all.
  std::vector<double> mean_fraction(d, 0.0), sd_fraction(d, 0.0);
  size_t n_varying = 0;
  for (const TreeAnova& a : anova)
    if (a.variance > 0) ++n_varying;
  if (n_varying > 0) {
    for (size_t f = 0; f < d; ++f) {
      double s = 0, s2 = 0;
      for (const TreeAnova& a : anova)
        if (a.variance > 0) s += a.marginal_variance[f] / a.variance;
      double m = s / static_cast<double>(n_varying);
      for (const TreeAnova& a : anova)
        if (a.variance > 0) s2 += std::pow(a.marginal_variance[f] / a.variance - m, 2);
      mean_fraction[f] = m;
      sd_fraction[f] = std::sqrt(s2 / static_cast<double>(n_varying));
    }
  }
  double total = std::accumulate(mean_fraction.begin(), mean_fraction.end(), 0.0);
  if (total > 0) {
    for (size_t f = 0; f < d; ++f) {
      result[modelled[f]].importance = mean_fraction[f] / total;
      result[modelled[f]].std_dev = sd_fraction[f] / total;
    }
  }
  std::stable_sort(result.begin(), result.end(),
                   [](const ParamImportance& a, const ParamImportance& b) { return a.importance > b.importance; });
  return result;
}

}  // namespace bbo
