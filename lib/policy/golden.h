// Golden-section minimization, shared by the interval searches.
#pragma once

#include <cmath>

namespace ckpt::policy {

// The minimizer of f on [lo, hi], assuming f is unimodal there; `iterations`
// shrink the bracket by 0.618 each.
template <typename F>
double GoldenMinimize(F&& f, double lo, double hi, int iterations) {
  const double inv_phi = (std::sqrt(5.0) - 1.0) / 2.0;
  double a = lo, b = hi;
  double c = b - inv_phi * (b - a);
  double d = a + inv_phi * (b - a);
  double fc = f(c), fd = f(d);
  for (int i = 0; i < iterations; ++i) {
    if (fc <= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - inv_phi * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + inv_phi * (b - a);
      fd = f(d);
    }
  }
  return fc <= fd ? c : d;
}

// Minimizes f over log-spaced points of [lo, hi], then refines between the
// best point's neighbours by golden section on log x. Robust to a flat or
// mildly bumpy f as long as the true minimum is in the grid's basin.
template <typename F>
double LogGridGoldenMinimize(F&& f, double lo, double hi, int grid_points, int iterations) {
  const double log_lo = std::log(lo), log_hi = std::log(hi);
  const double step = (log_hi - log_lo) / (grid_points - 1);
  int best = 0;
  double best_value = 0;
  for (int i = 0; i < grid_points; ++i) {
    const double v = f(std::exp(log_lo + step * i));
    if (i == 0 || v < best_value) {
      best = i;
      best_value = v;
    }
  }
  const double a = log_lo + step * (best > 0 ? best - 1 : 0);
  const double b = log_lo + step * (best + 1 < grid_points ? best + 1 : best);
  const double log_x =
      GoldenMinimize([&](double l) { return f(std::exp(l)); }, a, b, iterations);
  // Golden section never evaluates the bracket ends; keep a better grid point.
  return f(std::exp(log_x)) <= best_value ? std::exp(log_x) : std::exp(log_lo + step * best);
}

}  // namespace ckpt::policy
