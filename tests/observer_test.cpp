// Observers (QUANT_NUMERICS §4): each on distributions whose answer is known or computed
// here a second, plainer way (full sort for percentiles, moments in double for
// Norm/MeanStd), per tensor and per channel (axis 0 and 1, strided input), the EMA
// arithmetic, subsampling, the non-finite / empty / bad-axis errors, thread-count
// invariance, state_dict round trips and the factory. The MSE and KL searches are in
// observer_search_test.cpp.
#include "quant/observer.h"

#include <gtest/gtest.h>

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

// ---- MinMax and EMA MinMax ----

TEST(MinMaxObserver, RunningRangeOverBatches) {
  MinMaxObserver obs;
  EXPECT_FALSE(obs.has_observed());
  obs.observe(tensor_of({0.5f, -1.25f, 2.0f}));
  obs.observe(tensor_of({3.5f, -0.5f}));
  obs.observe(tensor_of({1.0f}));
  EXPECT_TRUE(obs.has_observed());
  EXPECT_EQ(obs.batches_observed(), 3);
  EXPECT_EQ(obs.min_range(), std::vector<float>{-1.25f});
  EXPECT_EQ(obs.max_range(), std::vector<float>{3.5f});
  const QParams expected = choose_qparams(-1.25f, 3.5f, obs.options.range, obs.options.scheme);
  const PerChannelQParams q = obs.qparams();
  ASSERT_EQ(q.scale.size(), 1u);
  EXPECT_EQ(q.scale[0], expected.scale);
  EXPECT_EQ(q.scale[0], 3.5f / 127.5f);  // §2 symmetric signed: max|.| / 127.5
  EXPECT_EQ(q.zero_point[0], 0);
}

TEST(MinMaxObserver, PerChannelAlongAxis0And1WithStridedInput) {
  const Shape shape = {4, 3, 5};
  const Tensor x = random_strided(shape, DType::f32, 7, -3, 3);
  ASSERT_FALSE(x.is_contiguous());
  for (int64_t axis : {0, 1, 2}) {
    MinMaxObserver obs(per_channel_options(axis, shape[axis]));
    obs.observe(x);
    for (int64_t c = 0; c < shape[axis]; ++c) {
      const std::vector<float> v = channel_values(x, axis, c);
      EXPECT_EQ(obs.min_range()[c], *std::min_element(v.begin(), v.end())) << "axis " << axis << " channel " << c;
      EXPECT_EQ(obs.max_range()[c], *std::max_element(v.begin(), v.end())) << "axis " << axis << " channel " << c;
    }
    const PerChannelQParams q = obs.qparams();
    EXPECT_EQ(q.scale.size(), static_cast<size_t>(shape[axis]));
    const PerChannelQParams expected =
        choose_qparams_per_channel(obs.min_range(), obs.max_range(), obs.options.range, obs.options.scheme);
    EXPECT_EQ(q.scale, expected.scale);
  }
}

TEST(MinMaxObserver, F64InputAndOneDimPerChannel) {
  MinMaxObserver obs;
  obs.observe(from_vector<double>({-0.25, 4.0, 1.0}));
  EXPECT_EQ(obs.min_range()[0], -0.25f);
  EXPECT_EQ(obs.max_range()[0], 4.0f);
  // Per channel on a 1-D tensor: each channel is one value.
  MinMaxObserver per(per_channel_options(0, 3));
  per.observe(tensor_of({-1.0f, 2.0f, 0.5f}));
  EXPECT_EQ(per.min_range(), (std::vector<float>{-1.0f, 2.0f, 0.5f}));
  EXPECT_EQ(per.max_range(), (std::vector<float>{-1.0f, 2.0f, 0.5f}));
}

TEST(EmaMinMaxObserver, FirstBatchSetsThenMovingAverage) {
  EmaMinMaxObserver obs;
  obs.observe(tensor_of({-2.0f, 4.0f}));
  EXPECT_EQ(obs.min_range()[0], -2.0f);
  EXPECT_EQ(obs.max_range()[0], 4.0f);
  obs.observe(tensor_of({-1.0f, 1.0f, 0.0f}));
  // r <- 0.9 r + 0.1 r_batch, in double, rounded once to float32.
  EXPECT_EQ(obs.min_range()[0], static_cast<float>(0.9 * -2.0 + 0.1 * -1.0));
  EXPECT_EQ(obs.max_range()[0], static_cast<float>(0.9 * 4.0 + 0.1 * 1.0));
  EXPECT_FLOAT_EQ(obs.max_range()[0], 3.7f);
  obs.observe(tensor_of({0.3f, 10.0f}));
  const double min2 = static_cast<float>(0.9 * -2.0 + 0.1 * -1.0), max2 = static_cast<float>(0.9 * 4.0 + 0.1 * 1.0);
  EXPECT_EQ(obs.min_range()[0], static_cast<float>(0.9 * min2 + 0.1 * 0.3));
  EXPECT_EQ(obs.max_range()[0], static_cast<float>(0.9 * max2 + 0.1 * 10.0));

  // Values where the order of the arithmetic shows: (1 - m) r + m r_batch in double gives
  // 0.39077574f; PyTorch's r + m (r_batch - r) in float32 would give 0.39077568f.
  const float r0 = 3.768934726715088f, r1 = -30.01265525817871f;
  EmaMinMaxObserver exact;
  exact.observe(tensor_of({r0}));
  exact.observe(tensor_of({r1}));
  EXPECT_EQ(exact.max_range()[0], static_cast<float>(0.9 * static_cast<double>(r0) + 0.1 * static_cast<double>(r1)));
  EXPECT_NE(exact.max_range()[0], r0 + 0.1f * (r1 - r0));

  // PyTorch's averaging constant 0.01, per channel.
  ObserverOptions o = per_channel_options(1, 2);
  o.averaging_constant = 0.01;
  EmaMinMaxObserver torchlike(o);
  torchlike.observe(from_vector<float>({1, -1, 3, 2}, {2, 2}));  // columns [1, 3] and [-1, 2]
  torchlike.observe(from_vector<float>({5, 0, 7, 0}, {2, 2}));   // columns [5, 7] and [0, 0]
  EXPECT_EQ(torchlike.min_range(),
            (std::vector<float>{static_cast<float>(0.99 * 1 + 0.01 * 5), static_cast<float>(0.99 * -1 + 0.01 * 0)}));
  EXPECT_EQ(torchlike.max_range(),
            (std::vector<float>{static_cast<float>(0.99 * 3 + 0.01 * 7), static_cast<float>(0.99 * 2 + 0.01 * 0)}));
}

// ---- Percentile ----

TEST(Percentile, DefinitionOnKnownValues) {
  const std::vector<float> four = {4, 1, 3, 2};
  // torch.quantile(tensor([1., 2, 3, 4]), q) for q = 0.5, 0.25, 0.9: 2.5, 1.75, 3.7.
  const std::vector<float> v = percentiles(four.data(), 4, {50, 25, 90, 0, 100});
  EXPECT_EQ(v[0], 2.5f);
  EXPECT_EQ(v[1], 1.75f);
  EXPECT_EQ(v[2], static_cast<float>(3 + 0.7 * 1));  // h = 2.7: 3 + 0.7 (4 - 3), in double
  EXPECT_EQ(v[3], 1.0f);
  EXPECT_EQ(v[4], 4.0f);
  std::vector<float> ramp(101);
  for (int i = 0; i <= 100; ++i) ramp[static_cast<size_t>(i)] = static_cast<float>(100 - i);
  const std::vector<float> r = percentiles(ramp.data(), 101, {1, 99});
  EXPECT_EQ(r[0], 1.0f);
  EXPECT_EQ(r[1], 99.0f);
  const float single = 7.5f;
  EXPECT_EQ(percentiles(&single, 1, {1, 99}), (std::vector<float>{7.5f, 7.5f}));
}

TEST(Percentile, SelectionEqualsFullSort) {
  // Both paths (nth_element below kRadixSelectMin, radix select above), with duplicates,
  // negative values, signed zeros and a constant row.
  std::vector<std::vector<float>> rows;
  for (int64_t n : std::vector<int64_t>{2, 7, 1000, kRadixSelectMin - 1, kRadixSelectMin, 100000})
    rows.push_back(gaussian(n, 11 + n));
  std::vector<float> dup = uniform_values(60000, 3, -4, 4);
  for (float& x : dup) x = std::round(x * 4) / 4;  // 33 distinct values
  dup[5] = -0.0f;
  rows.push_back(dup);
  rows.push_back(std::vector<float>(50000, -3.25f));
  std::vector<float> skew = uniform_values(70000, 5, 0, 1);
  for (float& x : skew) x = x * x * x * 1e-3f + 1.0f;  // all in [1, 1.001]: a handful of high bins
  rows.push_back(skew);
  const std::vector<double> ps = {0, 0.01, 1, 25, 50, 99, 99.99, 100};
  for (const std::vector<float>& row : rows) {
    std::vector<float> expected;
    for (double p : ps) expected.push_back(sorted_percentile(row, p));
    for (int threads : {1, 2, 3}) {
      ThreadGuard guard(threads);
      const std::vector<float> got = percentiles(row.data(), static_cast<int64_t>(row.size()), ps);
      for (size_t j = 0; j < ps.size(); ++j)
        EXPECT_EQ(got[j], expected[j]) << "n " << row.size() << " p " << ps[j] << " threads " << threads;
    }
  }
}

TEST(Percentile, ClipsPlantedOutliersWhereMinMaxDoesNot) {
  const Tensor x = tensor_of(gaussian_with_outliers(20000, 21, 10, 100.0f));
  PercentileObserver pct;
  MinMaxObserver mm;
  pct.observe(x);
  mm.observe(x);
  EXPECT_EQ(mm.max_range()[0], 100.0f);
  EXPECT_EQ(mm.min_range()[0], -100.0f);
  // N(0, 1): the 1st / 99th percentiles are -+2.326.
  EXPECT_NEAR(pct.max_range()[0], 2.326, 0.1);
  EXPECT_NEAR(pct.min_range()[0], -2.326, 0.1);
  const std::vector<float> v = x.to_vector<float>();
  EXPECT_EQ(pct.max_range()[0], sorted_percentile(v, 99));
  EXPECT_EQ(pct.min_range()[0], sorted_percentile(v, 1));
  // MQBench's 0.01 / 99.99.
  PercentileObserver mq({}, PercentileOptions::mqbench());
  mq.observe(x);
  EXPECT_EQ(mq.max_range()[0], sorted_percentile(v, 99.99));
  EXPECT_GT(mq.max_range()[0], pct.max_range()[0]);
}

TEST(Percentile, PerChannelAxis0And1AndEma) {
  const Shape shape = {6, 40, 3};
  const Tensor a = random_strided(shape, DType::f32, 31, -5, 5);
  const Tensor b = random_strided(shape, DType::f32, 32, -1, 1);
  for (int64_t axis : {0, 1}) {
    PercentileObserver obs(per_channel_options(axis, shape[axis]), {.p_lo = 10, .p_hi = 90});
    obs.observe(a);
    obs.observe(b);
    for (int64_t c = 0; c < shape[axis]; ++c) {
      const float lo1 = sorted_percentile(channel_values(a, axis, c), 10);
      const float hi1 = sorted_percentile(channel_values(a, axis, c), 90);
      const float lo2 = sorted_percentile(channel_values(b, axis, c), 10);
      const float hi2 = sorted_percentile(channel_values(b, axis, c), 90);
      EXPECT_EQ(obs.min_range()[c], static_cast<float>(0.9 * lo1 + 0.1 * lo2)) << "axis " << axis << " c " << c;
      EXPECT_EQ(obs.max_range()[c], static_cast<float>(0.9 * hi1 + 0.1 * hi2)) << "axis " << axis << " c " << c;
    }
  }
}

TEST(Percentile, SubsampleIsStratifiedSeededAndOnePercent) {
  const PercentileOptions o;
  EXPECT_EQ(subsample_size(100000, o), 100000);  // not above the threshold
  EXPECT_EQ(subsample_size(100001, o), 1001);    // ceil(1% of 100001)
  EXPECT_EQ(subsample_size(1 << 20, o), 10486);
  const int64_t n = 250000, m = subsample_size(n, o);
  ASSERT_EQ(m, 2500);
  std::vector<float> index(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) index[static_cast<size_t>(i)] = static_cast<float>(i);  // exact below 2^24
  const std::vector<float> s1 = subsample(index.data(), n, m, 42, 0);
  const std::vector<float> s2 = subsample(index.data(), n, m, 42, 0);
  const std::vector<float> other_seed = subsample(index.data(), n, m, 43, 0);
  const std::vector<float> other_stream = subsample(index.data(), n, m, 42, 1);
  ASSERT_EQ(s1.size(), static_cast<size_t>(m));
  EXPECT_EQ(s1, s2);
  EXPECT_NE(s1, other_seed);
  EXPECT_NE(s1, other_stream);
  int64_t upper_half = 0;
  for (int64_t k = 0; k < m; ++k) {  // one value from each stratum [k n / m, (k + 1) n / m)
    const float v = s1[static_cast<size_t>(k)];
    EXPECT_GE(v, static_cast<float>(k * n / m));
    EXPECT_LT(v, static_cast<float>((k + 1) * n / m));
    upper_half += v - static_cast<float>(k * n / m) >= 50;  // strata of 100 values
  }
  // Uniform within the strata: about half the draws in each half (binomial sd 25).
  EXPECT_NEAR(static_cast<double>(upper_half), m / 2.0, 125);
  {
    ThreadGuard one(1);
    EXPECT_EQ(subsample(index.data(), n, m, 42, 0), s1);
  }
}

TEST(Percentile, SubsampledObserverIsDeterministicPerSeed) {
  const std::vector<float> v = gaussian(300000, 77);
  const Tensor x = tensor_of(v);
  PercentileObserver a({}, {.seed = 5}), b({}, {.seed = 5}), c({}, {.seed = 6});
  a.observe(x);
  b.observe(x);
  c.observe(x);
  EXPECT_EQ(a.max_range(), b.max_range());
  EXPECT_EQ(a.min_range(), b.min_range());
  EXPECT_NE(a.max_range(), c.max_range());
  // The observer's value is the percentile of exactly the documented 1% sample.
  const std::vector<float> sample = subsample(v.data(), 300000, 3000, 5, 0);
  EXPECT_EQ(a.max_range()[0], sorted_percentile(sample, 99));
  EXPECT_EQ(a.min_range()[0], sorted_percentile(sample, 1));
  EXPECT_NEAR(a.max_range()[0], 2.326, 0.2);  // a fair 1% sample of N(0, 1)
  // Without subsampling the exact percentile of all values.
  PercentileObserver full({}, {.subsample_above = 1000000});
  full.observe(x);
  EXPECT_EQ(full.max_range()[0], sorted_percentile(v, 99));
}

// ---- Norm and MeanStd ----

TEST(NormObserver, LsqInitScalePerTensorAndPerChannel) {
  const std::vector<float> v = {1, -2, 3, -4, 0.5f, -0.5f};
  NormObserver obs;
  obs.observe(tensor_of(v));
  double mean_abs = 0;
  for (float x : v) mean_abs += std::fabs(x);
  mean_abs /= 6;
  const float s = static_cast<float>(2 * mean_abs / std::sqrt(127.0));
  EXPECT_FLOAT_EQ(obs.scale.to_vector<float>()[0], s);
  EXPECT_FLOAT_EQ(obs.qparams().scale[0], s);
  EXPECT_EQ(obs.qparams().zero_point[0], 0);
  EXPECT_FLOAT_EQ(obs.range().max[0], obs.qparams().scale[0] * 127);
  EXPECT_FLOAT_EQ(obs.range().min[0], obs.qparams().scale[0] * -128);
  // Per channel along axis 1 of [2, 3]: columns {1, -4}, {-2, 0.5}, {3, -0.5}.
  NormObserver per(per_channel_options(1, 3));
  per.observe(from_vector(v, {2, 3}));
  const std::vector<float> ps = per.qparams().scale;
  EXPECT_FLOAT_EQ(ps[0], static_cast<float>(2 * 2.5 / std::sqrt(127.0)));
  EXPECT_FLOAT_EQ(ps[1], static_cast<float>(2 * 1.25 / std::sqrt(127.0)));
  EXPECT_FLOAT_EQ(ps[2], static_cast<float>(2 * 1.75 / std::sqrt(127.0)));
  // EMA of the scale, and the power-of-two rounding.
  ObserverOptions o;
  o.power_of_two = true;
  NormObserver pot(o);
  pot.observe(tensor_of({2, -2}));
  pot.observe(tensor_of({4, -4}));
  const double s_ema = 0.9 * (4 / std::sqrt(127.0)) + 0.1 * (8 / std::sqrt(127.0));
  EXPECT_FLOAT_EQ(pot.scale.to_vector<float>()[0], static_cast<float>(s_ema));
  EXPECT_EQ(pot.qparams().scale[0], std::ldexp(1.0f, static_cast<int>(std::nearbyint(std::log2(s_ema)))));
  EXPECT_LOWBIT_ERROR(NormObserver({.scheme = QScheme::asymmetric}), "NormObserver", "symmetric");
}

TEST(MeanStdObserver, MeanPlusMinusKStd) {
  const std::vector<float> v = gaussian(4000, 12, 2.0);
  double mean = 0, ss = 0;
  for (float x : v) mean += x;
  mean /= static_cast<double>(v.size());
  for (float x : v) ss += (x - mean) * (x - mean);
  const double stddev = std::sqrt(ss / static_cast<double>(v.size() - 1));  // Bessel, as torch.std
  for (double k : {3.0, 2.6}) {
    MeanStdObserver obs({}, {.k = k});
    obs.observe(tensor_of(v));
    EXPECT_NEAR(obs.min_range()[0], mean - k * stddev, 1e-5) << "k " << k;
    EXPECT_NEAR(obs.max_range()[0], mean + k * stddev, 1e-5) << "k " << k;
  }
  // Per channel axis 0: rows {1, 3} and {10, 10}; then a single value, whose std is 0.
  MeanStdObserver per(per_channel_options(0, 2));
  per.observe(from_vector<float>({1, 3, 10, 10}, {2, 2}));
  EXPECT_FLOAT_EQ(per.min_range()[0], static_cast<float>(2 - 3 * std::sqrt(2.0)));
  EXPECT_FLOAT_EQ(per.max_range()[0], static_cast<float>(2 + 3 * std::sqrt(2.0)));
  EXPECT_EQ(per.min_range()[1], 10.0f);
  EXPECT_EQ(per.max_range()[1], 10.0f);
  MeanStdObserver one;
  one.observe(tensor_of({-2.5f}));
  EXPECT_EQ(one.min_range()[0], -2.5f);
  EXPECT_EQ(one.max_range()[0], -2.5f);
}

// ---- every observer: degenerate inputs, errors, determinism, state, factory ----

TEST(Observers, UniformValuesGiveTheKnownRanges) {
  // U(-1, 1): min/max -+1, 1st/99th percentiles -+0.98, std 1/sqrt(3), mean |x| 1/2. Nothing
  // to clip: MSE and KL keep (nearly) the whole range.
  const Tensor x = tensor_of(uniform_values(200000, 17, -1, 1));
  auto range_of = [&](const std::string& name) {
    auto obs = make_observer(name);
    obs->observe(x);
    return obs->range();
  };
  EXPECT_NEAR(range_of("minmax").max[0], 1.0, 1e-4);
  EXPECT_NEAR(range_of("minmax").min[0], -1.0, 1e-4);
  EXPECT_NEAR(range_of("ema_minmax").max[0], 1.0, 1e-4);
  EXPECT_NEAR(range_of("percentile").max[0], 0.98, 0.01);  // 200k > 100k: a 2000-value sample
  EXPECT_NEAR(range_of("percentile").min[0], -0.98, 0.01);
  EXPECT_NEAR(range_of("meanstd").max[0], 3 / std::sqrt(3.0), 0.01);
  EXPECT_NEAR(range_of("meanstd").min[0], -3 / std::sqrt(3.0), 0.01);
  EXPECT_GE(range_of("mse").max[0], 0.9f);
  EXPECT_LE(range_of("mse").max[0], 1.0f);
  EXPECT_GE(range_of("kl").max[0], 0.9f);
  EXPECT_LE(range_of("kl").max[0], 1.0f);
  auto norm = make_observer("norm");
  norm->observe(x);
  EXPECT_NEAR(norm->qparams().scale[0], 2 * 0.5 / std::sqrt(127.0), 0.01 / std::sqrt(127.0));
}

TEST(Observers, ZerosConstantAndSingleElementGiveValidQparams) {
  const std::vector<std::pair<std::string, Tensor>> inputs = {{"zeros", zeros({300})},
                                                              {"constant", full({4, 50}, 2.5)},
                                                              {"negative constant", full({1000}, -0.75)},
                                                              {"single element", full({1}, 3.0)},
                                                              {"zero-dim", scalar_tensor(-1.5)}};
  for (QScheme scheme : {QScheme::symmetric, QScheme::asymmetric}) {
    for (const std::string& name : observer_names()) {
      if (name == "norm" && scheme == QScheme::asymmetric) continue;  // refused, tested above
      for (const auto& [what, x] : inputs) {
        ObserverOptions o;
        o.scheme = scheme;
        auto obs = make_observer(name, o);
        obs->observe(x);
        obs->observe(x);
        const std::string label = name + " " + to_string(scheme) + " " + what;
        const PerChannelQParams q = obs->qparams();
        expect_valid_qparams(q, o, label);
        const float value = x.reshape({-1}).to_vector<float>()[0];
        const ObserverRange r = obs->range();
        if (name == "norm") {  // s = 2 |c| / sqrt(127), or the eps floor for zeros
          EXPECT_FLOAT_EQ(q.scale[0], std::max(kScaleEps, static_cast<float>(2 * std::fabs(value) / std::sqrt(127.0))))
              << label;
        } else {
          // Every range-based observer sees exactly the constant.
          EXPECT_EQ(std::min(r.min[0], 0.0f), std::min(value, 0.0f)) << label;
          EXPECT_EQ(std::max(r.max[0], 0.0f), std::max(value, 0.0f)) << label;
        }
      }
    }
  }
}

TEST(Observers, NonFiniteInputIsRefusedAndLeavesTheStateUnchanged) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const std::string& name : observer_names()) {
    auto obs = make_observer(name);
    obs->observe(tensor_of({1, 2, 3}));
    const PerChannelQParams before = obs->qparams();
    EXPECT_LOWBIT_ERROR(obs->observe(from_vector<float>({1, nan, 2, inf, -inf, 0}, {2, 3})), obs->type(), "[2,3]",
                        "3 non-finite values", "among 6");
    EXPECT_LOWBIT_ERROR(obs->observe(tensor_of({nan})), obs->type(), "1 non-finite");
    EXPECT_EQ(obs->batches_observed(), 1) << name;
    EXPECT_EQ(obs->qparams().scale, before.scale) << name;
  }
  auto per = make_observer("minmax", per_channel_options(1, 3));
  EXPECT_LOWBIT_ERROR(per->observe(from_vector<float>({1, 2, 3, 4, inf, 6}, {2, 3})), "MinMaxObserver", "1 non-finite");
  EXPECT_FALSE(per->has_observed());
  EXPECT_LOWBIT_ERROR(make_observer("minmax")->observe(from_vector<double>({1e39, 0})), "beyond the float32 range");
}

TEST(Observers, BadArguments) {
  auto obs = make_observer("percentile");
  EXPECT_LOWBIT_ERROR(obs->observe(zeros({0, 3})), "PercentileObserver", "empty", "[0,3]");
  EXPECT_LOWBIT_ERROR(obs->observe(Tensor()), "PercentileObserver", "undefined");
  EXPECT_LOWBIT_ERROR(obs->observe(zeros({3}, DType::i32)), "PercentileObserver", "f32 or f64");
  EXPECT_LOWBIT_ERROR(obs->qparams(), "PercentileObserver", "before any batch");
  EXPECT_LOWBIT_ERROR(obs->range(), "PercentileObserver", "before any batch");
  auto per = make_observer("mse", per_channel_options(2, 4));
  EXPECT_LOWBIT_ERROR(per->observe(zeros({4, 4})), "MseObserver", "ch_axis 2 is out of range", "[4,4]", "0..1");
  EXPECT_LOWBIT_ERROR(per->observe(zeros({4, 4, 3})), "MseObserver", "3 channels along dim 2", "built for 4");
  EXPECT_LOWBIT_ERROR(make_observer("kl", {.ch_axis = -2}), "KlObserver", "ch_axis", "-2");
  EXPECT_LOWBIT_ERROR(make_observer("kl", {.ch_axis = 0}), "KlObserver", "num_channels");
  EXPECT_LOWBIT_ERROR(make_observer("minmax", {.num_channels = 4}), "per-tensor", "num_channels 4");
  EXPECT_LOWBIT_ERROR(make_observer("ema_minmax", {.averaging_constant = 0}), "averaging_constant");
  EXPECT_LOWBIT_ERROR(PercentileObserver({}, {.p_lo = 99, .p_hi = 1}), "p_lo <= p_hi");
}

TEST(Observers, ForwardReturnsTheInputAndRecordsNoGraph) {
  for (const std::string& name : observer_names()) {
    auto obs = make_observer(name);
    const Tensor x = tensor_of({0.5f, -1.0f});
    const Tensor y = (*obs)(x);
    EXPECT_TRUE(y.same_impl(x)) << name;
    EXPECT_EQ(obs->batches_observed(), 1) << name;
    obs->reset();
    EXPECT_FALSE(obs->has_observed()) << name;
    EXPECT_LOWBIT_ERROR(obs->qparams(), "before any batch");
  }
}

// Every observer, per tensor and per channel, on a batch long enough for the parallel
// paths: the state after two batches is the same for 1, 2 and 3 threads.
TEST(Observers, ResultsDoNotDependOnTheThreadCount) {
  const std::vector<float> big = gaussian_with_outliers(150000, 13, 20, 30.0f);
  const Tensor per_tensor = tensor_of(big);
  const Tensor per_channel = from_vector(big, {3, 50000});
  for (const std::string& name : observer_names()) {
    for (bool channels : {false, true}) {
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 3}) {
        ThreadGuard guard(threads);
        auto obs = make_observer(name, channels ? per_channel_options(0, 3) : ObserverOptions{});
        const Tensor& x = channels ? per_channel : per_tensor;
        obs->observe(x);
        obs->observe(raw::mul(x, 1.5));
        std::vector<float> flat;
        for (const auto& [key, t] : obs->state_dict()) {
          const std::vector<float> v = t.to(DType::f64).to_vector<float>();
          flat.insert(flat.end(), v.begin(), v.end());
        }
        const PerChannelQParams q = obs->qparams();
        flat.insert(flat.end(), q.scale.begin(), q.scale.end());
        results.push_back(flat);
      }
      EXPECT_EQ(results[0], results[1]) << name << (channels ? " per channel" : " per tensor");
      EXPECT_EQ(results[0], results[2]) << name << (channels ? " per channel" : " per tensor");
    }
  }
}

TEST(Observers, StateDictRoundTripRestoresQparamsAndContinuesIdentically) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> buffers = {
      {"minmax", {"num_batches", "min_val", "max_val"}},
      {"ema_minmax", {"num_batches", "min_val", "max_val"}},
      {"percentile", {"num_batches", "min_val", "max_val"}},
      {"mse", {"num_batches", "min_val", "max_val"}},
      {"kl", {"num_batches", "min_val", "max_val", "histogram", "hist_max"}},
      {"norm", {"num_batches", "scale"}},
      {"meanstd", {"num_batches", "min_val", "max_val"}}};
  ASSERT_EQ(buffers.size(), observer_names().size());
  const Tensor a = from_vector(gaussian(2 * 110000, 1), {2, 110000});  // rows above 100k: subsampled
  const Tensor b = raw::add(raw::mul(from_vector(gaussian(2 * 110000, 2), {2, 110000}), 3.0), 0.5);
  for (const auto& [name, names] : buffers) {
    const ObserverOptions o = per_channel_options(0, 2);
    auto trained = make_observer(name, o);
    trained->observe(a);
    std::vector<std::string> keys;
    for (const auto& [key, t] : trained->state_dict()) keys.push_back(key);
    EXPECT_EQ(keys, names) << name;
    auto restored = make_observer(name, o);
    restored->load_state_dict(trained->state_dict());
    EXPECT_EQ(restored->batches_observed(), 1) << name;
    EXPECT_EQ(restored->qparams().scale, trained->qparams().scale) << name;
    EXPECT_EQ(restored->qparams().zero_point, trained->qparams().zero_point) << name;
    // One more batch on both: the same state (EMA, histogram growth, subsample counter).
    trained->observe(b);
    restored->observe(b);
    EXPECT_EQ(restored->range().min, trained->range().min) << name;
    EXPECT_EQ(restored->range().max, trained->range().max) << name;
    EXPECT_EQ(restored->qparams().scale, trained->qparams().scale) << name;
  }
}

TEST(Observers, FactoryNamesAndTypes) {
  EXPECT_EQ(observer_names(),
            (std::vector<std::string>{"minmax", "ema_minmax", "percentile", "mse", "kl", "norm", "meanstd"}));
  const std::vector<std::string> types = {"MinMaxObserver", "EmaMinMaxObserver", "PercentileObserver", "MseObserver",
                                          "KlObserver",     "NormObserver",      "MeanStdObserver"};
  for (size_t i = 0; i < types.size(); ++i) {
    ObserverOptions o;
    o.range = int_range(4, IntKind::unsigned_full);
    auto obs = make_observer(observer_names()[i], o);
    EXPECT_EQ(obs->type(), types[i]);
    EXPECT_EQ(obs->options.range, o.range);
    EXPECT_NE(obs->str().find("range=[0, 15]"), std::string::npos) << obs->str();
  }
  EXPECT_LOWBIT_ERROR(make_observer("histogram"), "unknown observer 'histogram'",
                      "minmax, ema_minmax, percentile, mse, kl, norm, meanstd");
}

}  // namespace
}  // namespace lowbit::quant
