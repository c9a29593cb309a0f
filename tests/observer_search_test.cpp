// The search observers (QUANT_NUMERICS §4): MSE against a brute-force fake-quantization
// search (per tensor, per channel, cpu == reference sums, running range of best clips) and
// KL against an explicit P/Q construction (outliers clipped, histogram growth by doubling,
// per channel, unsigned levels, refused bit widths).
#include <gtest/gtest.h>

#include "quant/observer.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>
#include "quant/fake_quantize.h"
#include "quant/observer_kl.h"
#include "quant/observer_minmax.h"
#include "quant/observer_mse.h"
#include "quant/observer_percentile.h"
#include "quant/observer_stats.h"
#include "tensor/config.h"
#include "tensor/ops.h"
#include "tests/test_util.h"
#include "tests/observer_test_util.h"

namespace lowbit::quant {
namespace {

using test::random_strided;
using test::ThreadGuard;

// ---- MSE ----

// L_i by the public fake-quant op and a plain double loop.
std::vector<double> brute_force_losses(const std::vector<float>& v, float mn, float mx, int64_t count,
                                       const ObserverOptions& o) {
  std::vector<double> loss;
  for (int64_t i = 0; i < count; ++i) {
    const auto [lo, hi] = mse_candidate_range(mn, mx, i);
    const QParams q = choose_qparams(lo, hi, o.range, o.scheme, o.power_of_two);
    const std::vector<float> y =
        fake_quantize_per_tensor_affine(tensor_of(v), q.scale, q.zero_point, o.range.qmin, o.range.qmax, o.policy)
            .to_vector<float>();
    double s = 0;
    for (size_t j = 0; j < v.size(); ++j) {
      const float d = v[j] - y[j];  // in float32, as observer_mse.h defines it
      s += static_cast<double>(d) * static_cast<double>(d);
    }
    loss.push_back(s);
  }
  return loss;
}

int64_t first_argmin(const std::vector<double>& v) { return std::min_element(v.begin(), v.end()) - v.begin(); }

TEST(MseObserver, MatchesBruteForceSearchPerTensor) {
  // Power-of-two scales make runs of candidates share one scale, hence exact ties in L_i:
  // the first (widest) candidate of the best run must win.
  for (auto [scheme, power_of_two] : {std::pair{QScheme::symmetric, false}, std::pair{QScheme::asymmetric, false},
                                      std::pair{QScheme::symmetric, true}}) {
    SCOPED_TRACE(std::string(to_string(scheme)) + (power_of_two ? " power of two" : ""));
    ObserverOptions o;
    o.scheme = scheme;
    o.power_of_two = power_of_two;
    o.range = int_range(4, IntKind::signed_full);  // few levels: a clear optimum
    std::vector<float> v = gaussian_with_outliers(9001, 3, 6, 12.0f);
    if (scheme == QScheme::asymmetric)
      for (float& x : v) x = x + 1.5f;  // skewed: min and max differ
    const float mn = *std::min_element(v.begin(), v.end()), mx = *std::max_element(v.begin(), v.end());
    const std::vector<double> expected = brute_force_losses(v, mn, mx, kMseCandidatesPerTensor, o);
    const std::vector<std::vector<double>> got =
        mse_candidate_losses(v.data(), 1, static_cast<int64_t>(v.size()), {mn}, {mx}, kMseCandidatesPerTensor, o);
    ASSERT_EQ(got[0].size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[0][i], expected[i], 1e-9 * expected[i]) << i;
    MseObserver obs(o);
    obs.observe(tensor_of(v));
    const int64_t best = first_argmin(expected);
    EXPECT_GT(best, 0) << "the outliers must make some clipping pay off";
    if (power_of_two) {
      EXPECT_EQ(expected[best], expected[best + 1]) << "a tie follows the winner";
    }
    const auto [lo, hi] = mse_candidate_range(mn, mx, best);
    EXPECT_EQ(obs.min_range()[0], lo) << to_string(scheme);
    EXPECT_EQ(obs.max_range()[0], hi) << to_string(scheme);
    EXPECT_LT(obs.max_range()[0], 0.5f * mx);  // clips the planted outliers
  }
}

TEST(MseObserver, PerChannelAxis0And1) {
  const Shape shape = {5, 300};
  std::vector<float> v = gaussian(1500, 9);
  for (int64_t c = 0; c < 5; ++c) v[static_cast<size_t>(c * 300 + 7)] = 4.0f + static_cast<float>(c) * 3;
  const Tensor x = from_vector(v, shape);
  for (int64_t axis : {0, 1}) {
    MseObserver obs(per_channel_options(axis, 5));
    EXPECT_EQ(obs.candidates(), 80);
    const Tensor xin = axis == 0 ? x : x.t();  // axis 1 of the transposed (strided) view
    obs.observe(xin);
    for (int64_t c = 0; c < shape[0]; ++c) {
      const std::vector<float> row = channel_values(xin, axis, c);
      const float mn = *std::min_element(row.begin(), row.end()), mx = *std::max_element(row.begin(), row.end());
      const int64_t best = first_argmin(brute_force_losses(row, mn, mx, 80, obs.options));
      const auto [lo, hi] = mse_candidate_range(mn, mx, best);
      EXPECT_EQ(obs.min_range()[c], lo) << "axis " << axis << " channel " << c;
      EXPECT_EQ(obs.max_range()[c], hi) << "axis " << axis << " channel " << c;
    }
  }
}

TEST(MseObserver, ErrorSumsCpuEqualReferenceBitForBit) {
  NumericPolicy odd;  // every non-default fake-quant option at once
  odd.rounding = Rounding::half_up;
  odd.scale = ScaleApply::divide;
  odd.zero_point = ZeroPointOrder::before_rounding;
  odd.clamp = ClampOrder::before_rounding;
  const std::vector<std::pair<std::string, NumericPolicy>> policies = {
      {"pytorch", NumericPolicy::pytorch()}, {"tflite", NumericPolicy::tflite()}, {"odd", odd}};
  for (const auto& [name, policy] : policies) {
    for (int64_t n : std::vector<int64_t>{0, 1, 15, 16, 17, 100, 4099}) {
      std::vector<float> x = gaussian(n, 100 + n, 3.0);
      if (n > 4) x[3] = 0.5f * 0.0625f;  // exactly half a step: the rounding rules differ here
      std::vector<float> scratch(static_cast<size_t>(n));
      for (const auto& [range, zp] : {std::pair{int_range(8, IntKind::signed_full), 0.0f},
                                      std::pair{int_range(4, IntKind::unsigned_full), 7.0f}}) {
        const double fast = cpu::fq_squared_error(x.data(), n, 0.0625f, zp, range, policy, scratch.data());
        const double ref = ref::fq_squared_error(x.data(), n, 0.0625f, zp, range, policy);
        EXPECT_EQ(fast, ref) << name << " n " << n << " qmax " << range.qmax;
        // The definition once more: the library's fake quantization, d in float32.
        const std::vector<float> y = fake_quantize_per_tensor_affine(tensor_of(x), 0.0625, static_cast<int64_t>(zp),
                                                                     range.qmin, range.qmax, policy)
                                         .to_vector<float>();
        double plain = 0;
        for (int64_t i = 0; i < n; ++i) plain += std::pow(static_cast<double>(x[i] - y[i]), 2);
        EXPECT_NEAR(fast, plain, 1e-12 * (1 + plain)) << name << " n " << n;
      }
    }
  }
  // And the whole search in reference mode.
  const std::vector<float> v = gaussian_with_outliers(20000, 6, 4, 9.0f);
  for (const auto& [name, policy] : policies) {
    ObserverOptions o;
    o.policy = policy;
    const auto fast = mse_candidate_losses(v.data(), 2, 10000, {-9, -9}, {9, 9}, 80, o);
    ReferenceModeGuard guard(true);
    EXPECT_EQ(fast, mse_candidate_losses(v.data(), 2, 10000, {-9, -9}, {9, 9}, 80, o)) << name;
  }
}

TEST(MseObserver, RunningRangeOfBestClips) {
  MseObserver obs;
  const std::vector<float> a = uniform_values(2000, 1, -1, 1), b = uniform_values(2000, 2, -3, 0.5);
  obs.observe(tensor_of(a));
  const float a_lo = obs.min_range()[0], a_hi = obs.max_range()[0];
  obs.observe(tensor_of(b));
  MseObserver only_b;
  only_b.observe(tensor_of(b));
  EXPECT_EQ(obs.min_range()[0], std::min(a_lo, only_b.min_range()[0]));
  EXPECT_EQ(obs.max_range()[0], std::max(a_hi, only_b.max_range()[0]));
  EXPECT_LT(obs.min_range()[0], a_lo);  // b reaches further down
}

// ---- KL ----

// KL(P || Q) of candidate i built literally: P, Q as arrays, level(j) = floor(j L / i).
double direct_kl(const std::vector<double>& hist, int64_t levels, int64_t i) {
  std::vector<double> P(hist.begin(), hist.begin() + i), Q(static_cast<size_t>(i), 0.0);
  double outliers = 0;
  for (size_t j = static_cast<size_t>(i); j < hist.size(); ++j) outliers += hist[j];
  P[static_cast<size_t>(i - 1)] += outliers;
  for (int64_t k = 0; k < levels; ++k) {
    double count = 0, nonzero = 0;
    for (int64_t j = 0; j < i; ++j)
      if (j * levels / i == k) {
        count += hist[j];
        nonzero += hist[j] > 0;
      }
    for (int64_t j = 0; j < i; ++j)
      if (j * levels / i == k && hist[j] > 0) Q[j] = count / nonzero;
  }
  double sp = 0, sq = 0;
  for (int64_t j = 0; j < i; ++j) sp += P[j], sq += Q[j];
  if (sq == 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (int64_t j = 0; j < i; ++j) {
    if (P[j] == 0) continue;
    if (Q[j] == 0) return std::numeric_limits<double>::infinity();
    kl += P[j] / sp * std::log((P[j] / sp) / (Q[j] / sq));
  }
  return kl;
}

TEST(KlObserver, DivergencesMatchTheDirectConstruction) {
  std::mt19937_64 rng(4);
  std::vector<double> hist(300, 0.0);
  for (size_t j = 0; j < hist.size(); ++j) hist[j] = (rng() % 4 == 0) ? 0.0 : static_cast<double>(rng() % 1000);
  hist[199] = 0;  // an empty bin with outliers above it: candidate 200 is +inf
  for (int64_t levels : {8, 16, 128}) {
    const std::vector<double> kl = kl_divergences(hist, levels);
    ASSERT_EQ(kl.size(), hist.size() - levels + 1);
    int finite = 0;
    for (int64_t i = levels; i <= 300; ++i) {
      const double want = direct_kl(hist, levels, i), got = kl[static_cast<size_t>(i - levels)];
      if (std::isinf(want)) {
        EXPECT_TRUE(std::isinf(got)) << "levels " << levels << " i " << i;
      } else {
        EXPECT_NEAR(got, want, 1e-10) << "levels " << levels << " i " << i;
        ++finite;
      }
    }
    EXPECT_TRUE(std::isinf(kl[static_cast<size_t>(200 - levels)]));
    EXPECT_GT(finite, 100);
    EXPECT_GE(kl.back(), 0.0);  // i = bins: no outliers, P = hist
  }
}

TEST(KlObserver, ClipsPlantedOutliersWhereMinMaxDoesNot) {
  const Tensor x = tensor_of(gaussian_with_outliers(100000, 8, 10, 50.0f));
  KlObserver kl;
  kl.observe(x);
  EXPECT_EQ(kl.levels(), 128);
  const ObserverRange r = kl.range();
  EXPECT_GT(r.max[0], 2.0f);
  EXPECT_LT(r.max[0], 10.0f);  // MinMax would say 50
  EXPECT_EQ(r.min[0], -r.max[0]);
  // The threshold is a bin edge of the 2048 bins over [0, 50].
  const double edge = static_cast<double>(r.max[0]) * 2048 / 50;
  EXPECT_NEAR(edge, std::round(edge), 1e-3);
  // Symmetric int8: s = T / 127.5.
  EXPECT_EQ(kl.qparams().scale[0], r.max[0] / 127.5f);
}

TEST(KlObserver, HistogramGrowsByDoublingAndMergesExactly) {
  const std::vector<float> a = uniform_values(5000, 1, -1, 1), b = uniform_values(3000, 2, -3, 2.5);
  KlObserver obs;
  obs.observe(tensor_of(a));
  const double R1 = obs.hist_max.item();
  EXPECT_EQ(R1, std::max(-*std::min_element(a.begin(), a.end()), *std::max_element(a.begin(), a.end())));
  obs.observe(tensor_of(b));
  const double amax_b = std::max(-*std::min_element(b.begin(), b.end()), *std::max_element(b.begin(), b.end()));
  double R = R1;
  while (R < amax_b) R *= 2;
  EXPECT_EQ(obs.hist_max.item(), R);
  EXPECT_EQ(R, 4 * R1);  // ~1 to ~3: two doublings
  // a's values counted in the bins over [0, R1], then merged by 4 (bin j -> j / 4); b's
  // values counted in the bins over [0, R]. (Recounting a's values over [0, R] would differ
  // at the top edge only: |x| = R1 is in the last, closed bin 2047 -> 511, not in 512.)
  std::vector<double> expected(2048, 0.0);
  auto bin = [](float x, double range) {
    return static_cast<size_t>(std::min(std::fabs(static_cast<double>(x)) * (2048.0 / range), 2047.0));
  };
  for (float x : a) expected[bin(x, R1) / 4] += 1;
  for (float x : b) expected[bin(x, R)] += 1;
  EXPECT_EQ(obs.histogram.to_vector<double>(), expected);
  double total = 0;
  for (double h : obs.histogram.to_vector<double>()) total += h;
  EXPECT_EQ(total, 8000.0);
}

TEST(KlObserver, PerChannelAxis1AndUnsignedLevels) {
  const Tensor x = random_strided({64, 3}, DType::f32, 5, 0, 1);
  ObserverOptions o = per_channel_options(1, 3);
  o.range = int_range(8, IntKind::unsigned_full);
  KlObserver obs(o);
  EXPECT_EQ(obs.levels(), 256);
  obs.observe(x);
  const ObserverRange r = obs.range();
  for (int64_t c = 0; c < 3; ++c) {
    const std::vector<float> v = channel_values(x, 1, c);
    const float mx = *std::max_element(v.begin(), v.end());
    std::vector<double> hist(2048, 0.0);
    for (float val : v) hist[static_cast<size_t>(std::min(static_cast<double>(val) * (2048.0 / mx), 2047.0))] += 1;
    const double T = static_cast<double>(kl_threshold_bin(hist, 256)) * mx / 2048;
    EXPECT_EQ(r.max[c], std::min(mx, static_cast<float>(T))) << "channel " << c;
    EXPECT_EQ(r.min[c], 0.0f);
  }
  EXPECT_LOWBIT_ERROR(KlObserver({.range = int_range(16, IntKind::signed_full)}), "KlObserver", "32768 levels", "2048");
}

}  // namespace
}  // namespace lowbit::quant
