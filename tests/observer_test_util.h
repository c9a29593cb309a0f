// Helpers shared by the observer suites (observer_test.cpp, observer_search_test.cpp):
// seeded data (Gaussian, uniform, planted outliers), a percentile by full sort, one
// channel's values, per-channel options and a validity check of (s, z).
#pragma once

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

namespace lowbit::quant {

// ---- data and plain reference computations ----

inline std::vector<float> gaussian(int64_t n, uint64_t seed, double stddev = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(d(rng));
  return v;
}

inline std::vector<float> uniform_values(int64_t n, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = static_cast<float>(d(rng));
  return v;
}

// Gaussian values with `count` outliers of +-magnitude planted at spread positions.
inline std::vector<float> gaussian_with_outliers(int64_t n, uint64_t seed, int count, float magnitude) {
  std::vector<float> v = gaussian(n, seed);
  for (int k = 0; k < count; ++k) v[static_cast<size_t>(k * (n / count))] = (k % 2 ? -magnitude : magnitude);
  return v;
}

inline Tensor tensor_of(const std::vector<float>& v) { return from_vector(v); }

// The linear percentile of QUANT_NUMERICS §4 by a full sort.
inline float sorted_percentile(std::vector<float> v, double p) {
  std::sort(v.begin(), v.end());
  const double h = static_cast<double>(v.size() - 1) * p / 100;
  const auto k = static_cast<size_t>(std::floor(h));
  const double w = h - static_cast<double>(k);
  return static_cast<float>(w > 0 ? v[k] + w * (static_cast<double>(v[k + 1]) - v[k]) : v[k]);
}

// Elements of x [.., C, ..] whose index along `axis` is c, as floats.
inline std::vector<float> channel_values(const Tensor& x, int64_t axis, int64_t c) {
  return x.select(axis, c).contiguous().to_vector<float>();
}

inline ObserverOptions per_channel_options(int64_t axis, int64_t channels) {
  ObserverOptions o;
  o.ch_axis = axis;
  o.num_channels = channels;
  return o;
}

inline void expect_valid_qparams(const PerChannelQParams& q, const ObserverOptions& o, const std::string& what) {
  ASSERT_FALSE(q.scale.empty()) << what;
  for (size_t c = 0; c < q.scale.size(); ++c) {
    EXPECT_TRUE(std::isfinite(q.scale[c]) && q.scale[c] >= kScaleEps) << what << " channel " << c << ": " << q.scale[c];
    EXPECT_TRUE(q.zero_point[c] >= o.range.qmin && q.zero_point[c] <= o.range.qmax) << what << ": " << q.zero_point[c];
  }
}

}  // namespace lowbit::quant
