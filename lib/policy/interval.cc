// Closed-form intervals (Young, Daly), the renewal expected-waste formula and
// the fixed interval that minimizes it.
#include <cmath>
#include <limits>

#include "ckpt/policy.h"
#include "policy/exponential_optimum.h"
#include "policy/golden.h"

namespace ckpt::policy {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool ValidModel(const FailureModel& m) {
  return m.scale_s > 0 && std::isfinite(m.scale_s) && m.shape > 0 && std::isfinite(m.shape);
}

bool ValidCosts(double cost_s, double restart_s) {
  return cost_s > 0 && std::isfinite(cost_s) && restart_s >= 0 && std::isfinite(restart_s);
}

// The renewal sum is summed term by term over the first kExactTerms segments
// (where S may bend sharply on the scale of one segment: k < 1 near age 0)
// and then, once S < kTailSurvival, replaced by Euler–Maclaurin: the
// integral plus the first two correction terms. That keeps an evaluation at about a
// hundred terms even for shapes well below 1, which the online policies need.
constexpr long kExactTerms = 30;
constexpr double kTailSurvival = 1e-3;

}  // namespace

double YoungInterval(double cost_s, double mtbf_s) {
  if (!(cost_s > 0) || !(mtbf_s > 0)) return kNaN;
  return std::sqrt(2.0 * cost_s * mtbf_s);
}

double DalyInterval(double cost_s, double mtbf_s) {
  if (!(cost_s > 0) || !(mtbf_s > 0)) return kNaN;
  if (cost_s >= 2.0 * mtbf_s) return mtbf_s;
  const double x = cost_s / (2.0 * mtbf_s);
  return std::sqrt(2.0 * cost_s * mtbf_s) * (1.0 + std::sqrt(x) / 3.0 + x / 9.0) - cost_s;
}

double ExpectedWaste(const FailureModel& model, double interval_s, double cost_s,
                     double restart_s) {
  if (!ValidModel(model) || !ValidCosts(cost_s, restart_s) || !(interval_s > 0)) return kNaN;
  const double s = interval_s + cost_s;
  if (model.kind == FailureModel::Kind::kExponential) {
    const double m = model.scale_s;
    // expm1 keeps precision when s << M.
    return 1.0 - interval_s * std::exp(-restart_s / m) / (m * std::expm1(s / m));
  }
  // Σ_{n≥1} S(R + n·s): the probability-weighted count of committed segments.
  double segments = 0;
  for (long n = 1;; ++n) {
    const double term = model.Survival(restart_s + static_cast<double>(n) * s);
    if ((n > kExactTerms && term < kTailSurvival) || n > 10'000'000) {
      // Σ_{m≥n} f(m) ≈ ∫_n^∞ f + f(n)/2 − f'(n)/12 with f(m) = S(R + m·s),
      // f' = −s·h·S.
      const double t = restart_s + static_cast<double>(n) * s;
      segments += model.SurvivalIntegral(t) / s + term / 2 + s * model.Hazard(t) * term / 12;
      break;
    }
    segments += term;
  }
  return 1.0 - interval_s * segments / model.mean_s();
}

double OptimalInterval(const FailureModel& model, double cost_s, double restart_s) {
  if (!ValidModel(model) || !ValidCosts(cost_s, restart_s)) return kNaN;
  // Exponential: τ = M·(1 + W₀(−e^{−1−C/M})), see exponential_optimum.h.
  const double m = model.mean_s();
  const double exp_opt = ExponentialOptimumInterval(1.0 / m, cost_s);
  if (model.kind == FailureModel::Kind::kExponential || model.shape == 1.0) return exp_opt;
  auto waste = [&](double tau) { return ExpectedWaste(model, tau, cost_s, restart_s); };
  return LogGridGoldenMinimize(waste, exp_opt / 8.0, exp_opt * 8.0, 13, 24);
}

}  // namespace ckpt::policy
