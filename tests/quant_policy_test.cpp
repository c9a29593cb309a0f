// QUANT_NUMERICS §1 (numeric policy, presets, rounding) and §2 (integer ranges, symmetric /
// asymmetric / unsigned symmetric (s, z), the eps clamp, power-of-two scales, per channel),
// each checked against values worked out by hand and against the formula written again
// here in plain float arithmetic (never through the library's code path); bad arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "quant/policy.h"
#include "quant/qparams.h"
#include "tests/test_util.h"

namespace lowbit::quant {
namespace {

// ---- §1 policy ------------------------------------------------------------------

TEST(NumericPolicy, PresetsAreTheTableOfSection1) {
  const NumericPolicy pt = NumericPolicy::pytorch();
  EXPECT_EQ(pt.rounding, Rounding::half_even);
  EXPECT_EQ(pt.scale, ScaleApply::multiply);
  EXPECT_EQ(pt.zero_point, ZeroPointOrder::after_rounding);
  EXPECT_EQ(pt.clamp, ClampOrder::after_rounding);
  EXPECT_EQ(pt.requantization, Requantization::float32);

  const NumericPolicy tfl = NumericPolicy::tflite();
  EXPECT_EQ(tfl.rounding, Rounding::half_away);
  EXPECT_EQ(tfl.scale, ScaleApply::divide);
  EXPECT_EQ(tfl.zero_point, ZeroPointOrder::after_rounding);
  EXPECT_EQ(tfl.clamp, ClampOrder::before_rounding);
  EXPECT_EQ(tfl.requantization, Requantization::fixed_double);

  const NumericPolicy gl = NumericPolicy::gemmlowp();
  EXPECT_EQ(gl.rounding, Rounding::half_even);
  EXPECT_EQ(gl.scale, ScaleApply::multiply);
  EXPECT_EQ(gl.zero_point, ZeroPointOrder::after_rounding);
  EXPECT_EQ(gl.clamp, ClampOrder::after_rounding);
  EXPECT_EQ(gl.requantization, Requantization::fixed_double);

  // A default-constructed policy has every field's default: requantization fixed_double.
  EXPECT_EQ(NumericPolicy{}, gl);
  EXPECT_FALSE(NumericPolicy{} == pt);
}

TEST(NumericPolicy, LookupByName) {
  EXPECT_EQ(policy_preset("pytorch"), NumericPolicy::pytorch());
  EXPECT_EQ(policy_preset("tflite"), NumericPolicy::tflite());
  EXPECT_EQ(policy_preset("gemmlowp"), NumericPolicy::gemmlowp());
  EXPECT_LOWBIT_ERROR(policy_preset("tensorrt"), "policy_preset", "\"tensorrt\"", "pytorch, tflite, gemmlowp");
  EXPECT_LOWBIT_ERROR(policy_preset("PyTorch"), "\"PyTorch\"");
  EXPECT_LOWBIT_ERROR(policy_preset(""), "\"\"");
}

TEST(NumericPolicy, ToStringNamesEveryField) {
  EXPECT_EQ(to_string(NumericPolicy::pytorch()),
            "rounding=half_even scale=multiply zero_point=after_rounding clamp=after_rounding requantization=float");
  EXPECT_EQ(to_string(NumericPolicy::tflite()),
            "rounding=half_away scale=divide zero_point=after_rounding clamp=before_rounding "
            "requantization=fixed_double");
  NumericPolicy p;
  p.rounding = Rounding::half_up;
  p.zero_point = ZeroPointOrder::before_rounding;
  p.requantization = Requantization::fixed_single;
  EXPECT_EQ(to_string(p),
            "rounding=half_up scale=multiply zero_point=before_rounding clamp=after_rounding "
            "requantization=fixed_single");
}

// ---- §1 rounding ------------------------------------------------------------------

uint32_t bits(float x) { return std::bit_cast<uint32_t>(x); }

struct RoundCase {
  float x, half_even, half_away, half_up;
};

TEST(RoundValue, WorkedValuesIncludingTiesAndSignedZeros) {
  const float below_half = std::nextafter(0.5f, 0.0f);  // 0.49999997
  const std::vector<RoundCase> cases = {
      {0.5f, 0.0f, 1.0f, 1.0f},
      {1.5f, 2.0f, 2.0f, 2.0f},
      {2.5f, 2.0f, 3.0f, 3.0f},
      {-0.5f, -0.0f, -1.0f, 0.0f},
      {-1.5f, -2.0f, -2.0f, -1.0f},
      {-2.5f, -2.0f, -3.0f, -2.0f},
      {0.3f, 0.0f, 0.0f, 0.0f},
      {-0.3f, -0.0f, -0.0f, 0.0f},
      {0.7f, 1.0f, 1.0f, 1.0f},
      {-0.7f, -1.0f, -1.0f, -1.0f},
      {0.0f, 0.0f, 0.0f, 0.0f},
      {-0.0f, -0.0f, -0.0f, 0.0f},
      {126.5f, 126.0f, 127.0f, 127.0f},
      {-128.5f, -128.0f, -129.0f, -128.0f},
      // half_up's float-sum artefacts (policy.h): 0.49999997 + 0.5 rounds to 1 before the floor,
      // and so does an odd integer above 2^23 plus 0.5 to the next even integer.
      {below_half, 0.0f, 0.0f, 1.0f},
      {8388609.0f, 8388609.0f, 8388609.0f, 8388610.0f},
      {-below_half, -0.0f, -0.0f, 0.0f},
  };
  for (const RoundCase& c : cases) {
    SCOPED_TRACE(c.x);
    EXPECT_EQ(bits(round_value(c.x, Rounding::half_even)), bits(c.half_even)) << round_value(c.x, Rounding::half_even);
    EXPECT_EQ(bits(round_value(c.x, Rounding::half_away)), bits(c.half_away)) << round_value(c.x, Rounding::half_away);
    EXPECT_EQ(bits(round_value(c.x, Rounding::half_up)), bits(c.half_up)) << round_value(c.x, Rounding::half_up);
  }
  // f64 has the same artefacts one binade over: 2^52 + 1 goes to 2^52 + 2.
  EXPECT_EQ(round_value(4503599627370497.0, Rounding::half_up), 4503599627370498.0);
  EXPECT_EQ(round_value(std::nextafter(0.5, 0.0), Rounding::half_up), 1.0);
  EXPECT_EQ(round_value(-2.5, Rounding::half_even), -2.0);
  EXPECT_EQ(round_value(-2.5, Rounding::half_away), -3.0);
  EXPECT_TRUE(std::isnan(round_value(std::numeric_limits<float>::quiet_NaN(), Rounding::half_up)));
  EXPECT_EQ(round_value(std::numeric_limits<float>::infinity(), Rounding::half_away),
            std::numeric_limits<float>::infinity());
}

// Exact rounding of a float computed in double (exact there: |x| < 2^24 fits with room),
// against which the library's float rounding must agree everywhere, except half_up's
// documented artefact: x + 0.5f rounded up to an integer that the exact sum is below.
TEST(RoundValue, SweepAgainstExactDoubleRounding) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> wide(-300.0f, 300.0f);
  std::vector<float> xs;
  for (int k = -300; k <= 300; ++k) {  // ties, their neighbours, the float below 0.5 steps
    const float t = static_cast<float>(k) + 0.5f;
    xs.insert(xs.end(), {t, std::nextafter(t, -1000.0f), std::nextafter(t, 1000.0f)});
  }
  for (int i = 0; i < 20000; ++i) xs.push_back(wide(rng));
  for (int i = 0; i < 2000; ++i) xs.push_back(std::ldexp(wide(rng), 15));  // up to 2^23.2
  int artefacts = 0;
  for (float x : xs) {
    const double d = x, fl = std::floor(d), frac = d - fl;  // exact
    const double even = frac < 0.5 ? fl : frac > 0.5 ? fl + 1 : (std::fmod(fl, 2.0) == 0 ? fl : fl + 1);
    const double away = frac == 0.5 ? (d > 0 ? fl + 1 : fl) : (frac < 0.5 ? fl : fl + 1);
    const double up = frac >= 0.5 ? fl + 1 : fl;
    SCOPED_TRACE(x);
    EXPECT_EQ(static_cast<double>(round_value(x, Rounding::half_even)), even);
    EXPECT_EQ(static_cast<double>(round_value(x, Rounding::half_away)), away);
    const double got_up = round_value(x, Rounding::half_up);
    if (got_up != up) {
      ++artefacts;
      const double sum = static_cast<double>(x + 0.5f);  // what the float sum rounded to
      EXPECT_EQ(got_up, sum) << "only a sum rounded up onto an integer may differ";
      EXPECT_LT(d + 0.5, sum);
      EXPECT_EQ(sum, std::floor(sum));
    }
  }
  EXPECT_GT(artefacts, 0) << "the sweep includes x above 2^23 where the artefact must show";
}

// ---- §2 integer ranges ---------------------------------------------------------

TEST(QParams, IntRangesForEveryWidth) {
  for (int b : {2, 3, 4, 5, 6, 7, 8, 16}) {
    SCOPED_TRACE(b);
    const int64_t p = static_cast<int64_t>(std::llround(std::pow(2.0, b - 1)));
    EXPECT_EQ(int_range(b, IntKind::signed_full), (QRange{-p, p - 1}));
    EXPECT_EQ(int_range(b, IntKind::signed_narrow), (QRange{-p + 1, p - 1}));
    EXPECT_EQ(int_range(b, IntKind::unsigned_full), (QRange{0, 2 * p - 1}));
  }
  EXPECT_EQ(int_range(8, IntKind::signed_full), (QRange{-128, 127}));
  EXPECT_EQ(int_range(8, IntKind::signed_narrow), (QRange{-127, 127}));
  EXPECT_EQ(int_range(4, IntKind::unsigned_full), (QRange{0, 15}));
  EXPECT_EQ(int_range(2, IntKind::signed_narrow), (QRange{-1, 1}));
  EXPECT_EQ(int_range(16, IntKind::signed_full), (QRange{-32768, 32767}));
  for (int b : {-1, 0, 1, 9, 12, 15, 17, 32})
    EXPECT_LOWBIT_ERROR(int_range(b, IntKind::signed_full), "int_range", "2..8 or 16", "got " + std::to_string(b));
}

// ---- §2 (s, z) -----------------------------------------------------------------

// The §2 formulas, written out again in float arithmetic.
QParams expected_qparams(float min, float max, QRange r, QScheme scheme) {
  const float lo = min < 0.0f ? min : 0.0f, hi = max > 0.0f ? max : 0.0f;
  float s;
  if (scheme == QScheme::symmetric && r.qmin == 0) {
    s = hi / static_cast<float>(r.qmax);
  } else if (scheme == QScheme::symmetric) {
    const float m = -lo > hi ? -lo : hi;
    s = m / (static_cast<float>(r.qmax - r.qmin) / 2.0f);
  } else {
    s = (hi - lo) / static_cast<float>(r.qmax - r.qmin);
  }
  if (s < 1.1920929e-7f) s = 1.1920929e-7f;
  int64_t z = 0;
  if (scheme == QScheme::asymmetric) {
    z = r.qmin - static_cast<int64_t>(std::nearbyint(lo / s));
    z = z < r.qmin ? r.qmin : z > r.qmax ? r.qmax : z;
  }
  return {s, z};
}

TEST(QParams, WorkedValues) {
  const QRange i8 = int_range(8, IntKind::signed_full), n8 = int_range(8, IntKind::signed_narrow);
  const QRange u8 = int_range(8, IntKind::unsigned_full), i4 = int_range(4, IntKind::signed_full);
  // Symmetric int8 divides by 127.5, narrow int8 by 127: a range of 127.5 / 127 gives s = 1.
  EXPECT_EQ(choose_qparams(-127.5f, 3.0f, i8, QScheme::symmetric).scale, 1.0f);
  EXPECT_EQ(choose_qparams(-1.0f, 127.0f, n8, QScheme::symmetric).scale, 1.0f);
  EXPECT_EQ(choose_qparams(-2.0f, 1.0f, i8, QScheme::symmetric).zero_point, 0);
  EXPECT_EQ(choose_qparams(-7.5f, 0.5f, i4, QScheme::symmetric).scale, 1.0f);  // 4 bits: / 7.5
  // Unsigned symmetric: s = max / qmax, z = 0; a negative min does not widen it.
  EXPECT_EQ(choose_qparams(0.0f, 255.0f, u8, QScheme::symmetric).scale, 1.0f);
  EXPECT_EQ(choose_qparams(-100.0f, 255.0f, u8, QScheme::symmetric).scale, 1.0f);
  EXPECT_EQ(choose_qparams(-100.0f, 255.0f, u8, QScheme::symmetric).zero_point, 0);
  // Asymmetric uint8 on [-1, 3]: s = 4/255, z = -rne(-1 / s) = rne(63.75) = 64.
  const QParams a = choose_qparams(-1.0f, 3.0f, u8, QScheme::asymmetric);
  EXPECT_EQ(a.scale, 4.0f / 255.0f);
  EXPECT_EQ(a.zero_point, 64);
  // Asymmetric int8 on [0, 2.55]: min' = 0 so z = qmin.
  EXPECT_EQ(choose_qparams(0.5f, 2.55f, i8, QScheme::asymmetric).zero_point, -128);
  // All-negative range: max' = 0, z = qmax.
  EXPECT_EQ(choose_qparams(-3.0f, -1.0f, u8, QScheme::asymmetric).zero_point, 255);
}

TEST(QParams, EpsClampForZeroAndConstantInput) {
  const float eps = std::numeric_limits<float>::epsilon();
  for (QRange r : {int_range(8, IntKind::signed_full), int_range(8, IntKind::unsigned_full),
                   int_range(4, IntKind::signed_narrow), int_range(16, IntKind::signed_full)})
    for (QScheme scheme : {QScheme::symmetric, QScheme::asymmetric})
      for (float v : {0.0f, -0.0f, 1e-12f, -1e-12f, 3.0f, -3.0f}) {
        SCOPED_TRACE(testing::Message() << to_string(scheme) << " [" << r.qmin << "," << r.qmax << "] v=" << v);
        const QParams p = choose_qparams(v, v, r, scheme);
        EXPECT_TRUE(std::isfinite(p.scale));
        EXPECT_GE(p.scale, eps);
        EXPECT_GE(p.zero_point, r.qmin);
        EXPECT_LE(p.zero_point, r.qmax);
        const QParams e = expected_qparams(v, v, r, scheme);
        EXPECT_EQ(bits(p.scale), bits(e.scale));
        EXPECT_EQ(p.zero_point, e.zero_point);
        if (std::fabs(v) < 1e-6f) {
          EXPECT_EQ(p.scale, eps) << "an all-zero (or tiny) range gets the eps scale";
        }
      }
}

TEST(QParams, RandomRangesMatchTheFormulaForEveryMode) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-20.0f, 20.0f);
  std::uniform_int_distribution<int> e(-12, 6);
  int n = 0;
  for (int b : {2, 3, 4, 8, 16})
    for (IntKind kind : {IntKind::signed_full, IntKind::signed_narrow, IntKind::unsigned_full})
      for (QScheme scheme : {QScheme::symmetric, QScheme::asymmetric})
        for (int i = 0; i < 200; ++i) {
          const QRange r = int_range(b, kind);
          float a = std::ldexp(u(rng), e(rng)), c = std::ldexp(u(rng), e(rng));
          if (a > c) std::swap(a, c);
          const QParams got = choose_qparams(a, c, r, scheme);
          const QParams want = expected_qparams(a, c, r, scheme);
          ASSERT_EQ(bits(got.scale), bits(want.scale))
              << "b=" << b << " " << to_string(kind) << " " << to_string(scheme) << " [" << a << ", " << c << "]";
          ASSERT_EQ(got.zero_point, want.zero_point) << "[" << a << ", " << c << "]";
          ++n;
        }
  EXPECT_EQ(n, 5 * 3 * 2 * 200);
}

// 2^k is the power of two nearest to s on the log scale iff 2^(2k-1) <= s^2 < 2^(2k+1)
// (s^2 of a float is exact in double): an independent statement of s <- 2^rne(log2 s).
int nearest_log2(float s) {
  const double sq = static_cast<double>(s) * static_cast<double>(s);
  int k = 0;
  while (sq >= std::ldexp(1.0, 2 * k + 1)) ++k;
  while (sq < std::ldexp(1.0, 2 * k - 1)) --k;
  return k;
}

TEST(QParams, PowerOfTwoScales) {
  EXPECT_EQ(power_of_two_scale(0.3f), 0.25f);
  EXPECT_EQ(power_of_two_scale(0.36f), 0.5f);
  EXPECT_EQ(power_of_two_scale(1.0f), 1.0f);
  EXPECT_EQ(power_of_two_scale(std::numeric_limits<float>::epsilon()), std::numeric_limits<float>::epsilon());
  // Both sides of 2^-1.5 = 0.35355339...: the float just below rounds down, the one above up.
  const float mid = static_cast<float>(std::ldexp(std::sqrt(2.0), -2));
  const float below = mid < std::ldexp(std::sqrt(2.0), -2) ? mid : std::nextafter(mid, 0.0f);
  EXPECT_EQ(power_of_two_scale(below), 0.25f);
  EXPECT_EQ(power_of_two_scale(std::nextafter(below, 1.0f)), 0.5f);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(1.0f, 2.0f);
  std::uniform_int_distribution<int> e(-30, 10);
  for (int i = 0; i < 20000; ++i) {
    const float s = std::ldexp(u(rng), e(rng));
    ASSERT_EQ(power_of_two_scale(s), std::ldexp(1.0f, nearest_log2(s))) << s;
  }
  // In choose_qparams: after the eps clamp, and z computed with the final scale.
  const QRange u8 = int_range(8, IntKind::unsigned_full);
  const QParams p = choose_qparams(-1.0f, 3.0f, u8, QScheme::asymmetric, true);  // 4/255 -> 2^-6
  EXPECT_EQ(p.scale, 0.015625f);
  EXPECT_EQ(p.zero_point, 64);                                                   // -rne(-1 / 2^-6) = 64
  const QParams q = choose_qparams(-1.3f, 3.0f, u8, QScheme::asymmetric, true);  // 4.3/255 -> 2^-6
  EXPECT_EQ(q.zero_point, static_cast<int64_t>(-std::nearbyint(-1.3f / 0.015625f)));
  EXPECT_EQ(choose_qparams(0.0f, 0.0f, u8, QScheme::symmetric, true).scale, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(choose_qparams(-0.3f, 0.2f, int_range(8, IntKind::signed_full), QScheme::symmetric, true).scale,
            std::ldexp(1.0f, nearest_log2(0.3f / 127.5f)));
  EXPECT_LOWBIT_ERROR(power_of_two_scale(0.0f), "power_of_two_scale", "got 0");
  EXPECT_LOWBIT_ERROR(power_of_two_scale(-1.0f), "power_of_two_scale", "got -1");
}

TEST(QParams, PerChannelIsPerTensorPerSlice) {
  const std::vector<float> lo = {-1.0f, 0.0f, -3.0f, 0.0f, -0.25f}, hi = {1.0f, 2.0f, -1.0f, 0.0f, 7.0f};
  for (QScheme scheme : {QScheme::symmetric, QScheme::asymmetric})
    for (bool pow2 : {false, true}) {
      const QRange r = int_range(8, IntKind::signed_narrow);
      const PerChannelQParams pc = choose_qparams_per_channel(lo, hi, r, scheme, pow2);
      ASSERT_EQ(pc.scale.size(), lo.size());
      ASSERT_EQ(pc.zero_point.size(), lo.size());
      for (size_t c = 0; c < lo.size(); ++c) {
        QParams e = expected_qparams(lo[c], hi[c], r, scheme);
        if (pow2) {
          e.scale = std::ldexp(1.0f, nearest_log2(e.scale));
          if (scheme == QScheme::asymmetric)
            e.zero_point = std::clamp<int64_t>(
                r.qmin - static_cast<int64_t>(std::nearbyint(std::min(lo[c], 0.0f) / e.scale)), r.qmin, r.qmax);
        }
        EXPECT_EQ(bits(pc.scale[c]), bits(e.scale)) << "channel " << c;
        EXPECT_EQ(pc.zero_point[c], e.zero_point) << "channel " << c;
      }
    }
  EXPECT_TRUE(choose_qparams_per_channel({}, {}, int_range(8, IntKind::signed_full), QScheme::symmetric).scale.empty());
}

TEST(QParams, BadArguments) {
  const QRange i8 = int_range(8, IntKind::signed_full);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  EXPECT_LOWBIT_ERROR(choose_qparams(2.0f, 1.0f, i8, QScheme::asymmetric), "choose_qparams", "min 2", "max 1");
  EXPECT_LOWBIT_ERROR(choose_qparams(nan, 1.0f, i8, QScheme::asymmetric), "choose_qparams", "finite", "nan");
  EXPECT_LOWBIT_ERROR(choose_qparams(0.0f, inf, i8, QScheme::symmetric), "choose_qparams", "finite", "inf");
  EXPECT_LOWBIT_ERROR(choose_qparams(-inf, 0.0f, i8, QScheme::symmetric), "choose_qparams", "-inf");
  EXPECT_LOWBIT_ERROR(choose_qparams(-1.0f, 1.0f, QRange{5, 5}, QScheme::asymmetric), "choose_qparams",
                      "empty integer range [5, 5]");
  EXPECT_LOWBIT_ERROR(choose_qparams(-1.0f, 1.0f, QRange{1, 5}, QScheme::symmetric), "choose_qparams",
                      "needs 0 in the range", "[1, 5]");
  const float big = std::numeric_limits<float>::max();
  EXPECT_LOWBIT_ERROR(choose_qparams(-big, big, i8, QScheme::asymmetric), "choose_qparams", "overflows float32");
  EXPECT_LOWBIT_ERROR(choose_qparams_per_channel({0.0f, 1.0f}, {1.0f}, i8, QScheme::asymmetric),
                      "choose_qparams_per_channel", "2 minima but 1 maxima");
  EXPECT_LOWBIT_ERROR(choose_qparams_per_channel({0.0f, 3.0f}, {1.0f, 2.0f}, i8, QScheme::asymmetric),
                      "choose_qparams_per_channel: channel 1", "min 3 is greater than max 2");
}

}  // namespace
}  // namespace lowbit::quant
