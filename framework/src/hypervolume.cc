// Exact hypervolume for 2 and 3 objectives (minimized).
//
// 2 objectives: one sweep over the points sorted by the first coordinate. 3 objectives: a sweep along the
// third coordinate keeping the 2-D front of the points seen so far with its area updated on each insertion
// (O(n²) worst case, O(n log n) typical), which is plenty for observed fronts of up to a few hundred points.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "acquisition_internal.h"
#include "bbo/acquisition.h"
#include "bbo/error.h"

namespace bbo {
namespace {

struct P2 {
  double x, y;
};

// Area dominated by pts (any order) up to (rx, ry); points outside the box contribute nothing.
double area2d(std::vector<P2>& pts, double rx, double ry) {
  std::sort(pts.begin(), pts.end(), [](const P2& a, const P2& b) { return a.x < b.x || (a.x == b.x && a.y < b.y); });
  double area = 0.0, cur = ry;
  for (const P2& p : pts) {
    if (p.x >= rx || p.y >= cur) continue;
    area += (rx - p.x) * (cur - p.y);
    cur = p.y;
  }
  return area;
}

// The 2-D front of the points inserted so far (x ascending, y strictly descending) and its area.
class Front2d {
 public:
  Front2d(double rx, double ry, std::vector<P2>& storage) : rx_(rx), ry_(ry), pts_(storage) { pts_.clear(); }
  void insert(double x, double y) {
    if (x >= rx_ || y >= ry_) return;
    auto it = std::upper_bound(pts_.begin(), pts_.end(), x, [](double v, const P2& p) { return v < p.x; });
    double prev_y = ry_;
    if (it != pts_.begin()) {
      prev_y = std::prev(it)->y;
      if (prev_y <= y) return;  // dominated by the predecessor
    }
    // The strip [x, next x) gains prev_y - y; each point it dominates gains (its y - y) over its own strip.
    auto last = it;
    while (last != pts_.end() && last->y >= y) ++last;
    double next_x = it != pts_.end() ? it->x : rx_;
    double gain = (next_x - x) * (prev_y - y);
    for (auto j = it; j != last; ++j) {
      double nx = std::next(j) != pts_.end() ? std::next(j)->x : rx_;
      gain += (nx - j->x) * (j->y - y);
    }
    area_ += gain;
    it = pts_.erase(it, last);
    pts_.insert(it, P2{x, y});
  }
  double area() const { return area_; }

 private:
  double rx_, ry_;
  double area_ = 0.0;
  std::vector<P2>& pts_;
};

double volume3d(const Matrix& pts, const double* r) {
  std::vector<size_t> order;
  for (size_t i = 0; i < pts.rows; ++i)
    if (pts(i, 0) < r[0] && pts(i, 1) < r[1] && pts(i, 2) < r[2]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pts(a, 2) < pts(b, 2); });
  std::vector<P2> storage;
  Front2d front(r[0], r[1], storage);
  double vol = 0.0;
  for (size_t k = 0; k < order.size(); ++k) {
    front.insert(pts(order[k], 0), pts(order[k], 1));
    double z_next = k + 1 < order.size() ? pts(order[k + 1], 2) : r[2];
    vol += front.area() * (z_next - pts(order[k], 2));
  }
  return vol;
}

bool dominates_weakly(const double* a, const double* b, size_t k) {
  for (size_t j = 0; j < k; ++j)
    if (a[j] > b[j]) return false;
  return true;
}

}  // namespace

double hypervolume(const Matrix& points, const std::vector<double>& reference) {
  size_t k = reference.size();
  if (k != 2 && k != 3)
    throw ValueError("hypervolume: 2 or 3 objectives are supported, got a reference point of size " +
                     std::to_string(k));
  if (points.rows > 0 && points.cols != k)
    throw ValueError("hypervolume: points have " + std::to_string(points.cols) + " columns, the reference point " +
                     std::to_string(k));
  for (double v : points.data)
    if (std::isnan(v)) throw ValueError("hypervolume: NaN in the points");
  if (k == 2) {
    std::vector<P2> pts;
    for (size_t i = 0; i < points.rows; ++i) pts.push_back({points(i, 0), points(i, 1)});
    return area2d(pts, reference[0], reference[1]);
  }
  return volume3d(points, reference.data());
}

namespace internal {

Matrix pareto_front(const Matrix& points) {
  size_t k = points.cols;
  std::vector<size_t> keep;
  for (size_t i = 0; i < points.rows; ++i) {
    bool dominated = false;
    for (size_t j = 0; j < points.rows && !dominated; ++j) {
      if (j == i) continue;
      if (dominates_weakly(points.row(j), points.row(i), k)) {
        bool equal = std::equal(points.row(j), points.row(j) + k, points.row(i));
        dominated = !equal || j < i;  // of equal rows keep the first
      }
    }
    if (!dominated) keep.push_back(i);
  }
  Matrix out(keep.size(), k);
  for (size_t r = 0; r < keep.size(); ++r) std::copy(points.row(keep[r]), points.row(keep[r]) + k, out.row(r));
  return out;
}

HypervolumeFront::HypervolumeFront(const Matrix& points, std::vector<double> reference) : ref_(std::move(reference)) {
  size_t k = ref_.size();
  if (k != 2 && k != 3) throw ValueError("hypervolume: 2 or 3 objectives are supported, got " + std::to_string(k));
  Matrix inside(0, k);
  for (size_t i = 0; i < points.rows; ++i) {
    bool in = true;
    for (size_t j = 0; j < k; ++j) in = in && points(i, j) < ref_[j];
    if (in) inside.data.insert(inside.data.end(), points.row(i), points.row(i) + k), ++inside.rows;
  }
  Matrix f = pareto_front(inside);
  std::vector<size_t> order(f.rows);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return f(a, 0) < f(b, 0); });
  front_ = Matrix(f.rows, k);
  for (size_t r = 0; r < f.rows; ++r) std::copy(f.row(order[r]), f.row(order[r]) + k, front_.row(r));
  if (k == 3) {
    by_z_.resize(front_.rows);
    std::iota(by_z_.begin(), by_z_.end(), 0);
    std::sort(by_z_.begin(), by_z_.end(), [&](size_t a, size_t b) { return front_(a, 2) < front_(b, 2); });
  }
}

double HypervolumeFront::improvement(const double* y) const {
  size_t k = ref_.size();
  double box = 1.0;
  for (size_t j = 0; j < k; ++j) {
    if (!(y[j] < ref_[j])) return 0.0;
    box *= ref_[j] - y[j];
  }
  for (size_t i = 0; i < front_.rows; ++i)
    if (dominates_weakly(front_.row(i), y, k)) return 0.0;
  // HVI = box(y, ref) minus the part of it the front dominates: the front clipped to y's box.
  if (k == 2) {
    double area = 0.0, cur = ref_[1];
    for (size_t i = 0; i < front_.rows; ++i) {  // sorted by x; clipping keeps the order
      double px = std::max(front_(i, 0), y[0]), py = std::max(front_(i, 1), y[1]);
      if (px >= ref_[0] || py >= cur) continue;
      area += (ref_[0] - px) * (cur - py);
      cur = py;
    }
    return std::max(box - area, 0.0);
  }
  // Sweep along the third coordinate from y's level: the front points clipped to y's box enter in the order
  // of their (clipped) third coordinate; the dominated slab areas come from the incremental 2-D front.
  thread_local std::vector<P2> storage;
  Front2d f(ref_[0], ref_[1], storage);
  const double full = (ref_[0] - y[0]) * (ref_[1] - y[1]);
  double dominated = 0.0, zprev = y[2];
  for (size_t i : by_z_) {
    double pz = std::max(front_(i, 2), y[2]);
    if (pz >= ref_[2]) break;
    dominated += f.area() * (pz - zprev);
    zprev = pz;
    f.insert(std::max(front_(i, 0), y[0]), std::max(front_(i, 1), y[1]));
    if (f.area() >= full) break;  // the rest of the box is dominated
  }
  dominated += f.area() * (ref_[2] - zprev);
  return std::max(box - dominated, 0.0);
}

}  // namespace internal
}  // namespace bbo
